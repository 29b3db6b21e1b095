# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which local snapshots to keep, and pins that protect a snapshot while a restore reads it.

The policy is a pure function (``plan_retention``) so it can be tested exhaustively; ``apply_retention``
lists a directory, plans, and deletes. A snapshot is kept when any rule keeps it: it is among the
newest ``keep_last``, it is younger than ``keep_days``, a release refers to it (``protected`` stems), or
a restore in progress has pinned it. With neither ``keep_last`` nor ``keep_days`` nothing is deleted.

A pin is a file beside the snapshot holding an exclusive flock for as long as the restore runs; the
kernel drops the lock when the process dies, so a killed restore never protects a snapshot forever.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from .errors import MutuapixError
from .fsutil import TEMP_PREFIX, fsync_dir
from .manifest import MANIFEST_SUFFIX, SNAPSHOT_SUFFIX, SnapshotEntry, list_snapshots, stem_time

PIN_SUFFIX = ".restoring"
# A partial file younger than this may belong to a snapshot being written right now.
PARTIAL_GRACE = timedelta(hours=1)


class RetentionError(MutuapixError):
    """The retention settings are invalid or a snapshot could not be deleted."""


@dataclass(frozen=True)
class RetentionPlan:
    keep: list
    delete: list


def plan_retention(
    entries: list,
    *,
    now: datetime,
    keep_last: int | None = None,
    keep_days: float | None = None,
    protected: frozenset = frozenset(),
) -> RetentionPlan:
    """Split ``entries`` (objects with ``stem`` and ``started_at``) into those to keep and to delete."""
    validate_policy(keep_last, keep_days)
    if keep_last is None and keep_days is None:
        return RetentionPlan(list(entries), [])
    newest_first = sorted(entries, key=lambda entry: entry.started_at, reverse=True)
    keep, delete = [], []
    for index, entry in enumerate(newest_first):
        if is_kept(entry, index, now=now, keep_last=keep_last, keep_days=keep_days, protected=protected):
            keep.append(entry)
        else:
            delete.append(entry)
    return RetentionPlan(keep, delete)


def is_kept(entry, index: int, *, now, keep_last, keep_days, protected) -> bool:
    if entry.stem in protected:
        return True
    if keep_last is not None and index < keep_last:
        return True
    return keep_days is not None and now - entry.started_at < timedelta(days=keep_days)


def validate_policy(keep_last: int | None, keep_days: float | None) -> None:
    if keep_last is not None and keep_last < 1:
        raise RetentionError(f"keep_last must be at least 1 (got {keep_last})", keep_last=keep_last)
    if keep_days is not None and keep_days <= 0:
        raise RetentionError(f"keep_days must be positive (got {keep_days})", keep_days=keep_days)


def pin_path(snapshot_path: str) -> str:
    directory, name = os.path.split(snapshot_path)
    return os.path.join(directory, "." + name[: -len(SNAPSHOT_SUFFIX)] + PIN_SUFFIX)


@contextlib.contextmanager
def pinned(snapshot_path: str) -> Iterator[None]:
    """Protect ``snapshot_path`` from retention while the ``with`` block runs (a restore reading it)."""
    path = pin_path(snapshot_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # Shared, so several restores of one snapshot can pin it at once; the file stays (deleting it
        # could drop the pin of another restore) and goes with the snapshot.
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def is_pinned(snapshot_path: str) -> bool:
    """True while a live process holds the pin; a pin left by a killed process does not count."""
    try:
        fd = os.open(pin_path(snapshot_path), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)
    return False


def apply_retention(
    directory: str,
    *,
    now: datetime,
    keep_last: int | None = None,
    keep_days: float | None = None,
    protected: frozenset = frozenset(),
    dry_run: bool = False,
) -> dict:
    """Delete the snapshots the policy does not keep (both files), and leftovers of killed runs."""
    entries = list_snapshots(directory)
    pins = frozenset(entry.stem for entry in entries if is_pinned(entry.path))
    plan = plan_retention(
        entries, now=now, keep_last=keep_last, keep_days=keep_days, protected=frozenset(protected) | pins
    )
    leftovers = stale_leftovers(directory, now)
    if not dry_run:
        for entry in plan.delete:
            delete_snapshot(entry)
        for path in leftovers:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if plan.delete or leftovers:
            fsync_dir(directory)
    return {
        "kept": [entry.stem for entry in plan.keep],
        "deleted": [entry.stem for entry in plan.delete],
        "leftovers_removed": [os.path.basename(path) for path in leftovers],
        "pinned": sorted(pins),
    }


def delete_snapshot(entry: SnapshotEntry) -> None:
    """Remove the data first: a manifest without data is a leftover, data without manifest would look lost."""
    try:
        os.unlink(entry.path)
        for path in (entry.manifest_path, pin_path(entry.path)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    except OSError as exc:
        raise RetentionError(f"cannot delete snapshot {entry.path}: {exc}", path=entry.path) from exc


def stale_leftovers(directory: str, now: datetime) -> list:
    """Partial files of killed runs, and manifests whose data never got its final name."""
    leftovers = []
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if name.startswith(TEMP_PREFIX) and is_older_than(path, now, PARTIAL_GRACE):
            leftovers.append(path)
        elif name.endswith(MANIFEST_SUFFIX) and stem_time(name) is not None:
            data_path = path[: -len(MANIFEST_SUFFIX)] + SNAPSHOT_SUFFIX
            if not os.path.exists(data_path) and is_older_than(path, now, PARTIAL_GRACE):
                leftovers.append(path)
    return sorted(leftovers)


def is_older_than(path: str, now: datetime, age: timedelta) -> bool:
    try:
        modified = datetime.fromtimestamp(os.path.getmtime(path), tz=now.tzinfo)
    except FileNotFoundError:
        return False
    return now - modified > age
