"""Fixtures for the snapshot/restore tests: connection settings, the sakila database, an edge-case database,
and helpers that describe a database completely (table checksums and object definitions)."""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import pytest
from servers import mariadb

from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_client import ConnectionParams

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SAKILA_DIR = os.path.join(os.path.dirname(REPO_ROOT), "shared", "fixtures", "sakila")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def admin_sql(statement: str, database: str | None = None, args=None) -> list:
    with mariadb.connect(database) as conn, conn.cursor() as cursor:
        cursor.execute(statement, args)
        return list(cursor.fetchall())


def drop_database(name: str) -> None:
    admin_sql(f"DROP DATABASE IF EXISTS `{name}`")


def load_sql(database: str, sql: bytes) -> None:
    subprocess.run(
        ["mariadb", "-h", mariadb.HOST, "-P", str(mariadb.PORT), "-u", mariadb.ADMIN_USER, database],
        input=sql,
        check=True,
        capture_output=True,
    )


def sakila_sql(part: str) -> bytes:
    """The upstream file, made loadable into a database of any name (it hard-codes `sakila`)."""
    with open(os.path.join(SAKILA_DIR, f"sakila-{part}.sql"), "rb") as handle:
        text = handle.read()
    text = re.sub(rb"(?m)^(DROP SCHEMA IF EXISTS sakila|CREATE SCHEMA sakila|USE sakila);\s*$", b"", text)
    return text.replace(b"sakila.", b"")


EDGE_SCHEMA = """
CREATE TABLE `edge` (
  `id` INT AUTO_INCREMENT PRIMARY KEY,
  `payload` LONGBLOB,
  `emoji` VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  `doc` JSON,
  `price` DECIMAL(10,2),
  `qty` INT,
  `line_total` DECIMAL(12,2) AS (`price` * `qty`) STORED,
  `double_qty` INT AS (`qty` * 2) VIRTUAL,
  `status` ENUM('new','paid','void'),
  `flags` SET('a','b','c'),
  `bits` BIT(10),
  `ts` TIMESTAMP NULL DEFAULT NULL,
  `long_text` LONGTEXT,
  `select` INT,
  KEY `by_ts` (`ts`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `empty_one` (`id` INT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE `tåble ünïcode ß` (`çolumn` VARCHAR(20), `order` INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE `group` (`key` INT PRIMARY KEY, `values` VARCHAR(50)) ENGINE=InnoDB;
CREATE VIEW `edge_view` AS SELECT `id`, `emoji`, `line_total` FROM `edge` WHERE `status` = 'paid';
CREATE TRIGGER `edge_bi` BEFORE INSERT ON `group` FOR EACH ROW SET NEW.`values` = UPPER(NEW.`values`);
CREATE FUNCTION `double_it`(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
CREATE EVENT `edge_event` ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM `empty_one`;
"""

EDGE_ROWS = [
    # payload with NUL bytes and every byte value; text that looks like dump syntax; emoji; JSON
    (
        bytes(range(256)) * 4 + b"\x00\x00",
        "emoji 😀🎉 and ),( and '; DROP",
        '{"a": [1, 2, {"b": "),(\\n"}]}',
        "9.99",
        3,
        "paid",
        "a,c",
        0b1010101010,
        "2024-03-10 02:30:00",
        "line\nbreak\r\ttab \\ backslash 'quote' \"dq\"",
    ),
    (b"", "", "null", "0.00", 0, "new", "", 0, "2021-10-31 01:30:00", ""),
    (None, None, None, None, None, None, None, None, None, None),
    (
        os.urandom(300_000),
        "long row",
        '{"k": "' + "x" * 1000 + '"}',
        "1.50",
        7,
        "void",
        "b",
        1023,
        "2038-01-19 03:14:07",
        "y" * 1_500_000,
    ),
]


def build_edge_database(name: str) -> None:
    with mariadb.connect(name) as conn, conn.cursor() as cursor:
        for statement in (part.strip() for part in EDGE_SCHEMA.split(";\n")):
            if statement:
                cursor.execute(statement)
        # Written under a zone far from UTC: a restore that shifted TIMESTAMPs would change the checksums.
        cursor.execute("SET time_zone = '+09:00'")
        cursor.executemany(
            "INSERT INTO `edge` (`payload`, `emoji`, `doc`, `price`, `qty`, `status`, `flags`, `bits`, `ts`, "
            "`long_text`) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            EDGE_ROWS,
        )
        cursor.executemany("INSERT INTO `tåble ünïcode ß` VALUES (%s, %s)", [("ñandú", 1), ("日本語", 2), ("a`b", 3)])
        cursor.executemany("INSERT INTO `group` VALUES (%s, %s)", [(1, "one"), (2, "two")])


def describe_database(name: str) -> dict:
    """Checksums of every table and the definition of every object, with the database name factored out."""
    described = {"checksums": {}, "definitions": {}}
    with mariadb.connect(name) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW FULL TABLES")
        for table, kind in cursor.fetchall():
            quoted = "`" + table.replace("`", "``") + "`"
            if kind == "BASE TABLE":
                cursor.execute(f"CHECKSUM TABLE {quoted} EXTENDED")
                described["checksums"][table] = cursor.fetchone()[1]
                cursor.execute(f"SHOW CREATE TABLE {quoted}")
            else:
                cursor.execute(f"SHOW CREATE VIEW {quoted}")
            described["definitions"][f"{kind} {table}"] = cursor.fetchone()[1]
        for kind, query, column in (
            ("TRIGGER", "SHOW TRIGGERS", 0),
            ("FUNCTION", "SHOW FUNCTION STATUS WHERE Db = DATABASE()", 1),
            ("PROCEDURE", "SHOW PROCEDURE STATUS WHERE Db = DATABASE()", 1),
            ("EVENT", "SHOW EVENTS", 1),
        ):
            cursor.execute(query)
            for row in cursor.fetchall():
                object_name = row[column]
                cursor.execute(f"SHOW CREATE {kind} `{object_name}`")
                described["definitions"][f"{kind} {object_name}"] = cursor.fetchone()[2]
    text = repr(described).replace(f"`{name}`.", "")
    return {"text": text, **described}


@pytest.fixture(scope="session")
def conn_params(mariadb_server) -> ConnectionParams:
    return ConnectionParams(
        host=mariadb_server["host"], port=mariadb_server["port"], user=mariadb_server["user"], password=""
    )


@pytest.fixture(scope="session")
def sakila_db(mariadb_server) -> str:
    """The sakila sample database, loaded once per session; tests must not modify it."""
    name = unique_name("sakila")
    admin_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        load_sql(name, sakila_sql("schema"))
        load_sql(name, sakila_sql("data"))
        yield name
    finally:
        drop_database(name)


@pytest.fixture
def edge_db(mariadb_db) -> str:
    """The edge-case database; staging databases a failed or killed restore into it left are dropped too."""
    build_edge_database(mariadb_db)
    yield mariadb_db
    for (name,) in admin_sql("SHOW DATABASES"):
        if name.startswith(mariadb_db + "__"):
            drop_database(name)


@pytest.fixture
def scratch_db():
    """A database name that does not exist yet, dropped afterwards with its restore leftovers."""
    name = unique_name("mtxr")
    yield name
    for row in admin_sql("SHOW DATABASES"):
        if row[0] == name or row[0].startswith(name + "__"):
            drop_database(row[0])


@pytest.fixture
def snapshot_dir(tmp_path) -> str:
    path = tmp_path / "snapshots"
    path.mkdir()
    return str(path)
