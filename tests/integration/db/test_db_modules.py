"""db_snapshot and db_restore through real ansible-playbook runs: check -> real -> check -> real."""

from __future__ import annotations

import os

from ansible_run import localhost_play, run_playbook
from conftest import admin_sql, describe_database
from servers import mariadb

LOGIN = {"login_host": mariadb.HOST, "login_port": mariadb.PORT, "login_user": "root", "login_password": ""}


def snapshot_files(directory: str) -> list:
    return sorted(name for name in os.listdir(directory) if name.endswith(".sql.zst"))


def snapshot_task(name: str, **options) -> dict:
    return {"name": name, "mutuapix.infra.db_snapshot": {**LOGIN, **options}, "register": "snap"}


def test_db_snapshot_check_real_check_real(tmp_path, edge_db):
    dest = str(tmp_path / "snapshots")
    task = snapshot_task("snapshot", databases=[edge_db], dest=dest, label="nightly", keep_last=1)
    play = [localhost_play([task])]

    check = run_playbook(tmp_path, play, check=True).result("snapshot")
    assert check["changed"] is True and check["path"].endswith(f"-{edge_db}-nightly.sql.zst")
    assert check["databases"] == [edge_db] and check["manifest"] == {}
    assert not os.path.exists(dest)

    first = run_playbook(tmp_path, play).result("snapshot")
    assert first["changed"] is True
    assert first["manifest"]["tables"][f"{edge_db}.edge"]["rows"] == 4
    assert snapshot_files(dest) == [os.path.basename(first["path"])]

    check_again = run_playbook(tmp_path, play, check=True).result("snapshot")
    assert check_again["changed"] is True and check_again["retention"]["deleted"] == []
    assert snapshot_files(dest) == [os.path.basename(first["path"])]

    second = run_playbook(tmp_path, play).result("snapshot")
    assert second["changed"] is True and second["path"] != first["path"]
    # keep_last=1: the new snapshot replaced the first one.
    assert second["retention"]["deleted"] == [os.path.basename(first["path"])[: -len(".sql.zst")]]
    assert snapshot_files(dest) == [os.path.basename(second["path"])]


def test_db_restore_check_real_check_real(tmp_path, edge_db):
    dest = str(tmp_path / "snapshots")
    snap = run_playbook(tmp_path, [localhost_play([snapshot_task("snapshot", databases=[edge_db], dest=dest)])])
    path = snap.result("snapshot")["path"]
    expected = describe_database(edge_db)["text"]
    admin_sql("DELETE FROM `group`", edge_db)
    damaged = describe_database(edge_db)["text"]
    task = {"name": "restore", "mutuapix.infra.db_restore": {**LOGIN, "src": path}}
    play = [localhost_play([task])]

    check = run_playbook(tmp_path, play, check=True).result("restore")
    assert check["changed"] is True and check["target_database"] == edge_db and check["rows_restored"] == 9
    assert describe_database(edge_db)["text"] == damaged

    real = run_playbook(tmp_path, play).result("restore")
    assert real["changed"] is True and real["verification"]["row_counts_match"] is True
    assert os.path.exists(real["safety_snapshot"])
    assert describe_database(edge_db)["text"] == expected

    check_again = run_playbook(tmp_path, play, check=True).result("restore")
    assert check_again["changed"] is True and check_again["safety_snapshot"] is None

    again = run_playbook(tmp_path, play).result("restore")
    assert again["changed"] is True and again["safety_snapshot"] != real["safety_snapshot"]
    assert describe_database(edge_db)["text"] == expected


def test_modules_fail_clearly_and_never_log_the_password(tmp_path, edge_db):
    dest = str(tmp_path / "snapshots")
    secret = "not-the-password-42"
    tasks = [
        {
            "name": "wrong password",
            "mutuapix.infra.db_snapshot": {**LOGIN, "login_password": secret, "databases": [edge_db], "dest": dest},
            "ignore_errors": True,
        },
        {
            "name": "other name without force",
            "mutuapix.infra.db_restore": {**LOGIN, "src": "{{ snap.path }}", "target_database": edge_db + "_other"},
            "ignore_errors": True,
        },
    ]
    run = run_playbook(tmp_path, [localhost_play([snapshot_task("snapshot", databases=[edge_db], dest=dest), *tasks])])

    denied = run.result("wrong password")
    assert denied["failed"] is True and "refused the credentials" in denied["msg"]
    refused = run.result("other name without force")
    assert refused["failed"] is True and "set force" in refused["msg"]
    assert denied["invocation"]["module_args"]["login_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert secret not in run.stdout and secret not in run.stderr
