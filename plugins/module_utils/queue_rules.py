# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health rules of the queue probe: pure functions from observations to findings.

Each rule returns zero or more findings ``{rule, level, subject, message, evidence}``; the overall
status is the worst level found. Nothing here reads the clock, the network or a file, so every rule is
tested with plain tables.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARNING, CRITICAL = "ok", "warning", "critical"
LEVELS = (OK, WARNING, CRITICAL)

# Laravel's worker exit codes (Illuminate\Queue\Worker::EXIT_*).
EXIT_SUCCESS, EXIT_ERROR, EXIT_MEMORY_LIMIT = 0, 1, 12

# Supervisor states that mean the worker is coming back on its own, versus ones that need a person.
TRANSIENT_STATES = ("STARTING", "BACKOFF", "STOPPING")


@dataclass(frozen=True)
class Thresholds:
    stalled_after: float = 300
    no_progress_after: float = 300
    failed_threshold: int = 100
    failed_rate_per_minute: float = 10
    flapping_restarts: int = 3
    restart_window: float = 600
    memory_warning_ratio: float = 0.9


def finding(rule: str, level: str, subject: str, message: str, **evidence) -> dict:
    return {"rule": rule, "level": level, "subject": subject, "message": message, "evidence": evidence}


def overall_status(findings: list[dict]) -> str:
    return max((f["level"] for f in findings), key=LEVELS.index, default=OK)


def at_least(findings: list[dict], level: str) -> bool:
    return LEVELS.index(overall_status(findings)) >= LEVELS.index(level)


def no_workers(process_count: int, programs: list[str]) -> list[dict]:
    if process_count:
        return []
    wanted = ", ".join(programs) if programs else "any program"
    return [
        finding("no_workers", CRITICAL, "supervisor", f"supervisord runs no process for {wanted}", programs=programs)
    ]


def process_state(name: str, statename: str, exitstatus: int, spawnerr: str) -> list[dict]:
    """A worker that is not RUNNING: critical if it stays down, a warning while supervisord retries it."""
    if statename == "RUNNING":
        return []
    level = WARNING if statename in TRANSIENT_STATES else CRITICAL
    return [
        finding(
            "not_running",
            level,
            name,
            f"worker {name} is {statename}",
            state=statename,
            exit_status=exitstatus,
            spawn_error=spawnerr or None,
        )
    ]


def describe_exit(exit_status: int | None, signal: str | None) -> str:
    if signal:
        return f"killed by {signal}"
    if exit_status == EXIT_MEMORY_LIMIT:
        return "exit 12: reached its --memory limit"
    if exit_status == EXIT_SUCCESS:
        return "exit 0: recycled (--max-time, --max-jobs or queue:restart)"
    return f"exit {exit_status}: crashed or a job exceeded --timeout"


def restarts(name: str, events: list[dict], now: float, thresholds: Thresholds) -> list[dict]:
    """Unplanned exits of one worker within the window; ``events`` are dicts with at/exit_status/signal/gave_up.

    Exit 0 is Laravel recycling a worker on purpose and is not counted. Any other exit is a warning
    (memory limit, crash, kill); ``flapping_restarts`` of them in the window, or supervisord giving up,
    is critical.
    """
    recent = [e for e in events if now - e["at"] <= thresholds.restart_window]
    unplanned = [e for e in recent if e.get("gave_up") or e.get("signal") or e.get("exit_status") != EXIT_SUCCESS]
    if not unplanned:
        return []
    gave_up = any(e.get("gave_up") for e in unplanned)
    exits = [e for e in unplanned if not e.get("gave_up")]
    level = CRITICAL if gave_up or len(exits) >= thresholds.flapping_restarts else WARNING
    rule = "flapping" if level == CRITICAL else "restarted"
    last = exits[-1] if exits else None
    reason = describe_exit(last["exit_status"], last["signal"]) if last else "supervisord gave up starting it"
    return [
        finding(
            rule,
            level,
            name,
            f"worker {name} exited {len(exits)} time(s) in the last {int(thresholds.restart_window)} s; last: {reason}",
            exits=len(exits),
            window=thresholds.restart_window,
            gave_up=gave_up,
            last_exit_status=last["exit_status"] if last else None,
            last_signal=last["signal"] if last else None,
            last_exit_age=round(now - last["at"], 1) if last else None,
        )
    ]


def stalled_by_age(subject: str, pending: int, oldest_age: float | None, thresholds: Thresholds) -> list[dict]:
    if not pending or oldest_age is None or oldest_age < thresholds.stalled_after:
        return []
    return [
        finding(
            "stalled_oldest_job",
            CRITICAL,
            subject,
            f"{subject}: oldest pending job has waited {int(oldest_age)} s (threshold "
            f"{int(thresholds.stalled_after)} s)",
            pending=pending,
            oldest_pending_age=round(oldest_age, 1),
            threshold=thresholds.stalled_after,
        )
    ]


def track_head(previous: dict | None, head_job: str | None, pending: int, now: float) -> dict:
    """Remember since when the same job has sat at the head of a queue (the probe's state per queue)."""
    if pending and head_job is not None and previous and previous.get("head_job") == head_job:
        return {"head_job": head_job, "head_since": previous["head_since"]}
    return {"head_job": head_job if pending else None, "head_since": now}


def stalled_no_progress(subject: str, pending: int, head: dict, now: float, thresholds: Thresholds) -> list[dict]:
    """Jobs pending and the same one at the head since ``no_progress_after``: no worker is taking them."""
    if not pending or head.get("head_job") is None:
        return []
    waited = now - head["head_since"]
    if waited < thresholds.no_progress_after:
        return []
    return [
        finding(
            "stalled_no_progress",
            CRITICAL,
            subject,
            f"{subject}: no progress for {int(waited)} s: {pending} job(s) pending and job "
            f"{head['head_job']} still first in line",
            pending=pending,
            head_job=head["head_job"],
            unchanged_for=round(waited, 1),
            threshold=thresholds.no_progress_after,
        )
    ]


def failed_total(subject: str, total: int, in_window: int, window: int, thresholds: Thresholds) -> list[dict]:
    if total <= thresholds.failed_threshold:
        return []
    return [
        finding(
            "failed_jobs",
            CRITICAL,
            subject,
            f"{subject}: {total} failed jobs (threshold {thresholds.failed_threshold}); {in_window} in the "
            f"last {window} s",
            failed=total,
            in_window=in_window,
            threshold=thresholds.failed_threshold,
        )
    ]


def failed_rate(subject: str, total: int, previous: dict | None, now: float, thresholds: Thresholds) -> list[dict]:
    """Failed jobs growing faster than ``failed_rate_per_minute`` since the previous probe."""
    if not previous or "failed_total" not in previous:
        return []
    elapsed = now - previous["probed_at"]
    growth = total - previous["failed_total"]
    if elapsed <= 0 or growth <= 0:
        return []
    per_minute = growth * 60 / elapsed
    if per_minute <= thresholds.failed_rate_per_minute:
        return []
    return [
        finding(
            "failed_jobs_rate",
            WARNING,
            subject,
            f"{subject}: {growth} job(s) failed in {int(elapsed)} s ({per_minute:.1f}/min, threshold "
            f"{thresholds.failed_rate_per_minute}/min)",
            new_failures=growth,
            seconds=round(elapsed, 1),
            per_minute=round(per_minute, 2),
            threshold=thresholds.failed_rate_per_minute,
        )
    ]


def memory_near_limit(name: str, rss_mb: float | None, limit_mb: float | None, thresholds: Thresholds) -> list[dict]:
    """RSS close to --memory: Laravel checks only between jobs, so one big job can still push past it."""
    if rss_mb is None or not limit_mb or rss_mb < thresholds.memory_warning_ratio * limit_mb:
        return []
    return [
        finding(
            "memory_near_limit",
            WARNING,
            name,
            f"worker {name} uses {rss_mb:.0f} MB of its {limit_mb:.0f} MB --memory limit",
            rss_mb=round(rss_mb, 1),
            memory_limit_mb=limit_mb,
            ratio=round(rss_mb / limit_mb, 2),
            threshold_ratio=thresholds.memory_warning_ratio,
        )
    ]
