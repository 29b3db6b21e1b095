"""db_restore with a storage reference: the backup is fetched, verified, and restored in one task."""

from __future__ import annotations

import os

from ansible_run import localhost_play, run_playbook
from conftest import admin_sql, describe_database
from servers import mariadb

from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import upload_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import open_storage

LOGIN = {"login_host": mariadb.HOST, "login_port": mariadb.PORT, "login_user": "root", "login_password": ""}


def take_snapshot(tmp_path, database: str) -> str:
    tmp_path.mkdir()
    task = {"name": "snapshot", "mutuapix.infra.db_snapshot": {**LOGIN, "databases": [database], "dest": str(tmp_path)}}
    return run_playbook(tmp_path, [localhost_play([task])]).result("snapshot")["path"]


def s3_options(bucket: dict) -> dict:
    return {
        "backend": "s3",
        "endpoint_url": bucket["endpoint_url"],
        "region": bucket["region"],
        "bucket": bucket["bucket"],
        "key_id": bucket["access_key_id"],
        "key": bucket["secret_access_key"],
    }


def restore_play(from_storage: dict) -> list:
    return [localhost_play([{"name": "restore", "mutuapix.infra.db_restore": {**LOGIN, "from_storage": from_storage}}])]


def test_restore_of_the_latest_offsite_backup_check_then_real(tmp_path, edge_db, s3_bucket):
    snapshot = take_snapshot(tmp_path / "local", edge_db)
    options = s3_options(s3_bucket)
    with open_storage({**options, "prefix": "backups"}) as storage:
        uploaded = upload_snapshot(storage, snapshot, host="db-1")
    expected = describe_database(edge_db)["text"]
    admin_sql("DELETE FROM `group`", edge_db)
    damaged = describe_database(edge_db)["text"]
    fetch_dir = tmp_path / "fetched"
    fetch_dir.mkdir()
    play = restore_play({**options, "fetch_dir": str(fetch_dir)})

    check = run_playbook(tmp_path, play, check=True).result("restore")
    assert check["changed"] is True and check["fetched"]["key"] == uploaded["key"]
    assert check["fetched"]["downloaded"] is False and os.listdir(fetch_dir) == []
    assert describe_database(edge_db)["text"] == damaged

    real = run_playbook(tmp_path, play).result("restore")
    assert real["changed"] is True, real
    assert real["fetched"]["key"] == uploaded["key"] and real["fetched"]["downloaded"] is True
    assert real["snapshot"].startswith(str(fetch_dir)) and os.path.exists(real["snapshot"])
    assert real["verification"]["row_counts_match"] is True
    assert describe_database(edge_db)["text"] == expected
    assert s3_bucket["secret_access_key"] not in str(real)


def test_a_corrupt_offsite_backup_is_refused_and_the_target_is_untouched(tmp_path, edge_db):
    snapshot = take_snapshot(tmp_path / "local", edge_db)
    store = tmp_path / "store"
    store.mkdir()
    with open_storage({"backend": "local", "path": str(store), "prefix": "backups"}) as storage:
        uploaded = upload_snapshot(storage, snapshot, host="db-1")
    stored = store / uploaded["key"]
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    admin_sql("DELETE FROM `group`", edge_db)
    before = describe_database(edge_db)["text"]
    fetch_dir = tmp_path / "fetched"
    fetch_dir.mkdir()
    play = restore_play(
        {"backend": "local", "path": str(store), "backup": uploaded["key"], "fetch_dir": str(fetch_dir)}
    )

    run = run_playbook(tmp_path, play)
    failed = run.result("restore")
    assert run.rc != 0 and failed["failed"] is True
    assert "sha256" in failed["msg"] or "checksum" in failed["msg"], failed["msg"]
    assert [name for name in os.listdir(fetch_dir) if name.endswith(".sql.zst")] == []
    assert describe_database(edge_db)["text"] == before


def test_src_and_from_storage_are_mutually_exclusive(tmp_path):
    play = restore_play({"backend": "local", "path": str(tmp_path)})
    play[0]["tasks"][0]["mutuapix.infra.db_restore"]["src"] = str(tmp_path / "x.sql.zst")
    failed = run_playbook(tmp_path, play).result("restore")
    assert failed["failed"] is True and "mutually exclusive" in failed["msg"]
