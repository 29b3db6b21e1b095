"""The manifest contract other parts (storage, retention, restore) rely on: names, keys, listing."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils import manifest as m
from ansible_collections.mutuapix.infra.plugins.module_utils.manifest import ManifestError

MOMENT = datetime(2026, 11, 28, 2, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("databases", "label", "stem"),
    [
        (["app"], "nightly", "20261128T020005Z-app-nightly"),
        (None, "nightly", "20261128T020005Z-all-nightly"),
        ([], "pre-migrate-1.2.3", "20261128T020005Z-all-pre-migrate-1.2.3"),
        (["app", "queue"], "nightly", "20261128T020005Z-app+queue-nightly"),
        (["we ird/db"], "nightly", "20261128T020005Z-we_ird_db-nightly"),
    ],
)
def test_snapshot_stem(databases, label, stem):
    assert m.snapshot_stem(MOMENT, databases, label) == stem


def test_stem_time_is_utc_whatever_the_input_zone():
    local = MOMENT.astimezone(timezone(timedelta(hours=-3)))
    stem = m.snapshot_stem(local, ["app"], "nightly")
    assert stem.startswith("20261128T020005Z") and m.stem_time(stem + ".sql.zst") == MOMENT
    assert m.stem_time("notes.txt") is None


@pytest.mark.parametrize("label", ["", "-leading", "with space", "a/b", "x" * 101, "ünï"])
def test_bad_labels_are_refused(label):
    with pytest.raises(ManifestError, match="invalid snapshot label"):
        m.validate_label(label)


def manifest_for(name: str, **overrides) -> dict:
    data = {key: None for key in m.REQUIRED_KEYS}
    data.update(
        format=m.FORMAT,
        snapshot_file=name,
        tables={"app.t": {"database": "app", "table": "t", "rows": 2}},
        databases=["app"],
        started_at="2026-11-28T02:00:05Z",
        objects={"app": {"views": ["v"], "triggers": [], "routines": [], "events": []}},
    )
    data.update(overrides)
    return data


def write_pair(directory, stem: str, **overrides) -> str:
    path = os.path.join(directory, stem + m.SNAPSHOT_SUFFIX)
    with open(path, "wb") as handle:
        handle.write(b"data")
    with open(m.manifest_path_for(path), "w", encoding="utf-8") as handle:
        json.dump(manifest_for(os.path.basename(path), **overrides), handle)
    return path


def test_load_manifest_checks_keys_and_file_name(tmp_path):
    path = write_pair(tmp_path, "20261128T020005Z-app-nightly")
    assert m.load_manifest(path)["databases"] == ["app"]
    assert m.tables_of(m.load_manifest(path), "app") == {"t": {"database": "app", "table": "t", "rows": 2}}
    assert m.objects_of(m.load_manifest(path), "app")["views"] == ["v"]

    other = write_pair(tmp_path, "20261128T030000Z-app-nightly", snapshot_file="x.sql.zst")
    with pytest.raises(ManifestError, match="describes"):
        m.load_manifest(other)
    broken = write_pair(tmp_path, "20261128T040000Z-app-nightly", started_at="yesterday")
    with pytest.raises(ManifestError, match="invalid timestamp"):
        m.load_manifest(broken)


def test_missing_keys_are_named(tmp_path):
    path = write_pair(tmp_path, "20261128T020005Z-app-nightly")
    with open(m.manifest_path_for(path), encoding="utf-8") as handle:
        data = json.load(handle)
    del data["sha256"], data["tools"]
    with open(m.manifest_path_for(path), "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    with pytest.raises(ManifestError) as caught:
        m.load_manifest(path)
    assert caught.value.details["missing"] == ["sha256", "tools"]


def test_list_snapshots_lists_only_complete_pairs_oldest_first(tmp_path):
    newer = write_pair(tmp_path, "20261128T030000Z-app-nightly")
    older = write_pair(tmp_path, "20261127T030000Z-app-nightly")
    (tmp_path / ".partial-abc").write_bytes(b"half")
    (tmp_path / "20261128T040000Z-app-nightly.sql.zst").write_bytes(b"no manifest")
    (tmp_path / "20261128T050000Z-app-nightly.json").write_text("{}")
    (tmp_path / "random.sql.zst").write_bytes(b"not a stem")

    entries = m.list_snapshots(str(tmp_path))

    assert [entry.path for entry in entries] == [older, newer]
    assert entries[0].stem == "20261127T030000Z-app-nightly"
