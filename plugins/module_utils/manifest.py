# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot manifest: the JSON file beside every ``.sql.zst`` snapshot.

A snapshot is the pair ``<stem>.sql.zst`` + ``<stem>.json``; ``<stem>`` is
``<UTC %Y%m%dT%H%M%SZ>-<database or "all">-<label>``. The manifest is what every other part (storage,
retention, restore) reads to know what a snapshot holds and how to check it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import MutuapixError
from .fsutil import is_temporary_name, read_json

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


REQUIRED_KEYS = (
    "format",
    "snapshot_file",
    "sha256",
    "compressed_bytes",
    "raw_bytes",
    "databases",
    "label",
    "started_at",
    "finished_at",
    "host",
    "server",
    "binlog",
    "gtid",
    "tables",
    "tools",
)
STEM_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
ALL_DATABASES = "all"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.+-]")
_STEM_TIME = re.compile(r"^(\d{8}T\d{6}Z)-")


def validate_label(label: str) -> str:
    """Labels end up in file names and storage keys, so they are kept to a portable alphabet."""
    if not isinstance(label, str) or not _LABEL.match(label):
        raise ManifestError(
            f"invalid snapshot label {label!r}: use letters, digits and . _ + - (at most 100, not starting with "
            "a punctuation mark), e.g. nightly or pre-migrate-2026.11.28",
            label=label,
        )
    return label


def database_part(databases: list | None) -> str:
    """The ``<database or "all">`` part of a stem; several named databases are joined with ``+``."""
    if not databases:
        return ALL_DATABASES
    return "+".join(_UNSAFE_NAME_CHARS.sub("_", name) for name in databases)


def snapshot_stem(started_at: datetime, databases: list | None, label: str) -> str:
    stamp = started_at.astimezone(UTC).strftime(STEM_TIME_FORMAT)
    return f"{stamp}-{database_part(databases)}-{validate_label(label)}"


def stem_time(name: str) -> datetime | None:
    """The UTC time a snapshot file or stem was started, or None when the name is not a snapshot's."""
    match = _STEM_TIME.match(os.path.basename(name))
    if not match:
        return None
    return datetime.strptime(match.group(1), STEM_TIME_FORMAT).replace(tzinfo=UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def parse_iso_utc(text: str) -> datetime:
    try:
        return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"invalid timestamp {text!r} in manifest (expected {ISO_FORMAT})", value=text) from exc


def table_key(database: str, table: str) -> str:
    return f"{database}.{table}"


def validate_manifest(manifest: dict, snapshot_path: str) -> dict:
    """Check that ``manifest`` is complete and names the file beside it; return it."""
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise ManifestError(
            f"manifest of {snapshot_path} lacks {', '.join(missing)}", path=snapshot_path, missing=missing
        )
    if manifest["snapshot_file"] != os.path.basename(snapshot_path):
        raise ManifestError(
            f"manifest describes {manifest['snapshot_file']!r}, not {os.path.basename(snapshot_path)!r}",
            path=snapshot_path,
            manifest_snapshot_file=manifest["snapshot_file"],
        )
    if not isinstance(manifest["tables"], dict) or not isinstance(manifest["databases"], list):
        raise ManifestError(f"manifest of {snapshot_path} has malformed tables or databases", path=snapshot_path)
    parse_iso_utc(manifest["started_at"])
    return manifest


def load_manifest(snapshot_path: str) -> dict:
    """Read and validate the manifest beside ``snapshot_path``."""
    return validate_manifest(read_manifest(snapshot_path), snapshot_path)


def tables_of(manifest: dict, database: str) -> dict:
    """``{table: entry}`` for the tables of one database in the snapshot."""
    return {entry["table"]: entry for entry in manifest["tables"].values() if entry["database"] == database}


def objects_of(manifest: dict, database: str) -> dict:
    """Views, triggers, routines and events of one database, each a sorted list of names."""
    objects = manifest.get("objects", {}).get(database, {})
    return {kind: sorted(objects.get(kind, [])) for kind in OBJECT_KINDS}


OBJECT_KINDS = ("views", "triggers", "routines", "events")


@dataclass(frozen=True)
class SnapshotEntry:
    """A complete snapshot in a directory: both files present and the name carrying its start time."""

    path: str
    manifest_path: str
    started_at: datetime

    @property
    def stem(self) -> str:
        return os.path.basename(self.path)[: -len(SNAPSHOT_SUFFIX)]


def list_snapshots(directory: str) -> list:
    """Complete snapshots in ``directory``, oldest first; leftovers of killed runs are not listed."""
    entries = []
    for name in os.listdir(directory):
        if not name.endswith(SNAPSHOT_SUFFIX) or is_temporary_name(name):
            continue
        started_at = stem_time(name)
        path = os.path.join(directory, name)
        manifest_path = manifest_path_for(path)
        if started_at is not None and os.path.exists(manifest_path):
            entries.append(SnapshotEntry(path, manifest_path, started_at))
    return sorted(entries, key=lambda entry: (entry.started_at, entry.path))
