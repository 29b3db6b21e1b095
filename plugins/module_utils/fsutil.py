# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durable file primitives: atomic writes and run locks.

A reader must only ever see a complete old file or a complete new one, so every write goes to a
temporary file in the same directory, is fsynced, renamed over the final name, and the directory is
fsynced so the rename itself survives a crash.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from typing import IO, Iterator

from .errors import LockHeldError, MutuapixError

TEMP_PREFIX = ".partial-"


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str, mode: int = 0o600, binary: bool = True) -> Iterator[IO]:
    """Yield a file that replaces ``path`` only if the ``with`` block completes.

    On any exception the temporary file is removed and ``path`` is left as it was. Temporary names
    start with ``TEMP_PREFIX`` so listings can ignore leftovers of a killed process.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    fsync_dir(directory)


def write_json_atomic(path: str, data: object, mode: int = 0o600) -> None:
    with atomic_writer(path, mode=mode, binary=False) as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")


def read_json(path: str) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise MutuapixError(f"cannot read JSON file {path}: {exc}", path=path) from exc


@contextlib.contextmanager
def run_lock(path: str) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on ``path`` for the duration of a run.

    The kernel drops the lock when the process dies, so a killed run never leaves a stale lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise LockHeldError(f"another run holds the lock {path}; refusing to overlap", lock=path) from exc
            raise
        yield
    finally:
        os.close(fd)


def is_temporary_name(name: str) -> bool:
    return os.path.basename(name).startswith(TEMP_PREFIX)
