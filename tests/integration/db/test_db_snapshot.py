"""db snapshot engine against the real MariaDB: manifest contents, stock-tool restore, credentials, refusals."""

from __future__ import annotations

import glob
import os
import shutil
import stat
import subprocess
import time

import pytest
from conftest import admin_sql, describe_database, drop_database, unique_name
from servers import mariadb

from ansible_collections.mutuapix.infra.plugins.module_utils import manifest as manifest_lib
from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_client import (
    AccessDeniedError,
    ConnectionParams,
    ServerUnreachableError,
    ToolMissingError,
    UnknownDatabaseError,
    detect_client_tools,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot import plan_snapshot, take_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot_verify import verify_snapshot


def test_snapshot_of_sakila_has_a_complete_manifest(conn_params, sakila_db, snapshot_dir):
    result = take_snapshot(conn_params, snapshot_dir, [sakila_db], "pre-migrate-1.2.3")

    manifest = result["manifest"]
    stem = os.path.basename(result["path"])[: -len(".sql.zst")]
    assert stem.endswith(f"-{sakila_db}-pre-migrate-1.2.3")
    assert manifest_lib.stem_time(stem) is not None
    assert manifest["snapshot_file"] == os.path.basename(result["path"])
    assert manifest["format"] == "mutuapix.snapshot/v1"
    assert manifest["databases"] == [sakila_db]
    assert manifest["compressed_bytes"] == os.path.getsize(result["path"]) == result["compressed_bytes"]
    assert manifest["raw_bytes"] > manifest["compressed_bytes"]
    assert manifest["server"]["flavor"] == "mariadb"
    assert manifest["tools"]["dump"] in ("mariadb-dump", "mysqldump")
    assert set(manifest["binlog"]) == {"file", "position"}
    tables = admin_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_TYPE='BASE TABLE'",
        args=(sakila_db,),
    )
    count = "SELECT COUNT(*) FROM `{}`"
    counts = {table: admin_sql(count.format(table), sakila_db)[0][0] for (table,) in tables}
    assert {entry["table"]: entry["rows"] for entry in manifest["tables"].values()} == counts
    assert manifest["tables"][f"{sakila_db}.rental"]["rows"] == 16044
    objects = manifest["objects"][sakila_db]
    assert "film_list" in objects["views"] and "rental_date" in objects["triggers"]
    assert "procedure rewards_report" in objects["routines"]
    assert verify_snapshot(result["path"]) == manifest
    assert stat.S_IMODE(os.stat(result["path"]).st_mode) == 0o600
    assert not [name for name in os.listdir(snapshot_dir) if name.startswith(".partial-")]


def test_stock_tools_restore_a_snapshot(conn_params, edge_db, snapshot_dir, scratch_db):
    """The documented disaster path: `zstd -dc FILE | mariadb DB`, with nothing of ours installed."""
    result = take_snapshot(conn_params, snapshot_dir, [edge_db], "nightly")
    admin_sql(f"CREATE DATABASE `{scratch_db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    command = f"zstd -dc {result['path']} | mariadb -h {mariadb.HOST} -P {mariadb.PORT} -u root {scratch_db}"
    subprocess.run(["sh", "-c", command], check=True, capture_output=True)

    assert describe_database(scratch_db)["text"] == describe_database(edge_db)["text"]


def test_several_databases_in_one_snapshot(conn_params, edge_db, mariadb_db, snapshot_dir):
    second = unique_name("mtx2")
    admin_sql(f"CREATE DATABASE `{second}`")
    try:
        admin_sql("CREATE TABLE t (id INT PRIMARY KEY)", second)
        admin_sql("INSERT INTO t VALUES (1), (2), (3)", second)
        result = take_snapshot(conn_params, snapshot_dir, [edge_db, second], "nightly")
    finally:
        drop_database(second)

    manifest = result["manifest"]
    assert manifest["databases"] == [edge_db, second]
    assert manifest["tables"][f"{second}.t"]["rows"] == 3
    assert manifest["tables"][f"{edge_db}.edge"]["rows"] == 4
    assert f"-{edge_db}+{second}-nightly" in result["path"]


def test_all_databases_skips_system_schemas(conn_params, edge_db, snapshot_dir):
    plan = plan_snapshot(conn_params, snapshot_dir, None, "nightly")

    assert edge_db in plan.facts.databases
    assert not {"mysql", "information_schema", "performance_schema", "sys"} & set(plan.facts.databases)


def wait_until_exec(pid: int, program: str) -> None:
    """Popen may return before the child has exec'd, and its arguments appear a moment after its image."""
    deadline = time.monotonic() + 5
    while True:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            started = handle.read().startswith(program.encode())
        if started and os.readlink(f"/proc/{pid}/exe") == os.path.realpath(program):
            return
        assert time.monotonic() < deadline, "the dump did not start"
        time.sleep(0.001)


def test_password_never_appears_on_a_command_line(mariadb_db, snapshot_dir):
    admin_sql("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", mariadb_db)
    # More than a pipe buffer of output, so the dump is still running (blocked on the pipe) when inspected.
    with mariadb.connect(mariadb_db) as conn, conn.cursor() as cursor:
        cursor.executemany("INSERT INTO t VALUES (%s, %s)", [(i, "x" * 1000) for i in range(1000)])
    password = "s3cr#t \"quoted\" 'single' \\ back;slash"
    user = unique_name("mtxu")
    admin_sql(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", args=(password,))
    admin_sql(f"GRANT ALL ON `{mariadb_db}`.* TO '{user}'@'127.0.0.1'")
    admin_sql(f"GRANT RELOAD, PROCESS ON *.* TO '{user}'@'127.0.0.1'")
    seen = {}

    def spying_spawn(argv, **kwargs):
        process = subprocess.Popen(argv, **kwargs)
        wait_until_exec(process.pid, argv[0])
        command_lines = []
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(path, "rb") as handle:
                    command_lines.append(handle.read())
            except OSError:
                continue
        with open(f"/proc/{process.pid}/cmdline", "rb") as handle:
            seen["dump_cmdline"] = handle.read().split(b"\0")
        option_file = next(arg for arg in seen["dump_cmdline"] if arg.startswith(b"--defaults-extra-file="))
        option_path = option_file.split(b"=", 1)[1].decode()
        seen["option_path"] = option_path
        seen["option_mode"] = stat.S_IMODE(os.stat(option_path).st_mode)
        seen["dir_mode"] = stat.S_IMODE(os.stat(os.path.dirname(option_path)).st_mode)
        seen["leaks"] = [line for line in command_lines if password.encode() in line]
        return process

    try:
        params = ConnectionParams(host=mariadb.HOST, port=mariadb.PORT, user=user, password=password)
        result = take_snapshot(params, snapshot_dir, [mariadb_db], "nightly", spawn=spying_spawn)
    finally:
        admin_sql(f"DROP USER '{user}'@'127.0.0.1'")

    assert os.path.basename(seen["dump_cmdline"][0].decode()) in ("mariadb-dump", "mysqldump")
    assert seen["leaks"] == []
    assert seen["option_mode"] == 0o600 and seen["dir_mode"] == 0o700
    assert not os.path.exists(seen["option_path"])
    assert result["manifest"]["tables"][f"{mariadb_db}.t"]["rows"] == 1000


@pytest.mark.parametrize(
    ("params", "databases", "error"),
    [
        (ConnectionParams(host="127.0.0.1", port=1, user="root", connect_timeout=2), None, ServerUnreachableError),
        (
            ConnectionParams(host="127.0.0.1", port=3306, user="root", password="wrong-password"),
            None,
            AccessDeniedError,
        ),
        (ConnectionParams(host="127.0.0.1", port=3306, user="root"), ["mtx_no_such_database"], UnknownDatabaseError),
    ],
    ids=["unreachable", "wrong-credentials", "unknown-database"],
)
def test_refusals_are_clear_and_write_nothing(params, databases, error, mariadb_server, snapshot_dir):
    with pytest.raises(error) as caught:
        take_snapshot(params, snapshot_dir, databases, "nightly")

    assert caught.value.message
    assert "wrong-password" not in repr(caught.value.to_dict())
    assert [name for name in os.listdir(snapshot_dir) if not name.startswith(".")] == []


def test_missing_dump_tool_is_refused(conn_params, mariadb_db, snapshot_dir):
    with pytest.raises(ToolMissingError, match="mariadb-client"):
        detect_client_tools(which=lambda name: None)

    only_mysql_names = {"mysqldump": shutil.which("mysqldump"), "mysql": shutil.which("mysql")}
    tools = detect_client_tools(which=only_mysql_names.get)
    assert tools.flavor == "mysql" and tools.dump.endswith("mysqldump")


def test_two_snapshots_in_one_second_get_distinct_names(conn_params, mariadb_db, snapshot_dir):
    admin_sql("CREATE TABLE t (id INT PRIMARY KEY)", mariadb_db)
    first = take_snapshot(conn_params, snapshot_dir, [mariadb_db], "nightly")
    second = take_snapshot(conn_params, snapshot_dir, [mariadb_db], "nightly")

    assert first["path"] != second["path"]
    assert [entry.path for entry in manifest_lib.list_snapshots(snapshot_dir)] == [first["path"], second["path"]]
    verify_snapshot(first["path"])


def test_a_client_option_file_supplies_the_login(mariadb_db, snapshot_dir, tmp_path):
    """Only config_file given: both the library connection and the dump tool read it."""
    password = "from#the file"
    user = unique_name("mtxc")
    admin_sql(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", args=(password,))
    admin_sql(f"GRANT ALL ON `{mariadb_db}`.* TO '{user}'@'127.0.0.1'")
    admin_sql("CREATE TABLE t (id INT PRIMARY KEY)", mariadb_db)
    config = tmp_path / "client.cnf"
    config.write_text(f'[client]\nhost=127.0.0.1\nport={mariadb.PORT}\nuser={user}\npassword="{password}"\n')
    try:
        result = take_snapshot(ConnectionParams(config_file=str(config)), snapshot_dir, [mariadb_db], "nightly")
    finally:
        admin_sql(f"DROP USER '{user}'@'127.0.0.1'")

    assert result["manifest"]["tables"][f"{mariadb_db}.t"]["rows"] == 0
