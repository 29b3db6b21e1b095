"""B2-native specifics against b2sdk's simulator: large files, crashed uploads, restricted keys."""

from __future__ import annotations

import hashlib
import random

import pytest
from b2sdk.v2 import exception as b2_exception

from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import list_backups, upload_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import (
    MIN_PART_SIZE,
    StorageAuthError,
    StorageCapabilityError,
    StorageNotFoundError,
    StorageQuotaError,
    StorageUnreachableError,
    open_storage,
)

ALL_BUT_DELETE = ["listBuckets", "listFiles", "readFiles", "writeFiles"]


@pytest.fixture
def b2(b2_simulator):
    bucket = b2_simulator.admin.create_bucket("mtx-offsite", "allPrivate")
    return b2_simulator, bucket


def b2_storage(simulator, key_id, key, **overrides):
    config = {"backend": "b2", "bucket": "mtx-offsite", "prefix": "backups", "key_id": key_id, "key": key}
    config.update(part_size=MIN_PART_SIZE, **overrides)
    return open_storage(config, api=simulator.new_api())


def restricted_key(simulator, capabilities, name_prefix=None, bucket_id=None):
    created = simulator.admin.create_key(capabilities, "test-key", bucket_id=bucket_id, name_prefix=name_prefix)
    return created.id_, created.application_key


def test_large_file_is_uploaded_in_parts_with_the_whole_file_sha1(b2, tmp_path):
    simulator, _bucket = b2
    data = random.Random(3).randbytes(MIN_PART_SIZE * 2 + 99)
    (tmp_path / "big").write_bytes(data)
    storage = b2_storage(simulator, simulator.account_id, simulator.master_key)

    storage.put_file("backups/h/db/big.sql.zst", str(tmp_path / "big"), {})

    version = storage.bucket.get_file_info_by_name("backups/h/db/big.sql.zst")
    assert version.content_sha1 == "none"  # a large file: B2 checked parts, not the whole
    assert version.file_info["large_file_sha1"] == hashlib.sha1(data, usedforsecurity=False).hexdigest()


def test_an_unfinished_large_file_from_a_crashed_run_is_cancelled(b2, tmp_path):
    simulator, bucket = b2
    simulator.admin.session.start_large_file(bucket.id_, "backups/h/db/crashed.sql.zst", "application/zstd", {})
    (tmp_path / "big").write_bytes(random.Random(4).randbytes(MIN_PART_SIZE + 1))
    storage = b2_storage(simulator, simulator.account_id, simulator.master_key)
    assert [f.file_name for f in bucket.list_unfinished_large_files()] == ["backups/h/db/crashed.sql.zst"]

    storage.put_file("backups/h/db/crashed.sql.zst", str(tmp_path / "big"), {})

    assert list(bucket.list_unfinished_large_files()) == []
    assert storage.head("backups/h/db/crashed.sql.zst").size == MIN_PART_SIZE + 1


def test_prune_level_cancel_finds_every_unfinished_upload_under_the_prefix(b2):
    simulator, bucket = b2
    for name in ("backups/a/x/1.sql.zst", "backups/b/y/2.sql.zst", "elsewhere/3.sql.zst"):
        simulator.admin.session.start_large_file(bucket.id_, name, "application/zstd", {})
    storage = b2_storage(simulator, simulator.account_id, simulator.master_key)

    cancelled = storage.cancel_unfinished("backups/")

    assert sorted(cancelled) == ["backups/a/x/1.sql.zst", "backups/b/y/2.sql.zst"]
    assert [f.file_name for f in bucket.list_unfinished_large_files()] == ["elsewhere/3.sql.zst"]


def test_a_key_restricted_to_the_backup_prefix_can_upload_and_list(b2, snapshot):
    simulator, _bucket = b2
    key_id, key = restricted_key(simulator, ALL_BUT_DELETE, name_prefix="backups/")
    storage = b2_storage(simulator, key_id, key)

    result = upload_snapshot(storage, snapshot)

    assert result["changed"] is True
    assert [backup.key for backup in list_backups(storage)] == [result["key"]]


def test_the_upload_key_without_delete_cannot_prune_and_says_which_capability_is_missing(b2):
    simulator, _bucket = b2
    key_id, key = restricted_key(simulator, ALL_BUT_DELETE, name_prefix="backups/")
    storage = b2_storage(simulator, key_id, key)

    assert storage.missing_capabilities("upload") == []
    with pytest.raises(StorageCapabilityError, match="deleteFiles") as raised:
        storage.check_capabilities("prune")
    assert raised.value.details["missing_capabilities"] == ["deleteFiles"]


def test_a_read_only_key_is_told_it_lacks_write_files(b2, snapshot):
    simulator, _bucket = b2
    key_id, key = restricted_key(simulator, ["listBuckets", "listFiles", "readFiles"])
    storage = b2_storage(simulator, key_id, key)

    assert storage.missing_capabilities("upload") == ["writeFiles"]
    with pytest.raises(StorageCapabilityError):
        upload_snapshot(storage, snapshot)


def test_a_key_for_another_prefix_is_refused_before_any_call(b2):
    simulator, _bucket = b2
    key_id, key = restricted_key(simulator, ALL_BUT_DELETE, name_prefix="other/")
    with pytest.raises(StorageCapabilityError, match="other/"):
        b2_storage(simulator, key_id, key)


def test_a_key_for_another_bucket_is_refused(b2):
    simulator, _bucket = b2
    other = simulator.admin.create_bucket("mtx-other", "allPrivate")
    key_id, key = restricted_key(simulator, ALL_BUT_DELETE, bucket_id=other.id_)
    with pytest.raises(StorageCapabilityError, match="restricted to bucket mtx-other"):
        b2_storage(simulator, key_id, key)


def test_wrong_credentials_are_an_auth_error_without_the_secret(b2):
    simulator, _bucket = b2
    with pytest.raises(StorageAuthError) as raised:
        b2_storage(simulator, simulator.account_id, "not-the-key")
    assert "not-the-key" not in str(raised.value.to_dict())


def test_a_missing_bucket_is_reported_as_missing(b2):
    simulator, _bucket = b2
    with pytest.raises(StorageNotFoundError, match="mtx-nope"):
        open_storage(
            {"backend": "b2", "bucket": "mtx-nope", "key_id": simulator.account_id, "key": simulator.master_key},
            api=simulator.new_api(),
        )


def test_a_bucket_without_lifecycle_rules_gets_a_warning(b2):
    simulator, _bucket = b2
    storage = b2_storage(simulator, simulator.account_id, simulator.master_key)
    assert "lifecycle" in storage.retention_warning()


def test_an_endpoint_that_keeps_failing_is_reported_unreachable_after_b2sdks_retries(b2, snapshot):
    simulator, _bucket = b2
    storage = b2_storage(simulator, simulator.account_id, simulator.master_key)
    simulator.raw.set_upload_errors([b2_exception.B2ConnectionError("connection refused")] * 5)

    with pytest.raises(StorageUnreachableError, match="did not answer"):
        upload_snapshot(storage, snapshot)

    assert list_backups(storage) == []
    assert upload_snapshot(storage, snapshot)["changed"] is True  # the errors are spent: the retry works
    assert len(list_backups(storage)) == 1


def test_a_full_account_is_a_quota_error(b2, snapshot):
    simulator, _bucket = b2
    storage = b2_storage(simulator, simulator.account_id, simulator.master_key)
    simulator.raw.set_upload_errors([b2_exception.StorageCapExceeded()] * 5)

    with pytest.raises(StorageQuotaError):
        upload_snapshot(storage, snapshot)
    assert list_backups(storage) == []
