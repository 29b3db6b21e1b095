"""Local retention: the policy as a table and as properties, pins, and deletion on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mutuapix.infra.plugins.module_utils import local_retention as lr
from ansible_collections.mutuapix.infra.plugins.module_utils.manifest import manifest_path_for, snapshot_stem

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    stem: str
    started_at: datetime


def entries_aged(*days: float) -> list:
    return [Entry(f"s{index}", NOW - timedelta(days=age)) for index, age in enumerate(days)]


@pytest.mark.parametrize(
    ("ages", "keep_last", "keep_days", "protected", "kept"),
    [
        ((0, 1, 2, 3), None, None, (), {"s0", "s1", "s2", "s3"}),
        ((0, 1, 2, 3), 2, None, (), {"s0", "s1"}),
        ((3, 0, 2, 1), 2, None, (), {"s1", "s3"}),
        ((0, 1, 2, 3), None, 1.5, (), {"s0", "s1"}),
        ((0, 1, 2, 3), 1, 2.5, (), {"s0", "s1", "s2"}),
        ((0, 1, 2, 3), 1, None, ("s3",), {"s0", "s3"}),
        ((10, 20), None, 1, (), set()),
    ],
    ids=["no-policy", "keep-last", "keep-last-unsorted", "keep-days", "either-rule", "protected", "all-old"],
)
def test_plan_retention(ages, keep_last, keep_days, protected, kept):
    plan = lr.plan_retention(
        entries_aged(*ages), now=NOW, keep_last=keep_last, keep_days=keep_days, protected=frozenset(protected)
    )
    assert {entry.stem for entry in plan.keep} == kept
    assert len(plan.keep) + len(plan.delete) == len(ages)


@pytest.mark.parametrize(("keep_last", "keep_days"), [(0, None), (None, 0), (-1, 3)])
def test_invalid_policies_are_refused(keep_last, keep_days):
    with pytest.raises(lr.RetentionError):
        lr.plan_retention([], now=NOW, keep_last=keep_last, keep_days=keep_days)


@settings(max_examples=200, deadline=None)
@given(
    ages=st.lists(st.floats(0, 100), min_size=0, max_size=20),
    keep_last=st.one_of(st.none(), st.integers(1, 5)),
    keep_days=st.one_of(st.none(), st.floats(0.1, 50)),
    protected_indexes=st.sets(st.integers(0, 19)),
)
def test_retention_properties(ages, keep_last, keep_days, protected_indexes):
    entries = entries_aged(*ages)
    protected = frozenset(f"s{i}" for i in protected_indexes)
    plan = lr.plan_retention(entries, now=NOW, keep_last=keep_last, keep_days=keep_days, protected=protected)
    kept = {entry.stem for entry in plan.keep}
    assert protected & {entry.stem for entry in entries} <= kept
    if entries and (keep_last or keep_days):
        newest = max(entries, key=lambda entry: entry.started_at)
        assert keep_last is None or newest.stem in kept
    if keep_last is None and keep_days is None:
        assert plan.delete == []


def make_snapshot(directory, started_at: datetime) -> str:
    path = os.path.join(directory, snapshot_stem(started_at, ["app"], "nightly") + ".sql.zst")
    with open(path, "wb") as handle:
        handle.write(b"x")
    with open(manifest_path_for(path), "w", encoding="utf-8") as handle:
        json.dump({"snapshot_file": os.path.basename(path)}, handle)
    return path


def test_apply_retention_deletes_pairs_and_old_leftovers_but_not_pinned(tmp_path):
    directory = str(tmp_path)
    paths = [make_snapshot(directory, NOW - timedelta(days=age)) for age in (0, 1, 2, 3)]
    old_partial, fresh_partial = tmp_path / ".partial-old", tmp_path / ".partial-fresh"
    old_partial.write_bytes(b"x")
    fresh_partial.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old_partial, (two_hours_ago, two_hours_ago))

    with lr.pinned(paths[3]):
        report = lr.apply_retention(directory, now=datetime.now(UTC), keep_last=1)

    assert report["deleted"] == [os.path.basename(p)[:-8] for p in (paths[1], paths[2])]
    assert report["pinned"] == [os.path.basename(paths[3])[:-8]]
    assert report["leftovers_removed"] == [".partial-old"]
    assert sorted(os.listdir(directory)) == sorted(
        [
            ".partial-fresh",
            lr.pin_path(paths[3]).rsplit("/", 1)[1],
            *(os.path.basename(p) for p in (paths[0], paths[3])),
            *(os.path.basename(manifest_path_for(p)) for p in (paths[0], paths[3])),
        ]
    )


def test_dry_run_deletes_nothing(tmp_path):
    paths = [make_snapshot(str(tmp_path), NOW - timedelta(days=age)) for age in (0, 5)]
    report = lr.apply_retention(str(tmp_path), now=NOW, keep_days=1, dry_run=True)
    assert report["deleted"] == [os.path.basename(paths[1])[:-8]]
    assert all(os.path.exists(path) for path in paths)


def test_a_pin_dies_with_its_process(tmp_path):
    path = make_snapshot(str(tmp_path), NOW)
    script = (
        "import sys, time\n"
        "from ansible_collections.mutuapix.infra.plugins.module_utils.local_retention import pinned\n"
        "with pinned(sys.argv[1]):\n    print('pinned', flush=True)\n    time.sleep(60)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.environ["ANSIBLE_COLLECTIONS_PATH"])
    child = subprocess.Popen([sys.executable, "-c", script, path], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"pinned\n"
        assert lr.is_pinned(path)
    finally:
        child.kill()
        child.wait()
    assert not lr.is_pinned(path)
