"""Snapshot fixtures made here (zstd SQL + manifest), so storage tests never depend on the snapshot engine."""

from __future__ import annotations

import hashlib
import json
import os
import random
from datetime import UTC, datetime, timedelta

import zstandard

FORMAT = "mutuapix.snapshot/v1"


def sql_text(rows: int, seed: int) -> bytes:
    generator = random.Random(seed)
    lines = ["CREATE TABLE `t` (`id` INT PRIMARY KEY, `note` VARCHAR(64));"]
    row = "INSERT INTO `t` VALUES ({}, '{:032x}');"  # test data written to a file, never run as a query
    lines += [row.format(n, generator.getrandbits(128)) for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def make_snapshot(
    directory,
    *,
    database: str = "app",
    label: str = "nightly",
    started_at: datetime | None = None,
    host: str = "db1",
    rows: int = 200,
    seed: int = 1,
    incompressible_bytes: int = 0,
) -> str:
    """Write ``<stem>.sql.zst`` + ``<stem>.json`` into ``directory`` and return the snapshot's path.

    ``incompressible_bytes`` appends random bytes inside the zstd frame's SQL comment so that the
    compressed file is large enough to exercise multipart uploads without a huge SQL text.
    """
    started_at = started_at or datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    stem = f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-{database}-{label}"
    raw = sql_text(rows, seed)
    if incompressible_bytes:
        # Hex of random bytes compresses to about half: twice the hex gives the compressed size asked for.
        noise = random.Random(seed).randbytes(incompressible_bytes).hex().encode()
        raw += b"-- " + noise + b"\n"
    compressed = zstandard.ZstdCompressor(level=1).compress(raw)
    path = os.path.join(str(directory), stem + ".sql.zst")
    with open(path, "wb") as handle:
        handle.write(compressed)
    manifest = {
        "format": FORMAT,
        "snapshot_file": os.path.basename(path),
        "sha256": hashlib.sha256(compressed).hexdigest(),
        "compressed_bytes": len(compressed),
        "raw_bytes": len(raw),
        "databases": [database],
        "label": label,
        "started_at": started_at.isoformat().replace("+00:00", "Z"),
        "finished_at": (started_at + timedelta(seconds=42)).isoformat().replace("+00:00", "Z"),
        "host": host,
    }
    with open(path[: -len(".sql.zst")] + ".json", "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    return path
