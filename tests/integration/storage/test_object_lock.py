"""Object Lock / B2 file retention: locked uploads, pruning that respects locks, capability errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from servers.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from storage_snapshots import make_snapshot

from ansible_collections.mutuapix.infra.plugins.module_utils.gfs_retention import RetentionPolicy
from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import list_backups, prune_backups, upload_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import (
    StorageCapabilityError,
    StorageConfigError,
    open_storage,
)

NIGHT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def locked_s3(s3_server):
    """A bucket created with Object Lock enabled, as S3 requires (it cannot be turned on later)."""
    settings = {"endpoint_url": s3_server.endpoint_url, "region_name": "us-east-1"}
    client = boto3.client("s3", aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY, **settings)
    name = f"mtx-lock-{datetime.now(UTC):%H%M%S%f}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    config = {
        "backend": "s3",
        "bucket": name,
        "endpoint_url": s3_server.endpoint_url,
        "region": "us-east-1",
        "key_id": ACCESS_KEY_ID,
        "key": SECRET_ACCESS_KEY,
        "prefix": "backups",
    }
    return client, name, open_storage(config)


def test_s3_locked_backups_cannot_be_deleted_and_pruning_keeps_them(locked_s3, tmp_path):
    client, bucket, storage = locked_s3
    locked = upload_snapshot(storage, make_snapshot(tmp_path, label="locked", started_at=NIGHT), lock_days=3)
    upload_snapshot(storage, make_snapshot(tmp_path, label="plain", started_at=NIGHT + timedelta(days=1)))
    upload_snapshot(storage, make_snapshot(tmp_path, label="newest", started_at=NIGHT + timedelta(days=2)))

    head = client.head_object(Bucket=bucket, Key=locked["key"])
    sidecar_head = client.head_object(Bucket=bucket, Key=locked["sidecar_key"])
    assert head["ObjectLockMode"] == sidecar_head["ObjectLockMode"] == "GOVERNANCE"
    assert locked["locked_until"] is not None
    with pytest.raises(StorageCapabilityError):  # the store itself refuses
        storage.delete(locked["key"])

    result = prune_backups(storage, RetentionPolicy(keep_last=1))

    assert [b.label for b in list_backups(storage)] == ["newest", "locked"]
    assert result["deleted"] == ["backups/db1/app/20260302T020000Z-plain.sql.zst"]
    assert {"key": locked["key"], "reasons": ["held"]} in result["kept"]


def test_b2_locked_upload_records_governance_retention(b2_simulator, tmp_path):
    b2_simulator.admin.create_bucket("mtx-locked", "allPrivate", is_file_lock_enabled=True)
    capabilities = ["listBuckets", "listFiles", "readFiles", "writeFiles", "writeFileRetentions", "readFileRetentions"]
    key = b2_simulator.admin.create_key(capabilities, "locking-upload")
    config = {"backend": "b2", "bucket": "mtx-locked", "key_id": key.id_, "key": key.application_key}
    storage = open_storage(config, api=b2_simulator.new_api())

    result = upload_snapshot(storage, make_snapshot(tmp_path), lock_days=7)

    version = storage.bucket.get_file_info_by_name(result["key"])
    assert version.file_retention.mode.value == "governance"
    expected = datetime.fromisoformat(result["locked_until"]).timestamp() * 1000
    assert version.file_retention.retain_until == int(expected)
    assert list_backups(storage)[0].locked_until == result["locked_until"]


def test_b2_locking_without_the_capability_says_which_one(b2_simulator, tmp_path):
    b2_simulator.admin.create_bucket("mtx-locked", "allPrivate", is_file_lock_enabled=True)
    key = b2_simulator.admin.create_key(["listBuckets", "listFiles", "readFiles", "writeFiles"], "plain-upload")
    config = {"backend": "b2", "bucket": "mtx-locked", "key_id": key.id_, "key": key.application_key}
    storage = open_storage(config, api=b2_simulator.new_api())

    with pytest.raises(StorageCapabilityError, match="writeFileRetentions"):
        upload_snapshot(storage, make_snapshot(tmp_path), lock_days=7)
    assert list_backups(storage) == []


def test_a_local_directory_cannot_lock(tmp_path):
    (tmp_path / "offsite").mkdir()
    storage = open_storage({"backend": "local", "path": str(tmp_path / "offsite")})
    with pytest.raises(StorageConfigError, match="cannot lock"):
        upload_snapshot(storage, make_snapshot(tmp_path), lock_days=1)
