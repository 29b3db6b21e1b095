"""The pure parts of offsite.py: object metadata, holds, local names, per-series retention, orphans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ansible_collections.mutuapix.infra.plugins.module_utils.gfs_retention import RetentionPolicy
from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import (
    METADATA_VALUE_LIMIT,
    Backup,
    find_orphans,
    is_held,
    local_snapshot_name,
    object_metadata,
    plan_prune,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import StoredObject

NIGHT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def backup(day: int, host: str = "db1", database: str = "app", label: str = "nightly", **manifest) -> Backup:
    moment = NIGHT + timedelta(days=day)
    key = f"p/{host}/{database}/{moment:%Y%m%dT%H%M%SZ}-{label}.sql.zst"
    return Backup(key, host, database, label, moment, 100, "0" * 64, manifest, None)


def test_metadata_is_ascii_bounded_and_carries_the_main_fields():
    manifest = {
        "format": "mutuapix.snapshot/v1",
        "sha256": "ab" * 32,
        "databases": ["app", "crm"],
        "label": "pré-migração",
        "host": "db1",
        "tables": {"t": 1},
        "started_at": "2026-03-01T02:00:00Z",
        "raw_bytes": 10,
        "server": "x" * 5000,
    }
    metadata = object_metadata(manifest)

    assert metadata["mutuapix-databases"] == "app,crm"
    assert metadata["mutuapix-started-at"] == "2026-03-01T02:00:00Z"
    assert metadata["mutuapix-label"] == "pr%C3%A9-migra%C3%A7%C3%A3o"
    assert "mutuapix-tables" not in metadata and "mutuapix-server" not in metadata
    assert all(value.isascii() and len(value) <= METADATA_VALUE_LIMIT for value in metadata.values())
    assert len(metadata) <= 9  # B2 allows 10 file-info entries and the engine adds large_file_sha1


def test_holds_match_key_file_name_or_label():
    held = backup(1, label="pre-migrate-v9")
    assert is_held(held, ["pre-migrate-v9"])
    assert is_held(held, [held.key])
    assert is_held(held, [held.key.rsplit("/", 1)[1]])
    assert not is_held(held, ["pre-migrate-v1", "db1"])


def test_the_fetched_file_keeps_the_snapshots_own_name_or_rebuilds_it():
    assert local_snapshot_name(backup(0, snapshot_file="20260301T020000Z-app-nightly.sql.zst")) == (
        "20260301T020000Z-app-nightly.sql.zst"
    )
    assert local_snapshot_name(backup(0, snapshot_file="../../etc/passwd")) == "20260301T020000Z-app-nightly.sql.zst"
    assert local_snapshot_name(backup(0)) == "20260301T020000Z-app-nightly.sql.zst"


def test_retention_applies_to_each_host_and_database_separately():
    backups = [backup(day) for day in range(5)] + [backup(0, database="crm"), backup(0, host="db2")]
    plan = plan_prune(backups, RetentionPolicy(keep_last=2), NIGHT + timedelta(days=5), [])["plan"]

    deleted = sorted(key for key, reasons in plan.items() if not reasons)
    assert deleted == sorted(b.key for b in backups[:3])  # the only series with more than two backups


def test_orphans_are_halves_older_than_the_grace_period():
    old, new = NIGHT, NIGHT + timedelta(days=3)
    objects = {
        key: StoredObject(key, 1, modified=moment)
        for key, moment in (
            ("p/h/d/20260301T020000Z-ok.sql.zst", old),
            ("p/h/d/20260301T020000Z-ok.json", old),
            ("p/h/d/20260302T020000Z-died.sql.zst", old),
            ("p/h/d/20260303T020000Z-lost.json", old),
            ("p/h/d/20260304T020000Z-running.sql.zst", new),
            ("p/.mutuapix-probe/x.txt", old),
            ("p/h/d/notes.json", old),
        )
    }
    orphans = find_orphans(objects, "p", NIGHT + timedelta(days=1))
    assert orphans == ["p/h/d/20260302T020000Z-died.sql.zst", "p/h/d/20260303T020000Z-lost.json"]
    assert find_orphans(objects, "p", NIGHT + timedelta(days=1), label="died") == [
        "p/h/d/20260302T020000Z-died.sql.zst"
    ]
