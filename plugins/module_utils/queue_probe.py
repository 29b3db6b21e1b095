# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One probe of Laravel queue workers: ask supervisord, read the queue, apply the rules, report.

The probe reads and never changes the workers or the queue. Its only write is its own small state
file (what sat at the head of each queue and since when, and the failed-job count), which the
no-progress and failure-rate rules compare against on the next probe.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from . import laravel_queue, procfs, queue_rules
from .errors import MutuapixError
from .fsutil import read_json, write_json_atomic
from .supervisor_rpc import SupervisorClient, parse_exit_events

STATE_VERSION = 1


@dataclass(frozen=True)
class DatabaseSettings:
    name: str
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    unix_socket: str | None = None
    jobs_table: str = "jobs"
    failed_jobs_table: str = "failed_jobs"
    retry_after: int = 90


@dataclass(frozen=True)
class RedisSettings:
    host: str = "127.0.0.1"
    port: int = 6379
    username: str | None = None
    password: str | None = None
    db: int = 0
    prefix: str = ""


@dataclass(frozen=True)
class ProbeConfig:
    driver: str
    queues: list = field(default_factory=lambda: ["default"])
    connection: str | None = None
    supervisor_socket: str = "/var/run/supervisor.sock"
    supervisor_username: str | None = None
    supervisor_password: str | None = None
    programs: list = field(default_factory=list)
    database: DatabaseSettings | None = None
    redis: RedisSettings | None = None
    thresholds: queue_rules.Thresholds = field(default_factory=queue_rules.Thresholds)
    failed_window: int = 3600
    memory_limit_mb: float | None = None
    state_file: str | None = None
    write_state: bool = True

    @property
    def connection_name(self) -> str:
        return self.connection or self.driver


def memory_limit_of(pid: int) -> float | None:
    """The ``--memory`` the worker was started with, from its own command line (or a child's, behind a shell)."""
    for candidate in (pid, *procfs.descendants(pid)):
        value = procfs.option_value(procfs.cmdline(candidate), "--memory")
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def read_processes(config: ProbeConfig, now: float) -> tuple[list[dict], list[dict], str]:
    client = SupervisorClient(config.supervisor_socket, config.supervisor_username, config.supervisor_password)
    supervisor_state = client.state()
    wanted = set(config.programs)
    processes = [p for p in client.processes() if not wanted or p.group in wanted or p.full_name in wanted]
    log_text = client.main_log_tail() if processes else None
    events: dict[str, list[dict]] = {}
    for event in parse_exit_events(log_text or ""):
        events.setdefault(event.name, []).append(
            {"at": event.at, "exit_status": event.exit_status, "signal": event.signal, "gave_up": event.gave_up}
        )
    findings = queue_rules.no_workers(len(processes), config.programs)
    report = []
    for process in processes:
        running = process.statename == "RUNNING" and process.pid
        rss_kib = procfs.tree_rss_kib(process.pid) if running else None
        rss_mb = rss_kib / 1024 if rss_kib is not None else None
        limit_mb = config.memory_limit_mb or (memory_limit_of(process.pid) if running else None)
        exits = [e for e in events.get(process.name, []) if now - e["at"] <= config.thresholds.restart_window]
        findings += queue_rules.process_state(
            process.full_name, process.statename, process.exitstatus, process.spawnerr
        )
        findings += queue_rules.restarts(process.full_name, exits, now, config.thresholds)
        findings += queue_rules.memory_near_limit(process.full_name, rss_mb, limit_mb, config.thresholds)
        report.append(
            {
                "name": process.full_name,
                "group": process.group,
                "state": process.statename,
                "pid": process.pid,
                "uptime": process.uptime,
                "exit_status": process.exitstatus,
                "rss_mb": round(rss_mb, 1) if rss_mb is not None else None,
                "memory_limit_mb": limit_mb,
                "exits_in_window": len(exits),
                "last_exit": queue_rules.describe_exit(exits[-1]["exit_status"], exits[-1]["signal"])
                if exits and not exits[-1]["gave_up"]
                else None,
            }
        )
    if log_text is None and processes:
        findings.append(
            queue_rules.finding(
                "restarts_unknown",
                queue_rules.OK,
                "supervisor",
                "supervisord has no readable main log, so past restarts cannot be counted",
                socket=config.supervisor_socket,
            )
        )
    return report, findings, supervisor_state


def read_queue(config: ProbeConfig, now: float) -> tuple[list, laravel_queue.FailedJobs | None]:
    laravel_queue.check_driver(config.driver)
    db = None
    try:
        if config.database is not None:
            if laravel_queue.pymysql is None:
                raise MutuapixError("the pymysql Python library is required to read the queue database")
            settings = config.database
            db = laravel_queue.connect_database(
                settings.host, settings.port, settings.user, settings.password, settings.name, settings.unix_socket
            )
        elif config.driver == "database":
            raise laravel_queue.QueueBackendError("the database driver needs the database settings (its name)")
        if config.driver == "database":
            depths = laravel_queue.database_depths(
                db, config.connection_name, config.queues, config.database.jobs_table, config.database.retry_after, now
            )
        else:
            depths = read_redis(config, now)
        failed = (
            laravel_queue.failed_jobs(
                db, config.connection_name, config.queues, config.failed_window, config.database.failed_jobs_table
            )
            if db is not None
            else None
        )
        return depths, failed
    finally:
        if db is not None:
            db.close()


def read_redis(config: ProbeConfig, now: float) -> list:
    if laravel_queue.redis is None:
        raise MutuapixError("the redis Python library is required to read a Redis queue")
    settings = config.redis or RedisSettings()
    client = laravel_queue.connect_redis(
        settings.host, settings.port, settings.password, settings.username, settings.db
    )
    try:
        return laravel_queue.redis_depths(client, config.connection_name, config.queues, settings.prefix, now)
    finally:
        client.close()


def load_state(path: str | None) -> dict:
    if not path:
        return {}
    try:
        state = read_json(path)
    except FileNotFoundError:
        return {}
    except MutuapixError:
        return {}  # A torn or foreign file only costs one probe's comparison; the next write replaces it.
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else {}


def queue_findings(config: ProbeConfig, depths: list, failed, previous: dict, now: float) -> tuple[list, dict]:
    findings, heads = [], {}
    for depth in depths:
        subject = f"{depth.connection}:{depth.queue}"
        head = queue_rules.track_head(previous.get("queues", {}).get(subject), depth.head_job, depth.pending, now)
        heads[subject] = head
        findings += queue_rules.stalled_by_age(subject, depth.pending, depth.oldest_pending_age, config.thresholds)
        findings += queue_rules.stalled_no_progress(subject, depth.pending, head, now, config.thresholds)
    new_state = {"version": STATE_VERSION, "probed_at": now, "queues": heads}
    if failed is not None:
        subject = f"{config.connection_name}:{','.join(config.queues)}"
        findings += queue_rules.failed_total(subject, failed.total, failed.in_window, failed.window, config.thresholds)
        findings += queue_rules.failed_rate(subject, failed.total, previous, now, config.thresholds)
        new_state["failed_total"] = failed.total
    return findings, new_state


def probe(config: ProbeConfig, now: float | None = None) -> dict:
    """Probe once; raises MutuapixError subclasses when supervisord or the queue backend cannot be read."""
    started = time.monotonic()
    now = time.time() if now is None else now
    processes, findings, supervisor_state = read_processes(config, now)
    depths, failed = read_queue(config, now)
    previous = load_state(config.state_file)
    more, new_state = queue_findings(config, depths, failed, previous, now)
    findings += more
    if config.state_file and config.write_state:
        os.makedirs(os.path.dirname(os.path.abspath(config.state_file)), mode=0o700, exist_ok=True)
        write_json_atomic(config.state_file, new_state)
    return {
        "status": queue_rules.overall_status(findings),
        "findings": findings,
        "processes": processes,
        "queues": [depth.as_dict() for depth in depths],
        "failed_jobs": failed.as_dict() if failed is not None else None,
        "supervisor_state": supervisor_state,
        "probed_at": now,
        "previous_probe_at": previous.get("probed_at"),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
