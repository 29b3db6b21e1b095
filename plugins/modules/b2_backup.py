#!/usr/bin/python
# -*- coding: utf-8 -*-  # noqa: UP009 (the header ansible-test expects of a module)
# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules keep their documentation strings above the imports, so imports are not at the top.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: b2_backup
short_description: Upload, fetch and prune off-site database snapshots in Backblaze B2, S3 or a directory
version_added: 0.1.0
description:
  - Keeps the off-site copies of 3-2-1 for snapshots made by M(mutuapix.infra.db_snapshot) (a
    C(<stem>.sql.zst) file with its C(<stem>.json) manifest).
  - O(state=present) uploads a snapshot to C(<prefix>/<host>/<database>/<UTC timestamp>-<label>.sql.zst),
    carrying the manifest as object metadata and as a sidecar object C(<same stem>.json). The sha256 is
    computed while streaming and compared with the manifest; the size and checksum the store reports
    (B2's SHA1, supplied for large files too; S3's per-part Content-MD5 and ETag) are verified, or the
    object is read back with O(verify=readback). Only then is the sidecar written, so an upload that
    fails midway is never listed as a backup. Uploading the same snapshot again changes nothing.
  - O(state=fetched) downloads one backup (or the latest matching O(host), O(database), O(label)) into
    O(dest) as a snapshot pair, verifying size and sha256 before the file appears.
  - O(state=pruned) applies a grandfather-father-son retention policy per host and database. The newest
    backup of each series and every backup named in O(hold) are never deleted. In check mode it reports
    what would be deleted. Unfinished uploads left by crashed runs are cancelled, and halves of failed
    uploads older than a day are deleted.
  - O(state=verified) is the check to run once with new credentials (see C(playbooks/verify_storage.yml)).
    It authorises, opens the bucket, checks the key's capabilities for its O(purpose), lists, writes a
    probe object under C(<prefix>/.mutuapix-probe/), reads it back and deletes it, and reports every
    problem in RV(problems) instead of stopping at the first. It changes nothing (the probe is removed;
    an upload key that cannot delete leaves it, which is reported). In check mode no probe is written.
  - Listing is read-only and lives in M(mutuapix.infra.b2_backup_info).
  - "Least privilege: the nightly upload needs only C(listFiles), C(readFiles) and C(writeFiles) (no
    C(deleteFiles)); pruning needs C(deleteFiles) and should run with a separate key."
author:
  - mutuapix.infra maintainers (@mutuapix)
requirements:
  - Python >= 3.11 on the target
  - b2sdk >= 1.17 for O(backend=b2) (Debian package C(python3-b2sdk))
  - boto3 >= 1.26 for O(backend=s3) (Debian package C(python3-boto3))
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mutuapix.infra.storage
attributes:
  check_mode:
    support: full
    details: Reads the store and reports what a real run would upload, download or delete, with the same keys.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  state:
    description:
      - V(present) uploads O(snapshot); V(fetched) downloads a backup to O(dest); V(pruned) applies retention;
        V(verified) checks the credentials and the bucket.
    type: str
    choices: [present, fetched, pruned, verified]
    default: present
  purpose:
    description:
      - With O(state=verified), what the key is for, which sets the capabilities it must have.
      - V(upload) (listFiles, readFiles, writeFiles, and it should B(not) be able to delete), V(read)
        (listFiles, readFiles), V(prune) (listFiles, readFiles, deleteFiles), V(all).
    type: str
    choices: [upload, read, prune, all]
    default: upload
  snapshot:
    description:
      - The snapshot to upload with O(state=present) - the path of its C(.sql.zst) file, or the result
        registered from M(mutuapix.infra.db_snapshot) (a dictionary with a C(path) key).
      - The manifest C(<stem>.json) must be beside it.
    type: raw
  host:
    description:
      - With O(state=present), the host part of the key; defaults to the manifest's C(host).
      - With O(state=fetched) and O(state=pruned), only backups of this host are considered.
    type: str
  database:
    description: With O(state=fetched) and O(state=pruned), only backups of this database (or V(all)).
    type: str
  label:
    description: With O(state=fetched) and O(state=pruned), only backups with this label.
    type: str
  verify:
    description:
      - How an upload is verified before it counts. V(store) compares the size and checksum the store
        reports with those computed while streaming. V(readback) also downloads the object and compares
        its sha256, at the cost of a second transfer.
    type: str
    choices: [store, readback]
    default: store
  lock_days:
    description:
      - With O(state=present), lock the uploaded snapshot and its sidecar against deletion for this many
        days (S3 Object Lock or B2 file retention, governance mode). 0 uploads unlocked.
      - The bucket must have Object Lock (B2 "file lock") enabled; on B2 the key needs the
        C(writeFileRetentions) capability. O(state=pruned) keeps a backup while it is locked.
      - Not available with O(backend=local).
    type: int
    default: 0
  backup:
    description: With O(state=fetched), the key of the backup to download, or V(latest).
    type: str
    default: latest
  dest:
    description: With O(state=fetched), the existing directory to download into.
    type: path
  keep_last:
    description: With O(state=pruned), keep the newest N backups.
    type: int
    default: 0
  keep_daily:
    description: Keep the newest backup of each of the N most recent days that have one.
    type: int
    default: 0
  keep_weekly:
    description: Keep the newest backup of each of the N most recent ISO weeks that have one.
    type: int
    default: 0
  keep_monthly:
    description: Keep the newest backup of each of the N most recent months that have one.
    type: int
    default: 0
  keep_yearly:
    description: Keep the newest backup of each of the N most recent years that have one.
    type: int
    default: 0
  keep_within:
    description: Keep every backup younger than this duration, for example V(36h), V(14d), V(2w) or V(1w3d).
    type: str
  max_total_size:
    description:
      - After the keep rules, delete the oldest kept backups of a series until it fits in this size, for
        example V(200GB). The newest and held backups are kept even when they alone exceed it.
    type: str
  timezone:
    description: The time zone in which days, weeks, months and years are counted.
    type: str
    default: UTC
  hold:
    description:
      - Backups that pruning must never delete, named by key, by file name or by label (for example the
        V(pre-migrate-<release>) snapshot of the live release).
    type: list
    elements: str
    default: []
notes:
  - With no keep rule and no O(max_total_size), O(state=pruned) deletes nothing.
  - Deleting removes every version of the object, so space is freed even on buckets that keep versions.
  - Backups still locked by O(lock_days) count as held when pruning.
    RV(warning) reports buckets without a lifecycle rule, where files hidden by other tools stay forever.
seealso:
  - module: mutuapix.infra.b2_backup_info
"""

EXAMPLES = r"""
- name: Upload last night's snapshot to B2 with the upload-only key
  mutuapix.infra.b2_backup:
    snapshot: "{{ snapshot.path }}"
    bucket: acme-db-backups
    key_id: "{{ vault_b2_upload_key_id }}"
    key: "{{ vault_b2_upload_key }}"

- name: Upload to B2's S3-compatible endpoint and read the object back
  mutuapix.infra.b2_backup:
    snapshot: /var/lib/mutuapix/snapshots/20261128T020000Z-app-nightly.sql.zst
    backend: s3
    endpoint_url: https://s3.eu-central-003.backblazeb2.com
    region: eu-central-003
    bucket: acme-db-backups
    key_id: "{{ vault_b2_upload_key_id }}"
    key: "{{ vault_b2_upload_key }}"
    verify: readback

- name: Keep a second local copy on the backup disk
  mutuapix.infra.b2_backup:
    snapshot: "{{ snapshot }}"
    backend: local
    path: /mnt/backup-disk/mutuapix

- name: Fetch the latest backup of the app database for a restore
  mutuapix.infra.b2_backup:
    state: fetched
    database: app
    dest: /var/lib/mutuapix/restore
    bucket: acme-db-backups
    key_id: "{{ vault_b2_read_key_id }}"
    key: "{{ vault_b2_read_key }}"
  register: fetched

- name: Prune with the separate pruning key, never touching the live release's pre-migration snapshot
  mutuapix.infra.b2_backup:
    state: pruned
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 12
    keep_yearly: 3
    hold:
      - "pre-migrate-{{ live_release }}"
    bucket: acme-db-backups
    key_id: "{{ vault_b2_prune_key_id }}"
    key: "{{ vault_b2_prune_key }}"
"""

RETURN = r"""
key:
  description: The object key of the backup uploaded or fetched.
  returned: O(state=present) or O(state=fetched)
  type: str
  sample: backups/db1/app/20261128T020000Z-nightly.sql.zst
sidecar_key:
  description: The key of the sidecar object holding the manifest and verification record.
  returned: O(state=present)
  type: str
  sample: backups/db1/app/20261128T020000Z-nightly.json
location:
  description: Where the backups are, without credentials.
  returned: O(state=present)
  type: str
  sample: b2://acme-db-backups/backups
size:
  description: Size of the snapshot file in bytes.
  returned: O(state=present) or O(state=fetched)
  type: int
  sample: 73400320
sha256:
  description: The sha256 of the snapshot file, as in its manifest and verified against the store.
  returned: O(state=present) or O(state=fetched)
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
checksums:
  description:
    - Checksums of the upload as verified against the store - C(sha256) of the bytes streamed, and
      C(sha1) (B2) or C(etag) (S3, the multipart form C(<md5 of part md5s>-<parts>) for large files).
  returned: O(state=present) and changed
  type: dict
  sample:
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    etag: 5d41402abc4b2a76b9719d911017c592-5
verified:
  description: How the upload was verified, V(store-checksum) or V(readback).
  returned: O(state=present) and changed
  type: str
  sample: store-checksum
verified_at:
  description: When the stored backup was verified (ISO 8601, UTC).
  returned: O(state=present), unless check mode predicts an upload
  type: str
  sample: "2026-11-28T02:04:11Z"
locked_until:
  description: Until when the backup is locked against deletion (ISO 8601, UTC), or V(null).
  returned: O(state=present), unless check mode predicts an upload
  type: str
  sample: "2026-12-05T02:04:09Z"
seconds:
  description: Duration of the transfer in seconds.
  returned: changed and not in check mode, O(state=present) or O(state=fetched)
  type: float
  sample: 12.4
throughput_bytes_per_second:
  description: Transfer throughput.
  returned: changed and not in check mode, O(state=present) or O(state=fetched)
  type: int
  sample: 5919380
path:
  description: The fetched snapshot file; its manifest is beside it.
  returned: O(state=fetched)
  type: str
  sample: /var/lib/mutuapix/restore/20261128T020000Z-app-nightly.sql.zst
manifest_path:
  description: The fetched snapshot's manifest.
  returned: O(state=fetched)
  type: str
  sample: /var/lib/mutuapix/restore/20261128T020000Z-app-nightly.json
deleted:
  description: Keys of the backups deleted (or, in check mode, that would be).
  returned: O(state=pruned)
  type: list
  elements: str
  sample: ["backups/db1/app/20261001T020000Z-nightly.sql.zst"]
orphans_deleted:
  description:
    - Keys of halves of failed uploads older than a day (a snapshot object without its sidecar, or a
      sidecar without its snapshot) that were deleted, or would be in check mode. Neither was listed as a
      backup; they only cost storage.
  returned: O(state=pruned)
  type: list
  elements: str
  sample: ["backups/db1/app/20261127T020000Z-nightly.sql.zst"]
kept:
  description: The backups kept, each with the rules that keep it (V(newest), V(held), V(last), V(daily 2026-11-28)...).
  returned: O(state=pruned)
  type: list
  elements: dict
  sample: [{"key": "backups/db1/app/20261128T020000Z-nightly.sql.zst", "reasons": ["newest", "daily 2026-11-28"]}]
freed_bytes:
  description: Bytes freed by the deletions (backups and halves of failed uploads).
  returned: O(state=pruned)
  type: int
  sample: 1073741824
over_cap:
  description:
    - Series (C(host/database)) still above O(max_total_size) because their newest and held backups alone
      exceed it.
  returned: O(state=pruned)
  type: list
  elements: str
  sample: ["db1/app"]
cancelled_unfinished:
  description: Keys of unfinished uploads from crashed runs that were cancelled.
  returned: O(state=pruned)
  type: list
  elements: str
  sample: []
ok:
  description: Whether every check passed.
  returned: O(state=verified)
  type: bool
  sample: false
checks:
  description: Every check run, in order, with its outcome and detail.
  returned: O(state=verified)
  type: list
  elements: dict
  sample: [{"check": "capabilities to upload", "ok": false, "detail": "missing writeFiles"}]
problems:
  description: The failed checks, one line each, for the operator.
  returned: O(state=verified)
  type: list
  elements: str
  sample: ["capabilities to upload: missing writeFiles"]
warning:
  description: Set when deletions will not free space on this bucket (versions kept without a lifecycle rule).
  returned: O(state=pruned) or O(state=verified)
  type: str
  sample: null
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.mutuapix.infra.plugins.module_utils.errors import MutuapixError
from ansible_collections.mutuapix.infra.plugins.module_utils.gfs_retention import RetentionPolicy, parse_duration
from ansible_collections.mutuapix.infra.plugins.module_utils.module_support import (
    fail_from_engine,
    fail_on_missing_libs,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import (
    fetch_backup,
    find_backup,
    prune_backups,
    upload_snapshot,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import open_storage, required_libraries
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_options import (
    STORAGE_ARGUMENT_SPEC,
    STORAGE_REQUIRED_IF,
    storage_config_from_params,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_probe import probe_storage


def snapshot_path(module: AnsibleModule) -> str:
    """A path, or a registered db_snapshot result carrying one."""
    snapshot = module.params["snapshot"]
    if isinstance(snapshot, dict):
        snapshot = snapshot.get("path")
    if not isinstance(snapshot, str) or not snapshot:
        module.fail_json(msg="snapshot must be a snapshot file path or a db_snapshot result with a path")
    return snapshot


def retention_policy(module: AnsibleModule) -> RetentionPolicy:
    params = module.params
    keep_within = parse_duration(params["keep_within"]) if params["keep_within"] else None
    max_total = params["max_total_size"]
    try:
        max_total_bytes = human_to_bytes(max_total) if max_total else None
    except ValueError as exc:
        module.fail_json(msg=f"max_total_size: {exc}")
    return RetentionPolicy(
        keep_last=params["keep_last"],
        keep_daily=params["keep_daily"],
        keep_weekly=params["keep_weekly"],
        keep_monthly=params["keep_monthly"],
        keep_yearly=params["keep_yearly"],
        keep_within=keep_within,
        max_total_bytes=max_total_bytes,
        timezone=params["timezone"],
    )


def run(module: AnsibleModule) -> dict:
    params = module.params
    filters = {"host": params["host"], "database": params["database"], "label": params["label"]}
    if params["state"] == "verified":
        report = probe_storage(storage_config_from_params(params), params["purpose"], write=not module.check_mode)
        return {"changed": False, **report}
    with open_storage(storage_config_from_params(params)) as storage:
        if params["state"] == "present":
            return upload_snapshot(
                storage,
                snapshot_path(module),
                host=params["host"],
                readback=params["verify"] == "readback",
                lock_days=params["lock_days"],
                dry_run=module.check_mode,
            )
        if params["state"] == "fetched":
            backup = find_backup(storage, params["backup"], **filters)
            return fetch_backup(storage, backup, params["dest"], dry_run=module.check_mode)
        policy = retention_policy(module)
        return prune_backups(storage, policy, hold=params["hold"], dry_run=module.check_mode, **filters)


def main() -> None:
    argument_spec = {
        **STORAGE_ARGUMENT_SPEC,
        "state": {"type": "str", "choices": ["present", "fetched", "pruned", "verified"], "default": "present"},
        "purpose": {"type": "str", "choices": ["upload", "read", "prune", "all"], "default": "upload"},
        "snapshot": {"type": "raw"},
        "host": {"type": "str"},
        "database": {"type": "str"},
        "label": {"type": "str"},
        "verify": {"type": "str", "choices": ["store", "readback"], "default": "store"},
        "lock_days": {"type": "int", "default": 0},
        "backup": {"type": "str", "default": "latest"},
        "dest": {"type": "path"},
        "keep_last": {"type": "int", "default": 0},
        "keep_daily": {"type": "int", "default": 0},
        "keep_weekly": {"type": "int", "default": 0},
        "keep_monthly": {"type": "int", "default": 0},
        "keep_yearly": {"type": "int", "default": 0},
        "keep_within": {"type": "str"},
        "max_total_size": {"type": "str"},
        "timezone": {"type": "str", "default": "UTC"},
        "hold": {"type": "list", "elements": "str", "default": []},
    }
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[*STORAGE_REQUIRED_IF, ("state", "present", ("snapshot",)), ("state", "fetched", ("dest",))],
        supports_check_mode=True,
    )
    fail_on_missing_libs(module, required_libraries(module.params["backend"]))
    try:
        result = run(module)
    except MutuapixError as error:
        fail_from_engine(module, error, changed=False)
    except OSError as error:
        module.fail_json(msg=f"cannot read or write a local file: {error}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
