"""Upload, verify, list, fetch and prune, written once, run against every backend."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from storage_snapshots import make_snapshot

from ansible_collections.mutuapix.infra.plugins.module_utils.gfs_retention import RetentionPolicy
from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import (
    fetch_backup,
    find_backup,
    list_backups,
    prune_backups,
    upload_snapshot,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import (
    MIN_PART_SIZE,
    StorageConflictError,
    StorageIntegrityError,
    StorageNotFoundError,
)

NIGHT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)

TEST_PART_SIZE = MIN_PART_SIZE  # the smallest part the engine accepts: files just above it go multipart


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def read_json(path: str) -> dict:
    return json.loads(read_bytes(path))


def test_upload_gives_the_predictable_key_and_lists_the_backup(storage, snapshot):
    result = upload_snapshot(storage, snapshot)

    assert result["changed"] is True
    assert result["key"] == f"{storage.prefix}/db1/app/20260301T020000Z-nightly.sql.zst"
    assert result["verified"] == "store-checksum"
    [backup] = list_backups(storage)
    assert backup.key == result["key"]
    assert backup.manifest["label"] == "nightly"
    assert backup.sha256 == result["sha256"] == read_json(snapshot[:-8] + ".json")["sha256"]


def test_uploading_the_same_snapshot_again_changes_nothing(storage, snapshot):
    first = upload_snapshot(storage, snapshot)
    second = upload_snapshot(storage, snapshot)
    predicted = upload_snapshot(storage, snapshot, dry_run=True)

    assert (first["changed"], second["changed"], predicted["changed"]) == (True, False, False)
    assert second["key"] == first["key"]


def test_dry_run_predicts_an_upload_and_writes_nothing(storage, snapshot):
    result = upload_snapshot(storage, snapshot, dry_run=True)

    assert result["changed"] is True
    assert list(storage.list_objects(storage.prefix + "/")) == []


def test_readback_verification_downloads_and_compares(storage, snapshot_dir):
    path = make_snapshot(snapshot_dir, incompressible_bytes=TEST_PART_SIZE + 1000)
    result = upload_snapshot(storage, path, readback=True)
    assert result["verified"] == "readback"
    assert result["size"] == os.path.getsize(path)


def test_a_data_object_without_its_sidecar_is_not_a_backup(storage, snapshot):
    key = upload_snapshot(storage, snapshot)["key"]
    storage.delete(key[: -len(".sql.zst")] + ".json")

    assert list_backups(storage) == []
    assert upload_snapshot(storage, snapshot)["changed"] is True  # the next run redoes it
    assert [backup.key for backup in list_backups(storage)] == [key]


def test_a_sidecar_whose_data_object_vanished_is_uploaded_again(storage, snapshot):
    key = upload_snapshot(storage, snapshot)["key"]
    storage.delete(key)

    assert list_backups(storage) == []
    assert upload_snapshot(storage, snapshot)["changed"] is True
    assert [backup.key for backup in list_backups(storage)] == [key]


def test_a_different_snapshot_under_the_same_key_is_refused(storage, snapshot_dir, tmp_path):
    upload_snapshot(storage, make_snapshot(snapshot_dir, seed=1))
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    with pytest.raises(StorageConflictError):
        upload_snapshot(storage, make_snapshot(other_dir, seed=2))


def test_a_snapshot_that_no_longer_matches_its_manifest_is_not_counted(storage, snapshot):
    with open(snapshot, "r+b") as handle:
        handle.seek(10)
        byte = handle.read(1)
        handle.seek(10)
        handle.write(bytes([byte[0] ^ 0xFF]))

    with pytest.raises(StorageIntegrityError, match="does not match its manifest"):
        upload_snapshot(storage, snapshot)
    assert list_backups(storage) == []


def test_listing_is_newest_first_and_filters(storage, snapshot_dir):
    for days, database, label in (
        (0, "app", "nightly"),
        (1, "app", "nightly"),
        (2, "crm", "nightly"),
        (3, "app", "pre-migrate-v7"),
    ):
        upload_snapshot(
            storage,
            make_snapshot(snapshot_dir, database=database, label=label, started_at=NIGHT + timedelta(days=days)),
        )

    everything = list_backups(storage)
    app = list_backups(storage, host="db1", database="app")
    nightly_app = list_backups(storage, database="app", label="nightly")

    assert [b.timestamp.day for b in everything] == [4, 3, 2, 1]
    assert [(b.database, b.timestamp.day) for b in app] == [("app", 4), ("app", 2), ("app", 1)]
    assert [b.timestamp.day for b in nightly_app] == [2, 1]
    assert find_backup(storage, "latest", database="crm").database == "crm"
    assert list_backups(storage, host="db2") == []


def test_fetch_restores_the_snapshot_pair_and_is_idempotent(storage, snapshot, tmp_path):
    upload_snapshot(storage, snapshot)
    dest = tmp_path / "restore"
    dest.mkdir()
    backup = find_backup(storage, "latest")

    first = fetch_backup(storage, backup, str(dest))
    second = fetch_backup(storage, backup, str(dest))

    assert first["changed"] is True and second["changed"] is False
    assert os.path.basename(first["path"]) == os.path.basename(snapshot)
    assert read_bytes(first["path"]) == read_bytes(snapshot)
    assert read_json(first["manifest_path"]) == read_json(snapshot[:-8] + ".json")


def test_fetching_an_unknown_backup_is_a_clear_error(storage, tmp_path):
    with pytest.raises(StorageNotFoundError, match="no verified backup"):
        find_backup(storage, "latest")
    with pytest.raises(StorageNotFoundError):
        find_backup(storage, f"{storage.prefix}/db1/app/20200101T000000Z-x.sql.zst")


def test_a_corrupted_stored_object_is_caught_on_fetch_and_nothing_appears(storage, snapshot, tmp_path):
    key = upload_snapshot(storage, snapshot)["key"]
    backup = find_backup(storage, key)
    tampered = tmp_path / "tampered.sql.zst"
    data = bytearray(read_bytes(snapshot))
    data[5] ^= 0x01
    tampered.write_bytes(bytes(data))
    storage.put_file(key, str(tampered), {})
    dest = tmp_path / "restore"
    dest.mkdir()

    with pytest.raises(StorageIntegrityError):
        fetch_backup(storage, backup, str(dest))
    assert os.listdir(dest) == []


def test_prune_applies_gfs_per_series_and_never_touches_held_or_newest(storage, snapshot_dir):
    for day in range(10):
        upload_snapshot(storage, make_snapshot(snapshot_dir, started_at=NIGHT + timedelta(days=day)))
    upload_snapshot(storage, make_snapshot(snapshot_dir, database="crm", started_at=NIGHT))
    held = upload_snapshot(
        storage, make_snapshot(snapshot_dir, label="pre-migrate-v9", started_at=NIGHT - timedelta(days=30))
    )
    now = NIGHT + timedelta(days=10)
    policy = RetentionPolicy(keep_daily=3)

    planned = prune_backups(storage, policy, now=now, hold=["pre-migrate-v9"], dry_run=True)
    assert len(list_backups(storage)) == 12
    done = prune_backups(storage, policy, now=now, hold=["pre-migrate-v9"])
    again = prune_backups(storage, policy, now=now, hold=["pre-migrate-v9"])

    assert planned["deleted"] == done["deleted"]
    assert done["changed"] is True and again["changed"] is False
    remaining = {(b.database, b.label, b.timestamp.day) for b in list_backups(storage)}
    assert remaining == {
        ("app", "nightly", 10),
        ("app", "nightly", 9),
        ("app", "nightly", 8),
        ("crm", "nightly", 1),
        ("app", "pre-migrate-v9", 30),
    }
    assert held["key"] in [entry["key"] for entry in done["kept"]]
    assert done["freed_bytes"] > 0
    assert not any(
        item.key.endswith(".sql.zst") and item.key in done["deleted"]
        for item in storage.list_objects(storage.prefix + "/")
    )


def test_prune_removes_halves_of_failed_uploads_once_they_are_old(storage, snapshot_dir, tmp_path):
    kept = upload_snapshot(storage, make_snapshot(snapshot_dir, label="good"))["key"]
    dead_upload = f"{storage.prefix}/db1/app/20260201T020000Z-died.sql.zst"
    lost_data = f"{storage.prefix}/db1/app/20260202T020000Z-lost.json"
    (tmp_path / "junk").write_bytes(b"half a snapshot")
    storage.put_file(dead_upload, str(tmp_path / "junk"), {})
    storage.put_bytes(lost_data, b"{}")
    policy = RetentionPolicy(keep_last=5)

    fresh = prune_backups(storage, policy, dry_run=True)
    old = prune_backups(storage, policy, orphan_grace=timedelta(0))

    assert fresh["orphans_deleted"] == [] and fresh["changed"] is False  # might be an upload in progress
    assert old["orphans_deleted"] == [dead_upload, lost_data]
    assert old["changed"] is True and old["freed_bytes"] == len(b"half a snapshot") + 2
    assert sorted(item.key for item in storage.list_objects(storage.prefix + "/")) == [
        kept[: -len(".sql.zst")] + ".json",
        kept,
    ]
