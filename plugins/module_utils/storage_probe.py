# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check an operator runs once with new credentials: can this key do its job, and only its job?

Every step is recorded (name, ok, detail) instead of stopping at the first failure, so one run says
everything that is wrong: credentials, bucket, each capability, write/read/delete of a probe object, and
a lifecycle warning. A key meant for nightly uploads that *can* delete is reported too: least privilege
is part of what is being checked.
"""

from __future__ import annotations

import uuid

from .storage import CAPABILITIES_FOR, Storage, StorageCapabilityError, StorageConfig, StorageError, open_storage

PROBE_DIR = ".mutuapix-probe"
# What each purpose must be able to do; "upload" deliberately excludes deleting.
PURPOSES = {
    "upload": ("upload", "list", "fetch"),
    "read": ("list", "fetch"),
    "prune": ("list", "prune"),
    "all": ("upload", "list", "fetch", "prune"),
}


def _check(checks: list, name: str, ok: bool, detail: str) -> bool:
    checks.append({"check": name, "ok": ok, "detail": detail})
    return ok


def probe_storage(config: StorageConfig | dict, purpose: str = "upload", write: bool = True, **backend_options) -> dict:
    """Run every check for a key meant for ``purpose``; ``write`` False skips the probe object (check mode)."""
    checks: list = []
    try:
        storage = open_storage(config, **backend_options)
    except StorageError as error:
        _check(checks, "authorise and open the bucket", False, error.message)
        return _report(checks, None)
    with storage:
        _check(checks, "authorise and open the bucket", True, storage.location)
        _check_capabilities(storage, purpose, checks)
        _check_listing(storage, checks)
        if write:
            _check_probe_object(storage, purpose, checks)
        return _report(checks, storage.retention_warning())


def _check_capabilities(storage: Storage, purpose: str, checks: list) -> None:
    for operation in PURPOSES[purpose]:
        missing = storage.missing_capabilities(operation)
        detail = f"missing {', '.join(missing)}" if missing else f"has {', '.join(CAPABILITIES_FOR[operation])}"
        _check(checks, f"capabilities to {operation}", not missing, detail)


def _check_listing(storage: Storage, checks: list) -> None:
    prefix = storage.prefix + "/" if storage.prefix else ""
    try:
        next(iter(storage.list_objects(prefix)), None)
        _check(checks, "list objects", True, f"can list {prefix or '/'}")
    except StorageError as error:
        _check(checks, "list objects", False, error.message)


def _check_probe_object(storage: Storage, purpose: str, checks: list) -> None:
    key = "/".join(part for part in (storage.prefix, PROBE_DIR, f"{uuid.uuid4().hex}.txt") if part)
    payload = f"mutuapix storage probe {key}\n".encode()
    if purpose == "read":
        return  # a read-only key has nothing to write with
    if not _step(checks, "write a probe object", lambda: storage.put_bytes(key, payload, "text/plain")):
        return
    _step(checks, "read the probe object back", lambda: _same(storage.read_bytes(key), payload))
    try:
        storage.delete(key)
    except StorageCapabilityError as error:
        if purpose == "upload":
            _check(checks, "delete the probe object", True, f"cannot delete, as an upload key should not; {key} stays")
        else:
            _check(checks, "delete the probe object", False, error.message)
        return
    except StorageError as error:
        _check(checks, "delete the probe object", False, error.message)
        return
    if purpose == "upload":
        _check(checks, "least privilege", False, "this upload key can also delete: create one without deleteFiles")
    else:
        _check(checks, "delete the probe object", True, "deleted")


def _step(checks: list, name: str, action) -> bool:
    try:
        action()
    except StorageError as error:
        return _check(checks, name, False, error.message)
    return _check(checks, name, True, "ok")


def _same(read: bytes, written: bytes) -> None:
    if read != written:
        raise StorageError("the probe object read back differs from what was written")


def _report(checks: list, warning: str | None) -> dict:
    failed = [check for check in checks if not check["ok"]]
    return {
        "ok": not failed,
        "checks": checks,
        "problems": [f"{check['check']}: {check['detail']}" for check in failed],
        "warning": warning,
    }
