# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local-directory storage: the embedded default and the second local copy of 3-2-1 (another disk/mount).

Objects are files under the root, keys are relative paths. Every write goes through ``atomic_writer`` so
a killed upload leaves only a ``.partial-`` temporary file, which listing ignores.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from datetime import UTC, datetime
from typing import BinaryIO, Iterator

from .fsutil import atomic_writer, is_temporary_name
from .storage import (
    CHUNK_SIZE,
    HashingReader,
    Storage,
    StorageConfig,
    StorageConfigError,
    StorageError,
    StorageIntegrityError,
    StorageNotFoundError,
    StorageQuotaError,
    StoredObject,
    file_digests,
)

# A temporary file younger than this may belong to an upload still running in another process.
STALE_PARTIAL_SECONDS = 3600


class LocalStorage(Storage):
    keeps_metadata = False

    def __init__(self, config: StorageConfig) -> None:
        super().__init__(config)
        self.root = os.path.abspath(config.path)
        if not os.path.isdir(self.root):
            raise StorageNotFoundError(f"backup directory {self.root} does not exist", path=self.root)

    @property
    def location(self) -> str:
        return self.root

    def _path(self, key: str) -> str:
        parts = key.split("/")
        if not key or ".." in parts or key.startswith("/"):
            raise StorageError(f"invalid object key {key!r}", key=key)
        return os.path.join(self.root, *parts)

    def _key(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def put_file(self, key: str, path: str, metadata: dict, retain_until: datetime | None = None) -> StoredObject:
        _refuse_lock(retain_until)
        destination = self._path(key)
        with _translate_os_errors(key):
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            with open(path, "rb") as source, atomic_writer(destination, mode=0o600) as target:
                reader = HashingReader(source, "sha256")
                shutil.copyfileobj(reader, target, CHUNK_SIZE)
            sent = reader.hexdigests()["sha256"]
            # The copy is often another disk or a network mount: read back what landed, not what we wrote.
            stored_size, stored = file_digests(destination, "sha256")
        if stored_size != reader.bytes_read or stored["sha256"] != sent:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(destination)
            raise StorageIntegrityError(
                f"{destination} does not hold the bytes written", key=key, sent_sha256=sent, stored=stored
            )
        return StoredObject(key, stored_size, {}, {"sha256": sent})

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/json", retain_until: datetime | None = None
    ) -> StoredObject:
        _refuse_lock(retain_until)
        destination = self._path(key)
        with _translate_os_errors(key):
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            with atomic_writer(destination, mode=0o600) as target:
                target.write(data)
        return StoredObject(key, len(data))

    def head(self, key: str) -> StoredObject | None:
        try:
            return StoredObject(key, os.stat(self._path(key)).st_size)
        except FileNotFoundError:
            return None

    def download(self, key: str, handle: BinaryIO) -> None:
        try:
            with open(self._path(key), "rb") as source:
                shutil.copyfileobj(source, handle, CHUNK_SIZE)
        except FileNotFoundError as exc:
            raise StorageNotFoundError(f"no object {key} in {self.root}", key=key) from exc

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        for directory, _dirs, files in os.walk(self.root):
            for name in sorted(files):
                if is_temporary_name(name):
                    continue
                path = os.path.join(directory, name)
                key = self._key(path)
                if key.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):
                        stat = os.stat(path)
                        yield StoredObject(key, stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, UTC))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def cancel_unfinished(self, prefix: str) -> list:
        cancelled = []
        cutoff = time.time() - STALE_PARTIAL_SECONDS
        for directory, _dirs, files in os.walk(self.root):
            for name in files:
                path = os.path.join(directory, name)
                if is_temporary_name(name) and self._key(path).startswith(prefix) and _mtime(path) < cutoff:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                        cancelled.append(self._key(path))
        return cancelled


def _refuse_lock(retain_until: datetime | None) -> None:
    if retain_until is not None:
        raise StorageConfigError("a local directory cannot lock objects; use B2 or S3 Object Lock for that")


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return float("inf")


@contextlib.contextmanager
def _translate_os_errors(key: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageQuotaError(f"no space left to store {key}: {exc.strerror}", key=key) from exc
        raise StorageError(f"cannot store {key}: {exc.strerror or exc}", key=key) from exc
