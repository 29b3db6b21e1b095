import json
import multiprocessing
import os

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils.errors import LockHeldError
from ansible_collections.mutuapix.infra.plugins.module_utils.fsutil import (
    atomic_writer,
    is_temporary_name,
    run_lock,
    write_json_atomic,
)


def test_atomic_writer_replaces_the_file_with_the_requested_mode(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with atomic_writer(str(target), mode=0o640) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    write_json_atomic(str(target), {"generation": 1})

    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic_writer(str(target)) as handle:
        handle.write(b'{"generation": 2')
        raise Boom
    assert json.loads(target.read_text()) == {"generation": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_temporary_names_are_recognisable(tmp_path):
    seen = []
    with atomic_writer(str(tmp_path / "x")) as handle:
        seen = os.listdir(tmp_path)
        handle.write(b"x")
    assert len(seen) == 1 and is_temporary_name(seen[0])
    assert not is_temporary_name("20261128T000000Z-app-nightly.sql.zst")


def _hold_lock(path, ready, release):
    with run_lock(path):
        ready.set()
        release.wait(10)


def test_run_lock_refuses_an_overlapping_run_and_frees_when_the_holder_exits(tmp_path):
    lock = str(tmp_path / "backup.lock")
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(lock, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockHeldError, match="another run holds the lock"), run_lock(lock):
            pass
    finally:
        release.set()
        holder.join(10)
    with run_lock(lock):
        pass


def test_run_lock_is_freed_when_the_holder_is_killed(tmp_path):
    lock = str(tmp_path / "backup.lock")
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(lock, ready, release))
    holder.start()
    assert ready.wait(10)
    holder.kill()
    holder.join(10)
    with run_lock(lock):
        pass
