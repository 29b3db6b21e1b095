"""The operator's playbooks snapshot_db.yml and restore_db.yml, run as an operator would (on localhost)."""

from __future__ import annotations

import json
import os

from ansible_run import REPO_ROOT, run_playbook_file
from conftest import admin_sql, describe_database
from servers import mariadb


def operator_args(tmp_path, **extra_vars) -> tuple:
    client_config = tmp_path / "client.cnf"
    client_config.write_text(f"[client]\nhost={mariadb.HOST}\nport={mariadb.PORT}\nuser=root\n")
    client_config.chmod(0o600)
    variables = {
        "mutuapix_hosts": "localhost",
        "ansible_become": False,
        "mutuapix_db_config_file": str(client_config),
        **extra_vars,
    }
    return ("-e", json.dumps(variables))


def playbook(name: str) -> str:
    return os.path.join(REPO_ROOT, "playbooks", name)


def test_snapshot_then_restore_with_the_operator_playbooks(tmp_path, edge_db):
    snapshot_dir = tmp_path / "snapshots"
    snap = run_playbook_file(
        tmp_path,
        playbook("snapshot_db.yml"),
        extra_args=operator_args(tmp_path, snapshot_databases=[edge_db], snapshot_dir=str(snapshot_dir)),
    )
    assert snap.rc == 0, snap.stdout[-3000:]
    taken = snap.result("Take the snapshot")
    assert taken["changed"] is True and os.path.exists(taken["path"])
    assert snap.result("Ship it off-site").get("skipped") is True

    expected = describe_database(edge_db)["text"]
    admin_sql("DELETE FROM `group`", edge_db)
    restore = run_playbook_file(
        tmp_path,
        playbook("restore_db.yml"),
        extra_args=operator_args(tmp_path, restore_database=edge_db, restore_src=taken["path"]),
    )
    assert restore.rc == 0, restore.stdout[-3000:]
    restored = restore.result("Restore from the local snapshot")
    assert restored["verification"]["row_counts_match"] is True
    assert describe_database(edge_db)["text"] == expected
    undo = restore.result("Say what was restored and how to undo it")["msg"][1]
    assert restored["safety_snapshot"] in undo and os.path.exists(restored["safety_snapshot"])


def test_restore_playbook_refuses_an_ambiguous_request_before_touching_anything(tmp_path, edge_db):
    before = describe_database(edge_db)["text"]
    run = run_playbook_file(
        tmp_path,
        playbook("restore_db.yml"),
        extra_args=operator_args(
            tmp_path, restore_database=edge_db, restore_src="/x.sql.zst", restore_from_offsite=True
        ),
    )
    assert run.rc != 0
    assert "exactly one of restore_src=PATH or restore_from_offsite=true" in run.stdout
    assert describe_database(edge_db)["text"] == before
