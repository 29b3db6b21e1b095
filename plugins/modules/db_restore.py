#!/usr/bin/python
# -*- coding: utf-8 -*-  # noqa: UP009 (the header ansible-test expects of a module)
# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules keep their documentation strings above the imports, so imports are not at the top.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_restore
short_description: Restore a MySQL/MariaDB snapshot safely - verified, staged, swapped in
version_added: 0.1.0
description:
  - Restores a snapshot made by M(mutuapix.infra.db_snapshot) (a local C(.sql.zst) file with its manifest
    beside it) into a target database, on the same server or another one.
  - Before touching the target, checks the file against its manifest (size, sha256, zstd frame checksums,
    decompressed size); a corrupt, truncated or mismatched snapshot is refused and the target is unchanged.
  - Takes a safety snapshot of the target first (O(safety_snapshot)) and returns its path, so the restore
    can be undone by restoring that file.
  - Loads into a staging database, O(workers) tables at a time, each table decompressed from its own zstd
    frame and loaded on its own connection (one frame per table is how M(mutuapix.infra.db_snapshot) writes
    snapshots); a snapshot without per-table frames is spread statement by statement over O(workers)
    connections instead. Unique and foreign key checks are off for those sessions only. Triggers, views,
    routines and events are created after the data, so no trigger fires during the load.
  - Verifies staging against the manifest - the set of tables, every table's row count, and the views,
    triggers, routines and events - and only then swaps it in.
  - The swap - the target's old triggers, views, routines and events are dropped, one C(RENAME TABLE)
    statement moves all old tables out and all staged tables in (atomic - readers see either all old or
    all new tables), and the objects are created again in the target. C(RENAME TABLE) waits for running
    transactions on those tables (up to 60 seconds) and holds their metadata locks for milliseconds;
    during the swap (typically well under a second) views and routines are missing and triggers do not
    fire, so stop writers (maintenance mode) while restoring.
  - A failure before the swap leaves the target as it was and drops the staging database.
  - Restoring into a database whose name differs from the snapshot's, or from a snapshot older than
    O(max_age_hours), requires O(force); without it the module explains and stops.
author:
  - mutuapix.infra maintainers (@mutuapix)
requirements:
  - Python >= 3.11 on the target
  - PyMySQL (Debian package C(python3-pymysql))
  - zstandard (Debian package C(python3-zstandard))
  - C(mariadb-dump) or C(mysqldump) on the target's PATH, for the safety snapshot
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mutuapix.infra.mysql_login
attributes:
  check_mode:
    support: full
    details:
      - Verifies the snapshot file, checks O(force) rules and connects; reports the restore that would be
        done, with the same keys as a real run, without touching any database.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run restores the snapshot again (and takes a new safety snapshot), so it reports a change.
  platform:
    platforms: posix
options:
  src:
    description:
      - Path of the snapshot's C(.sql.zst) file; its C(.json) manifest must be beside it.
      - Exactly one of O(src) and O(from_storage) is required.
    type: path
  from_storage:
    description:
      - Restore a backup kept off-site by M(mutuapix.infra.b2_backup) instead of a local file.
      - The backup is downloaded into O(from_storage.fetch_dir) and its size and sha256 verified before it
        appears there (an identical copy already there is reused), then restored exactly like O(src).
      - The storage options mean what they mean in M(mutuapix.infra.b2_backup); a read-only key is enough.
      - In check mode the backup is located and its manifest checked, but nothing is downloaded.
    type: dict
    suboptions:
      backup:
        description:
          - Key of the backup, as returned by M(mutuapix.infra.b2_backup) or M(mutuapix.infra.b2_backup_info),
            or V(latest) for the newest verified backup of the database being restored (O(source_database),
            else O(target_database)), optionally narrowed by O(from_storage.host) and O(from_storage.label).
        type: str
        default: latest
      host:
        description: With O(from_storage.backup=latest), only backups taken on this host.
        type: str
      label:
        description: With O(from_storage.backup=latest), only backups with this label.
        type: str
      fetch_dir:
        description: Directory the backup is downloaded into; created (mode 0700) when missing.
        type: path
        default: /var/lib/mutuapix/restore
      backend:
        description: V(b2) (native API), V(s3) (any S3-compatible service) or V(local) (a directory).
        type: str
        choices: [b2, s3, local]
        default: b2
      bucket:
        description: The bucket, for V(b2) and V(s3).
        type: str
      path:
        description: The backup directory, for V(local).
        type: path
      prefix:
        description: Key prefix the backups are stored under.
        type: str
        default: backups
      endpoint_url:
        description: S3 endpoint URL, for V(s3).
        type: str
      region:
        description: S3 region, for V(s3).
        type: str
      key_id:
        description: Application key id (B2) or access key id (S3).
        type: str
      key:
        description: Application key (B2) or secret access key (S3).
        type: str
      part_size_mb:
        description: Transfer part size in MiB.
        type: int
        default: 16
      threads:
        description: Parallel transfers.
        type: int
        default: 4
      timeout:
        description: Seconds before one request to the store is abandoned.
        type: float
        default: 60
      retries:
        description: Attempts for a failing request (S3), with exponential backoff.
        type: int
        default: 5
  target_database:
    description: Database to restore into; defaults to the snapshot's database (O(source_database)).
    type: str
  source_database:
    description: Which database of a multi-database snapshot to restore; not needed for single-database ones.
    type: str
  force:
    description:
      - Restore even when O(target_database) differs from the snapshot's database, or the snapshot finished
        more than O(max_age_hours) ago.
    type: bool
    default: false
  max_age_hours:
    description: Snapshots older than this need O(force).
    type: float
    default: 48
  safety_snapshot:
    description: Snapshot the target (label C(pre-restore)) before changing it, if it holds anything.
    type: bool
    default: true
  safety_dir:
    description: Directory for the safety snapshot; defaults to the directory of O(src).
    type: path
  workers:
    description: Connections that load tables in parallel.
    type: int
    default: 4
seealso:
  - module: mutuapix.infra.db_snapshot
"""

EXAMPLES = r"""
- name: Undo a failed migration with the snapshot taken just before it
  mutuapix.infra.db_restore:
    src: "{{ pre_migrate.path }}"
    login_user: root
    login_unix_socket: /run/mysqld/mysqld.sock
  register: restored

- name: Monthly restore drill into a scratch database
  mutuapix.infra.db_restore:
    src: /var/backups/mysql/20261128T020000Z-app-nightly.sql.zst
    target_database: app_restore_drill
    force: true
    safety_snapshot: false
    config_file: /etc/mysql/debian.cnf

- name: Restore the newest off-site backup of app after losing the server's disk
  mutuapix.infra.db_restore:
    from_storage:
      backend: b2
      bucket: acme-db-backups
      key_id: "{{ vault_b2_read_key_id }}"
      key: "{{ vault_b2_read_key }}"
    target_database: app
    config_file: /etc/mysql/debian.cnf

- name: Tell the operator how to undo the restore
  ansible.builtin.debug:
    msg: "Previous state saved in {{ restored.safety_snapshot }}"
"""

RETURN = r"""
source_database:
  description: The database of the snapshot that was restored.
  returned: success
  type: str
  sample: app
target_database:
  description: The database restored into.
  returned: success
  type: str
  sample: app
label:
  description: The snapshot's label.
  returned: success
  type: str
  sample: pre-migrate-2026.11.28
snapshot_age_hours:
  description: Hours between the end of the snapshot and the start of the restore.
  returned: success
  type: float
  sample: 0.25
renamed:
  description: Whether the target name differs from the snapshot's database name.
  returned: success
  type: bool
  sample: false
snapshot:
  description: The snapshot file restored (for O(from_storage), the verified download; in check mode its future path).
  returned: success
  type: str
  sample: /var/backups/mysql/20261128T020000Z-app-pre-migrate-2026.11.28.sql.zst
fetched:
  description: With O(from_storage), the backup that was located and fetched; null otherwise.
  returned: success
  type: dict
  sample: {key: backups/db-1/app/20261128T020000Z-nightly.sql.zst, size: 48211032, sha256: 9f2c0d..., downloaded: true}
safety_snapshot:
  description: The snapshot of the target taken before the restore (restore it to undo), or null.
  returned: success
  type: str
  sample: /var/backups/mysql/20261128T021500Z-app-pre-restore.sql.zst
safety_manifest:
  description: The manifest of the safety snapshot, or null.
  returned: success
  type: str
  sample: /var/backups/mysql/20261128T021500Z-app-pre-restore.json
rows_restored:
  description: Rows loaded and verified (in check mode, the rows the manifest lists).
  returned: success
  type: int
  sample: 1520331
verification:
  description:
    - What was verified against the manifest. In check mode only the file was verified, so the table
      and object figures are those of the manifest.
  returned: success
  type: dict
  sample: {tables: 12, rows: 1520331, row_counts_match: true, objects: {views: 1, triggers: 2, routines: 0, events: 0}}
timings:
  description: Seconds spent in each step (verify_file, safety_snapshot, load, verify_staging, rename, swap).
  returned: success
  type: dict
  sample: {verify_file_seconds: 0.9, safety_snapshot_seconds: 5.1, load_seconds: 21.7, verify_staging_seconds: 1.2,
           rename_seconds: 0.03, swap_seconds: 0.2}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mutuapix.infra.plugins.module_utils.errors import MutuapixError
from ansible_collections.mutuapix.infra.plugins.module_utils.manifest import OBJECT_KINDS, objects_of, tables_of
from ansible_collections.mutuapix.infra.plugins.module_utils.module_support import (
    fail_from_engine,
    fail_on_missing_libs,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_client import PYMYSQL_IMPORT_ERROR, connect
from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_login import (
    LOGIN_ARGUMENT_SPEC,
    connection_params,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import fetch_backup, find_backup
from ansible_collections.mutuapix.infra.plugins.module_utils.restore import plan_restore, restore_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot import ZSTANDARD_IMPORT_ERROR, utc_now
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot_verify import verify_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import open_storage, required_libraries
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_options import (
    STORAGE_ARGUMENT_SPEC,
    STORAGE_REQUIRED_IF,
    storage_config_from_params,
)

FROM_STORAGE_SPEC = {
    **STORAGE_ARGUMENT_SPEC,
    "backup": {"type": "str", "default": "latest"},
    "host": {"type": "str"},
    "label": {"type": "str"},
    "fetch_dir": {"type": "path", "default": "/var/lib/mutuapix/restore"},
}


def argument_spec() -> dict:
    return {
        **LOGIN_ARGUMENT_SPEC,
        "src": {"type": "path"},
        "from_storage": {"type": "dict", "options": FROM_STORAGE_SPEC, "required_if": STORAGE_REQUIRED_IF},
        "target_database": {"type": "str"},
        "source_database": {"type": "str"},
        "force": {"type": "bool", "default": False},
        "max_age_hours": {"type": "float", "default": 48.0},
        "safety_snapshot": {"type": "bool", "default": True},
        "safety_dir": {"type": "path"},
        "workers": {"type": "int", "default": 4},
    }


def fetch_from_storage(params: dict, dry_run: bool) -> dict:
    """Locate the backup ``from_storage`` names and, unless ``dry_run``, download and verify it."""
    options = params["from_storage"]
    database = params["source_database"] or params["target_database"]
    if not dry_run:
        os.makedirs(options["fetch_dir"], mode=0o700, exist_ok=True)
    with open_storage(storage_config_from_params(options)) as storage:
        backup = find_backup(
            storage, options["backup"], host=options["host"], database=database, label=options["label"]
        )
        fetched = fetch_backup(storage, backup, options["fetch_dir"], dry_run=dry_run)
    return {
        "key": backup.key,
        "size": backup.size,
        "sha256": backup.sha256,
        "path": fetched["path"],
        "manifest": backup.manifest,
        "downloaded": fetched["changed"] and not dry_run,
    }


def predicted_result(module, login, src: str, fetched: dict | None) -> dict:
    """Check mode: verify the file and the force rules, prove the server answers, and describe the restore.

    A backup still in storage is only located, not downloaded: its manifest stands in for the file's.
    """
    params = module.params
    started = time.monotonic()
    manifest = fetched["manifest"] if fetched else verify_snapshot(src)
    verify_seconds = time.monotonic() - started
    plan = plan_restore(
        manifest,
        params["target_database"],
        params["source_database"],
        params["force"],
        params["max_age_hours"],
        utc_now(),
    )
    connect(login).close()
    tables = tables_of(manifest, plan["source_database"])
    rows = sum(entry["rows"] for entry in tables.values())
    objects = objects_of(manifest, plan["source_database"])
    return {
        **plan,
        "snapshot": src,
        "safety_snapshot": None,
        "safety_manifest": None,
        "rows_restored": rows,
        "verification": {
            "tables": len(tables),
            "rows": rows,
            "row_counts_match": None,
            "objects": {kind: len(objects[kind]) for kind in OBJECT_KINDS},
        },
        "timings": {"verify_file_seconds": round(verify_seconds, 3)},
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("src", "from_storage")],
        required_one_of=[("src", "from_storage")],
        supports_check_mode=True,
    )
    fail_on_missing_libs(module, [("PyMySQL", PYMYSQL_IMPORT_ERROR), ("zstandard", ZSTANDARD_IMPORT_ERROR)])
    params = module.params
    if params["from_storage"]:
        fail_on_missing_libs(module, required_libraries(params["from_storage"]["backend"]))
    login = connection_params(params)
    try:
        fetched = fetch_from_storage(params, dry_run=module.check_mode) if params["from_storage"] else None
        src = fetched["path"] if fetched else params["src"]
        if module.check_mode:
            result = predicted_result(module, login, src, fetched)
        else:
            result = restore_snapshot(
                login,
                src,
                target_database=params["target_database"],
                source_database=params["source_database"],
                force=params["force"],
                max_age_hours=params["max_age_hours"],
                safety_snapshot=params["safety_snapshot"],
                safety_directory=params["safety_dir"],
                workers=params["workers"],
                runner=module.run_command,
            )
    except MutuapixError as error:
        fail_from_engine(module, error)
    if fetched:
        del fetched["manifest"]
    module.exit_json(changed=True, fetched=fetched, **result)


if __name__ == "__main__":
    main()
