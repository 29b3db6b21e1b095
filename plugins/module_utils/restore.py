# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring a snapshot: verify, safety snapshot, load into staging in parallel, verify, swap.

Order of events, and what each step protects:

1. The file is checked against its manifest (size, sha256, zstd frame checksums, decompressed size)
   before any database is touched.
2. ``force`` is required to restore into a database whose name differs from the snapshot's, or from a
   snapshot older than ``max_age_hours``.
3. A safety snapshot of the target is taken (unless disabled), so the restore itself can be undone.
4. The dump is loaded into a staging database with unique and foreign key checks off (in those
   sessions only). Snapshots written by snapshot.py start a zstd frame per table, so ``workers`` tables
   are decompressed and loaded at once, each on its own connection (FramedLoad); other snapshots are
   read as one stream whose INSERT statements are spread over ``workers`` connections (StagedLoad).
   Triggers, views, routines and events are kept aside and created after the data, so no trigger fires
   during the load.
5. Staging is verified against the manifest: the set of tables and every table's row count, then the
   views, triggers, routines and events once they are created there.
6. The swap. MariaDB and MySQL have no RENAME DATABASE, and cannot move a table that has triggers, a
   view, a routine or an event to another database. So the old target's triggers, views, routines and
   events are dropped, one ``RENAME TABLE`` statement moves every old table out and every staged table
   in (atomic: readers see all old tables or all new ones), and the kept-aside objects are created
   again in the target. The brief lock: ``RENAME TABLE`` waits for transactions that use the tables
   (up to ``lock_wait_timeout``) and blocks new queries on them for the milliseconds it takes; between
   the drop and the re-creation of objects (typically well under a second) the views and routines are
   missing and triggers do not fire, so writers should be stopped (maintenance mode) during a restore.

A failure before the swap leaves the target exactly as it was. A ``GET_LOCK`` named after the target
keeps two restores of one database apart; a staging database left by a killed run is dropped by the
next restore, while an interrupted swap (old tables parked in ``<target>__old_*``) is reported and
left for the operator.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Callable

from . import dump_split
from .errors import MutuapixError
from .local_retention import pinned
from .manifest import OBJECT_KINDS, objects_of, parse_iso_utc, tables_of
from .mysql_client import (
    ClientTools,
    ConnectionParams,
    Runner,
    classify_error,
    connect,
    database_exists,
    pymysql,
    quote_identifier,
    require_pymysql,
    run_command,
)
from .snapshot import CHUNK_BYTES, take_snapshot, utc_now
from .snapshot_verify import open_decompressed, verify_snapshot

DEFAULT_WORKERS = 4
DEFAULT_MAX_AGE_HOURS = 48.0
SWAP_LOCK_WAIT_SECONDS = 60
# Concurrent inserts into one table can deadlock on index gaps. Each INSERT runs in its own transaction
# (autocommit), which InnoDB rolls back whole when it picks it as the victim, so running it again is safe.
RETRYABLE_CODES = frozenset({1205, 1213})
INSERT_ATTEMPTS = 5
# A connection that loads a table alone commits after about this many bytes of SQL: far fewer redo
# log flushes than a commit per statement, while undo logs stay small.
COMMIT_EVERY_BYTES = 16 << 20
LOAD_SESSION = (
    "SET SESSION foreign_key_checks = 0",
    "SET SESSION unique_checks = 0",
)


class RestoreError(MutuapixError):
    """The restore failed; unless the message says otherwise, the target is unchanged."""


class RestoreRefusedError(RestoreError):
    """The restore would be unsafe without ``force`` (another database name, an old snapshot)."""


class VerificationError(RestoreError):
    """What was loaded does not match the manifest."""


def staging_names(target: str) -> tuple:
    """Names of the staging database and of the one that parks old tables during a swap (<= 64 chars)."""
    digest = hashlib.sha1(target.encode("utf-8")).hexdigest()[:8]  # noqa: S324 - a name, not security
    prefix = target[:40]
    return f"{prefix}__new_{digest}", f"{prefix}__old_{digest}"


def choose_source(manifest: dict, source_database: str | None) -> str:
    databases = manifest["databases"]
    if source_database is None:
        if len(databases) != 1:
            raise RestoreRefusedError(
                f"the snapshot holds {len(databases)} databases ({', '.join(databases)}); name the one to restore",
                databases=databases,
            )
        return databases[0]
    if source_database not in databases:
        raise RestoreRefusedError(
            f"the snapshot does not hold database {source_database!r} (it holds {', '.join(databases)})",
            databases=databases,
        )
    return source_database


def check_force(manifest: dict, source: str, target: str, *, force: bool, max_age_hours: float, now: datetime) -> dict:
    """Refuse what needs ``force``; return the facts that were checked."""
    age = now - parse_iso_utc(manifest["finished_at"])
    facts = {"snapshot_age_hours": round(age.total_seconds() / 3600, 3), "renamed": source != target}
    if force:
        return facts
    if source != target:
        raise RestoreRefusedError(
            f"the snapshot is of database {source!r} but the target is {target!r}; "
            "set force to restore it under another name",
            source_database=source,
            target_database=target,
        )
    if age > timedelta(hours=max_age_hours):
        raise RestoreRefusedError(
            f"the snapshot finished {facts['snapshot_age_hours']} hours ago, more than max_age_hours "
            f"({max_age_hours}); set force to restore it anyway",
            **facts,
        )
    return facts


def execute_with_retry(cursor, statement: bytes) -> None:
    for attempt in range(1, INSERT_ATTEMPTS + 1):
        try:
            cursor.execute(statement)
            return
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args else None
            if code not in RETRYABLE_CODES or attempt == INSERT_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


class ParallelLoader:
    """Run INSERT statements over ``workers`` connections fed from one bounded queue.

    The queue bounds memory; a worker that fails keeps draining (without executing) so the producer
    never blocks on a full queue, and the first error is raised to the producer.
    """

    def __init__(self, params: ConnectionParams, database: str, preamble: list, workers: int) -> None:
        self.params, self.database, self.preamble = params, database, preamble
        self.queue: queue.Queue = queue.Queue(maxsize=workers * 2)
        self.error: BaseException | None = None
        self.statements = 0
        self.connections = [self.open_connection() for _worker in range(workers)]
        self.threads = [threading.Thread(target=self.work, args=(conn,), daemon=True) for conn in self.connections]
        for thread in self.threads:
            thread.start()

    def open_connection(self):
        conn = connect(self.params, self.database)
        with conn.cursor() as cursor:
            for statement in (*self.preamble, *LOAD_SESSION):
                cursor.execute(statement)
        return conn

    def work(self, conn) -> None:
        with conn.cursor() as cursor:
            while (item := self.queue.get()) is not None:
                if self.error is not None:
                    continue
                try:
                    execute_with_retry(cursor, item)
                except Exception as exc:
                    self.error = exc

    def submit(self, text: bytes) -> None:
        self.raise_error()
        self.queue.put(text)
        self.statements += 1

    def raise_error(self) -> None:
        if self.error is not None:
            raise as_restore_error(self.error, self.params, "loading rows into the staging database")

    def close(self) -> None:
        for _thread in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        for conn in self.connections:
            with contextlib.suppress(Exception):
                conn.close()

    def finish(self) -> None:
        self.close()
        self.raise_error()


def as_restore_error(exc: BaseException, params: ConnectionParams, doing: str) -> MutuapixError:
    if isinstance(exc, MutuapixError):
        return exc
    if pymysql is not None and isinstance(exc, pymysql.MySQLError):
        error = classify_error(exc, params)
        return RestoreError(f"{doing} failed: {error.message}; the target database is unchanged", **error.details)
    return RestoreError(f"{doing} failed: {exc}; the target database is unchanged")


# What a restore does with each statement of the dump.
SKIP, PREAMBLE, LOAD, CREATE, DEFER = "skip", "preamble", "load", "create", "defer"


def route_of(statement: dump_split.Statement, source: str) -> str:
    """Session settings run on every connection; table definitions and rows load now; triggers, views,
    routines and events wait until the data is in."""
    if statement.database is not None and statement.database != source:
        return SKIP
    if statement.kind in (dump_split.USE, dump_split.CREATE_DATABASE):
        return SKIP
    if statement.kind in (dump_split.TABLE_LOCK, dump_split.KEYS_TOGGLE):
        # LOCK TABLES would serialise a parallel load; DISABLE KEYS only matters to MyISAM.
        return SKIP
    if statement.section == dump_split.PREAMBLE:
        return PREAMBLE
    if statement.kind == dump_split.INSERT:
        return LOAD
    if statement.section == dump_split.TABLE:
        return CREATE
    return DEFER


def read_statements(path: str, start: int, end: int | None, database: str | None):
    with open_decompressed(path, start, end) as reader:
        chunks = iter(lambda: reader.read(CHUNK_BYTES), b"")
        yield from dump_split.iter_statements(dump_split.iter_lines(chunks), database)


class FramedLoad:
    """Load a snapshot written with one zstd frame per table: each table is decompressed and loaded on
    its own connection, ``workers`` tables at a time, like myloader's per-table files. One connection
    per table means no lock contention between loaders and large transactions (committed every
    ``COMMIT_EVERY_BYTES``), with no deadlocks to retry."""

    def __init__(self, params: ConnectionParams, staging: str, source: str, workers: int, manifest: dict) -> None:
        self.params, self.staging, self.source, self.workers = params, staging, source, workers
        self.frames = manifest["frames"]
        self.size = manifest["compressed_bytes"]
        self.database = manifest["databases"][0] if len(manifest["databases"]) == 1 else None
        self.preamble: list = []
        self.deferred: list = []
        self.stop = threading.Event()

    @staticmethod
    def applies(manifest: dict, source: str) -> bool:
        return any(frame["database"] == source for frame in manifest.get("frames") or [])

    def run(self, path: str) -> None:
        for statement in read_statements(path, 0, self.frames[0]["offset"], self.database):
            action = route_of(statement, self.source)
            if action == PREAMBLE:
                self.preamble.append(statement.text)
            elif action != SKIP:
                self.deferred.append(statement.text)
        ends = [frame["offset"] for frame in self.frames[1:]] + [self.size]
        sections = [
            (f["offset"], end, f["database"])
            for f, end in zip(self.frames, ends, strict=True)
            if f["database"] == self.source
        ]
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            futures = [pool.submit(self.load_section, path, *section) for section in sections]
            try:
                for future in futures:
                    self.deferred.extend(future.result())
            except BaseException:
                self.stop.set()
                raise

    def load_section(self, path: str, start: int, end: int, database: str) -> list:
        """Create and fill the table of one frame; return its statements that must wait (triggers...)."""
        conn = connect(self.params, self.staging, autocommit=False)
        deferred, uncommitted = [], 0
        try:
            with conn.cursor() as cursor:
                for statement in (*self.preamble, *LOAD_SESSION):
                    cursor.execute(statement)
                for statement in read_statements(path, start, end, database):
                    if self.stop.is_set():
                        raise RestoreError("stopped because loading another table failed")
                    action = route_of(statement, self.source)
                    if action in (LOAD, CREATE):
                        cursor.execute(statement.text)
                        uncommitted += len(statement.text)
                        if uncommitted >= COMMIT_EVERY_BYTES:
                            conn.commit()
                            uncommitted = 0
                    elif action == DEFER:
                        deferred.append(statement.text)
            conn.commit()
        finally:
            conn.close()
        return deferred


class StagedLoad:
    """Cut the dump of one database into immediate DDL, parallel inserts, and objects kept for later."""

    def __init__(self, params: ConnectionParams, staging: str, source: str, workers: int, single: bool) -> None:
        self.params, self.staging, self.source, self.workers = params, staging, source, workers
        self.scanner = dump_split.DumpScanner(source if single else None)
        self.preamble: list = []
        self.deferred: list = []
        self.loader: ParallelLoader | None = None
        self.ddl = None

    def run(self, path: str) -> None:
        self.ddl = connect(self.params, self.staging)
        try:
            with open_decompressed(path) as reader:
                chunks = iter(lambda: reader.read(CHUNK_BYTES), b"")
                for line in dump_split.iter_lines(chunks):
                    statement = self.scanner.feed(line)
                    if statement is not None:
                        self.route(statement)
            if self.loader is not None:
                self.loader.finish()
        except BaseException:
            if self.loader is not None:
                self.loader.close()
            raise
        finally:
            self.ddl.close()

    def route(self, statement: dump_split.Statement) -> None:
        action = route_of(statement, self.source)
        if action == PREAMBLE:
            self.preamble.append(statement.text)
            self.execute_ddl(statement.text)
        elif action == LOAD:
            self.start_loader().submit(statement.text)
        elif action == CREATE:
            self.execute_ddl(statement.text)
        elif action == DEFER:
            self.deferred.append(statement.text)

    def start_loader(self) -> ParallelLoader:
        if self.loader is None:
            self.loader = ParallelLoader(self.params, self.staging, self.preamble, self.workers)
        return self.loader

    def execute_ddl(self, text: bytes) -> None:
        try:
            with self.ddl.cursor() as cursor:
                cursor.execute(text)
        except Exception as exc:
            raise as_restore_error(exc, self.params, f"creating tables ({text[:120]!r})") from exc


def run_statements(params: ConnectionParams, database: str, statements: list) -> None:
    conn = connect(params, database)
    try:
        with conn.cursor() as cursor:
            for text in statements:
                cursor.execute(text)
    finally:
        conn.close()


def list_base_tables(cursor, database: str) -> list:
    cursor.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'",
        (database,),
    )
    return sorted(row[0] for row in cursor.fetchall())


def list_objects(cursor, database: str) -> dict:
    queries = {
        "views": "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s",
        "triggers": "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
        "routines": "SELECT CONCAT(LOWER(ROUTINE_TYPE), ' ', ROUTINE_NAME) FROM information_schema.ROUTINES "
        "WHERE ROUTINE_SCHEMA = %s",
        "events": "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
    }
    found = {}
    for kind, query in queries.items():
        cursor.execute(query, (database,))
        found[kind] = sorted(row[0] for row in cursor.fetchall())
    return found


def count_rows(params: ConnectionParams, database: str, tables: list, workers: int) -> dict:
    """Exact row counts, several tables at a time."""

    def count(table: str) -> tuple:
        conn = connect(params, database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {quote_identifier(table)}")  # noqa: S608 - quoted identifier
                return table, int(cursor.fetchone()[0])
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(count, tables))


def verify_tables(params: ConnectionParams, database: str, manifest: dict, source: str, workers: int) -> dict:
    """Compare the base tables of ``database`` and their row counts with the manifest's."""
    expected = {name: entry["rows"] for name, entry in tables_of(manifest, source).items()}
    conn = connect(params)
    try:
        with conn.cursor() as cursor:
            present = list_base_tables(cursor, database)
    finally:
        conn.close()
    if sorted(expected) != present:
        raise VerificationError(
            f"tables loaded into {database} differ from the snapshot's",
            missing=sorted(set(expected) - set(present)),
            unexpected=sorted(set(present) - set(expected)),
        )
    counted = count_rows(params, database, present, workers)
    mismatched = {
        name: {"expected": expected[name], "found": counted[name]}
        for name in present
        if counted[name] != expected[name]
    }
    if mismatched:
        raise VerificationError(f"row counts in {database} differ from the snapshot's", tables=mismatched)
    return {"tables": len(present), "rows": sum(counted.values()), "row_counts_match": True}


def verify_objects(params: ConnectionParams, database: str, manifest: dict, source: str) -> dict:
    expected = objects_of(manifest, source)
    conn = connect(params)
    try:
        with conn.cursor() as cursor:
            found = list_objects(cursor, database)
    finally:
        conn.close()
    differences = {
        kind: {"expected": expected[kind], "found": found[kind]}
        for kind in OBJECT_KINDS
        if expected[kind] != found[kind]
    }
    if differences:
        raise VerificationError(
            f"views, triggers, routines or events in {database} differ from the snapshot's", objects=differences
        )
    return {kind: len(found[kind]) for kind in OBJECT_KINDS}


def drop_objects(cursor, database: str, kinds: tuple = OBJECT_KINDS) -> None:
    """Drop the given kinds of objects of ``database`` (tables stay)."""
    found = list_objects(cursor, database)
    db = quote_identifier(database)
    for kind in kinds:
        for name in found[kind]:
            if kind == "routines":
                routine_type, routine_name = name.split(" ", 1)
                cursor.execute(f"DROP {routine_type.upper()} IF EXISTS {db}.{quote_identifier(routine_name)}")
            else:
                keyword = {"views": "VIEW", "triggers": "TRIGGER", "events": "EVENT"}[kind]
                cursor.execute(f"DROP {keyword} IF EXISTS {db}.{quote_identifier(name)}")


def create_database(cursor, name: str, options: dict) -> None:
    charset = options.get("charset") or "utf8mb4"
    collation = options.get("collation") or "utf8mb4_unicode_ci"
    cursor.execute(f"CREATE DATABASE {quote_identifier(name)} CHARACTER SET {charset} COLLATE {collation}")


def capture_objects(cursor, database: str) -> list:
    """(kind, name, sql_mode, statement) that re-create the views, routines, events and triggers of
    ``database``: taken just before the swap drops them, so a swap that cannot get its locks puts them back.
    """
    db = quote_identifier(database)
    captured = []
    found = list_objects(cursor, database)
    for name in found["views"]:
        cursor.execute(f"SHOW CREATE VIEW {db}.{quote_identifier(name)}")
        captured.append(("views", name, None, cursor.fetchone()[1]))
    for routine in found["routines"]:
        kind, name = routine.split(" ", 1)
        cursor.execute(f"SHOW CREATE {kind.upper()} {db}.{quote_identifier(name)}")
        row = cursor.fetchone()
        captured.append(("routines", routine, row[1], row[2]))
    for name in found["events"]:
        cursor.execute(f"SHOW CREATE EVENT {db}.{quote_identifier(name)}")
        row = cursor.fetchone()
        captured.append(("events", name, row[1], row[3]))
    cursor.execute(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
        "ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER",
        (database,),
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f"SHOW CREATE TRIGGER {db}.{quote_identifier(name)}")
        row = cursor.fetchone()
        captured.append(("triggers", name, row[1], row[2]))
    return captured


def put_back(params: ConnectionParams, database: str, captured: list) -> None:
    """Re-create the captured objects that are missing (a drop may have stopped half-way)."""
    conn = connect(params, database)
    try:
        with conn.cursor() as cursor:
            present = list_objects(cursor, database)
            for kind, name, sql_mode, statement in captured:
                if name in present[kind]:
                    continue
                if sql_mode is not None:
                    cursor.execute("SET SESSION sql_mode = %s", (sql_mode,))
                cursor.execute(statement)
    finally:
        conn.close()


def swap_in(params: ConnectionParams, cursor, staging: str, parked: str, target: str, options: dict) -> float:
    """Replace the target's tables with the staged ones in one RENAME TABLE; return its duration."""
    cursor.execute(f"SET SESSION lock_wait_timeout = {SWAP_LOCK_WAIT_SECONDS}")
    drop_objects(cursor, staging, ("triggers",))
    existed = database_exists(cursor, target)
    captured = capture_objects(cursor, target) if existed else []
    try:
        pairs = []
        if existed:
            # Dropping a trigger takes the same metadata lock as the rename: this is where a long
            # transaction on the target makes the swap wait (lock_wait_timeout) and possibly give up.
            drop_objects(cursor, target)
            create_database(cursor, parked, options)
            pairs += [(target, parked, name) for name in list_base_tables(cursor, target)]
        else:
            create_database(cursor, target, options)
        pairs += [(staging, target, name) for name in list_base_tables(cursor, staging)]
        renames = ", ".join(
            f"{quote_identifier(src)}.{quote_identifier(name)} TO {quote_identifier(dst)}.{quote_identifier(name)}"
            for src, dst, name in pairs
        )
        started = time.monotonic()
        cursor.execute(f"RENAME TABLE {renames}")
        duration = time.monotonic() - started
    except pymysql.MySQLError as exc:
        undo_failed_swap(params, cursor, target, existed, (parked, staging), captured)
        raise RestoreError(
            f"the swap into {target!r} failed ({exc.args[-1]}); no table was moved, its views, triggers, routines "
            "and events were put back and the target is unchanged. Stop the writers and run the restore again",
            target_database=target,
        ) from exc
    if existed:
        charset = options.get("charset") or "utf8mb4"
        collation = options.get("collation") or "utf8mb4_unicode_ci"
        cursor.execute(f"ALTER DATABASE {quote_identifier(target)} CHARACTER SET {charset} COLLATE {collation}")
    return duration


def undo_failed_swap(params, cursor, target: str, existed: bool, leftovers: tuple, captured: list) -> None:
    """RENAME TABLE is atomic: when it fails no table moved, so only the dropped objects need to return."""
    if existed:
        try:
            put_back(params, target, captured)
        except Exception as exc:
            raise RestoreError(
                f"the swap into {target!r} failed and re-creating its views, triggers, routines or events failed "
                f"too ({exc}); its tables are untouched. Re-create them from the safety snapshot",
                target_database=target,
            ) from exc
    else:
        leftovers = (*leftovers, target)
    for database in leftovers:
        cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(database)}")


@contextlib.contextmanager
def target_lock(cursor, target: str):
    """A server-side lock per target database, released when the connection ends (even on kill -9)."""
    name = "mutuapix.restore." + hashlib.sha1(target.encode("utf-8")).hexdigest()  # noqa: S324 - a name
    cursor.execute("SELECT GET_LOCK(%s, 0)", (name,))
    if cursor.fetchone()[0] != 1:
        raise RestoreRefusedError(f"another restore into {target!r} is running", target_database=target)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))


def prepare_staging(cursor, staging: str, parked: str, target: str, options: dict) -> None:
    if database_exists(cursor, parked):
        raise RestoreError(
            f"a previous restore into {target!r} was interrupted during its swap: the previous tables are parked "
            f"in database {parked!r}. Check {target!r}, recover what you need from {parked!r} (or the safety "
            f"snapshot of that restore), then drop {parked!r} and run the restore again",
            parked_database=parked,
        )
    cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(staging)}")
    create_database(cursor, staging, options)


def target_has_content(cursor, target: str) -> bool:
    if not database_exists(cursor, target):
        return False
    return bool(list_base_tables(cursor, target)) or any(list_objects(cursor, target).values())


def restore_snapshot(
    params: ConnectionParams,
    snapshot_path: str,
    *,
    target_database: str | None = None,
    source_database: str | None = None,
    force: bool = False,
    max_age_hours: float = DEFAULT_MAX_AGE_HOURS,
    safety_snapshot: bool = True,
    safety_directory: str | None = None,
    workers: int = DEFAULT_WORKERS,
    runner: Runner = run_command,
    spawn: Callable = subprocess.Popen,
    tools: ClientTools | None = None,
    clock: Callable = utc_now,
) -> dict:
    """Restore ``snapshot_path`` into ``target_database`` (default: the snapshot's database); return a report."""
    require_pymysql()
    timings = {}
    with pinned(snapshot_path):
        started = time.monotonic()
        manifest = verify_snapshot(snapshot_path)
        timings["verify_file_seconds"] = time.monotonic() - started
        plan = plan_restore(manifest, target_database, source_database, force, max_age_hours, clock())
        source, target = plan["source_database"], plan["target_database"]
        staging, parked = staging_names(target)
        options = manifest.get("database_options", {}).get(source, {})
        safety_directory = safety_directory or os.path.dirname(os.path.abspath(snapshot_path))
        admin = connect(params)
        try:
            with admin.cursor() as cursor, target_lock(cursor, target):
                safety = None
                if safety_snapshot and target_has_content(cursor, target):
                    started = time.monotonic()
                    safety = take_snapshot(
                        params, safety_directory, [target], "pre-restore", runner=runner, spawn=spawn, tools=tools
                    )
                    timings["safety_snapshot_seconds"] = time.monotonic() - started
                report = load_verify_swap(
                    params, cursor, snapshot_path, manifest, source, target, staging, parked, options, workers, timings
                )
        finally:
            admin.close()
    return {
        **plan,
        **report,
        "snapshot": snapshot_path,
        "safety_snapshot": safety["path"] if safety else None,
        "safety_manifest": safety["manifest_path"] if safety else None,
        "timings": {key: round(value, 3) for key, value in timings.items()},
    }


def plan_restore(manifest, target_database, source_database, force, max_age_hours, now) -> dict:
    source = choose_source(manifest, source_database)
    target = target_database or source
    facts = check_force(manifest, source, target, force=force, max_age_hours=max_age_hours, now=now)
    return {"source_database": source, "target_database": target, "label": manifest["label"], **facts}


def load_verify_swap(
    params, cursor, path, manifest, source, target, staging, parked, options, workers, timings
) -> dict:
    prepare_staging(cursor, staging, parked, target, options)
    try:
        started = time.monotonic()
        if FramedLoad.applies(manifest, source):
            load = FramedLoad(params, staging, source, workers, manifest)
        else:
            single = not manifest.get("all_databases") and len(manifest["databases"]) == 1
            load = StagedLoad(params, staging, source, workers, single=single)
        load.run(path)
        timings["load_seconds"] = time.monotonic() - started
        started = time.monotonic()
        table_report = verify_tables(params, staging, manifest, source, workers)
        run_statements(params, staging, [*load.preamble, *load.deferred])
        object_report = verify_objects(params, staging, manifest, source)
        timings["verify_staging_seconds"] = time.monotonic() - started
    except BaseException as exc:
        with contextlib.suppress(Exception):
            cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(staging)}")
        if isinstance(exc, pymysql.MySQLError):
            raise as_restore_error(exc, params, "restoring into the staging database") from exc
        raise
    started = time.monotonic()
    timings["rename_seconds"] = swap_in(params, cursor, staging, parked, target, options)
    try:
        run_statements(params, target, [*load.preamble, *load.deferred])
        verify_objects(params, target, manifest, source)
    except Exception as exc:
        raise RestoreError(
            f"the tables of {target!r} were swapped in but re-creating its views, triggers, routines or events "
            f"failed: {exc}. The previous tables are in {parked!r}; the safety snapshot holds the previous state",
            parked_database=parked,
        ) from exc
    cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(parked)}")
    cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(staging)}")
    timings["swap_seconds"] = time.monotonic() - started
    return {"verification": {**table_report, "objects": object_report}, "rows_restored": table_report["rows"]}
