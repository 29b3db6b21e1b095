"""Faults: the endpoint dies mid-upload, a part is corrupted in flight, credentials are revoked.

Each must end in a clear, typed error, leave nothing that listing counts as a backup, and a retry must
succeed once the fault is gone.
"""

from __future__ import annotations

import time

import boto3
import pytest
from faulty_proxy import FaultyProxy
from servers.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server
from storage_snapshots import make_snapshot

from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import list_backups, upload_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import (
    MIN_PART_SIZE,
    StorageAuthError,
    StorageIntegrityError,
    StorageUnreachableError,
    open_storage,
)

BIG = MIN_PART_SIZE * 2 + 1000  # three parts


def s3_storage(endpoint_url: str, bucket: str):
    config = {
        "backend": "s3",
        "bucket": bucket,
        "endpoint_url": endpoint_url,
        "region": REGION,
        "key_id": ACCESS_KEY_ID,
        "key": SECRET_ACCESS_KEY,
        "prefix": "backups",
        "part_size": MIN_PART_SIZE,
        "threads": 2,
        "timeout": 3,
        "retries": 2,
    }
    return open_storage(config)


def create_bucket(endpoint_url: str, name: str) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket=name)


@pytest.fixture
def own_s3_server():
    """A moto server of this test alone, since the test kills it."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("size", [1000, BIG], ids=["single-put", "multipart"])
def test_the_server_killed_mid_upload_gives_a_clear_error_and_a_retry_succeeds(own_s3_server, tmp_path, size):
    create_bucket(own_s3_server.endpoint_url, "mtx-dying")
    proxy = FaultyProxy(own_s3_server.port)
    proxy.min_body, proxy.trigger_at, proxy.on_trigger = 500, 400, own_s3_server.stop
    snapshot = make_snapshot(tmp_path, incompressible_bytes=size)

    started = time.monotonic()
    with pytest.raises(StorageUnreachableError, match="did not answer"):
        upload_snapshot(s3_storage(proxy.endpoint_url, "mtx-dying"), snapshot)

    assert proxy.fired.is_set() and time.monotonic() - started < 30
    own_s3_server.start()  # the endpoint comes back (moto forgets its buckets when it dies)
    create_bucket(own_s3_server.endpoint_url, "mtx-dying")
    storage = s3_storage(own_s3_server.endpoint_url, "mtx-dying")
    assert upload_snapshot(storage, snapshot)["changed"] is True
    assert len(list_backups(storage)) == 1


def test_a_connection_cut_mid_part_leaves_no_backup_and_the_next_run_completes(s3_bucket, tmp_path):
    """The endpoint dies for the client while the store keeps what it had: nothing half-done is listed."""
    direct = s3_storage(s3_bucket["endpoint_url"], s3_bucket["bucket"])
    upstream_port = int(s3_bucket["endpoint_url"].rsplit(":", 1)[1])
    proxy = FaultyProxy(upstream_port)
    proxy.min_body, proxy.trigger_at = MIN_PART_SIZE, MIN_PART_SIZE // 2
    proxy.on_trigger = proxy.kill
    snapshot = make_snapshot(tmp_path, incompressible_bytes=BIG)

    with pytest.raises(StorageUnreachableError):
        upload_snapshot(s3_storage(proxy.endpoint_url, s3_bucket["bucket"]), snapshot)

    assert list_backups(direct) == []
    assert direct.head("backups/db1/app/20260301T020000Z-nightly.json") is None
    revived = FaultyProxy(upstream_port, port=proxy.port)  # the endpoint is back, same address
    retried = upload_snapshot(s3_storage(revived.endpoint_url, s3_bucket["bucket"]), snapshot)
    assert retried["changed"] is True
    assert [backup.key for backup in list_backups(direct)] == [retried["key"]]
    assert direct.cancel_unfinished("backups/") == []


@pytest.mark.parametrize("size", [1000, BIG], ids=["single-put", "multipart"])
def test_a_byte_flipped_in_flight_is_caught_and_nothing_is_listed(s3_bucket, tmp_path, size):
    upstream_port = int(s3_bucket["endpoint_url"].rsplit(":", 1)[1])
    proxy = FaultyProxy(upstream_port)
    proxy.min_body, proxy.flip_at = 500, 300
    storage = s3_storage(proxy.endpoint_url, s3_bucket["bucket"])
    snapshot = make_snapshot(tmp_path, incompressible_bytes=size)

    with pytest.raises(StorageIntegrityError) as raised:
        upload_snapshot(storage, snapshot)

    assert proxy.fired.is_set()
    assert raised.value.details["key"] == "backups/db1/app/20260301T020000Z-nightly.sql.zst"
    assert list_backups(storage) == []
    assert storage.cancel_unfinished("backups/") == []  # a failed multipart upload was aborted
    # The proxy flips only once: the retry goes through clean and is verified.
    assert upload_snapshot(storage, snapshot, readback=True)["verified"] == "readback"
    assert len(list_backups(storage)) == 1


def test_credentials_revoked_between_calls_end_in_an_auth_error_and_a_new_key_works(b2_simulator, tmp_path):
    simulator = b2_simulator
    simulator.admin.create_bucket("mtx-revoked", "allPrivate")
    capabilities = ["listBuckets", "listFiles", "readFiles", "writeFiles"]
    revoked = simulator.admin.create_key(capabilities, "nightly")
    config = {"backend": "b2", "bucket": "mtx-revoked", "prefix": "backups", "key_id": revoked.id_}
    storage = open_storage({**config, "key": revoked.application_key}, api=simulator.new_api())
    upload_snapshot(storage, make_snapshot(tmp_path, label="first"))

    simulator.admin.delete_key(revoked)
    # B2 ends the key's sessions: the next call finds its token expired and b2sdk re-authorises.
    simulator.raw.expire_auth_token(storage.api.account_info.get_account_auth_token())
    with pytest.raises(StorageAuthError) as raised:
        upload_snapshot(storage, make_snapshot(tmp_path, label="second"))

    assert revoked.application_key not in str(raised.value.to_dict())
    replacement = simulator.admin.create_key(capabilities, "nightly2")
    fresh = open_storage(
        {**config, "key_id": replacement.id_, "key": replacement.application_key}, api=simulator.new_api()
    )
    assert upload_snapshot(fresh, make_snapshot(tmp_path, label="second"))["changed"] is True
    assert [backup.label for backup in list_backups(fresh)] == ["second", "first"]
