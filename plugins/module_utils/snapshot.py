# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking a snapshot: one streaming pass from mariadb-dump/mysqldump to a zstd file and its manifest.

The dump's stdout is read in chunks (a thread reads ahead, so the dump never waits on us) and passes
through the dump scanner, which counts rows and lists objects, into the zstd compressor, whose output is
hashed with sha256 as it is written. Each table starts a new zstd frame, recorded in the manifest, so a
restore can load tables in parallel; ``zstd -dc`` reads the frames as one stream. Memory stays bounded
by the chunk size and the longest row, whatever the database.

Durability: the compressed data is written to a temporary name and fsynced; the manifest is written
atomically; only then is the data renamed to its final name. A snapshot under its final name therefore
always has a manifest, and a killed or failed run leaves at most a ``.partial-*`` file that no listing
mistakes for a snapshot. Earlier snapshots are never opened for writing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import socket
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable

from . import manifest as manifest_lib
from .dump_split import DumpScanner
from .errors import MutuapixError
from .fsutil import atomic_writer, run_lock, write_json_atomic
from .mysql_client import (
    ClientTools,
    ConnectionParams,
    MissingLibraryError,
    Runner,
    UnknownDatabaseError,
    client_option_file,
    connect,
    database_exists,
    detect_client_tools,
    list_user_databases,
    run_command,
    server_flavor,
    version_tuple,
)

try:
    import zstandard

    ZSTANDARD_IMPORT_ERROR = None
except ImportError:
    zstandard = None
    ZSTANDARD_IMPORT_ERROR = traceback.format_exc()

CHUNK_BYTES = 1 << 20
# Compression runs on one worker thread per CPU (-1), beside the dump: measured faster than one worker
# or none. Small jobs keep the buffers of multi-threaded zstd at a few MB (its default job size, 8 MB
# at level 3, costs ~60 MB more RSS) and cost no speed, since the dump produces far less than zstd
# compresses.
ZSTD_THREADS = -1
ZSTD_JOB_BYTES = 1 << 20
# A dump of InnoDB data compresses 4-10x with zstd -3; demanding half the data size leaves margin for
# incompressible data while not refusing databases that would fit.
ESTIMATED_COMPRESSED_FRACTION = 0.5
MIN_FREE_BYTES = 1 << 20
STDERR_TAIL_BYTES = 4000
LOCK_NAME = ".mutuapix-snapshot.lock"


class SnapshotError(MutuapixError):
    """The snapshot could not be taken; no file under a final snapshot name was written."""


class DumpFailedError(SnapshotError):
    """The dump tool exited with an error or its output ended early."""


class NoSpaceError(SnapshotError):
    """The destination lacks room for the snapshot (predicted before starting, or hit while writing)."""


@dataclass(frozen=True)
class ServerFacts:
    """What a snapshot needs to know about the server before it starts."""

    version: str
    flavor: str
    databases: list
    all_databases: bool
    data_bytes: int
    log_bin: bool
    gtid_position: str
    database_options: dict


def require_zstandard() -> None:
    if zstandard is None:
        raise MissingLibraryError("the zstandard library is required (Debian: python3-zstandard)", library="zstandard")


def utc_now() -> datetime:
    return datetime.now(UTC)


def inspect_server(params: ConnectionParams, databases: list | None) -> ServerFacts:
    """Connect once and gather version, the databases to dump, their size and binlog settings."""
    conn = connect(params)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT VERSION(), @@log_bin")
            version, log_bin = cursor.fetchone()
            names = resolve_databases(cursor, databases)
            return ServerFacts(
                version=version,
                flavor=server_flavor(version),
                databases=names,
                all_databases=not databases,
                data_bytes=data_bytes(cursor, names),
                log_bin=bool(int(log_bin)),
                gtid_position=gtid_position(cursor, version),
                database_options=database_options(cursor, names),
            )
    finally:
        conn.close()


def resolve_databases(cursor, databases: list | None) -> list:
    if not databases:
        return list_user_databases(cursor)
    missing = [name for name in databases if not database_exists(cursor, name)]
    if missing:
        raise UnknownDatabaseError(f"database(s) {', '.join(missing)} do not exist on the server", databases=missing)
    return list(databases)


def data_bytes(cursor, databases: list) -> int:
    if not databases:
        return 0
    placeholders = ", ".join(["%s"] * len(databases))
    query = "SELECT COALESCE(SUM(DATA_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (%s)"
    cursor.execute(query % placeholders, databases)
    return int(cursor.fetchone()[0])


def gtid_position(cursor, version: str) -> str:
    query = "SELECT @@gtid_binlog_pos" if server_flavor(version) == "mariadb" else "SELECT @@gtid_executed"
    try:
        cursor.execute(query)
    except Exception:
        return ""
    return (cursor.fetchone()[0] or "").strip()


def database_options(cursor, databases: list) -> dict:
    options = {}
    for name in databases:
        cursor.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = %s",
            (name,),
        )
        charset, collation = cursor.fetchone()
        options[name] = {"charset": charset, "collation": collation}
    return options


def free_bytes(directory: str) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def check_free_space(directory: str, facts: ServerFacts) -> int:
    """Refuse before starting when the destination cannot hold the estimated snapshot."""
    needed = max(int(facts.data_bytes * ESTIMATED_COMPRESSED_FRACTION), MIN_FREE_BYTES)
    available = free_bytes(directory)
    if available < needed:
        raise NoSpaceError(
            f"not enough space in {directory}: about {needed} bytes needed for a snapshot of "
            f"{facts.data_bytes} bytes of data, {available} available",
            directory=directory,
            needed_bytes=needed,
            available_bytes=available,
        )
    return needed


def dump_command(tools: ClientTools, option_file: str, facts: ServerFacts) -> list:
    """The dump invocation; the option file must come first, as the client tools require."""
    argv = [
        tools.dump,
        f"--defaults-extra-file={option_file}",
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--tz-utc",
        "--default-character-set=utf8mb4",
        "--max-allowed-packet=1G",
    ]
    argv += binlog_options(tools, facts)
    if len(facts.databases) == 1 and not facts.all_databases:
        # A single database is dumped without CREATE DATABASE/USE, so `zstd -dc F | mysql OTHER` works.
        argv.append(facts.databases[0])
    else:
        argv += ["--databases", *facts.databases]
    return argv


def binlog_options(tools: ClientTools, facts: ServerFacts) -> list:
    """Record the binlog position inside the dump's consistent read (as a comment), when there is one."""
    if not facts.log_bin:
        return []
    if tools.flavor == "mysql" and version_tuple(tools.dump_version) >= (8, 0, 26):
        return ["--source-data=2"]
    options = ["--master-data=2"]
    if tools.flavor == "mariadb" and facts.gtid_position:
        options.append("--gtid")
    return options


class HashingWriter:
    """A file-like sink that hashes and counts what passes through to ``handle``."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.bytes_written = 0

    def write(self, data) -> int:
        self.handle.write(data)
        self.sha256.update(data)
        self.bytes_written += len(data)
        return len(data)

    def flush(self) -> None:
        self.handle.flush()


@dataclass
class StreamResult:
    raw_bytes: int
    compressed_bytes: int
    sha256: str
    scanner: DumpScanner
    frames: list


def stream_dump(argv: list, handle, scanner: DumpScanner, spawn: Callable, compression_level: int) -> StreamResult:
    """Run the dump and stream its output through zstd and sha256 into ``handle``."""
    sink = HashingWriter(handle)
    compressor = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            compression_level, threads=ZSTD_THREADS, job_size=ZSTD_JOB_BYTES, write_checksum=1
        )
    )
    raw_bytes, frames = 0, []
    with tempfile.TemporaryFile() as stderr_file:
        process = spawn(argv, stdout=subprocess.PIPE, stderr=stderr_file)
        reader = ReadAhead(process.stdout)
        try:
            with compressor.stream_writer(sink, closefd=False) as writer:

                def chunks():
                    nonlocal raw_bytes
                    for chunk in reader.chunks():
                        raw_bytes += len(chunk)
                        yield chunk

                def start_frame(database, table):
                    # One zstd frame per table: a restore can decompress tables independently and
                    # load them in parallel, while `zstd -dc` still reads the file as one stream.
                    writer.flush(zstandard.FLUSH_FRAME)
                    frames.append({"database": database, "table": table, "offset": sink.bytes_written})

                scanner.scan(chunks(), emit=writer.write, on_table=start_frame)
            returncode = process.wait()
        except BaseException:
            stop_process(process)
            raise
        finally:
            reader.stop()
        check_dump_outcome(returncode, scanner, read_tail(stderr_file))
    return StreamResult(raw_bytes, sink.bytes_written, sink.sha256.hexdigest(), scanner, frames)


class ReadAhead:
    """Read a pipe on its own thread, a few chunks ahead, so the dump never waits while we hash,
    compress and count (the pipe read releases the GIL)."""

    DEPTH = 8

    def __init__(self, stream) -> None:
        self.stream = stream
        self.queue: queue.Queue = queue.Queue(maxsize=self.DEPTH)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.pump, daemon=True)
        self.thread.start()

    def pump(self) -> None:
        try:
            for chunk in iter(lambda: self.stream.read(CHUNK_BYTES), b""):
                if not self.put(chunk):
                    return
            self.put(None)
        except Exception as exc:
            self.put(exc)

    def put(self, item) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def chunks(self):
        while (item := self.queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


def stop_process(process) -> None:
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()


def read_tail(handle) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - STDERR_TAIL_BYTES))
    return handle.read().decode("utf-8", "replace").strip()


def check_dump_outcome(returncode: int, scanner: DumpScanner, stderr: str) -> None:
    if returncode != 0:
        said = stderr or "no error output (the server reported an error or the connection was lost)"
        raise DumpFailedError(f"the dump failed (exit code {returncode}): {said}", rc=returncode, stderr=stderr)
    if not scanner.summary.completed:
        raise DumpFailedError(
            "the dump output ended without its completion line; the snapshot would be incomplete",
            rc=returncode,
            stderr=stderr,
        )


def build_manifest(
    *,
    stem: str,
    facts: ServerFacts,
    tools: ClientTools,
    label: str,
    started_at: datetime,
    finished_at: datetime,
    stream: StreamResult,
    compression_level: int,
) -> dict:
    summary = stream.scanner.summary
    tables = {
        manifest_lib.table_key(database, table): {"database": database, "table": table, "rows": rows}
        for (database, table), rows in sorted(summary.rows.items())
    }
    objects = {
        database: {
            "views": sorted(summary.views.get(database, [])),
            "triggers": sorted(summary.triggers.get(database, [])),
            "routines": sorted(summary.routines.get(database, [])),
            "events": sorted(summary.events.get(database, [])),
        }
        for database in facts.databases
    }
    return {
        "format": manifest_lib.FORMAT,
        "snapshot_file": stem + manifest_lib.SNAPSHOT_SUFFIX,
        "sha256": stream.sha256,
        "compressed_bytes": stream.compressed_bytes,
        "raw_bytes": stream.raw_bytes,
        "compression": {"algorithm": "zstd", "level": compression_level},
        "databases": list(facts.databases),
        "all_databases": facts.all_databases,
        "database_options": facts.database_options,
        "label": label,
        "started_at": manifest_lib.iso_utc(started_at),
        "finished_at": manifest_lib.iso_utc(finished_at),
        "host": socket.getfqdn(),
        "server": {"flavor": facts.flavor, "version": facts.version},
        "binlog": {"file": summary.binlog_file, "position": summary.binlog_position},
        "gtid": summary.gtid or None,
        "tables": tables,
        "objects": objects,
        "frames": stream.frames,
        "tools": tools.as_manifest(),
    }


def claim_stem(directory: str, databases: list | None, label: str, clock: Callable) -> tuple:
    """A start time whose stem is not taken yet: two snapshots in the same second wait for the next one."""
    while True:
        started_at = clock().replace(microsecond=0)
        stem = manifest_lib.snapshot_stem(started_at, databases, label)
        path = os.path.join(directory, stem + manifest_lib.SNAPSHOT_SUFFIX)
        if not os.path.exists(path) and not os.path.exists(manifest_lib.manifest_path_for(path)):
            return started_at, stem, path
        time.sleep(1.05 - clock().microsecond / 1e6)


@dataclass(frozen=True)
class SnapshotPlan:
    """The outcome of the checks made before writing: what would be dumped, with which tools, where."""

    directory: str
    tools: ClientTools
    facts: ServerFacts
    estimated_bytes: int
    free_bytes: int

    def report(self) -> dict:
        return {
            "directory": self.directory,
            "databases": list(self.facts.databases),
            "server": {"flavor": self.facts.flavor, "version": self.facts.version},
            "tools": self.tools.as_manifest(),
            "estimated_bytes": self.estimated_bytes,
            "free_bytes": self.free_bytes,
        }


def plan_snapshot(
    params: ConnectionParams,
    directory: str,
    databases: list | None,
    label: str,
    *,
    runner: Runner = run_command,
    tools: ClientTools | None = None,
) -> SnapshotPlan:
    """Everything a snapshot checks before writing, without writing: for check mode and preflight."""
    manifest_lib.validate_label(label)
    require_zstandard()
    tools = tools or detect_client_tools(runner)
    facts = inspect_server(params, databases)
    existing = nearest_existing_dir(directory)
    needed = check_free_space(existing, facts)
    return SnapshotPlan(directory, tools, facts, needed, free_bytes(existing))


def nearest_existing_dir(directory: str) -> str:
    path = os.path.abspath(directory)
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    return path


def take_snapshot(
    params: ConnectionParams,
    directory: str,
    databases: list | None,
    label: str,
    *,
    runner: Runner = run_command,
    spawn: Callable = subprocess.Popen,
    tools: ClientTools | None = None,
    compression_level: int = 3,
    clock: Callable = utc_now,
) -> dict:
    """Take a snapshot of ``databases`` (None: every user database) into ``directory``; return a report."""
    plan = plan_snapshot(params, directory, databases, label, runner=runner, tools=tools)
    tools, facts = plan.tools, plan.facts
    os.makedirs(directory, mode=0o750, exist_ok=True)
    with run_lock(os.path.join(directory, LOCK_NAME)):
        started_at, stem, path = claim_stem(directory, databases, label, clock)
        clock_start = time.monotonic()
        manifest = write_snapshot(params, path, stem, facts, tools, label, started_at, spawn, compression_level, clock)
    duration = max(time.monotonic() - clock_start, 1e-6)
    return {
        "path": path,
        "manifest_path": manifest_lib.manifest_path_for(path),
        "manifest": manifest,
        "compressed_bytes": manifest["compressed_bytes"],
        "raw_bytes": manifest["raw_bytes"],
        "duration_seconds": round(duration, 3),
        "throughput_mb_per_second": round(manifest["raw_bytes"] / duration / 1e6, 2),
    }


def write_snapshot(params, path, stem, facts, tools, label, started_at, spawn, compression_level, clock) -> dict:
    """Stream the dump to a temporary file, write the manifest, then give the data its final name."""
    manifest_path = manifest_lib.manifest_path_for(path)
    data_renamed = False
    try:
        with atomic_writer(path, mode=0o600) as handle, client_option_file(params) as option_file:
            scanner = DumpScanner(facts.databases[0] if len(facts.databases) == 1 else None, keep_text=False)
            argv = dump_command(tools, option_file, facts)
            stream = stream_dump(argv, handle, scanner, spawn, compression_level)
            handle.flush()
            os.fsync(handle.fileno())
            manifest = build_manifest(
                stem=stem,
                facts=facts,
                tools=tools,
                label=label,
                started_at=started_at,
                finished_at=clock(),
                stream=stream,
                compression_level=compression_level,
            )
            write_json_atomic(manifest_path, manifest, mode=0o600)
        data_renamed = True
        return manifest
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpaceError(
                f"the disk holding {os.path.dirname(path)} filled up while writing the snapshot; "
                "the partial file was removed and earlier snapshots are untouched",
                directory=os.path.dirname(path),
                errno=exc.errno,
            ) from exc
        raise SnapshotError(f"cannot write the snapshot {path}: {exc}", path=path) from exc
    finally:
        if not data_renamed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(manifest_path)
