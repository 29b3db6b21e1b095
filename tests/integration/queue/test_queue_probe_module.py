"""queue_probe through a real ansible-playbook: argument spec, check mode, no_log and fail_on as users see them."""

from __future__ import annotations

import os
import signal

from ansible_run import localhost_play, run_playbook
from servers import mariadb, redis_server
from standin.harness import wait_for

SECRET = "Zq8-not-a-real-password-4c1f0e"


def probe_task(name: str, supervisord, app, **options) -> dict:
    args = {
        "driver": "redis",
        "supervisor_socket": supervisord.socket,
        "redis_host": redis_server.HOST,
        "redis_port": redis_server.PORT,
        "redis_prefix": app.env["REDIS_PREFIX"],
        "db_name": app.env["DB_DATABASE"],
        "db_host": mariadb.HOST,
        "db_port": mariadb.PORT,
    }
    args.update(options)
    return {"name": name, "mutuapix.infra.queue_probe": args}


def test_healthy_probe_in_check_mode_then_for_real(tmp_path, supervisord, laravel_app, program_name):
    supervisord.add_program(program_name, laravel_app.work_command("redis", memory=300))
    supervisord.wait_running(program_name)
    state_file = str(tmp_path / "lib" / "queue-probe.json")
    task = probe_task(
        "probe", supervisord, laravel_app, programs=[program_name], state_file=state_file, fail_on="warning"
    )

    checked = run_playbook(tmp_path, [localhost_play([task])], check=True)
    assert checked.rc == 0, checked.stdout[-3000:]
    assert checked.result("probe")["status"] == "ok"
    assert checked.result("probe")["changed"] is False
    assert not os.path.exists(state_file)

    real = run_playbook(tmp_path, [localhost_play([task])])
    assert real.rc == 0, real.stdout[-3000:]
    result = real.result("probe")
    assert (result["changed"], result["status"], result["findings"]) == (False, "ok", [])
    (process,) = result["processes"]
    assert (process["state"], process["memory_limit_mb"]) == ("RUNNING", 300)
    assert result["failed_jobs"]["total"] == 0
    assert os.path.exists(state_file)


def test_fail_on_warning_stops_the_play_on_a_killed_worker(tmp_path, supervisord, laravel_app, program_name):
    supervisord.add_program(program_name, laravel_app.work_command("redis"))
    ((_state, pid),) = supervisord.wait_running(program_name).values()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: supervisord.status(program_name)[program_name][1] not in (0, pid), 10, what="a restart")
    task = probe_task("probe", supervisord, laravel_app, programs=[program_name])

    reported = run_playbook(tmp_path, [localhost_play([task])])
    assert reported.rc == 0
    assert reported.result("probe")["status"] == "warning"

    task["mutuapix.infra.queue_probe"]["fail_on"] = "warning"
    stopped = run_playbook(tmp_path, [localhost_play([task])])
    assert stopped.rc == 2
    result = stopped.result("probe")
    assert result["failed"] is True
    assert result["msg"].startswith("queue health is warning: ")
    assert "killed by SIGKILL" in result["msg"]
    assert result["findings"][0]["evidence"]["last_signal"] == "SIGKILL"


def test_redis_auth_failure_fails_without_leaking_the_password(tmp_path, supervisord, laravel_app):
    task = probe_task("probe", supervisord, laravel_app, redis_username="nobody", redis_password=SECRET)
    run = run_playbook(tmp_path, [localhost_play([task])])
    assert run.rc == 2
    assert "rejected the credentials" in run.result("probe")["msg"]
    assert SECRET not in run.stdout + run.stderr


def test_missing_supervisord_is_reported(tmp_path, laravel_app):
    task = {
        "name": "probe",
        "mutuapix.infra.queue_probe": {"driver": "redis", "supervisor_socket": str(tmp_path / "none.sock")},
    }
    run = run_playbook(tmp_path, [localhost_play([task])])
    assert run.rc == 2
    assert run.result("probe")["msg"].startswith("supervisord is not running: no socket at")
    assert run.result("probe")["socket"] == str(tmp_path / "none.sock")


def test_database_driver_needs_the_database_name(tmp_path):
    run = run_playbook(
        tmp_path, [localhost_play([{"name": "probe", "mutuapix.infra.queue_probe": {"driver": "database"}}])]
    )
    assert run.rc == 2
    assert "driver is database but all of the following are missing: db_name" in run.result("probe")["msg"]
