"""roles/queue_workers applied on localhost to the test supervisord: render, update, stay idempotent, reload.

The install and service phases (apt, systemd) are skipped: the role writes its programs into the test
supervisord's include folder and its scheduler units into a temporary folder, and its handler updates
the running supervisord, whose workers are the stand-in.
"""

from __future__ import annotations

import getpass
import os
import sys
import uuid

import pytest
from ansible_run import run_playbook
from servers import redis_server
from standin.harness import wait_for

from ansible_collections.mutuapix.infra.plugins.module_utils import queue_probe, queue_rules

TAGS = ("--tags", "preflight,configure")


@pytest.fixture
def role_vars(tmp_path, supervisord, laravel_app) -> dict:
    (tmp_path / "systemd").mkdir()  # exists on every systemd host
    return {
        "queue_workers_app_path": laravel_app.path,
        "queue_workers_php": sys.executable,
        "queue_workers_user": getpass.getuser(),
        "queue_workers_programs": [
            {
                "name": "redis",
                "connection": "redis",
                "queues": ["high", "default"],
                "numprocs": 2,
                "timeout": 10,
                "stopwaitsecs": 15,
                "sleep": 1,
            },
        ],
        "queue_workers_environment": {"APP_ENV": "testing", "PERCENT": "100%"},
        "queue_workers_program_prefix": f"t{uuid.uuid4().hex[:6]}-",
        "queue_workers_supervisor_conf_dir": supervisord.include_dir,
        "queue_workers_supervisor_config": supervisord.conf,
        "queue_workers_log_dir": str(tmp_path / "log"),
        "queue_workers_tools_dir": str(tmp_path / "tools"),
        "queue_workers_systemd_dir": str(tmp_path / "systemd"),
    }


def role_play(variables: dict) -> list:
    return [
        {
            "name": "workers",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": variables,
            "roles": ["mutuapix.infra.queue_workers"],
        }
    ]


def changed_tasks(run) -> list:
    """Names (without the "role : " prefix) of the tasks that reported a change."""
    return [task["task"]["name"].split(" : ")[-1] for task in run.tasks if task["hosts"]["localhost"].get("changed")]


def worker_pids(supervisord, program: str) -> set:
    status = supervisord.wait_running(program, count=2)
    return {pid for _state, pid in status.values()}


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\0", b" ").decode()


def test_role_renders_applies_and_reloads_only_on_change(tmp_path, supervisord, laravel_app, role_vars):
    program = role_vars["queue_workers_program_prefix"] + "redis"
    conf = os.path.join(supervisord.include_dir, program + ".conf")

    checked = run_playbook(tmp_path, role_play(role_vars), check=True, diff=True, extra_args=TAGS)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert "Render the worker programs" in changed_tasks(checked)
    assert not os.path.exists(conf)

    applied = run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS)
    assert applied.rc == 0, applied.stdout[-4000:]
    assert "Update changed queue worker programs" in changed_tasks(applied)
    first_pids = worker_pids(supervisord, program)
    with open(conf, encoding="utf-8") as handle:
        rendered = handle.read()
    assert rendered.startswith("#")
    assert "autorestart=true\n" in rendered
    assert "--queue=high,default --sleep=1 --tries=3 --backoff=10 --timeout=10 --memory=512 --max-time=3600" in rendered
    assert 'environment=APP_ENV="testing",PERCENT="100%%"\n' in rendered
    assert oct(os.stat(conf).st_mode & 0o777) == "0o600"
    for pid in first_pids:
        assert "--max-jobs=1000" in cmdline(pid)
    unit_dir = tmp_path / "systemd"
    assert "TimeoutStartSec=55" in (unit_dir / "laravel-scheduler.service").read_text()
    assert "OnCalendar=*-*-* *:*:00" in (unit_dir / "laravel-scheduler.timer").read_text()

    report = queue_probe.probe(
        queue_probe.ProbeConfig(
            driver="redis",
            queues=["high", "default"],
            supervisor_socket=supervisord.socket,
            programs=[program],
            redis=queue_probe.RedisSettings(
                redis_server.HOST, redis_server.PORT, prefix=laravel_app.env["REDIS_PREFIX"]
            ),
        )
    )
    assert report["status"] == "ok", report["findings"]
    assert [p["memory_limit_mb"] for p in report["processes"]] == [512, 512]

    again_checked = run_playbook(tmp_path, role_play(role_vars), check=True, diff=True, extra_args=TAGS)
    assert again_checked.rc == 0
    assert changed_tasks(again_checked) == []
    again = run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS)
    assert again.rc == 0
    assert changed_tasks(again) == []
    assert worker_pids(supervisord, program) == first_pids

    role_vars["queue_workers_programs"][0]["memory"] = 256
    reloaded = run_playbook(tmp_path, role_play(role_vars), diff=True, extra_args=TAGS)
    assert reloaded.rc == 0, reloaded.stdout[-4000:]
    assert "Update changed queue worker programs" in changed_tasks(reloaded)
    new_pids = worker_pids(supervisord, program)
    assert new_pids.isdisjoint(first_pids)
    assert all("--memory=256" in cmdline(pid) for pid in new_pids)


def test_role_removes_programs_no_longer_listed(tmp_path, supervisord, laravel_app, role_vars):
    prefix = role_vars["queue_workers_program_prefix"]
    role_vars["queue_workers_programs"].append({"name": "database", "connection": "database", "numprocs": 1})
    assert run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS).rc == 0
    supervisord.wait_running(prefix + "database", count=1)

    role_vars["queue_workers_programs"].pop()
    removed = run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS)
    assert removed.rc == 0, removed.stdout[-4000:]
    assert "Remove stale worker programs" in changed_tasks(removed)
    assert not os.path.exists(os.path.join(supervisord.include_dir, prefix + "database.conf"))
    assert "no such group" in supervisord.ctl("status", prefix + "database:*").stdout
    supervisord.wait_running(prefix + "redis", count=2)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"timeout": 20, "stopwaitsecs": 20}, "< stopwaitsecs (20)"),
        ({"timeout": 95}, "< retry_after (90)"),
        ({"name": "Bad Name"}, "unique names matching"),
    ],
)
def test_preflight_refuses_inconsistent_limits(tmp_path, role_vars, override, message):
    role_vars["queue_workers_programs"][0].update(override)
    run = run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS)
    assert run.rc == 2
    assert message in run.stdout
    assert not any(
        name.startswith(role_vars["queue_workers_program_prefix"])
        for name in os.listdir(role_vars["queue_workers_supervisor_conf_dir"])
    )


def test_argument_specs_refuse_a_wrong_type(tmp_path, role_vars):
    role_vars["queue_workers_memory"] = "lots"
    run = run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS)
    assert run.rc == 2
    assert "queue_workers_memory" in run.stdout
    assert "Validating arguments against arg spec" in run.stdout


def test_graceful_restart_handler_recycles_every_worker(tmp_path, supervisord, laravel_app, role_vars):
    program = role_vars["queue_workers_program_prefix"] + "redis"
    assert run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS).rc == 0
    first_pids = worker_pids(supervisord, program)
    play = role_play(role_vars)
    play[0]["post_tasks"] = [
        {
            "name": "Stand in for a release switch",
            "ansible.builtin.command": "true",
            "changed_when": True,
            "notify": "restart queue workers gracefully",
            "tags": ["always"],
        },
    ]

    run = run_playbook(tmp_path, play, extra_args=("--tags", "preflight,configure,always"))
    assert run.rc == 0, run.stdout[-4000:]
    assert "Restart queue workers gracefully" in changed_tasks(run)
    wait_for(lambda: worker_pids(supervisord, program).isdisjoint(first_pids), 15, what="every worker recycled")
    report = queue_probe.probe(
        queue_probe.ProbeConfig(
            driver="redis",
            supervisor_socket=supervisord.socket,
            programs=[program],
            redis=queue_probe.RedisSettings(
                redis_server.HOST, redis_server.PORT, prefix=laravel_app.env["REDIS_PREFIX"]
            ),
        )
    )
    assert report["status"] == "ok", report["findings"]
    assert {p["last_exit"] for p in report["processes"]} == {queue_rules.describe_exit(0, None)}


def test_supervisor_refuses_a_program_and_nothing_lands(tmp_path, supervisord, role_vars):
    role_vars["queue_workers_log_maxbytes"] = "50 megabytes"  # supervisor wants 50MB
    run = run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS)
    assert run.rc == 2
    (failure,) = run.result("mutuapix.infra.queue_workers : Render the worker programs")["results"]
    assert "failed to validate" in failure["msg"]
    assert "50 megabytes" in failure["stderr"] + failure["stdout"]
    assert not any(
        name.startswith(role_vars["queue_workers_program_prefix"]) for name in os.listdir(supervisord.include_dir)
    )


def test_secret_environment_is_checked_rendered_and_never_logged(tmp_path, supervisord, role_vars):
    program = role_vars["queue_workers_program_prefix"] + "redis"
    role_vars["queue_workers_secret_environment"] = [{"env": "REDIS_PASSWORD", "variable": "vault_redis_password"}]
    role_vars["vault_redis_password"] = "changeme"
    weak = run_playbook(tmp_path, role_play(role_vars), extra_args=TAGS)
    assert weak.rc == 2
    assert "Secret variable 'vault_redis_password' is refused" in weak.stdout
    assert not os.path.exists(os.path.join(supervisord.include_dir, program + ".conf"))

    secret = "Vq3-strong-redis-9d2f7a1c-Lm8pQ"
    role_vars["vault_redis_password"] = secret
    strong = run_playbook(tmp_path, role_play(role_vars), diff=True, extra_args=TAGS)
    assert strong.rc == 0, strong.stdout[-4000:]
    with open(os.path.join(supervisord.include_dir, program + ".conf"), encoding="utf-8") as handle:
        assert f'REDIS_PASSWORD="{secret}"' in handle.read()
    assert secret not in strong.stdout + strong.stderr
    # The test Redis has no password, so these workers fail to authenticate, as Laravel's would.
    assert len(supervisord.status(program)) == 2
