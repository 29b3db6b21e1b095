"""Object keys derived from manifests: predictable, parseable, and safe."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils.backup_keys import (
    BackupKey,
    BackupKeyError,
    backup_key_for,
    data_key,
    parse_backup_key,
    series_prefix,
    sidecar_key,
)

MANIFEST = {"host": "db1", "databases": ["app"], "label": "nightly", "started_at": "2026-03-01T02:00:00Z"}


@pytest.mark.parametrize(
    ("manifest", "prefix", "expected"),
    [
        (MANIFEST, "backups", "backups/db1/app/20260301T020000Z-nightly.sql.zst"),
        (MANIFEST, "", "db1/app/20260301T020000Z-nightly.sql.zst"),
        (MANIFEST, "/a/b/", "a/b/db1/app/20260301T020000Z-nightly.sql.zst"),
        ({**MANIFEST, "databases": ["app", "crm"]}, "p", "p/db1/all/20260301T020000Z-nightly.sql.zst"),
        ({**MANIFEST, "databases": []}, "p", "p/db1/all/20260301T020000Z-nightly.sql.zst"),
        # A manifest written with a local offset still maps to the UTC timestamp.
        ({**MANIFEST, "started_at": "2026-03-01T03:00:00+01:00"}, "p", "p/db1/app/20260301T020000Z-nightly.sql.zst"),
        ({**MANIFEST, "label": "pre-migrate-v1.2"}, "p", "p/db1/app/20260301T020000Z-pre-migrate-v1.2.sql.zst"),
    ],
)
def test_keys_follow_the_documented_layout(manifest, prefix, expected):
    assert backup_key_for(manifest).key(prefix) == expected


def test_the_host_can_be_overridden():
    assert backup_key_for(MANIFEST, host="web2").key("p").startswith("p/web2/")


@pytest.mark.parametrize(
    "change",
    [{"host": "a/b"}, {"label": ""}, {"label": ".."}, {"label": "x\ny"}, {"host": None}, {"started_at": "yesterday"}],
)
def test_unsafe_or_missing_values_are_refused(change):
    with pytest.raises(BackupKeyError):
        backup_key_for({**MANIFEST, **change})


def test_keys_parse_back_to_their_parts():
    key = "backups/db1/app/20260301T020000Z-pre-migrate-v7.sql.zst"
    assert parse_backup_key(key, "backups") == BackupKey(
        "db1", "app", datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "pre-migrate-v7"
    )
    assert parse_backup_key(key.removeprefix("backups/"), "") is not None


@pytest.mark.parametrize(
    "key",
    [
        "backups/db1/app/20260301T020000Z-nightly.json",
        "backups/db1/20260301T020000Z-nightly.sql.zst",
        "other/db1/app/20260301T020000Z-nightly.sql.zst",
        "backups/db1/app/2026-03-01-nightly.sql.zst",
        "backupsX/db1/app/20260301T020000Z-nightly.sql.zst",
    ],
)
def test_other_objects_are_not_backups(key):
    assert parse_backup_key(key, "backups") is None


def test_sidecar_and_data_keys_pair_up():
    key = "p/h/d/20260301T020000Z-x.sql.zst"
    assert sidecar_key(key) == "p/h/d/20260301T020000Z-x.json"
    assert data_key(sidecar_key(key)) == key
    with pytest.raises(BackupKeyError):
        sidecar_key("p/h/d/x.tar")


@pytest.mark.parametrize(
    ("prefix", "host", "database", "expected"),
    [("p", "h", "d", "p/h/d/"), ("p", "h", None, "p/h/"), ("p", None, "d", "p/"), ("", None, None, "")],
)
def test_listing_prefixes_are_as_narrow_as_the_filters_allow(prefix, host, database, expected):
    assert series_prefix(prefix, host, database) == expected
