"""The queue probe engine against a real supervisord running the stand-in worker, real MariaDB and Redis."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from servers import mariadb, redis_server
from standin.harness import Supervisord, wait_for

from ansible_collections.mutuapix.infra.plugins.module_utils import queue_probe
from ansible_collections.mutuapix.infra.plugins.module_utils.laravel_queue import QueueAuthError, QueueBackendError
from ansible_collections.mutuapix.infra.plugins.module_utils.queue_rules import Thresholds
from ansible_collections.mutuapix.infra.plugins.module_utils.supervisor_rpc import SupervisorError


def probe_config(supervisord, app, driver: str, programs: list, **options) -> queue_probe.ProbeConfig:
    settings = {
        "driver": driver,
        "supervisor_socket": supervisord.socket,
        "programs": programs,
        "database": queue_probe.DatabaseSettings(name=app.env["DB_DATABASE"], host=mariadb.HOST, port=mariadb.PORT),
        "redis": queue_probe.RedisSettings(
            host=redis_server.HOST, port=redis_server.PORT, prefix=app.env["REDIS_PREFIX"]
        ),
    }
    settings.update(options)
    return queue_probe.ProbeConfig(**settings)


def rules(report: dict) -> dict:
    return {f["rule"]: f for f in report["findings"]}


@pytest.mark.parametrize("driver", ["database", "redis"])
def test_healthy_workers_report_ok(supervisord, laravel_app, program_name, driver):
    supervisord.add_program(
        program_name,
        laravel_app.work_command(driver, memory=256),
        numprocs=2,
        process_name="%(program_name)s_%(process_num)02d",
    )
    supervisord.wait_running(program_name, count=2)
    laravel_app.push(driver, count=5)

    def drained():
        report = queue_probe.probe(probe_config(supervisord, laravel_app, driver, [program_name]))
        return report if report["queues"][0]["pending"] == 0 and report["queues"][0]["reserved"] == 0 else None

    report = wait_for(drained, 15, what="the workers to drain the queue")
    assert report["status"] == "ok", report["findings"]
    assert report["findings"] == []
    assert [p["state"] for p in report["processes"]] == ["RUNNING", "RUNNING"]
    for process in report["processes"]:
        assert process["pid"] > 0
        assert 5 < process["rss_mb"] < 256
        assert process["memory_limit_mb"] == 256
        assert process["exits_in_window"] == 0
    assert report["queues"][0] == {
        "connection": driver,
        "queue": "default",
        "pending": 0,
        "delayed": 0,
        "reserved": 0,
        "expired_reservations": 0,
        "oldest_pending_age": None,
        "head_job": None,
    }
    assert report["failed_jobs"]["total"] == 0


def test_killed_worker_is_reported_with_its_signal(supervisord, laravel_app, program_name):
    supervisord.add_program(program_name, laravel_app.work_command("redis"))
    supervisord.add_program(program_name + "_once", laravel_app.work_command("redis"), autorestart="false")
    ((_state, first_pid),) = supervisord.wait_running(program_name).values()
    ((_state, once_pid),) = supervisord.wait_running(program_name + "_once").values()

    os.kill(first_pid, signal.SIGKILL)
    os.kill(once_pid, signal.SIGKILL)
    wait_for(
        lambda: supervisord.status(program_name)[program_name][1] not in (0, first_pid),
        10,
        what="supervisord to restart the killed worker",
    )
    supervisord.wait_running(program_name)

    report = queue_probe.probe(probe_config(supervisord, laravel_app, "redis", [program_name, program_name + "_once"]))
    assert report["status"] == "critical"
    by_subject = {(f["rule"], f["subject"]): f for f in report["findings"]}
    restarted = by_subject[("restarted", program_name)]
    assert restarted["level"] == "warning"
    assert restarted["evidence"]["last_signal"] == "SIGKILL"
    assert restarted["evidence"]["exits"] == 1
    stopped = by_subject[("not_running", program_name + "_once")]
    assert stopped["level"] == "critical"
    assert stopped["evidence"]["state"] == "EXITED"


def test_hung_worker_is_stalled_by_age_and_by_no_progress(supervisord, laravel_app, program_name, tmp_path):
    supervisord.add_program(program_name, laravel_app.work_command("database", timeout=300), stopwaitsecs=1)
    supervisord.wait_running(program_name)
    laravel_app.push("database", "sleep", seconds=120)
    wait_for(lambda: probe_reserved(supervisord, laravel_app, program_name) == 1, 10, what="the hung job")
    laravel_app.push("database", count=3)
    state_file = str(tmp_path / "state" / "queue-probe.json")
    config = probe_config(
        supervisord,
        laravel_app,
        "database",
        [program_name],
        state_file=state_file,
        thresholds=Thresholds(stalled_after=1.5, no_progress_after=1),
    )

    first = queue_probe.probe(config)
    assert "stalled_no_progress" not in rules(first)
    assert first["queues"][0]["pending"] == 3
    time.sleep(2)
    second = queue_probe.probe(config)

    assert second["status"] == "critical"
    assert second["previous_probe_at"] == first["probed_at"]
    by_age = rules(second)["stalled_oldest_job"]
    assert by_age["subject"] == "database:default"
    assert by_age["evidence"]["pending"] == 3
    assert by_age["evidence"]["oldest_pending_age"] >= 1.5
    no_progress = rules(second)["stalled_no_progress"]
    assert no_progress["evidence"]["head_job"] == first["queues"][0]["head_job"]
    assert no_progress["evidence"]["unchanged_for"] >= 1
    assert [p["state"] for p in second["processes"]] == ["RUNNING"]
    assert oct(os.stat(state_file).st_mode & 0o777) == "0o600"


def probe_reserved(supervisord, app, program_name) -> int:
    return queue_probe.probe(probe_config(supervisord, app, "database", [program_name]))["queues"][0]["reserved"]


def test_150_failed_jobs_cross_the_threshold_and_the_rate(supervisord, laravel_app, program_name, tmp_path):
    state_file = str(tmp_path / "queue-probe.json")
    config = probe_config(supervisord, laravel_app, "database", [program_name], state_file=state_file)
    supervisord.add_program(program_name, laravel_app.work_command("database", sleep=0.05))
    supervisord.wait_running(program_name)
    assert queue_probe.probe(config)["status"] == "ok"

    laravel_app.push("database", "fail", count=150)
    wait_for(lambda: laravel_app.failed_count() == 150, 60, interval=0.5, what="150 failed jobs")
    report = queue_probe.probe(config)

    assert report["status"] == "critical"
    failed = rules(report)["failed_jobs"]
    assert failed["evidence"] == {"failed": 150, "in_window": 150, "threshold": 100}
    assert rules(report)["failed_jobs_rate"]["evidence"]["new_failures"] == 150
    assert report["failed_jobs"]["by_queue"] == {"default": 150}


def test_leaking_worker_hits_memory_limit_and_supervisor_restarts_it(supervisord, laravel_app, program_name):
    supervisord.add_program(program_name, laravel_app.work_command("redis", memory=80))
    ((_state, first_pid),) = supervisord.wait_running(program_name).values()
    laravel_app.push("redis", "leak", count=4, megabytes=24)

    wait_for(
        lambda: supervisord.status(program_name)[program_name][1] not in (0, first_pid),
        30,
        what="the leaking worker to exit and be restarted",
    )
    supervisord.wait_running(program_name)
    report = queue_probe.probe(probe_config(supervisord, laravel_app, "redis", [program_name]))

    restarted = rules(report)["restarted"]
    assert restarted["level"] == "warning"
    assert restarted["evidence"]["last_exit_status"] == 12
    assert "--memory" in restarted["message"]
    (process,) = report["processes"]
    assert process["state"] == "RUNNING"
    assert process["pid"] != first_pid
    assert process["last_exit"].startswith("exit 12")


def test_worker_reaching_max_time_comes_back_only_with_autorestart_true(supervisord, laravel_app, program_name):
    recycled, left_down = program_name, program_name + "_unexpected"
    supervisord.add_program(recycled, laravel_app.work_command("redis", max_time=2))
    # supervisor's default: exit code 0 is "expected", so the recycled worker is left stopped.
    supervisord.add_program(left_down, laravel_app.work_command("redis", max_time=2), autorestart="unexpected")
    ((_state, first_pid),) = supervisord.wait_running(recycled).values()

    wait_for(lambda: supervisord.status(left_down)[left_down][0] == "EXITED", 15, what="--max-time exit")
    wait_for(lambda: supervisord.status(recycled)[recycled][1] not in (0, first_pid), 10, what="a new worker")
    supervisord.wait_running(recycled)
    report = queue_probe.probe(probe_config(supervisord, laravel_app, "redis", [recycled, left_down]))

    by_name = {p["name"]: p for p in report["processes"]}
    assert by_name[recycled]["state"] == "RUNNING"
    assert by_name[recycled]["last_exit"].startswith("exit 0: recycled")
    assert by_name[left_down]["state"] == "EXITED"
    assert [(f["rule"], f["subject"]) for f in report["findings"]] == [("not_running", left_down)]


def test_missing_supervisord_socket_is_a_clear_error(laravel_app, tmp_path):
    config = queue_probe.ProbeConfig(driver="redis", supervisor_socket=str(tmp_path / "supervisor.sock"))
    with pytest.raises(SupervisorError, match="supervisord is not running: no socket at"):
        queue_probe.probe(config)


def test_stale_supervisord_socket_is_a_clear_error(tmp_path):
    path = str(tmp_path / "supervisor.sock")
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(path)
    with pytest.raises(SupervisorError, match="refuses connections"):
        queue_probe.probe(queue_probe.ProbeConfig(driver="redis", supervisor_socket=path))


def test_unreachable_database_is_a_clear_error(supervisord, laravel_app):
    config = probe_config(
        supervisord,
        laravel_app,
        "database",
        [],
        database=queue_probe.DatabaseSettings(name="laravel", host="127.0.0.1", port=1),
    )
    with pytest.raises(QueueBackendError, match="unreachable") as caught:
        queue_probe.probe(config)
    assert caught.value.details["server"] == "127.0.0.1:1"


def test_redis_auth_failure_is_a_clear_error(supervisord, laravel_app):
    config = probe_config(
        supervisord,
        laravel_app,
        "redis",
        [],
        redis=queue_probe.RedisSettings(username="nobody", password="wrong-password"),
    )
    with pytest.raises(QueueAuthError, match="rejected the credentials"):
        queue_probe.probe(config)


def test_unknown_driver_is_a_clear_error(supervisord, laravel_app):
    with pytest.raises(QueueBackendError, match="unknown queue driver 'sqs'"):
        queue_probe.probe(probe_config(supervisord, laravel_app, "sqs", []))


def test_database_auth_failure_is_a_clear_error(supervisord, laravel_app):
    settings = queue_probe.DatabaseSettings(
        name=laravel_app.env["DB_DATABASE"],
        host=mariadb.HOST,
        port=mariadb.PORT,
        user="mtx_nobody",
        password="wrong-password",
    )
    with pytest.raises(QueueAuthError, match="refused user 'mtx_nobody'") as caught:
        queue_probe.probe(probe_config(supervisord, laravel_app, "database", [], database=settings))
    assert caught.value.details["error_code"] in (1045, 1698)  # MariaDB answers 1698 for an unknown user


def test_missing_jobs_table_is_a_clear_error(supervisord, laravel_app):
    with mariadb.connect(laravel_app.env["DB_DATABASE"]) as conn, conn.cursor() as cursor:
        cursor.execute("DROP TABLE jobs")
    with pytest.raises(QueueBackendError, match=r"reading the queue tables failed: .*jobs' doesn't exist"):
        queue_probe.probe(probe_config(supervisord, laravel_app, "database", []))


def test_socket_credentials_are_sent_and_checked(tmp_path, laravel_app):
    password = "p@ss:w0rd/with-odd-chars"
    server = Supervisord(str(tmp_path / "auth"), username="probe", password=password)
    os.makedirs(server.directory)
    server.start()
    try:
        allowed = queue_probe.ProbeConfig(
            driver="redis",
            supervisor_socket=server.socket,
            supervisor_username="probe",
            supervisor_password=password,
            redis=probe_config(server, laravel_app, "redis", []).redis,
        )
        assert queue_probe.probe(allowed)["supervisor_state"] == "RUNNING"
        refused = queue_probe.ProbeConfig(
            driver="redis", supervisor_socket=server.socket, supervisor_username="probe", supervisor_password="wrong"
        )
        with pytest.raises(SupervisorError, match="HTTP 401") as caught:
            queue_probe.probe(refused)
        assert password not in str(caught.value.to_dict())
    finally:
        server.stop()


def test_expired_reservations_count_as_pending_in_both_drivers(supervisord, laravel_app):
    """A job whose worker died mid-way is reserved until retry_after, then available again to Laravel."""
    now = int(time.time())
    with laravel_app.db() as conn, conn.cursor() as cursor:
        for reserved_at in (now - 200, now - 5):
            cursor.execute(
                "INSERT INTO jobs (queue, payload, attempts, reserved_at, available_at, created_at)"
                " VALUES ('default', '{}', 1, %s, %s, %s)",
                (reserved_at, reserved_at, reserved_at),
            )
    client = laravel_app.redis()
    reserved_key = f"{laravel_app.env['REDIS_PREFIX']}queues:default:reserved"
    client.zadd(reserved_key, {'{"id": "dead-worker-job"}': now - 30, '{"id": "live-job"}': now + 60})

    for driver in ("database", "redis"):
        (depth,) = queue_probe.probe(probe_config(supervisord, laravel_app, driver, []))["queues"]
        assert (depth["pending"], depth["reserved"], depth["expired_reservations"]) == (1, 1, 1), driver
        assert depth["oldest_pending_age"] >= 30, driver
    assert depth["head_job"] == "dead-worker-job"
