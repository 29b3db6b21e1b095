# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checking a snapshot file against its manifest before anything trusts it.

One streaming pass reads the compressed file once: the bytes are hashed (sha256 against the manifest)
and decompressed (every zstd frame's own checksum is checked, and the decompressed size must equal the
manifest's ``raw_bytes``). A flipped byte, a truncated upload or a manifest from another snapshot are all
refused here, before a restore touches any database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Iterator

from .errors import MutuapixError
from .manifest import load_manifest
from .snapshot import CHUNK_BYTES, require_zstandard, zstandard


class SnapshotCorruptError(MutuapixError):
    """The snapshot file does not match its manifest or is not intact zstd."""


class HashingReader:
    """A file-like source that hashes and counts the bytes read through it."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha256.update(data)
        self.bytes_read += len(data)
        return data


def verify_snapshot(path: str, manifest: dict | None = None) -> dict:
    """Verify ``path`` against its manifest (read beside it unless given); return the manifest."""
    require_zstandard()
    manifest = manifest if manifest is not None else load_manifest(path)
    check_size(path, manifest)
    with open(path, "rb") as handle:
        source = HashingReader(handle)
        raw_bytes = decompressed_size(path, source)
        source.sha256.update(handle.read())
    check_digest(path, manifest, source.sha256.hexdigest())
    if raw_bytes != manifest["raw_bytes"]:
        raise SnapshotCorruptError(
            f"{path} decompresses to {raw_bytes} bytes but its manifest records {manifest['raw_bytes']}",
            path=path,
            raw_bytes=raw_bytes,
            expected_raw_bytes=manifest["raw_bytes"],
        )
    return manifest


def check_size(path: str, manifest: dict) -> None:
    size = os.path.getsize(path)
    if size != manifest["compressed_bytes"]:
        raise SnapshotCorruptError(
            f"{path} is {size} bytes but its manifest records {manifest['compressed_bytes']}: "
            "the file is truncated or is not the snapshot the manifest describes",
            path=path,
            size=size,
            expected_size=manifest["compressed_bytes"],
        )


def check_digest(path: str, manifest: dict, digest: str) -> None:
    if digest != manifest["sha256"]:
        raise SnapshotCorruptError(
            f"sha256 of {path} is {digest} but its manifest records {manifest['sha256']}: the file is corrupt",
            path=path,
            sha256=digest,
            expected_sha256=manifest["sha256"],
        )


def decompressed_size(path: str, source) -> int:
    """Decompress every frame, checking frame checksums, and return the total decompressed size."""
    total = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
        for chunk in iter(lambda: reader.read(CHUNK_BYTES), b""):
            total += len(chunk)
    except zstandard.ZstdError as exc:
        raise SnapshotCorruptError(f"{path} is not intact zstd data: {exc}", path=path) from exc
    return total


class RangeReader:
    """Reads ``length`` bytes of ``handle`` from its current position, then reports end of file."""

    def __init__(self, handle, length: int) -> None:
        self.handle, self.remaining = handle, length

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.handle.read(size)
        self.remaining -= len(data)
        return data


@contextlib.contextmanager
def open_decompressed(path: str, start: int = 0, end: int | None = None) -> Iterator:
    """A reader of the decompressed SQL of ``path``, or of the whole zstd frames between two offsets
    (call verify_snapshot first)."""
    require_zstandard()
    with open(path, "rb") as handle:
        handle.seek(start)
        source = handle if end is None else RangeReader(handle, end - start)
        yield zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
