"""The queue probe's health rules, as tables: observations in, findings (level + evidence) out."""

from __future__ import annotations

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils import queue_rules as r

T = r.Thresholds()
NOW = 1_000_000.0


def levels(findings: list) -> list:
    return [(f["rule"], f["level"]) for f in findings]


@pytest.mark.parametrize(
    ("statename", "expected"),
    [
        ("RUNNING", []),
        ("STARTING", [("not_running", "warning")]),
        ("BACKOFF", [("not_running", "warning")]),
        ("STOPPING", [("not_running", "warning")]),
        ("STOPPED", [("not_running", "critical")]),
        ("EXITED", [("not_running", "critical")]),
        ("FATAL", [("not_running", "critical")]),
        ("UNKNOWN", [("not_running", "critical")]),
    ],
)
def test_process_state(statename, expected):
    findings = r.process_state("w:w_00", statename, 12, "")
    assert levels(findings) == expected
    if findings:
        assert findings[0]["evidence"] == {"state": statename, "exit_status": 12, "spawn_error": None}


def test_no_workers_is_critical_only_when_nothing_runs():
    assert r.no_workers(2, ["w"]) == []
    (finding,) = r.no_workers(0, ["w"])
    assert (finding["level"], finding["evidence"]) == ("critical", {"programs": ["w"]})


def exit_at(age: float, status: int | None = 1, signal: str | None = None, gave_up: bool = False) -> dict:
    return {"at": NOW - age, "exit_status": status, "signal": signal, "gave_up": gave_up}


@pytest.mark.parametrize(
    ("events", "expected", "last_status", "last_signal"),
    [
        ([], [], None, None),
        ([exit_at(10, 0), exit_at(5, 0)], [], None, None),  # recycling on purpose is not a restart
        ([exit_at(10, 12)], [("restarted", "warning")], 12, None),
        ([exit_at(10, None, "SIGKILL")], [("restarted", "warning")], None, "SIGKILL"),
        ([exit_at(700, 1)], [], None, None),  # outside the window
        ([exit_at(30, 1), exit_at(20, 12), exit_at(10, 1)], [("flapping", "critical")], 1, None),
        ([exit_at(30, 1), exit_at(20, 0), exit_at(10, 1)], [("restarted", "warning")], 1, None),
        ([exit_at(10, 1), exit_at(5, None, gave_up=True)], [("flapping", "critical")], 1, None),
    ],
)
def test_restarts(events, expected, last_status, last_signal):
    findings = r.restarts("w", events, NOW, T)
    assert levels(findings) == expected
    if findings:
        assert findings[0]["evidence"]["last_exit_status"] == last_status
        assert findings[0]["evidence"]["last_signal"] == last_signal


@pytest.mark.parametrize(
    ("status", "signal", "text"),
    [
        (0, None, "exit 0: recycled"),
        (12, None, "exit 12: reached its --memory limit"),
        (1, None, "exit 1: crashed or a job exceeded --timeout"),
        (None, "SIGKILL", "killed by SIGKILL"),
    ],
)
def test_describe_exit(status, signal, text):
    assert r.describe_exit(status, signal).startswith(text)


@pytest.mark.parametrize(
    ("pending", "age", "expected"),
    [
        (0, None, []),
        (5, None, []),  # an age Laravel did not record cannot be judged
        (5, 299.0, []),
        (5, 300.0, [("stalled_oldest_job", "critical")]),
        (0, 900.0, []),
    ],
)
def test_stalled_by_age(pending, age, expected):
    findings = r.stalled_by_age("redis:default", pending, age, T)
    assert levels(findings) == expected
    if findings:
        assert findings[0]["evidence"] == {"pending": pending, "oldest_pending_age": age, "threshold": 300}


@pytest.mark.parametrize(
    ("previous", "head", "pending", "since"),
    [
        (None, "7", 3, NOW),
        ({"head_job": "7", "head_since": NOW - 50}, "7", 3, NOW - 50),  # same job still first: keep since
        ({"head_job": "7", "head_since": NOW - 50}, "8", 3, NOW),  # progress: the head moved
        ({"head_job": "7", "head_since": NOW - 50}, None, 0, NOW),  # drained
    ],
)
def test_track_head(previous, head, pending, since):
    assert r.track_head(previous, head, pending, NOW) == {"head_job": head, "head_since": since}


@pytest.mark.parametrize(
    ("pending", "head", "waited", "expected"),
    [
        (3, "7", 299, []),
        (3, "7", 300, [("stalled_no_progress", "critical")]),
        (0, None, 900, []),
        (3, None, 900, []),
    ],
)
def test_stalled_no_progress(pending, head, waited, expected):
    findings = r.stalled_no_progress(
        "database:default", pending, {"head_job": head, "head_since": NOW - waited}, NOW, T
    )
    assert levels(findings) == expected


@pytest.mark.parametrize(
    ("total", "expected"),
    [(0, []), (100, []), (101, [("failed_jobs", "critical")]), (150, [("failed_jobs", "critical")])],
)
def test_failed_total_default_threshold_is_100(total, expected):
    assert levels(r.failed_total("database:default", total, 3, 3600, T)) == expected


@pytest.mark.parametrize(
    ("previous", "total", "expected"),
    [
        (None, 50, []),
        ({"probed_at": NOW - 60}, 50, []),  # a previous probe without a count (redis without database)
        ({"probed_at": NOW - 60, "failed_total": 40}, 50, []),  # exactly 10/min is not over
        ({"probed_at": NOW - 60, "failed_total": 39}, 50, [("failed_jobs_rate", "warning")]),
        ({"probed_at": NOW - 60, "failed_total": 60}, 50, []),  # pruned (queue:prune-failed): not growth
        ({"probed_at": NOW, "failed_total": 0}, 50, []),
    ],
)
def test_failed_rate(previous, total, expected):
    assert levels(r.failed_rate("q", total, previous, NOW, T)) == expected


@pytest.mark.parametrize(
    ("rss", "limit", "expected"),
    [
        (None, 512, []),
        (400, None, []),
        (460, 512, []),
        (461, 512, [("memory_near_limit", "warning")]),
        (600, 512, [("memory_near_limit", "warning")]),
    ],
)
def test_memory_near_limit(rss, limit, expected):
    assert levels(r.memory_near_limit("w", rss, limit, T)) == expected


@pytest.mark.parametrize(
    ("found", "status"),
    [([], "ok"), (["ok", "warning"], "warning"), (["warning", "critical", "ok"], "critical")],
)
def test_overall_status_is_the_worst_level(found, status):
    findings = [r.finding("x", level, "s", "m") for level in found]
    assert r.overall_status(findings) == status
    assert r.at_least(findings, status)
    assert r.at_least(findings, "ok")
