# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot manifest: the JSON file beside every ``.sql.zst`` snapshot.

A snapshot is the pair ``<stem>.sql.zst`` + ``<stem>.json``; ``<stem>`` is
``<UTC %Y%m%dT%H%M%SZ>-<database or "all">-<label>``. The manifest is what every other part (storage,
retention, restore) reads to know what a snapshot holds and how to check it.
"""

from __future__ import annotations

import os

from .errors import MutuapixError
from .fsutil import read_json

FORMAT = "mutuapix.snapshot/v1"
SNAPSHOT_SUFFIX = ".sql.zst"
MANIFEST_SUFFIX = ".json"


class ManifestError(MutuapixError):
    """A manifest is missing, unreadable or does not describe the snapshot beside it."""


def manifest_path_for(snapshot_path: str) -> str:
    if not snapshot_path.endswith(SNAPSHOT_SUFFIX):
        raise ManifestError(
            f"{snapshot_path} is not a snapshot (expected a name ending in {SNAPSHOT_SUFFIX})", path=snapshot_path
        )
    return snapshot_path[: -len(SNAPSHOT_SUFFIX)] + MANIFEST_SUFFIX


def read_manifest(snapshot_path: str) -> dict:
    path = manifest_path_for(snapshot_path)
    if not os.path.exists(path):
        raise ManifestError(f"manifest {path} is missing; the snapshot cannot be verified", path=path)
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestError(f"{path} is not a {FORMAT} manifest", path=path)
    return manifest
