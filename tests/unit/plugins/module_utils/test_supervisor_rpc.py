"""Parsing supervisord's main log into exit events (the restarts supervisord itself does not count)."""

from __future__ import annotations

import time

from ansible_collections.mutuapix.infra.plugins.module_utils.supervisor_rpc import ProcessInfo, parse_exit_events

LOG = """\
2026-11-28 14:00:00,001 INFO spawned: 'worker_00' with pid 101
2026-11-28 14:00:01,002 INFO success: worker_00 entered RUNNING state, process has stayed up for > than 1 seconds
2026-11-28 14:05:00,003 WARN exited: worker_00 (exit status 12; not expected)
2026-11-28 14:06:00,004 INFO exited: worker_01 (exit status 0; expected)
2026-11-28 14:07:00,005 WARN exited: worker_00 (terminated by SIGKILL; not expected)
2026-11-28 14:07:30,005 WARN exited: worker_02 (terminated by SIGSEGV (core dumped); not expected)
2026-11-28 14:08:00,006 INFO gave up: worker_02 entered FATAL state, too many start retries too quickly
"""


def stamp(text: str) -> float:
    return time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def test_exit_lines_become_events():
    events = parse_exit_events(LOG)
    assert [(e.name, e.exit_status, e.signal, e.expected, e.gave_up) for e in events] == [
        ("worker_00", 12, None, False, False),
        ("worker_01", 0, None, True, False),
        ("worker_00", None, "SIGKILL", False, False),
        ("worker_02", None, "SIGSEGV", False, False),
        ("worker_02", None, None, False, True),
    ]
    assert events[0].at == stamp("2026-11-28 14:05:00")


def test_other_lines_and_a_torn_first_line_are_ignored():
    assert parse_exit_events("tatus 12; not expected)\n" + LOG.splitlines()[0]) == []


def test_process_names_and_uptime():
    grouped = ProcessInfo("workers", "workers_00", "RUNNING", 10, 100, 160, 0, "")
    single = ProcessInfo("scheduler", "scheduler", "EXITED", 0, 100, 160, 0, "")
    assert (grouped.full_name, grouped.uptime) == ("workers:workers_00", 60)
    assert (single.full_name, single.uptime) == ("scheduler", 0)
