# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Off-site backups written once against the Storage interface: upload, verify, list, fetch, prune.

A backup is the data object ``<...>.sql.zst`` plus its sidecar ``<...>.json`` (the manifest and the
verification record). The sidecar is written last, only after the store has confirmed the size and
checksum of the data object, and listing only counts data objects that have one: an upload that dies
midway therefore never shows up as a backup, and is simply redone by the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .backup_keys import (
    ALL_DATABASES,
    SIDECAR_SUFFIX,
    backup_key_for,
    data_key,
    format_timestamp,
    parse_backup_key,
    parse_utc,
    series_prefix,
    sidecar_key,
)
from .fsutil import atomic_writer, write_json_atomic
from .gfs_retention import RetentionItem, RetentionPolicy, apply_retention
from .manifest import FORMAT, SNAPSHOT_SUFFIX, manifest_path_for, read_manifest
from .storage import (
    HashingWriter,
    Storage,
    StorageConfig,
    StorageConflictError,
    StorageError,
    StorageIntegrityError,
    StorageNotFoundError,
    file_digests,
    open_storage,
)

LATEST = "latest"
OFFSITE = "offsite"
METADATA_PREFIX = "mutuapix-"
# Object metadata travels in HTTP headers: S3 allows 2 KiB in all, B2 ten file-info entries. The full
# manifest is in the sidecar; metadata carries the fields a bare bucket listing tool needs.
METADATA_FIELDS = ("format", "sha256", "host", "databases", "label", "started_at", "finished_at", "raw_bytes")
METADATA_VALUE_LIMIT = 200
# A half-written backup younger than this may be an upload still running elsewhere: pruning leaves it.
ORPHAN_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Backup:
    """One verified backup as listed: its key, where it came from, and the manifest it carries."""

    key: str
    host: str
    database: str
    label: str
    timestamp: datetime
    size: int
    sha256: str
    manifest: dict
    verified_at: str | None
    locked_until: str | None = None

    @property
    def sidecar_key(self) -> str:
        return sidecar_key(self.key)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "sidecar_key": self.sidecar_key,
            "host": self.host,
            "database": self.database,
            "label": self.label,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "size": self.size,
            "sha256": self.sha256,
            "verified_at": self.verified_at,
            "locked_until": self.locked_until,
            "manifest": self.manifest,
        }


def object_metadata(manifest: dict) -> dict:
    metadata = {}
    for name in METADATA_FIELDS:
        value = manifest.get(name)
        if value is None:
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        # Header values must be ASCII; percent-encoding keeps any label readable and reversible.
        encoded = urllib.parse.quote(text, safe=" -_.:,+@=")[:METADATA_VALUE_LIMIT]
        metadata[METADATA_PREFIX + name.replace("_", "-")] = encoded
    return metadata


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def read_sidecar(storage: Storage, key: str) -> dict | None:
    """The sidecar of the backup under ``key``, or None while there is none (upload not finished)."""
    sidecar = sidecar_key(key)
    if storage.head(sidecar) is None:
        return None
    try:
        document = json.loads(storage.read_bytes(sidecar))
    except StorageNotFoundError:
        return None
    except ValueError as exc:
        raise StorageIntegrityError(f"sidecar {sidecar} is not valid JSON", key=sidecar) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT or OFFSITE not in document:
        raise StorageIntegrityError(f"sidecar {sidecar} is not a {FORMAT} backup record", key=sidecar)
    return document


def upload_snapshot(
    storage: Storage,
    snapshot_path: str,
    *,
    host: str | None = None,
    readback: bool = False,
    lock_days: int = 0,
    dry_run: bool = False,
) -> dict:
    """Upload a snapshot and its manifest; idempotent (the same snapshot again changes nothing).

    Returns key, size, sha256, the store's checksums, timing and throughput. ``lock_days`` locks both
    objects against deletion (Object Lock / B2 file retention, governance mode) for that long; pruning
    keeps a backup while it is locked. In ``dry_run`` nothing is written and the result says whether a
    real run would upload.
    """
    manifest = read_manifest(snapshot_path)
    key = backup_key_for(manifest, host).key(storage.prefix)
    result = {"key": key, "sidecar_key": sidecar_key(key), "location": storage.location, "sha256": manifest["sha256"]}
    existing = read_sidecar(storage, key)
    if existing is not None and _data_object_intact(storage, key, existing):
        _refuse_different_snapshot(key, existing, manifest)
        return {
            **result,
            "changed": False,
            "size": existing[OFFSITE]["size"],
            "verified_at": existing[OFFSITE]["verified_at"],
            "locked_until": existing[OFFSITE].get("locked_until"),
        }
    if dry_run:
        return {**result, "changed": True, "size": os.path.getsize(snapshot_path)}
    retain_until = _now().replace(microsecond=0) + timedelta(days=lock_days) if lock_days > 0 else None
    started = time.monotonic()
    stored = storage.put_file(key, snapshot_path, object_metadata(manifest), retain_until=retain_until)
    seconds = time.monotonic() - started
    _check_against_manifest(storage, key, stored.checksums.get("sha256"), manifest)
    verification = _verify_stored(storage, key, stored.size, manifest["sha256"], readback)
    record = {
        "key": key,
        "size": stored.size,
        "sha256": manifest["sha256"],
        "checksums": stored.checksums,
        "verified": verification,
        "verified_at": _iso(_now()),
        "locked_until": _iso(retain_until) if retain_until else None,
    }
    sidecar = json.dumps({**manifest, OFFSITE: record}, indent=2, sort_keys=True).encode()
    # The sidecar is locked too: deleting it would unlist a backup whose data nobody can delete.
    storage.put_bytes(sidecar_key(key), sidecar, retain_until=retain_until)
    return {
        **result,
        "changed": True,
        "size": stored.size,
        "checksums": stored.checksums,
        "verified": verification,
        "verified_at": record["verified_at"],
        "locked_until": record["locked_until"],
        "seconds": round(seconds, 3),
        "throughput_bytes_per_second": int(stored.size / seconds) if seconds > 0 else None,
    }


def _data_object_intact(storage: Storage, key: str, sidecar: dict) -> bool:
    """A sidecar whose data object is gone or truncated (deleted by hand, say) does not make a backup."""
    stored = storage.head(key)
    return stored is not None and stored.size == sidecar[OFFSITE]["size"]


def _refuse_different_snapshot(key: str, existing: dict, manifest: dict) -> None:
    if existing.get("sha256") != manifest["sha256"]:
        raise StorageConflictError(
            f"{key} already holds a different snapshot (sha256 {existing.get('sha256')}); refusing to overwrite it",
            key=key,
            stored_sha256=existing.get("sha256"),
            local_sha256=manifest["sha256"],
        )


def _check_against_manifest(storage: Storage, key: str, streamed_sha256: str | None, manifest: dict) -> None:
    """The bytes sent must be the snapshot the manifest describes (a changed or rotten local file is not)."""
    if streamed_sha256 is not None and streamed_sha256 != manifest["sha256"]:
        _discard(storage, key)
        raise StorageIntegrityError(
            f"the snapshot uploaded to {key} does not match its manifest's sha256; the local file is corrupt",
            key=key,
            manifest_sha256=manifest["sha256"],
            streamed_sha256=streamed_sha256,
        )


def _verify_stored(storage: Storage, key: str, size: int, sha256: str, readback: bool) -> str:
    stored = storage.head(key)
    if stored is None or stored.size != size:
        raise StorageIntegrityError(f"{key} is not in the store with {size} bytes after upload", key=key)
    if not readback:
        return "store-checksum"
    digest = hashlib.sha256()

    class _Sink:
        def write(self, data: bytes) -> int:
            digest.update(data)
            return len(data)

    storage.download(key, _Sink())
    if digest.hexdigest() != sha256:
        raise StorageIntegrityError(f"reading {key} back gave different bytes", key=key, read_sha256=digest.hexdigest())
    return "readback"


def _discard(storage: Storage, key: str) -> None:
    # An upload key usually cannot delete; the object then stays without a sidecar, which nothing lists.
    try:
        storage.delete(key)
    except StorageError:
        return


def _objects(storage: Storage, host: str | None, database: str | None) -> dict:
    return {item.key: item for item in storage.list_objects(series_prefix(storage.prefix, host, database))}


def list_backups(
    storage: Storage,
    *,
    host: str | None = None,
    database: str | None = None,
    label: str | None = None,
    objects: dict | None = None,
) -> list:
    """Verified backups (those with a sidecar), newest first, optionally narrowed to host/database/label.

    ``objects`` (key -> StoredObject) reuses a listing the caller already made.
    """
    objects = _objects(storage, host, database) if objects is None else objects
    backups = []
    for key in sorted(objects):
        parsed = parse_backup_key(key, storage.prefix)
        if parsed is None or sidecar_key(key) not in objects:
            continue
        if (host and parsed.host != host) or (database and parsed.database != database):
            continue
        if label and parsed.label != label:
            continue
        backup = _backup_from_sidecar(storage, key, parsed)
        if backup is not None:
            backups.append(backup)
    backups.sort(key=lambda backup: (backup.timestamp, backup.key), reverse=True)
    return backups


def _backup_from_sidecar(storage: Storage, key: str, parsed: object) -> Backup | None:
    document = read_sidecar(storage, key)
    if document is None:
        return None
    record = document[OFFSITE]
    manifest = {name: value for name, value in document.items() if name != OFFSITE}
    return Backup(
        key=key,
        host=parsed.host,
        database=parsed.database,
        label=parsed.label,
        timestamp=parsed.timestamp,
        size=record["size"],
        sha256=record["sha256"],
        manifest=manifest,
        verified_at=record.get("verified_at"),
        locked_until=record.get("locked_until"),
    )


def find_backup(
    storage: Storage,
    key_or_latest: str,
    *,
    host: str | None = None,
    database: str | None = None,
    label: str | None = None,
) -> Backup:
    """The backup under a key, or the newest matching the filters when ``key_or_latest`` is ``latest``."""
    if key_or_latest == LATEST:
        backups = list_backups(storage, host=host, database=database, label=label)
        if not backups:
            raise StorageNotFoundError(
                f"no verified backup in {storage.location} matches", host=host, database=database, label=label
            )
        return backups[0]
    parsed = parse_backup_key(key_or_latest, storage.prefix)
    if parsed is None:
        raise StorageNotFoundError(f"{key_or_latest} is not a backup key under {storage.location}", key=key_or_latest)
    backup = _backup_from_sidecar(storage, key_or_latest, parsed)
    if backup is None:
        raise StorageNotFoundError(f"no verified backup {key_or_latest} in {storage.location}", key=key_or_latest)
    return backup


def local_snapshot_name(backup: Backup) -> str:
    """The snapshot's own file name (``<stem>.sql.zst``), so that the fetched pair is a normal snapshot."""
    name = os.path.basename(str(backup.manifest.get("snapshot_file") or ""))
    if name.endswith(SNAPSHOT_SUFFIX) and not name.startswith("."):
        return name
    database = backup.database if backup.database != ALL_DATABASES else ALL_DATABASES
    return f"{format_timestamp(backup.timestamp)}-{database}-{backup.label}{SNAPSHOT_SUFFIX}"


def fetch_backup(storage: Storage, backup: Backup, dest_dir: str, *, dry_run: bool = False) -> dict:
    """Download ``backup`` into ``dest_dir`` as a snapshot pair, verifying size and sha256 before it appears."""
    snapshot_path = os.path.join(dest_dir, local_snapshot_name(backup))
    result = {"key": backup.key, "path": snapshot_path, "manifest_path": manifest_path_for(snapshot_path)}
    result.update({"sha256": backup.sha256, "size": backup.size})
    if _local_copy_matches(snapshot_path, backup):
        return {**result, "changed": False}
    if dry_run:
        return {**result, "changed": True}
    if not os.path.isdir(dest_dir):
        raise StorageNotFoundError(f"destination directory {dest_dir} does not exist", path=dest_dir)
    started = time.monotonic()
    with atomic_writer(snapshot_path, mode=0o600) as handle:
        writer = HashingWriter(handle, "sha256")
        storage.download(backup.key, writer)
        _check_download(backup, writer)
    seconds = time.monotonic() - started
    write_json_atomic(result["manifest_path"], backup.manifest)
    throughput = int(backup.size / seconds) if seconds > 0 else None
    return {**result, "changed": True, "seconds": round(seconds, 3), "throughput_bytes_per_second": throughput}


def _local_copy_matches(snapshot_path: str, backup: Backup) -> bool:
    if not (os.path.exists(snapshot_path) and os.path.exists(manifest_path_for(snapshot_path))):
        return False
    if os.path.getsize(snapshot_path) != backup.size:
        return False
    return file_digests(snapshot_path, "sha256")[1]["sha256"] == backup.sha256


def _check_download(backup: Backup, writer: HashingWriter) -> None:
    sha256 = writer.hexdigests()["sha256"]
    if writer.bytes_written != backup.size or sha256 != backup.sha256:
        raise StorageIntegrityError(
            f"downloaded {backup.key} does not match its record ({writer.bytes_written} bytes, sha256 {sha256})",
            key=backup.key,
            expected_sha256=backup.sha256,
            received_sha256=sha256,
            expected_bytes=backup.size,
            received_bytes=writer.bytes_written,
        )


def fetch_snapshot(
    storage_config: StorageConfig | dict,
    key_or_latest: str,
    dest_dir: str,
    *,
    host: str | None = None,
    database: str | None = None,
    label: str | None = None,
) -> str:
    """Fetch one backup (or the latest matching) into ``dest_dir`` and return the snapshot's path.

    The entry point for restore: the path it returns has its manifest beside it, like a local snapshot.
    """
    with open_storage(storage_config) as storage:
        backup = find_backup(storage, key_or_latest, host=host, database=database, label=label)
        return fetch_backup(storage, backup, dest_dir)["path"]


def is_held(backup: Backup, hold: list) -> bool:
    """Held backups are named by key, by file name (``<timestamp>-<label>.sql.zst``) or by label."""
    return any(entry in (backup.key, os.path.basename(backup.key), backup.label) for entry in hold)


def is_locked(backup: Backup, now: datetime) -> bool:
    """Still under Object Lock / file retention: the store would refuse to delete it anyway."""
    return bool(backup.locked_until) and parse_utc(backup.locked_until) > now


def plan_prune(backups: list, policy: RetentionPolicy, now: datetime, hold: list) -> dict:
    """GFS decisions per series (host + database): key -> reasons to keep, or [] to delete.

    Held backups are those named in ``hold`` and those still locked at ``now``.
    """
    series: dict = {}
    for backup in backups:
        series.setdefault((backup.host, backup.database), []).append(backup)
    plan = {}
    over_cap = []
    for members in series.values():
        items = [RetentionItem(b.key, b.timestamp, b.size, is_held(b, hold) or is_locked(b, now)) for b in members]
        decision = apply_retention(items, policy, now)
        plan.update(decision.keep)
        plan.update({key: [] for key in decision.delete})
        if decision.over_cap:
            over_cap.append(f"{members[0].host}/{members[0].database}")
    return {"plan": plan, "over_cap": over_cap}


def find_orphans(objects: dict, prefix: str, older_than: datetime, label: str | None = None) -> list:
    """Halves of backups left by failed runs, written before ``older_than``.

    A snapshot object without its sidecar is an upload that died before verification; a sidecar without
    its snapshot lost the data object. Neither is listed as a backup, but both cost storage. Only old
    ones count, so an upload in progress (data written, sidecar not yet) is never taken for one.
    """
    orphans = []
    for key, item in objects.items():
        if key.endswith(SNAPSHOT_SUFFIX):
            data, counterpart = key, sidecar_key(key)
        elif key.endswith(SIDECAR_SUFFIX):
            data = counterpart = data_key(key)
        else:
            continue
        parsed = parse_backup_key(data, prefix)
        if parsed is None or counterpart in objects or (label and parsed.label != label):
            continue
        if item.modified is not None and item.modified < older_than:
            orphans.append(key)
    return sorted(orphans)


def prune_backups(
    storage: Storage,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    hold: list | None = None,
    host: str | None = None,
    database: str | None = None,
    label: str | None = None,
    dry_run: bool = False,
    orphan_grace: timedelta = ORPHAN_GRACE,
) -> dict:
    """Delete what the policy does not keep, and the halves of failed uploads older than ``orphan_grace``.

    The sidecar goes first, so a backup whose deletion is interrupted is already unlisted.
    """
    storage.check_capabilities("prune")
    objects = _objects(storage, host, database)
    backups = list_backups(storage, host=host, database=database, label=label, objects=objects)
    decision = plan_prune(backups, policy, now or _now(), hold or [])
    doomed = [backup for backup in backups if not decision["plan"][backup.key]]
    orphans = find_orphans(objects, storage.prefix, _now() - orphan_grace, label)
    if not dry_run:
        for backup in doomed:
            storage.delete(backup.sidecar_key)
            storage.delete(backup.key)
        for key in orphans:
            storage.delete(key)
    cancelled = [] if dry_run else storage.cancel_unfinished(series_prefix(storage.prefix, host, database))
    return {
        "changed": bool(doomed or orphans or cancelled),
        "deleted": [backup.key for backup in doomed],
        "orphans_deleted": orphans,
        "freed_bytes": sum(backup.size for backup in doomed) + sum(objects[key].size for key in orphans),
        "kept": [{"key": b.key, "reasons": decision["plan"][b.key]} for b in backups if decision["plan"][b.key]],
        "over_cap": decision["over_cap"],
        "cancelled_unfinished": cancelled,
        "warning": storage.retention_warning(),
    }
