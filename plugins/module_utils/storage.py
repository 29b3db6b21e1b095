# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Off-site storage: one interface, three backends (local directory, S3-compatible, Backblaze B2 native).

Everything above this file (upload, verification, listing, fetch, retention) is written once against
``Storage``; a backend only moves bytes and reports what the store holds. Backends are imported lazily by
``open_storage`` so that a host without boto3 can still use B2 or a local directory, and vice versa.
"""

from __future__ import annotations

import abc
import hashlib
import io
import posixpath
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Iterable, Iterator

from .errors import MutuapixError

MIB = 1024 * 1024
# 16 MiB parts with 4 threads keep at most ~80 MiB of a snapshot in memory while still filling a
# typical uplink; both are tunable per run.
DEFAULT_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's floor for every part but the last
DEFAULT_THREADS = 4
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 5
CHUNK_SIZE = MIB
BACKENDS = ("b2", "s3", "local")

# What each engine operation needs from a key, in B2's capability names; S3 policies map onto them
# (listFiles -> s3:ListBucket, readFiles -> s3:GetObject, writeFiles -> s3:PutObject, deleteFiles ->
# s3:DeleteObject). The nightly upload key deliberately needs no deleteFiles.
CAPABILITIES_FOR = {
    "upload": ("listFiles", "readFiles", "writeFiles"),
    "list": ("listFiles", "readFiles"),
    "fetch": ("listFiles", "readFiles"),
    "prune": ("listFiles", "readFiles", "deleteFiles"),
}


class StorageError(MutuapixError):
    """A storage operation failed; subclasses say which kind of failure it was."""


class StorageConfigError(StorageError):
    """The storage settings are incomplete or inconsistent."""


class StorageAuthError(StorageError):
    """The store rejected the credentials (wrong, revoked or expired key)."""


class StorageNotFoundError(StorageError):
    """The bucket, directory or object does not exist."""


class StorageCapabilityError(StorageError):
    """The credentials are valid but lack a capability (permission) the operation needs."""


class StorageUnreachableError(StorageError):
    """The endpoint did not answer within the timeouts, after the retries."""


class StorageIntegrityError(StorageError):
    """What the store holds (or what came back) does not match the bytes that were sent."""


class StorageQuotaError(StorageError):
    """The store refused the write for lack of space, a cap or a quota."""


class StorageConflictError(StorageError):
    """A different object already exists under a key that must not be overwritten."""


@dataclass(frozen=True)
class StorageConfig:
    """Where backups live. ``key`` is a secret: it is kept out of repr() and never put in errors."""

    backend: str = "local"
    bucket: str | None = None
    path: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    key_id: str | None = None
    key: str | None = field(default=None, repr=False)
    part_size: int = DEFAULT_PART_SIZE
    threads: int = DEFAULT_THREADS
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES

    @classmethod
    def from_dict(cls, data: dict) -> StorageConfig:
        known = {name: value for name, value in data.items() if name in cls.__dataclass_fields__ and value is not None}
        config = cls(**known)
        config.validate()
        return config

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise StorageConfigError(f"unknown storage backend {self.backend!r}", backends=list(BACKENDS))
        if self.backend == "local" and not self.path:
            raise StorageConfigError("the local backend needs a path")
        if self.backend != "local" and not self.bucket:
            raise StorageConfigError(f"the {self.backend} backend needs a bucket")
        if self.part_size < MIN_PART_SIZE:
            raise StorageConfigError(f"part_size must be at least {MIN_PART_SIZE} bytes", part_size=self.part_size)
        if self.threads < 1 or self.retries < 1 or self.timeout <= 0:
            raise StorageConfigError("threads, retries and timeout must be positive")
        if ".." in self.prefix.split("/"):
            raise StorageConfigError("the prefix must not contain '..'", prefix=self.prefix)

    @property
    def clean_prefix(self) -> str:
        return self.prefix.strip("/")


@dataclass(frozen=True)
class StoredObject:
    """An object as the store reports it. ``checksums`` maps an algorithm to a hex digest."""

    key: str
    size: int
    metadata: dict = field(default_factory=dict)
    checksums: dict = field(default_factory=dict)
    modified: datetime | None = None  # when it was written, as listing reports it (aware, UTC)


class HashingReader:
    """Wrap a binary file so every byte read also feeds the given hashes (one pass, no extra memory)."""

    def __init__(self, handle: BinaryIO, *algorithms: str) -> None:
        self.handle = handle
        self.hashes = {name: hashlib.new(name) for name in algorithms}
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        for digest in self.hashes.values():
            digest.update(data)
        self.bytes_read += len(data)
        return data

    def hexdigests(self) -> dict:
        return {name: digest.hexdigest() for name, digest in self.hashes.items()}


class HashingWriter:
    """Wrap a binary file so every byte written also feeds the given hashes."""

    def __init__(self, handle: BinaryIO, *algorithms: str) -> None:
        self.handle = handle
        self.hashes = {name: hashlib.new(name) for name in algorithms}
        self.bytes_written = 0

    def write(self, data: bytes) -> int:
        for digest in self.hashes.values():
            digest.update(data)
        self.bytes_written += len(data)
        return self.handle.write(data)

    def hexdigests(self) -> dict:
        return {name: digest.hexdigest() for name, digest in self.hashes.items()}


def file_digests(path: str, *algorithms: str) -> tuple[int, dict]:
    """Size and hex digests of a file, read once in bounded chunks."""
    with open(path, "rb") as handle:
        reader = HashingReader(handle, *algorithms)
        while reader.read(CHUNK_SIZE):
            pass
    return reader.bytes_read, reader.hexdigests()


def join_key(*parts: str) -> str:
    return posixpath.join(*[part.strip("/") for part in parts if part and part.strip("/")])


class Storage(abc.ABC):
    """One bucket (or directory) and a key prefix. Keys given to methods are full keys."""

    #: whether ``put_file`` keeps ``metadata`` with the object (a local directory has nowhere to put it)
    keeps_metadata = True

    def __init__(self, config: StorageConfig) -> None:
        self.config = config

    @property
    def prefix(self) -> str:
        return self.config.clean_prefix

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the backups go, for messages and results (never credentials)."""

    @abc.abstractmethod
    def put_file(self, key: str, path: str, metadata: dict, retain_until: datetime | None = None) -> StoredObject:
        """Stream ``path`` to ``key`` and verify what the store now holds against the bytes sent.

        ``retain_until`` locks the object (governance-mode Object Lock / B2 file retention) until then.

        The returned checksums include ``sha256`` of the bytes streamed. Raises StorageIntegrityError
        when the store's size or checksum disagrees; a failed upload leaves no complete object behind
        where the backend can avoid it (multipart uploads are aborted, large files cancelled).
        """

    @abc.abstractmethod
    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/json", retain_until: datetime | None = None
    ) -> StoredObject:
        """Store a small object (sidecars, probes) in one request, locked until ``retain_until`` if given."""

    @abc.abstractmethod
    def head(self, key: str) -> StoredObject | None:
        """The object under ``key`` as the store reports it, or None when there is none."""

    @abc.abstractmethod
    def download(self, key: str, handle: BinaryIO) -> None:
        """Stream the object under ``key`` into ``handle`` in bounded chunks."""

    @abc.abstractmethod
    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        """Every complete object whose key starts with ``prefix`` (uploads in progress are not objects)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object under ``key``, every stored version of it, so that its space is freed."""

    @abc.abstractmethod
    def cancel_unfinished(self, prefix: str) -> list:
        """Cancel uploads that a crashed run left unfinished under ``prefix``; return their keys."""

    def read_bytes(self, key: str) -> bytes:
        """A small object's content (sidecars); use ``download`` for snapshots."""
        buffer = io.BytesIO()
        self.download(key, buffer)
        return buffer.getvalue()

    def missing_capabilities(self, operation: str) -> list:
        """Capabilities the credentials lack for ``operation``; empty when unknown or complete."""
        return []

    def check_capabilities(self, operation: str) -> None:
        missing = self.missing_capabilities(operation)
        if missing:
            raise StorageCapabilityError(
                f"the key for {self.location} lacks {', '.join(missing)}, needed to {operation}",
                operation=operation,
                missing_capabilities=missing,
            )

    def retention_warning(self) -> str | None:
        """A warning when deletions will not free space (versions kept forever), else None."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook: a local directory holds no connection
        """Release connections; the default backend holds none."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_storage(config: StorageConfig | dict, **backend_options: object) -> Storage:
    """The backend ``config`` names. ``backend_options`` reach its constructor (e.g. an injected B2Api)."""
    if isinstance(config, dict):
        config = StorageConfig.from_dict(config)
    else:
        config.validate()
    if config.backend == "local":
        from .storage_local import LocalStorage

        return LocalStorage(config, **backend_options)
    if config.backend == "s3":
        from .storage_s3 import S3Storage

        return S3Storage(config, **backend_options)
    from .storage_b2 import B2Storage

    return B2Storage(config, **backend_options)


def required_libraries(backend: str) -> Iterable[tuple]:
    """(name, import traceback or None) for the library ``backend`` needs, for missing_required_lib."""
    if backend == "s3":
        from .storage_s3 import BOTO3_IMPORT_ERROR

        return [("boto3", BOTO3_IMPORT_ERROR)]
    if backend == "b2":
        from .storage_b2 import B2SDK_IMPORT_ERROR

        return [("b2sdk", B2SDK_IMPORT_ERROR)]
    return []
