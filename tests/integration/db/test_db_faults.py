"""Faults: every promise of "nothing lost" tested by breaking something real.

Each test ends with a clear, typed error and checks that the target database and earlier snapshots are
exactly as they were, and that nothing that looks like a complete snapshot was left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import admin_sql, describe_database
from servers import mariadb

from ansible_collections.mutuapix.infra.plugins.module_utils import manifest as manifest_lib
from ansible_collections.mutuapix.infra.plugins.module_utils import restore as restore_module
from ansible_collections.mutuapix.infra.plugins.module_utils.manifest import ManifestError
from ansible_collections.mutuapix.infra.plugins.module_utils.restore import (
    RestoreError,
    VerificationError,
    restore_snapshot,
    staging_names,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot import (
    DumpFailedError,
    NoSpaceError,
    take_snapshot,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot_verify import (
    SnapshotCorruptError,
    verify_snapshot,
)


def databases() -> set:
    return {row[0] for row in admin_sql("SHOW DATABASES")}


def visible_files(directory: str) -> list:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


@pytest.fixture
def edge_snapshot(conn_params, edge_db, snapshot_dir) -> dict:
    return take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")


def assert_refused_untouched(conn_params, path, edge_db, error, match):
    before = describe_database(edge_db)["text"]
    with pytest.raises(error, match=match):
        restore_snapshot(conn_params, path)
    assert describe_database(edge_db)["text"] == before
    assert not {name for name in databases() if name.startswith(edge_db + "__")}


def test_corrupt_byte_is_refused(conn_params, edge_db, edge_snapshot):
    path = edge_snapshot["path"]
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))

    assert_refused_untouched(conn_params, path, edge_db, SnapshotCorruptError, "not intact zstd|sha256")


def test_truncated_file_is_refused(conn_params, edge_db, edge_snapshot):
    path = edge_snapshot["path"]
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 1000)

    assert_refused_untouched(conn_params, path, edge_db, SnapshotCorruptError, "truncated")


def test_manifest_of_another_snapshot_is_refused(conn_params, edge_db, edge_snapshot, snapshot_dir):
    admin_sql("INSERT INTO `group` VALUES (3, 'three')", edge_db)
    other = take_snapshot(conn_params, snapshot_dir, [edge_db], "other")
    with open(other["manifest_path"], encoding="utf-8") as handle:
        foreign = json.load(handle)
    foreign["snapshot_file"] = os.path.basename(edge_snapshot["path"])
    with open(edge_snapshot["manifest_path"], "w", encoding="utf-8") as handle:
        json.dump(foreign, handle)

    assert_refused_untouched(conn_params, edge_snapshot["path"], edge_db, SnapshotCorruptError, "manifest records")


def test_manifest_naming_another_file_is_refused(conn_params, edge_db, edge_snapshot):
    with open(edge_snapshot["manifest_path"], encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["snapshot_file"] = "20200101T000000Z-other-nightly.sql.zst"
    with open(edge_snapshot["manifest_path"], "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)

    assert_refused_untouched(conn_params, edge_snapshot["path"], edge_db, ManifestError, "describes")


def test_row_counts_that_do_not_match_stop_before_the_swap(conn_params, edge_db, edge_snapshot):
    """A manifest whose counts disagree with what loads: the staged copy is discarded, the target kept."""
    with open(edge_snapshot["manifest_path"], encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["tables"][f"{edge_db}.group"]["rows"] = 99
    with open(edge_snapshot["manifest_path"], "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    admin_sql("DELETE FROM `group`", edge_db)

    assert_refused_untouched(conn_params, edge_snapshot["path"], edge_db, VerificationError, "row counts")


def run_child(script: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.environ["ANSIBLE_COLLECTIONS_PATH"])
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=env)


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


CHILD_PREAMBLE = """
import time
from ansible_collections.mutuapix.infra.plugins.module_utils import restore, snapshot, snapshot_verify
from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_client import ConnectionParams

PARAMS = ConnectionParams(host="127.0.0.1", port=3306, user="root", password="")


class Slow:
    # Slows a stream down so the parent can kill this process in the middle of the work.
    def __init__(self, inner):
        self.inner = inner

    def read(self, size=-1):
        time.sleep(0.3)
        return self.inner.read(size)

    def __getattr__(self, name):
        return getattr(self.inner, name)
"""


def test_kill_9_mid_snapshot_leaves_nothing_that_looks_complete(conn_params, sakila_db, snapshot_dir):
    earlier = take_snapshot(conn_params, snapshot_dir, [sakila_db], "nightly")
    child = run_child(
        CHILD_PREAMBLE
        + f"""
import subprocess

def slow_spawn(argv, **kwargs):
    process = subprocess.Popen(argv, **kwargs)
    process.stdout = Slow(process.stdout)
    return process

snapshot.take_snapshot(PARAMS, {snapshot_dir!r}, [{sakila_db!r}], "nightly", spawn=slow_spawn)
"""
    )
    try:
        wait_for(lambda: any(name.startswith(".partial-") for name in os.listdir(snapshot_dir)))
        time.sleep(0.4)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    assert [entry.path for entry in manifest_lib.list_snapshots(snapshot_dir)] == [earlier["path"]]
    assert visible_files(snapshot_dir) == sorted(
        [os.path.basename(earlier["path"]), os.path.basename(earlier["manifest_path"])]
    )
    assert verify_snapshot(earlier["path"]) == earlier["manifest"]
    # The next run is not blocked by the dead one's lock and succeeds.
    assert take_snapshot(conn_params, snapshot_dir, [sakila_db], "nightly")["path"] != earlier["path"]


def test_kill_9_mid_restore_leaves_the_target_serving(conn_params, sakila_db, edge_db, snapshot_dir):
    sakila_snapshot = take_snapshot(conn_params, snapshot_dir, [sakila_db], "nightly")
    own_snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")
    before = describe_database(edge_db)["text"]
    staging, _parked = staging_names(edge_db)
    child = run_child(
        CHILD_PREAMBLE
        + f"""
import contextlib
original = restore.open_decompressed

@contextlib.contextmanager
def slow_open(*args):
    with original(*args) as reader:
        yield Slow(reader)

restore.open_decompressed = slow_open
restore.restore_snapshot(PARAMS, {sakila_snapshot["path"]!r}, target_database={edge_db!r}, force=True,
                         safety_snapshot=False)
"""
    )
    try:
        wait_for(
            lambda: bool(admin_sql("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", args=(staging,)))
        )
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    assert describe_database(edge_db)["text"] == before
    # The next restore clears the dead run's staging database (its server lock died with it) and works.
    report = restore_snapshot(conn_params, own_snapshot["path"], safety_snapshot=False)
    assert report["rows_restored"] == 9
    assert describe_database(edge_db)["text"] == before
    assert staging not in databases()


class SlowReader:
    """Reads slowly, so the dump blocks on a full pipe in the middle of a table."""

    def __init__(self, inner):
        self.inner = inner

    def read(self, size=-1):
        time.sleep(0.2)
        return self.inner.read(size)


def test_server_connection_killed_mid_dump(conn_params, mariadb_db, snapshot_dir):
    # Twenty MB in one table, read slowly: the dump is still inside its SELECT when the connection dies.
    admin_sql("CREATE TABLE big (id INT PRIMARY KEY, v TEXT)", mariadb_db)
    admin_sql("INSERT INTO big SELECT seq, REPEAT('x', 1000) FROM seq_1_to_20000", mariadb_db)
    earlier = take_snapshot(conn_params, snapshot_dir, [mariadb_db], "nightly")
    killed = []

    def kill_dump_connection():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not killed:
            rows = admin_sql(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE %s",
                args=(mariadb_db, "SELECT /*!40001 SQL_NO_CACHE */%"),
            )
            for (connection_id,) in rows:
                admin_sql(f"KILL {int(connection_id)}")
                killed.append(connection_id)
            time.sleep(0.01)

    def spawn_then_kill(argv, **kwargs):
        process = subprocess.Popen(argv, **kwargs)
        process.stdout = SlowReader(process.stdout)
        threading.Thread(target=kill_dump_connection, daemon=True).start()
        return process

    with pytest.raises(DumpFailedError, match="dump failed") as caught:
        take_snapshot(conn_params, snapshot_dir, [mariadb_db], "nightly", spawn=spawn_then_kill)

    assert killed
    # mariadb-dump exits non-zero; what it prints depends on where in the table the connection died.
    assert caught.value.details["rc"] != 0
    assert [entry.path for entry in manifest_lib.list_snapshots(snapshot_dir)] == [earlier["path"]]
    assert len(visible_files(snapshot_dir)) == 2


@pytest.fixture
def tiny_disk(tmp_path):
    """Mount a tmpfs of a chosen size (we run as root); always unmounted afterwards."""
    mounts = []

    def mount(size_bytes: int) -> str:
        path = tmp_path / f"tiny{len(mounts)}"
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)], check=True)
        mounts.append(str(path))
        return str(path)

    yield mount
    for path in mounts:
        subprocess.run(["umount", path], check=False)


def test_disk_too_small_is_refused_before_starting(conn_params, sakila_db, tiny_disk):
    directory = tiny_disk(1 << 20)

    with pytest.raises(NoSpaceError, match="not enough space") as caught:
        take_snapshot(conn_params, directory, [sakila_db], "nightly")

    assert caught.value.details["needed_bytes"] > caught.value.details["available_bytes"]
    assert visible_files(directory) == []


def test_disk_filling_up_during_the_snapshot(conn_params, mariadb_db, tiny_disk):
    """Random bytes do not compress, so the estimate (half the data size) passes but the disk fills."""
    admin_sql("CREATE TABLE blobs (id INT PRIMARY KEY, b MEDIUMBLOB) ENGINE=InnoDB", mariadb_db)
    with mariadb.connect(mariadb_db) as conn, conn.cursor() as cursor:
        cursor.executemany("INSERT INTO blobs VALUES (%s, %s)", [(i, os.urandom(64 << 10)) for i in range(64)])
        cursor.execute("ANALYZE TABLE blobs")
    data_length = admin_sql(
        "SELECT DATA_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", args=(mariadb_db,)
    )[0][0]
    size = (data_length // 2 + (512 << 10)) // 4096 * 4096
    assert size < (4 << 20) * 0.9, "the tmpfs must be smaller than the incompressible snapshot"
    directory = tiny_disk(size)
    os.makedirs(os.path.join(directory, "snapshots"))
    directory = os.path.join(directory, "snapshots")
    with open(os.path.join(directory, "keep.txt"), "w", encoding="utf-8") as handle:
        handle.write("an earlier file")

    with pytest.raises(NoSpaceError, match="filled up"):
        take_snapshot(conn_params, directory, [mariadb_db], "nightly")

    assert visible_files(directory) == ["keep.txt"]
    assert not [name for name in os.listdir(directory) if name.startswith(".partial-")]
    shutil.rmtree(directory)


def test_swap_that_cannot_get_its_locks_leaves_the_target_whole(conn_params, edge_db, snapshot_dir, monkeypatch):
    """A long transaction holds a table: RENAME TABLE times out, the dropped objects are put back."""
    snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")
    admin_sql("UPDATE edge SET qty = 42", edge_db)
    before = describe_database(edge_db)["text"]
    monkeypatch.setattr(restore_module, "SWAP_LOCK_WAIT_SECONDS", 1)
    with mariadb.connect(edge_db) as reader, reader.cursor() as cursor:
        cursor.execute("START TRANSACTION")
        cursor.execute("SELECT COUNT(*) FROM `group`")

        with pytest.raises(RestoreError, match="put back and the target is unchanged"):
            restore_snapshot(conn_params, snapshot["path"], safety_snapshot=False)

        cursor.execute("COMMIT")
    assert describe_database(edge_db)["text"] == before
    assert not {name for name in databases() if name.startswith(edge_db + "__")}
