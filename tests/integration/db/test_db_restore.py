"""db restore engine against the real MariaDB: exact round trips, staging and swap, force, safety snapshot."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from conftest import admin_sql, describe_database, drop_database, unique_name

from ansible_collections.mutuapix.infra.plugins.module_utils import manifest as manifest_lib
from ansible_collections.mutuapix.infra.plugins.module_utils.restore import (
    RestoreRefusedError,
    restore_snapshot,
    staging_names,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot import take_snapshot, utc_now


def databases() -> set:
    return {row[0] for row in admin_sql("SHOW DATABASES")}


def test_sakila_round_trip_is_exact(conn_params, sakila_db, snapshot_dir, scratch_db):
    snapshot = take_snapshot(conn_params, snapshot_dir, [sakila_db], "nightly")

    report = restore_snapshot(conn_params, snapshot["path"], target_database=scratch_db, force=True, workers=3)

    assert describe_database(scratch_db)["text"] == describe_database(sakila_db)["text"]
    assert report["rows_restored"] == sum(entry["rows"] for entry in snapshot["manifest"]["tables"].values())
    assert report["verification"]["objects"] == {"views": 7, "triggers": 6, "routines": 6, "events": 0}
    assert report["safety_snapshot"] is None  # the target did not exist
    assert not {name for name in databases() if name.startswith(scratch_db + "__")}
    # FULLTEXT and SPATIAL indexes came back usable, and the routines run.
    assert (
        admin_sql("SELECT COUNT(*) FROM film_text WHERE MATCH(title, description) AGAINST('drama')", scratch_db)[0][0]
        > 0
    )
    assert admin_sql("SELECT inventory_in_stock(1)", scratch_db)[0][0] in (0, 1)


def test_edge_cases_round_trip_over_a_changed_database(conn_params, edge_db, snapshot_dir):
    before = describe_database(edge_db)
    snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "pre-migrate-7")
    # A migration that went wrong: a dropped table, an added one, changed rows, a replaced trigger.
    admin_sql("DROP TABLE `empty_one`", edge_db)
    admin_sql("CREATE TABLE added_later (id INT)", edge_db)
    admin_sql("UPDATE edge SET qty = qty + 1", edge_db)
    admin_sql("DROP TRIGGER edge_bi", edge_db)
    changed = describe_database(edge_db)

    report = restore_snapshot(conn_params, snapshot["path"], workers=2)

    after = describe_database(edge_db)
    assert after["text"] == before["text"]
    assert report["safety_snapshot"] and os.path.exists(report["safety_snapshot"])
    assert report["target_database"] == edge_db and report["renamed"] is False
    # The safety snapshot undoes the restore: it holds the database as it was just before.
    restore_snapshot(conn_params, report["safety_snapshot"], safety_snapshot=False)
    assert describe_database(edge_db)["text"] == changed["text"]


def test_timestamps_keep_their_instant(conn_params, edge_db, snapshot_dir, scratch_db):
    query = "SELECT id, UNIX_TIMESTAMP(ts) FROM edge ORDER BY id"
    expected = admin_sql(query, edge_db)
    snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")

    restore_snapshot(conn_params, snapshot["path"], target_database=scratch_db, force=True)

    assert admin_sql(query, scratch_db) == expected


def test_another_name_needs_force(conn_params, edge_db, snapshot_dir, scratch_db):
    snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")

    with pytest.raises(RestoreRefusedError, match="set force"):
        restore_snapshot(conn_params, snapshot["path"], target_database=scratch_db)

    assert scratch_db not in databases()


def test_an_old_snapshot_needs_force(conn_params, edge_db, snapshot_dir):
    snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")
    later = utc_now() + timedelta(hours=30)

    with pytest.raises(RestoreRefusedError, match="max_age_hours"):
        restore_snapshot(conn_params, snapshot["path"], max_age_hours=24, clock=lambda: later)
    report = restore_snapshot(conn_params, snapshot["path"], max_age_hours=24, force=True, clock=lambda: later)

    assert report["snapshot_age_hours"] >= 30


def test_one_database_out_of_a_multi_database_snapshot(conn_params, edge_db, snapshot_dir, scratch_db):
    other = unique_name("mtx2")
    admin_sql(f"CREATE DATABASE `{other}`")
    try:
        admin_sql("CREATE TABLE t (id INT PRIMARY KEY)", other)
        admin_sql("INSERT INTO t VALUES (1), (2)", other)
        snapshot = take_snapshot(conn_params, snapshot_dir, [other, edge_db], "nightly")

        with pytest.raises(RestoreRefusedError, match="name the one to restore"):
            restore_snapshot(conn_params, snapshot["path"], target_database=scratch_db, force=True)
        restore_snapshot(conn_params, snapshot["path"], source_database=edge_db, target_database=scratch_db, force=True)
    finally:
        drop_database(other)

    assert describe_database(scratch_db)["text"] == describe_database(edge_db)["text"]


def test_staging_names_fit_the_identifier_limit():
    staging, parked = staging_names("x" * 64)
    assert len(staging) <= 64 and len(parked) <= 64 and staging != parked


def test_manifest_of_the_restored_snapshot_is_left_alone(conn_params, edge_db, snapshot_dir, scratch_db):
    snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")
    with open(snapshot["manifest_path"], encoding="utf-8") as handle:
        before = json.load(handle)

    restore_snapshot(conn_params, snapshot["path"], target_database=scratch_db, force=True)

    assert manifest_lib.load_manifest(snapshot["path"]) == before


def test_snapshot_without_frames_loads_statement_by_statement(conn_params, edge_db, snapshot_dir, scratch_db):
    """A single-frame snapshot (e.g. compressed by the zstd tool) is spread over connections per statement."""
    snapshot = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")
    assert len(snapshot["manifest"]["frames"]) == 4
    with open(snapshot["manifest_path"], encoding="utf-8") as handle:
        manifest = json.load(handle)
    del manifest["frames"]
    with open(snapshot["manifest_path"], "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)

    restore_snapshot(conn_params, snapshot["path"], target_database=scratch_db, force=True, workers=3)

    assert describe_database(scratch_db)["text"] == describe_database(edge_db)["text"]


def test_every_table_starts_its_own_zstd_frame(conn_params, sakila_db, snapshot_dir):
    snapshot = take_snapshot(conn_params, snapshot_dir, [sakila_db], "nightly")
    frames = snapshot["manifest"]["frames"]

    assert {frame["table"] for frame in frames} == {entry["table"] for entry in snapshot["manifest"]["tables"].values()}
    with open(snapshot["path"], "rb") as handle:
        for frame in frames:
            handle.seek(frame["offset"])
            assert handle.read(4) == b"\x28\xb5\x2f\xfd"  # the zstd frame magic number
