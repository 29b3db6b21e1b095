"""Fixtures for the storage suite: one ``storage`` fixture that every backend passes through."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest
from storage_snapshots import make_snapshot

from ansible_collections.mutuapix.infra.plugins.module_utils.storage import MIN_PART_SIZE, open_storage

BACKENDS = ("local", "s3", "b2")
# The smallest part size the engine accepts: files just above it exercise multipart/large-file paths.
TEST_PART_SIZE = MIN_PART_SIZE


def storage_config(request, backend: str, tmp_path, **overrides) -> tuple[dict, dict]:
    """(config dict, backend options) for a fresh, empty place of ``backend``."""
    prefix = f"backups-{uuid.uuid4().hex[:8]}"
    base = {"prefix": prefix, "part_size": TEST_PART_SIZE, "threads": 3, "timeout": 10, "retries": 3}
    if backend == "local":
        root = tmp_path / "offsite"
        root.mkdir(exist_ok=True)
        return {**base, "backend": "local", "path": str(root), **overrides}, {}
    if backend == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        config = {
            **base,
            "backend": "s3",
            "bucket": bucket["bucket"],
            "endpoint_url": bucket["endpoint_url"],
            "region": bucket["region"],
            "key_id": bucket["access_key_id"],
            "key": bucket["secret_access_key"],
        }
        return {**config, **overrides}, {}
    simulator = request.getfixturevalue("b2_simulator")
    name = f"mtx-{uuid.uuid4().hex[:10]}"
    simulator.admin.create_bucket(name, "allPrivate")
    # The simulator stamps uploads with a counter from 5000 ms after the epoch; B2 stamps them with the
    # time of upload, which is what the orphan grace period of pruning relies on.
    simulator.raw.bucket_name_to_bucket[name].upload_timestamp_counter = itertools.count(int(time.time() * 1000))
    config = {**base, "backend": "b2", "bucket": name, "key_id": simulator.account_id, "key": simulator.master_key}
    return {**config, **overrides}, {"api": simulator.new_api()}


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def storage(request, backend, tmp_path):
    config, options = storage_config(request, backend, tmp_path)
    with open_storage(config, **options) as opened:
        yield opened


@pytest.fixture
def snapshot_dir(tmp_path):
    directory = tmp_path / "snapshots"
    directory.mkdir()
    return directory


@pytest.fixture
def snapshot(snapshot_dir) -> str:
    return make_snapshot(snapshot_dir)
