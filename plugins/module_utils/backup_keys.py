# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a snapshot lives in off-site storage: ``<prefix>/<host>/<database>/<UTC timestamp>-<label>.sql.zst``.

The key is derived from the manifest alone, so the same snapshot always maps to the same key (uploads
are idempotent) and an operator can find a backup with nothing but a bucket listing. The sidecar
``<same stem>.json`` holds the manifest and the verification record; it is written last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import MutuapixError
from .manifest import SNAPSHOT_SUFFIX
from .storage import join_key

SIDECAR_SUFFIX = ".json"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
ALL_DATABASES = "all"
BACKUP_NAME = re.compile(r"^(?P<timestamp>\d{8}T\d{6}Z)-(?P<label>.+)" + re.escape(SNAPSHOT_SUFFIX) + "$")
UNSAFE_COMPONENT = re.compile(r"[/\\\x00-\x1f]")


class BackupKeyError(MutuapixError):
    """A manifest value cannot be turned into a safe object key, or a key is not a backup's."""


@dataclass(frozen=True)
class BackupKey:
    host: str
    database: str
    timestamp: datetime
    label: str

    def key(self, prefix: str) -> str:
        return join_key(
            prefix, self.host, self.database, f"{format_timestamp(self.timestamp)}-{self.label}{SNAPSHOT_SUFFIX}"
        )


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_utc(value: str) -> datetime:
    """An ISO 8601 time from a manifest as an aware UTC datetime (a naive one is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise BackupKeyError(f"{value!r} is not an ISO 8601 time", value=value) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def database_component(databases: object) -> str:
    if isinstance(databases, list) and len(databases) == 1:
        return str(databases[0])
    return ALL_DATABASES


def checked_component(name: str, value: object) -> str:
    text = str(value or "")
    if not text or text in (".", "..") or UNSAFE_COMPONENT.search(text):
        raise BackupKeyError(f"the manifest's {name} {text!r} cannot be part of an object key", field=name)
    return text


def backup_key_for(manifest: dict, host: str | None = None) -> BackupKey:
    return BackupKey(
        host=checked_component("host", host or manifest.get("host")),
        database=checked_component("database", database_component(manifest.get("databases"))),
        timestamp=parse_utc(manifest.get("started_at", "")),
        label=checked_component("label", manifest.get("label")),
    )


def sidecar_key(key: str) -> str:
    if not key.endswith(SNAPSHOT_SUFFIX):
        raise BackupKeyError(f"{key} is not a backup key (expected a name ending in {SNAPSHOT_SUFFIX})", key=key)
    return key[: -len(SNAPSHOT_SUFFIX)] + SIDECAR_SUFFIX


def data_key(sidecar: str) -> str:
    return sidecar[: -len(SIDECAR_SUFFIX)] + SNAPSHOT_SUFFIX


def parse_backup_key(key: str, prefix: str) -> BackupKey | None:
    """The parts of a backup key under ``prefix``, or None for any other object."""
    relative = key[len(prefix) + 1 :] if prefix else key
    if prefix and not key.startswith(prefix + "/"):
        return None
    parts = relative.split("/")
    match = BACKUP_NAME.match(parts[-1]) if len(parts) == 3 else None
    if match is None:
        return None
    moment = datetime.strptime(match["timestamp"], TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return BackupKey(parts[0], parts[1], moment, match["label"])


def series_prefix(prefix: str, host: str | None, database: str | None) -> str:
    """The narrowest key prefix that still holds every backup of ``host``/``database`` (either may be None)."""
    if host and database:
        return join_key(prefix, host, database) + "/"
    if host:
        return join_key(prefix, host) + "/"
    return join_key(prefix) + "/" if prefix else ""
