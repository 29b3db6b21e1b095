#!/usr/bin/python
# -*- coding: utf-8 -*-  # noqa: UP009 (the header ansible-test expects of a module)
# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules keep their documentation strings above the imports, so imports are not at the top.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: b2_backup_info
short_description: List the verified off-site backups in Backblaze B2, S3 or a directory
version_added: 0.1.0
description:
  - Lists the backups uploaded by M(mutuapix.infra.b2_backup), newest first, each with the manifest of
    its snapshot, and returns the latest one.
  - Only verified backups are listed - those whose sidecar object exists, which is written after the
    store confirmed the upload. Uploads that failed midway never appear.
  - Read-only; it needs only the C(listFiles) and C(readFiles) capabilities (S3 C(s3:ListBucket) and
    C(s3:GetObject)).
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
    details: The module only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  host:
    description: Only backups of this host.
    type: str
  database:
    description: Only backups of this database (or V(all) for multi-database snapshots).
    type: str
  label:
    description: Only backups with this label, for example V(nightly) or V(pre-migrate-v42).
    type: str
seealso:
  - module: mutuapix.infra.b2_backup
"""

EXAMPLES = r"""
- name: List the app database's backups
  mutuapix.infra.b2_backup_info:
    database: app
    bucket: acme-db-backups
    key_id: "{{ vault_b2_read_key_id }}"
    key: "{{ vault_b2_read_key }}"
  register: offsite

- name: Alert when the newest off-site backup is older than a day
  ansible.builtin.assert:
    that:
      - offsite.latest is not none
      - (now(utc=true) - (offsite.latest.timestamp | to_datetime('%Y-%m-%dT%H:%M:%SZ'))).total_seconds() < 86400
"""

RETURN = r"""
backups:
  description: The verified backups matching the filters, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The object key of the snapshot.
      type: str
      sample: backups/db1/app/20261128T020000Z-nightly.sql.zst
    sidecar_key:
      description: The object key of the sidecar (manifest and verification record).
      type: str
      sample: backups/db1/app/20261128T020000Z-nightly.json
    host:
      description: The host the snapshot came from.
      type: str
      sample: db1
    database:
      description: The database, or V(all) for a snapshot of several.
      type: str
      sample: app
    label:
      description: The snapshot's label.
      type: str
      sample: nightly
    timestamp:
      description: When the snapshot started (ISO 8601, UTC).
      type: str
      sample: "2026-11-28T02:00:00Z"
    size:
      description: Size of the stored snapshot in bytes.
      type: int
      sample: 73400320
    sha256:
      description: The sha256 of the snapshot, verified at upload.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    verified_at:
      description: When the upload was verified (ISO 8601, UTC).
      type: str
      sample: "2026-11-28T02:04:11Z"
    locked_until:
      description: Until when the backup is locked against deletion (ISO 8601, UTC), or V(null).
      type: str
      sample: "2026-12-05T02:04:09Z"
    manifest:
      description: The snapshot's manifest as written by M(mutuapix.infra.db_snapshot).
      type: dict
      sample: {"format": "mutuapix.snapshot/v1", "databases": ["app"], "label": "nightly"}
latest:
  description: The newest verified backup (same fields as an element of RV(backups)), or V(null) when there is none.
  returned: always
  type: dict
  sample: {"key": "backups/db1/app/20261128T020000Z-nightly.sql.zst", "size": 73400320}
count:
  description: How many backups matched.
  returned: always
  type: int
  sample: 14
total_bytes:
  description: Their total size in bytes.
  returned: always
  type: int
  sample: 1027604480
location:
  description: Where the backups are, without credentials.
  returned: always
  type: str
  sample: b2://acme-db-backups/backups
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mutuapix.infra.plugins.module_utils.errors import MutuapixError
from ansible_collections.mutuapix.infra.plugins.module_utils.module_support import (
    fail_from_engine,
    fail_on_missing_libs,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import list_backups
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import open_storage, required_libraries
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_options import (
    STORAGE_ARGUMENT_SPEC,
    STORAGE_REQUIRED_IF,
    storage_config_from_params,
)


def main() -> None:
    argument_spec = {
        **STORAGE_ARGUMENT_SPEC,
        "host": {"type": "str"},
        "database": {"type": "str"},
        "label": {"type": "str"},
    }
    module = AnsibleModule(argument_spec=argument_spec, required_if=STORAGE_REQUIRED_IF, supports_check_mode=True)
    fail_on_missing_libs(module, required_libraries(module.params["backend"]))
    filters = {name: module.params[name] for name in ("host", "database", "label")}
    try:
        with open_storage(storage_config_from_params(module.params)) as storage:
            backups = [backup.as_dict() for backup in list_backups(storage, **filters)]
            location = storage.location
    except MutuapixError as error:
        fail_from_engine(module, error, changed=False)
    module.exit_json(
        changed=False,
        backups=backups,
        latest=backups[0] if backups else None,
        count=len(backups),
        total_bytes=sum(backup["size"] for backup in backups),
        location=location,
    )


if __name__ == "__main__":
    main()
