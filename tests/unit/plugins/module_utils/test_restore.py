"""Restore decisions that need no server: which database, and when force is required."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pymysql
import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils import restore as restore_module
from ansible_collections.mutuapix.infra.plugins.module_utils.restore import (
    RestoreRefusedError,
    check_force,
    choose_source,
    staging_names,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def manifest(databases=("app",), hours_old: float = 1) -> dict:
    finished = NOW - timedelta(hours=hours_old)
    return {"databases": list(databases), "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ")}


@pytest.mark.parametrize(
    ("databases", "asked", "chosen"),
    [(("app",), None, "app"), (("app", "queue"), "queue", "queue"), (("app",), "app", "app")],
)
def test_choose_source(databases, asked, chosen):
    assert choose_source(manifest(databases), asked) == chosen


@pytest.mark.parametrize(
    ("databases", "asked", "match"),
    [(("app", "queue"), None, "name the one"), (("app",), "other", "does not hold")],
)
def test_choose_source_refusals(databases, asked, match):
    with pytest.raises(RestoreRefusedError, match=match):
        choose_source(manifest(databases), asked)


@pytest.mark.parametrize(
    ("target", "hours_old", "force", "refused"),
    [
        ("app", 1, False, None),
        ("app_copy", 1, False, "another name"),
        ("app_copy", 1, True, None),
        ("app", 72, False, "max_age_hours"),
        ("app", 72, True, None),
    ],
)
def test_check_force(target, hours_old, force, refused):
    data = manifest(hours_old=hours_old)
    if refused:
        with pytest.raises(RestoreRefusedError, match=refused):
            check_force(data, "app", target, force=force, max_age_hours=48, now=NOW)
    else:
        facts = check_force(data, "app", target, force=force, max_age_hours=48, now=NOW)
        assert facts == {"snapshot_age_hours": float(hours_old), "renamed": target != "app"}


@pytest.mark.parametrize("target", ["app", "x" * 64, "ünïcode db", "a`b"])
def test_staging_names_are_distinct_and_short(target):
    staging, parked = staging_names(target)
    assert staging != parked and len(staging) <= 64 and len(parked) <= 64
    assert staging_names(target) == (staging, parked)


class FlakyCursor:
    """Fails with the given server error codes, in order, then succeeds."""

    def __init__(self, *codes):
        self.codes = list(codes)
        self.executed = 0

    def execute(self, statement):
        self.executed += 1
        if self.codes:
            raise pymysql.err.OperationalError(self.codes.pop(0), "simulated")


@pytest.mark.parametrize(
    ("codes", "attempts", "fails"),
    [((), 1, False), ((1213,), 2, False), ((1205, 1213), 3, False), ((1213,) * 5, 5, True), ((1146,), 1, True)],
    ids=["ok", "deadlock-once", "timeout-then-deadlock", "always-deadlocked", "not-retryable"],
)
def test_inserts_are_retried_only_after_deadlocks_and_lock_timeouts(codes, attempts, fails, monkeypatch):
    monkeypatch.setattr(restore_module.time, "sleep", lambda seconds: None)
    cursor = FlakyCursor(*codes)
    if fails:
        with pytest.raises(pymysql.err.OperationalError):
            restore_module.execute_with_retry(cursor, b"INSERT INTO t VALUES (1)")
    else:
        restore_module.execute_with_retry(cursor, b"INSERT INTO t VALUES (1)")
    assert cursor.executed == attempts
