"""The contract every storage backend passes: local directory, S3 (moto over HTTP), B2 (b2sdk simulator)."""

from __future__ import annotations

import hashlib
import io
import os
import random

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils.storage import (
    MIN_PART_SIZE,
    StorageNotFoundError,
    file_digests,
)

TEST_PART_SIZE = MIN_PART_SIZE  # the smallest part the engine accepts: files just above it go multipart


def write_random(path, size: int, seed: int = 7) -> bytes:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


def download_bytes(storage, key: str) -> bytes:
    buffer = io.BytesIO()
    storage.download(key, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("size", [0, 1, 1000, TEST_PART_SIZE * 2 + 12345], ids=["empty", "one", "small", "multipart"])
def test_put_file_stores_and_reports_the_bytes_sent(storage, tmp_path, size):
    data = write_random(tmp_path / "payload", size)
    key = f"{storage.prefix}/h/db/payload-{size}.sql.zst"

    stored = storage.put_file(key, str(tmp_path / "payload"), {"mutuapix-label": "nightly"})

    assert stored.size == size
    assert stored.checksums["sha256"] == hashlib.sha256(data).hexdigest()
    assert storage.head(key).size == size
    assert download_bytes(storage, key) == data


def test_multipart_upload_uses_parts_and_the_store_confirms_the_whole_file(storage, backend, tmp_path):
    data = write_random(tmp_path / "payload", TEST_PART_SIZE * 2 + 1)
    key = f"{storage.prefix}/big.sql.zst"

    stored = storage.put_file(key, str(tmp_path / "payload"), {})

    if backend == "s3":
        assert stored.checksums["etag"].endswith("-3")
        assert storage.head(key).checksums["etag"] == stored.checksums["etag"]
    if backend == "b2":
        # b2sdk 1.17 would leave the whole-file SHA1 unset for a large file: the engine supplies it.
        assert storage.head(key).metadata["large_file_sha1"] == hashlib.sha1(data, usedforsecurity=False).hexdigest()
        assert storage.head(key).checksums["sha1"] == hashlib.sha1(data, usedforsecurity=False).hexdigest()


def test_metadata_travels_with_the_object_where_the_store_keeps_it(storage, tmp_path):
    write_random(tmp_path / "payload", 100)
    key = f"{storage.prefix}/meta.sql.zst"
    storage.put_file(key, str(tmp_path / "payload"), {"mutuapix-label": "pre-migrate-v42", "mutuapix-host": "db1"})

    metadata = storage.head(key).metadata

    if storage.keeps_metadata:
        assert metadata["mutuapix-label"] == "pre-migrate-v42"
        assert metadata["mutuapix-host"] == "db1"
    else:
        assert metadata == {}


def test_small_objects_round_trip(storage):
    key = f"{storage.prefix}/h/db/x.json"
    storage.put_bytes(key, b'{"a": 1}')

    assert storage.read_bytes(key) == b'{"a": 1}'
    assert storage.head(key).size == 8


def test_missing_objects_are_reported_as_missing(storage):
    assert storage.head(f"{storage.prefix}/nope.json") is None
    with pytest.raises(StorageNotFoundError):
        storage.read_bytes(f"{storage.prefix}/nope.json")


def test_listing_is_limited_to_the_prefix_and_sees_every_object(storage):
    for name in ("a/1.json", "a/2.json", "b/3.json"):
        storage.put_bytes(f"{storage.prefix}/{name}", b"{}")

    under_a = sorted(item.key for item in storage.list_objects(f"{storage.prefix}/a/"))
    everything = sorted(item.key for item in storage.list_objects(f"{storage.prefix}/"))

    assert under_a == [f"{storage.prefix}/a/1.json", f"{storage.prefix}/a/2.json"]
    assert everything == [*under_a, f"{storage.prefix}/b/3.json"]
    assert all(item.size == 2 for item in storage.list_objects(f"{storage.prefix}/"))


def test_delete_removes_the_object_and_is_idempotent(storage):
    key = f"{storage.prefix}/gone.json"
    storage.put_bytes(key, b"{}")

    storage.delete(key)
    storage.delete(key)

    assert storage.head(key) is None
    assert list(storage.list_objects(f"{storage.prefix}/")) == []


def test_overwriting_then_deleting_leaves_no_version_behind(storage):
    key = f"{storage.prefix}/twice.json"
    storage.put_bytes(key, b"{1}")
    storage.put_bytes(key, b"{22}")

    assert storage.read_bytes(key) == b"{22}"
    storage.delete(key)
    assert storage.head(key) is None


def test_nothing_unfinished_after_successful_uploads(storage, tmp_path):
    write_random(tmp_path / "payload", TEST_PART_SIZE + 10)
    storage.put_file(f"{storage.prefix}/done.sql.zst", str(tmp_path / "payload"), {})

    assert storage.cancel_unfinished(f"{storage.prefix}/") == []


def test_file_digests_reads_in_one_pass(tmp_path):
    data = write_random(tmp_path / "payload", 3 * 1024 * 1024 + 5)
    size, digests = file_digests(str(tmp_path / "payload"), "sha1", "sha256")
    assert size == len(data) == os.path.getsize(tmp_path / "payload")
    assert digests == {
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
