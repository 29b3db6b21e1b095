"""Splitting and counting a dump stream: tables of real dump shapes plus properties over generated rows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mutuapix.infra.plugins.module_utils import dump_split
from ansible_collections.mutuapix.infra.plugins.module_utils.dump_split import (
    DumpScanner,
    count_values_rows,
    iter_lines,
    iter_statements,
)


def escape(value: bytes) -> bytes:
    """What mysql_real_escape_string does to a string literal's content."""
    table = {0: b"\\0", 10: b"\\n", 13: b"\\r", 26: b"\\Z", 39: b"\\'", 34: b'\\"', 92: b"\\\\"}
    return b"".join(table.get(byte, bytes([byte])) for byte in value)


def literal(value) -> bytes:
    if value is None:
        return b"NULL"
    if isinstance(value, int):
        return str(value).encode()
    return b"'" + escape(value) + b"'"


def insert_lines(table: bytes, rows: list, one_row_per_line: bool) -> list:
    tuples = [b"(" + b",".join(literal(value) for value in row) + b")" for row in rows]
    if one_row_per_line:
        return [b"INSERT INTO `" + table + b"` VALUES"] + [t + b"," for t in tuples[:-1]] + [tuples[-1] + b";"]
    return [b"INSERT INTO `" + table + b"` VALUES " + b",".join(tuples) + b";"]


@pytest.mark.parametrize(
    ("values", "rows"),
    [
        (b"(1)", 1),
        (b"(1),(2),(3)", 3),
        (b"(1,'a),(b'),(2,'c')", 2),
        (b"(1,'it\\'s),('),(2,NULL)", 2),
        (b"(1,'back\\\\'),(2,'x')", 2),
        (b"(0x00FF,'),(),('),(0x29,'')", 2),
        (b"(1,'a'),\n(2,'b'),\n(3,'c')", 3),
    ],
    ids=["one", "three", "separator-in-string", "escaped-quote", "escaped-backslash", "hex-and-strings", "multiline"],
)
def test_count_values_rows(values, rows):
    assert count_values_rows(values) == rows


ROW = st.tuples(st.integers(-(2**63), 2**63), st.one_of(st.none(), st.binary(max_size=40)), st.binary(max_size=20))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=30), one_row_per_line=st.booleans(), split_at=st.integers(1, 50))
def test_rows_are_counted_exactly_in_both_insert_styles(rows, one_row_per_line, split_at):
    lines = [b"--", b"-- Table structure for table `t`", b"--", b"CREATE TABLE `t` (", b"  `a` int", b");"]
    lines += [b"-- Dumping data for table `t`", *insert_lines(b"t", rows, one_row_per_line), b"-- Dump completed on x"]
    stream = b"\n".join(lines) + b"\n"
    chunks = [stream[i : i + split_at] for i in range(0, len(stream), split_at)]

    scanner = DumpScanner("db")
    statements = [s for s in map(scanner.feed, iter_lines(chunks)) if s is not None]

    inserts = [s for s in statements if s.kind == dump_split.INSERT]
    assert sum(s.rows for s in inserts) == len(rows)
    assert scanner.summary.rows == {("db", "t"): len(rows)}
    assert scanner.summary.completed
    assert inserts[0].text.endswith(b")") and not inserts[0].text.endswith(b";")
    fast = DumpScanner("db", keep_text=False)
    fast.scan(chunks)
    assert fast.summary == scanner.summary


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_iter_lines_matches_split_whatever_the_chunking(data, sizes):
    chunks, offset, index = [], 0, 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        chunks.append(data[offset : offset + size])
        offset, index = offset + size, index + 1
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    assert list(iter_lines(chunks)) == expected


MULTI_DATABASE_DUMP = b"""/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19
-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000042', MASTER_LOG_POS=1337;
-- SET GLOBAL gtid_slave_pos='0-1-4711';
/*!40101 SET NAMES utf8mb4 */;
--
-- Current Database: `app`
--
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;
USE `app`;
--
-- Table structure for table `we``ird`
--
CREATE TABLE `we``ird` (
  `id` int NOT NULL COMMENT 'ends with; a semicolon',
  PRIMARY KEY (`id`)
);
--
-- Dumping data for table `we``ird`
--
LOCK TABLES `we``ird` WRITE;
/*!40000 ALTER TABLE `we``ird` DISABLE KEYS */;
INSERT INTO `we``ird` VALUES (1),(2);
/*!40000 ALTER TABLE `we``ird` ENABLE KEYS */;
UNLOCK TABLES;
/*!50003 SET sql_mode = '' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER bare_name BEFORE INSERT ON `we``ird`
FOR EACH ROW BEGIN
  SET NEW.id = NEW.id + 1;
END */;;
DELIMITER ;
--
-- Dumping events for database 'app'
--
DELIMITER ;;
/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`%`*/ /*!50106 EVENT `nightly_cleanup` ON SCHEDULE EVERY 1 DAY DO DO 1 */ ;;
DELIMITER ;
--
-- Dumping routines for database 'app'
--
DELIMITER ;;
CREATE DEFINER=`root`@`localhost` PROCEDURE `do_it`()
BEGIN
  SELECT 1;
END ;;
DELIMITER ;
--
-- Final view structure for view `v`
--
/*!50001 VIEW `v` AS select 1 AS `x` */;
--
-- Current Database: `other`
--
USE `other`;
--
-- Table structure for table `t`
--
CREATE TABLE `t` (`id` int);
INSERT INTO `t` VALUES
(1),
(2),
(3);
-- Dump completed on 2026-11-28
"""


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 100_000])
def test_scan_summarises_like_feed(chunk_size):
    chunks = [MULTI_DATABASE_DUMP[i : i + chunk_size] for i in range(0, len(MULTI_DATABASE_DUMP), chunk_size)]
    by_line = DumpScanner()
    for line in iter_lines(chunks):
        by_line.feed(line)
    scanned = DumpScanner(keep_text=False)
    scanned.scan(chunks)
    assert scanned.summary == by_line.summary
    assert scanned.summary.rows == {("app", "we`ird"): 2, ("other", "t"): 3}


def test_scan_refuses_to_drop_statements():
    with pytest.raises(ValueError, match="only summarises"):
        DumpScanner().scan([b""])


def test_multi_database_dump_is_cut_and_summarised():
    scanner = DumpScanner()
    statements = [s for s in map(scanner.feed, iter_lines([MULTI_DATABASE_DUMP])) if s is not None]
    summary = scanner.summary

    assert summary.rows == {("app", "we`ird"): 2, ("other", "t"): 3}
    assert summary.triggers == {"app": ["bare_name"]}
    assert summary.events == {"app": ["nightly_cleanup"]}
    assert summary.routines == {"app": ["procedure do_it"]}
    assert summary.views == {"app": ["v"]}
    assert (summary.binlog_file, summary.binlog_position, summary.gtid) == ("mysql-bin.000042", 1337, "0-1-4711")
    assert summary.completed
    kinds = [(s.kind, s.database) for s in statements]
    assert (dump_split.USE, "other") in kinds and (dump_split.CREATE_DATABASE, "app") in kinds
    trigger = next(s for s in statements if s.kind == dump_split.TRIGGER)
    assert trigger.text.endswith(b"END */") and trigger.section == dump_split.DATA
    create = next(s for s in statements if s.text.startswith(b"CREATE TABLE `we``ird`"))
    assert create.text.endswith(b")") and b"semicolon" in create.text


def test_iter_statements_tags_single_database_dumps_with_the_given_name():
    dump = b"-- Table structure for table `t`\nCREATE TABLE `t` (`id` int);\nINSERT INTO `t` VALUES (1);\n"
    statements = list(iter_statements(iter_lines([dump]), "app"))
    assert [(s.kind, s.database, s.table) for s in statements] == [
        (dump_split.OTHER, "app", None),
        (dump_split.INSERT, "app", "t"),
    ]


@pytest.mark.parametrize("chunk_size", [1, 13, 100_000])
def test_scan_emits_every_byte_and_marks_table_starts(chunk_size):
    chunks = [MULTI_DATABASE_DUMP[i : i + chunk_size] for i in range(0, len(MULTI_DATABASE_DUMP), chunk_size)]
    pieces, starts = [], []

    def on_table(database, table):
        starts.append((sum(map(len, pieces)), database, table))

    DumpScanner(keep_text=False).scan(chunks, emit=pieces.append, on_table=on_table)

    assert b"".join(pieces) == MULTI_DATABASE_DUMP
    assert [(database, table) for _offset, database, table in starts] == [("app", "we`ird"), ("other", "t")]
    for offset, _database, _table in starts:
        assert MULTI_DATABASE_DUMP[offset:].startswith(b"-- Table structure for table ")
