#!/usr/bin/python
# -*- coding: utf-8 -*-  # noqa: UP009 (the header ansible-test expects of a module)
# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules keep their documentation strings above the imports, so imports are not at the top.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_snapshot
short_description: Take a consistent, verified snapshot of MySQL/MariaDB databases
version_added: 0.1.0
description:
  - Dumps one, several or all databases of a MySQL/MariaDB server while it serves traffic, with
    C(mariadb-dump) or C(mysqldump) (whichever the host has) in a single consistent read
    (C(--single-transaction)), including routines, triggers, events and views, binary data as hex,
    utf8mb4 text and TIMESTAMP values in UTC (no silent time zone shift).
  - The result is an open format, restorable with stock tools alone - C(zstd -dc FILE | mariadb DB) - a
    zstd-compressed SQL file C(<stem>.sql.zst) plus a JSON manifest C(<stem>.json), where C(<stem>) is
    C(<UTC %Y%m%dT%H%M%SZ>-<database or all>-<label>).
  - The manifest records the databases, server flavour and version, binlog file and position or GTID
    (when binary logging is on), every table's exact row count taken from the dump itself, views,
    triggers, routines and events, raw and compressed sizes, the sha256 of the file, tool versions,
    start and end times and the label.
  - Each table starts a new zstd frame (the manifest lists their offsets), so M(mutuapix.infra.db_restore)
    can load tables in parallel, while C(zstd -dc) still reads the file as one stream.
  - Streams end to end, so memory stays bounded whatever the database size; the sha256 is computed while
    writing; the file appears under its final name only when complete and fsynced, with its manifest. A
    killed or failed run leaves no file that looks complete, and earlier snapshots are never touched.
  - Refuses clearly, before writing, when the server is unreachable, the credentials are wrong, a database
    does not exist, the dump tool is missing, or the destination has less free space than an estimate
    (half the tables' data size); a disk that fills up anyway is reported and the partial file removed.
  - With O(keep_last) and/or O(keep_days), applies local retention to O(dest) after a successful snapshot.
author:
  - mutuapix.infra maintainers (@mutuapix)
requirements:
  - Python >= 3.11 on the target
  - PyMySQL (Debian package C(python3-pymysql))
  - zstandard (Debian package C(python3-zstandard))
  - C(mariadb-dump) and C(mariadb), or C(mysqldump) and C(mysql), on the target's PATH
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mutuapix.infra.mysql_login
attributes:
  check_mode:
    support: full
    details:
      - Connects, checks the databases, the tools and the free space, and reports the snapshot that would be
        written (with the same keys as a real run) without writing anything.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run takes a new snapshot, so every run reports a change.
  platform:
    platforms: posix
options:
  databases:
    description:
      - Databases to include. Omit, or give an empty list, for every database except the system schemas
        (C(mysql), C(information_schema), C(performance_schema), C(sys)).
      - A single database is dumped without C(CREATE DATABASE)/C(USE), so it can be restored under any name;
        several are dumped with them.
    type: list
    elements: str
    default: []
  dest:
    description: Directory the snapshot is written to; created (mode 0750) when missing.
    type: path
    required: true
  label:
    description:
      - Label in the file name and manifest, for example V(nightly) or V(pre-migrate-2026.11.28).
      - Letters, digits and C(. _ + -), starting with a letter or digit.
    type: str
    default: nightly
  compression_level:
    description: zstd compression level; V(3) matches C(zstd -3).
    type: int
    default: 3
  keep_last:
    description: After the snapshot, keep only the newest O(keep_last) snapshots in O(dest) (see O(keep_days)).
    type: int
  keep_days:
    description:
      - After the snapshot, keep snapshots younger than this many days. With O(keep_last) too, a snapshot
        is kept when either rule keeps it. Without both, nothing is deleted.
      - Snapshots in O(protect) and snapshots a running restore is reading are never deleted.
    type: float
  protect:
    description:
      - Stems (file names without C(.sql.zst)) of snapshots that retention must keep, for example the
        C(pre-migrate-*) snapshot a release refers to.
    type: list
    elements: str
    default: []
seealso:
  - module: mutuapix.infra.db_restore
  - module: mutuapix.infra.b2_backup
"""

EXAMPLES = r"""
- name: Take the snapshot that must exist before a migration
  mutuapix.infra.db_snapshot:
    databases: [app]
    dest: /var/backups/mysql
    label: "pre-migrate-{{ release_version }}"
    login_user: backup
    login_password: "{{ vault_mysql_backup_password }}"
  register: pre_migrate

- name: Nightly snapshot of every database, keeping a week locally
  mutuapix.infra.db_snapshot:
    dest: /var/backups/mysql
    label: nightly
    config_file: /etc/mysql/debian.cnf
    keep_days: 7
    keep_last: 3
    protect:
      - "{{ current_release_snapshot_stem }}"

- name: Ship it off-site
  mutuapix.infra.b2_backup:
    snapshot: "{{ pre_migrate }}"
    bucket: my-backups
"""

RETURN = r"""
path:
  description: Path of the snapshot file (in check mode, the path it would get).
  returned: success
  type: str
  sample: /var/backups/mysql/20261128T020000Z-app-nightly.sql.zst
manifest_path:
  description: Path of the manifest beside it.
  returned: success
  type: str
  sample: /var/backups/mysql/20261128T020000Z-app-nightly.json
manifest:
  description: The manifest as written (empty in check mode).
  returned: success
  type: dict
  sample:
    format: mutuapix.snapshot/v1
    snapshot_file: 20261128T020000Z-app-nightly.sql.zst
    sha256: 43ea2cde1465f005ec5ef503953ae6b932867aa23e0243acab7821305a5354b7
    compressed_bytes: 718171
    raw_bytes: 3443375
    databases: [app]
    label: nightly
    started_at: "2026-11-28T02:00:00Z"
    finished_at: "2026-11-28T02:00:04Z"
    host: db1.example.com
    server: {flavor: mariadb, version: 10.11.19-MariaDB-0+deb12u1}
    binlog: {file: mysql-bin.000042, position: 1337}
    gtid: 0-1-4711
    tables: {app.users: {database: app, table: users, rows: 1520}}
    objects: {app: {views: [], triggers: [], routines: [], events: []}}
    frames: [{database: app, table: users, offset: 1187}]
    tools: {flavor: mariadb, dump: mariadb-dump, dump_version: "mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB"}
compressed_bytes:
  description: Size of the snapshot file (in check mode, the free-space estimate it was checked against).
  returned: success
  type: int
  sample: 718171
raw_bytes:
  description: Size of the uncompressed SQL (0 in check mode).
  returned: success
  type: int
  sample: 3443375
duration_seconds:
  description: Wall time of the dump, compression and writes.
  returned: success
  type: float
  sample: 4.2
throughput_mb_per_second:
  description: Uncompressed megabytes (10^6 bytes) dumped per second.
  returned: success
  type: float
  sample: 81.9
databases:
  description: The databases included, after resolving an empty O(databases) to every user database.
  returned: success
  type: list
  elements: str
  sample: [app]
free_bytes:
  description: Free space in O(dest) before the snapshot.
  returned: success
  type: int
  sample: 53687091200
retention:
  description: What local retention kept and deleted (in check mode, would delete); empty without a policy.
  returned: success
  type: dict
  sample:
    kept: [20261128T020000Z-app-nightly]
    deleted: [20261120T020000Z-app-nightly]
    leftovers_removed: []
    pinned: []
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mutuapix.infra.plugins.module_utils import manifest as manifest_lib
from ansible_collections.mutuapix.infra.plugins.module_utils.errors import MutuapixError
from ansible_collections.mutuapix.infra.plugins.module_utils.local_retention import apply_retention
from ansible_collections.mutuapix.infra.plugins.module_utils.module_support import (
    fail_from_engine,
    fail_on_missing_libs,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_client import PYMYSQL_IMPORT_ERROR
from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_login import (
    LOGIN_ARGUMENT_SPEC,
    connection_params,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot import (
    ZSTANDARD_IMPORT_ERROR,
    plan_snapshot,
    take_snapshot,
    utc_now,
)


def argument_spec() -> dict:
    return {
        **LOGIN_ARGUMENT_SPEC,
        "databases": {"type": "list", "elements": "str", "default": []},
        "dest": {"type": "path", "required": True},
        "label": {"type": "str", "default": "nightly"},
        "compression_level": {"type": "int", "default": 3},
        "keep_last": {"type": "int"},
        "keep_days": {"type": "float"},
        "protect": {"type": "list", "elements": "str", "default": []},
    }


def predicted_result(plan, dest: str, label: str) -> dict:
    """What check mode returns: the same keys as a real run, with the path the snapshot would get."""
    databases = None if plan.facts.all_databases else plan.facts.databases
    stem = manifest_lib.snapshot_stem(utc_now(), databases, label)
    path = os.path.join(dest, stem + manifest_lib.SNAPSHOT_SUFFIX)
    return {
        "path": path,
        "manifest_path": manifest_lib.manifest_path_for(path),
        "manifest": {},
        "compressed_bytes": plan.estimated_bytes,
        "raw_bytes": 0,
        "duration_seconds": 0.0,
        "throughput_mb_per_second": 0.0,
    }


def retention(module, dest: str) -> dict:
    params = module.params
    if (params["keep_last"] is None and params["keep_days"] is None) or not os.path.isdir(dest):
        return {}
    return apply_retention(
        dest,
        now=utc_now(),
        keep_last=params["keep_last"],
        keep_days=params["keep_days"],
        protected=frozenset(params["protect"]),
        dry_run=module.check_mode,
    )


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    fail_on_missing_libs(module, [("PyMySQL", PYMYSQL_IMPORT_ERROR), ("zstandard", ZSTANDARD_IMPORT_ERROR)])
    params = module.params
    login = connection_params(params)
    databases = params["databases"] or None
    try:
        plan = plan_snapshot(login, params["dest"], databases, params["label"], runner=module.run_command)
        common = {"databases": plan.facts.databases, "free_bytes": plan.free_bytes}
        if module.check_mode:
            result = predicted_result(plan, params["dest"], params["label"])
        else:
            result = take_snapshot(
                login,
                params["dest"],
                databases,
                params["label"],
                runner=module.run_command,
                tools=plan.tools,
                compression_level=params["compression_level"],
            )
        result.update(common, retention=retention(module, params["dest"]))
    except MutuapixError as error:
        fail_from_engine(module, error)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
