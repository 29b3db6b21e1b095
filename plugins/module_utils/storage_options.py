# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage options every storage module shares: argument spec and conversion to a StorageConfig.

Only modules import this file; it is documented once in ``plugins/doc_fragments/storage.py`` and a unit
test keeps the two in step.
"""

from __future__ import annotations

from .storage import BACKENDS, DEFAULT_PART_SIZE, DEFAULT_RETRIES, DEFAULT_THREADS, DEFAULT_TIMEOUT, MIB, StorageConfig

STORAGE_ARGUMENT_SPEC = {
    "backend": {"type": "str", "choices": list(BACKENDS), "default": "b2"},
    "bucket": {"type": "str"},
    "path": {"type": "path"},
    "prefix": {"type": "str", "default": "backups"},
    "endpoint_url": {"type": "str"},
    "region": {"type": "str"},
    "key_id": {"type": "str"},
    "key": {"type": "str", "no_log": True},
    "part_size_mb": {"type": "int", "default": DEFAULT_PART_SIZE // MIB},
    "threads": {"type": "int", "default": DEFAULT_THREADS},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
    "retries": {"type": "int", "default": DEFAULT_RETRIES},
}

STORAGE_REQUIRED_IF = [
    ("backend", "b2", ("bucket", "key_id", "key")),
    ("backend", "s3", ("bucket",)),
    ("backend", "local", ("path",)),
]


def storage_config_from_params(params: dict) -> StorageConfig:
    return StorageConfig.from_dict(
        {
            "backend": params["backend"],
            "bucket": params.get("bucket"),
            "path": params.get("path"),
            "prefix": params.get("prefix") or "",
            "endpoint_url": params.get("endpoint_url"),
            "region": params.get("region"),
            "key_id": params.get("key_id"),
            "key": params.get("key"),
            "part_size": params["part_size_mb"] * MIB,
            "threads": params["threads"],
            "timeout": params["timeout"],
            "retries": params["retries"],
        }
    )
