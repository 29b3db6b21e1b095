# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a mysqldump/mariadb-dump stream statement by statement, and counting what it holds.

The same scanner serves both directions. While a snapshot is written it counts the rows of every
table, and lists views, triggers, routines and events, from the very bytes that go into the file, so
the manifest describes exactly what the snapshot holds (the counts are taken inside the dump's own
consistent read, which a second connection could not share). During a restore it cuts the stream into
statements tagged with the table they load, so inserts can run in parallel over several connections.

The scanner relies on properties of dump output rather than parsing SQL in full: the dump tools escape
newlines inside string literals, so a raw newline never falls inside a value; a statement ends with a
line ending in the current delimiter; and the tools mark every section with a comment line
(``-- Table structure for table `t```). Lines are given without their trailing newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

# Statement kinds.
INSERT = "insert"
TRIGGER = "trigger"
ROUTINE = "routine"
EVENT = "event"
USE = "use"
CREATE_DATABASE = "create_database"
TABLE_LOCK = "table_lock"
KEYS_TOGGLE = "keys_toggle"
OTHER = "other"

# Section kinds, from the comment markers the dump tools write.
PREAMBLE = "preamble"
TABLE = "table"
DATA = "data"
VIEW_STUB = "view_stub"
VIEW = "view"
EVENTS = "events"
ROUTINES = "routines"
DATABASE = "database"

_SECTION_MARKERS = (
    (b"-- Table structure for table ", TABLE),
    (b"-- Dumping data for table ", DATA),
    (b"-- Temporary table structure for view ", VIEW_STUB),
    (b"-- Temporary view structure for view ", VIEW_STUB),
    (b"-- Final view structure for view ", VIEW),
    (b"-- Dumping events for database ", EVENTS),
    (b"-- Dumping routines for database ", ROUTINES),
    (b"-- Current Database: ", DATABASE),
)

_TABLE_MARKER = _SECTION_MARKERS[0][0]
_QUOTED_NAME = re.compile(rb"`((?:[^`]|``)+)`|'((?:[^'\\]|\\.)*)'")
_INSERT_HEAD = re.compile(rb"INSERT INTO `((?:[^`]|``)+)` VALUES ?")
# A possibly database-qualified identifier, backticked or bare: trigger text is kept as written.
_IDENTIFIER = rb"(?:`(?:[^`]|``)+`|[0-9A-Za-z_$\x80-\xff]+)"
_TRIGGER_NAME = re.compile(rb"\bTRIGGER\s+(?:" + _IDENTIFIER + rb"\.)?(" + _IDENTIFIER + rb")")
_ROUTINE_NAME = re.compile(rb"^CREATE\b.*?\b(FUNCTION|PROCEDURE) `((?:[^`]|``)+)`", re.DOTALL)
_EVENT_NAME = re.compile(rb"\bEVENT `((?:[^`]|``)+)`")
_USE_NAME = re.compile(rb"^USE `((?:[^`]|``)+)`")
_BINLOG_FILE = re.compile(rb"(?:MASTER|SOURCE)_LOG_FILE='([^']*)'")
_BINLOG_POS = re.compile(rb"(?:MASTER|SOURCE)_LOG_POS=(\d+)")
_GTID = re.compile(rb"gtid_(?:slave|purged)_pos='([^']*)'|GTID_PURGED='([^']*)'", re.IGNORECASE)
# MariaDB 10.11.8+ starts dumps with this client-side command, which carries no delimiter.
_SANDBOX_LINE = b"/*M!999999\\- enable the sandbox mode */"
_STRING_LITERAL = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'", re.DOTALL)


def unquote_identifier(raw: bytes) -> str:
    return raw.replace(b"``", b"`").decode("utf-8", "surrogateescape")


def identifier_text(raw: bytes) -> str:
    """The name an identifier token denotes, with or without backticks."""
    if raw.startswith(b"`") and raw.endswith(b"`"):
        return unquote_identifier(raw[1:-1])
    return raw.decode("utf-8", "surrogateescape")


def marker_name(rest: bytes) -> str | None:
    """The backtick- or quote-enclosed name that follows a section marker."""
    match = _QUOTED_NAME.search(rest)
    if not match:
        return None
    if match.group(1) is not None:
        return unquote_identifier(match.group(1))
    return match.group(2).decode("utf-8", "surrogateescape")


def count_values_rows(values: bytes) -> int:
    """Rows in the VALUES part of one extended INSERT: top-level ``),(`` separators plus one.

    String literals are removed first, so a ``),(`` inside a value is not counted; hex blobs, numbers
    and NULL cannot contain one.
    """
    outside = _STRING_LITERAL.sub(b"''", values)
    return outside.count(b"),(") + outside.count(b"),\n(") + 1


@dataclass(frozen=True)
class Statement:
    """One complete statement, without its delimiter, with the section it was found in."""

    kind: str
    section: str
    section_name: str | None
    database: str | None
    text: bytes
    table: str | None = None
    rows: int = 0


@dataclass
class DumpSummary:
    """What a dump stream holds, by database: tables with row counts, and its other objects."""

    rows: dict = field(default_factory=dict)
    views: dict = field(default_factory=dict)
    triggers: dict = field(default_factory=dict)
    routines: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    binlog_file: str | None = None
    binlog_position: int | None = None
    gtid: str | None = None
    completed: bool = False

    def add(self, bucket: dict, database: str | None, name: str) -> None:
        names = bucket.setdefault(database, [])
        if name not in names:
            names.append(name)


class DumpScanner:
    """Feed lines; get statements back; read ``summary`` at the end.

    ``database`` is the database a single-database dump (one without ``USE`` statements) belongs to.
    ``keep_text=False`` skips assembling statement text when only the summary is needed.
    """

    def __init__(self, database: str | None = None, keep_text: bool = True) -> None:
        self.database = database
        self.keep_text = keep_text
        self.delimiter = b";"
        self.section = PREAMBLE
        self.section_name: str | None = None
        self.summary = DumpSummary()
        self._lines: list = []
        self._line_count = 0
        # Set while scan() is inside a one-row-per-line INSERT: its table and the row lines seen so far.
        self._row_table: str | None = None
        self._row_lines = 0
        self._scanning = False
        self._emit: Callable = lambda piece: None
        self._on_table: Callable | None = None

    def _start_row_insert(self, line: bytes) -> bool:
        head = _INSERT_HEAD.match(line)
        if head is None or head.end() < len(line.rstrip()):
            return False
        self._row_table, self._row_lines = unquote_identifier(head.group(1)), 0
        return True

    def scan(
        self,
        chunks: Iterable[bytes],
        emit: Callable[[bytes], object] | None = None,
        on_table: Callable[[str | None, str | None], object] | None = None,
    ) -> None:
        """Summary-only scanning of a whole stream, for the snapshot's hot path.

        The rows of one-row-per-line INSERTs (mariadb-dump 10.11+) are counted as newlines with
        ``bytes.count`` instead of line by line: a row line ends with ``),`` or ``);``, and only the last
        row of a statement ends with ``);``, since raw newlines never occur inside values.

        ``emit`` receives every byte of the stream, in order, once its line has been read; ``on_table``
        is called with (database, table) between the bytes before a table's section and the bytes of
        it, so the caller can cut the output there (the snapshot starts a new zstd frame).
        """
        if self.keep_text:
            raise ValueError("scan() only summarises; use feed() to get statements")
        self._scanning = True
        self._emit = emit or (lambda piece: None)
        self._on_table = on_table
        pending: list = []
        for chunk in chunks:
            if b"\n" not in chunk:
                pending.append(chunk)
                continue
            data = b"".join([*pending, chunk]) if pending else chunk
            position = self._scan_complete_lines(data)
            pending = [data[position:]] if position < len(data) else []
        if pending:
            tail = b"".join(pending)
            self._emit(tail)
            self.feed(tail)

    def _scan_complete_lines(self, data: bytes) -> int:
        """Consume the complete lines of ``data``; return where the unfinished last line starts."""
        position = emitted = 0
        while True:
            if self._row_table is not None:
                end = data.find(b");\n", position)
                stop = data.rfind(b"\n", position) + 1 if end == -1 else end + 3
                if stop <= position:
                    break
                self._row_lines += data.count(b"\n", position, stop)
                position = stop
                if end != -1:
                    self._finish_row_insert()
                continue
            newline = data.find(b"\n", position)
            if newline == -1:
                break
            line = data[position:newline]
            if self._on_table is not None and line.startswith(_TABLE_MARKER):
                self._emit(data[emitted:position])
                emitted = position
                self.feed(line)
                self._on_table(self.database, self.section_name)
            else:
                self.feed(line)
            position = newline + 1
        self._emit(data[emitted:position])
        return position

    def _finish_row_insert(self) -> None:
        key = (self.database, self._row_table)
        self.summary.rows[key] = self.summary.rows.get(key, 0) + self._row_lines
        self._row_table, self._row_lines = None, 0

    def feed(self, line: bytes) -> Statement | None:
        if self._line_count:
            return self._continue_statement(line)
        if self._scanning and line.startswith(b"INSERT INTO ") and self._start_row_insert(line):
            return None
        if not line.strip():
            return None
        if line.startswith(b"--"):
            self._read_comment(line)
            return None
        if line.startswith(b"DELIMITER "):
            self.delimiter = line[len(b"DELIMITER ") :].strip()
            return None
        if line.startswith(_SANDBOX_LINE):
            return None
        return self._continue_statement(line)

    def _continue_statement(self, line: bytes) -> Statement | None:
        self._line_count += 1
        if self.keep_text or self._line_count == 1:
            self._lines.append(line)
        if not line.rstrip().endswith(self.delimiter):
            return None
        lines, line_count = self._lines, self._line_count
        self._lines, self._line_count = [], 0
        return self._finish(lines, line_count)

    def _read_comment(self, line: bytes) -> None:
        for prefix, section in _SECTION_MARKERS:
            if line.startswith(prefix):
                name = marker_name(line[len(prefix) :])
                if section == DATABASE:
                    self.database = name
                self.section, self.section_name = section, name
                self._register_section(section, name)
                return
        if line.startswith(b"-- Dump completed"):
            self.summary.completed = True
        elif b"_LOG_FILE=" in line or b"gtid" in line.lower():
            self._read_position(line)

    def _register_section(self, section: str, name: str | None) -> None:
        if section == TABLE:
            self.summary.rows.setdefault((self.database, name), 0)
        elif section == VIEW:
            self.summary.add(self.summary.views, self.database, name)

    def _read_position(self, line: bytes) -> None:
        file_match, pos_match, gtid_match = _BINLOG_FILE.search(line), _BINLOG_POS.search(line), _GTID.search(line)
        if file_match:
            self.summary.binlog_file = file_match.group(1).decode()
        if pos_match:
            self.summary.binlog_position = int(pos_match.group(1))
        if gtid_match:
            self.summary.gtid = (gtid_match.group(1) or gtid_match.group(2)).decode()

    def _finish(self, lines: list, line_count: int) -> Statement:
        first = lines[0]
        kind, table, rows = self._classify(first, lines, line_count)
        text = b"\n".join(lines).rstrip() if self.keep_text else first
        if self.keep_text:
            text = text[: -len(self.delimiter)].rstrip()
        if kind == USE:
            self.database = unquote_identifier(_USE_NAME.match(first).group(1))
        return Statement(kind, self.section, self.section_name, self.database, text, table, rows)

    def _classify(self, first: bytes, lines: list, line_count: int) -> tuple:
        if first.startswith(b"INSERT INTO "):
            return self._classify_insert(first, lines, line_count)
        if first.startswith((b"LOCK TABLES ", b"UNLOCK TABLES")):
            return TABLE_LOCK, None, 0
        if first.startswith(b"/*!40000 ALTER TABLE ") and b" KEYS */" in first:
            return KEYS_TOGGLE, None, 0
        if first.startswith(b"USE `"):
            return USE, None, 0
        if first.startswith(b"CREATE DATABASE "):
            return CREATE_DATABASE, None, 0
        return self._classify_object(first)

    def _classify_insert(self, first: bytes, lines: list, line_count: int) -> tuple:
        head = _INSERT_HEAD.match(first)
        table = unquote_identifier(head.group(1)) if head else self.section_name
        if head and head.end() >= len(first.rstrip()):
            # One row per line (mariadb-dump 10.11+): the rows are the lines after the header.
            rows = line_count - 1
        else:
            rows = count_values_rows(b"\n".join(lines)[head.end() if head else 0 :])
        key = (self.database, table)
        self.summary.rows[key] = self.summary.rows.get(key, 0) + rows
        return INSERT, table, rows

    def _classify_object(self, first: bytes) -> tuple:
        if first.startswith(b"/*!50003 CREATE*/") and (match := _TRIGGER_NAME.search(first)):
            self.summary.add(self.summary.triggers, self.database, identifier_text(match.group(1)))
            return TRIGGER, None, 0
        if first.startswith(b"/*!50106 CREATE*/") and (match := _EVENT_NAME.search(first)):
            self.summary.add(self.summary.events, self.database, unquote_identifier(match.group(1)))
            return EVENT, None, 0
        if first.startswith(b"CREATE ") and (match := _ROUTINE_NAME.match(first)):
            routine = f"{match.group(1).decode().lower()} {unquote_identifier(match.group(2))}"
            self.summary.add(self.summary.routines, self.database, routine)
            return ROUTINE, None, 0
        return OTHER, None, 0


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Split a stream of byte chunks into lines without their ``\\n``; memory is bounded by the longest line."""
    pending: list = []
    for chunk in chunks:
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        parts = chunk.split(b"\n")
        if pending:
            pending.append(parts[0])
            parts[0] = b"".join(pending)
            pending = []
        tail = parts.pop()
        if tail:
            pending.append(tail)
        yield from parts
    if pending:
        yield b"".join(pending)


def iter_statements(lines: Iterable[bytes], database: str | None = None) -> Iterator[Statement]:
    scanner = DumpScanner(database)
    for line in lines:
        statement = scanner.feed(line)
        if statement is not None:
            yield statement
