"""The harness around the stand-in worker: a private supervisord and a Laravel-like application folder.

supervisord runs in the foreground as our child, with its own config, socket, main log and include
directory in a given folder, so nothing touches a system supervisor. Used by the integration tests
and the benchmarks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from servers import mariadb, redis_server
from standin import laravel_worker

STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "laravel_worker.py")
SUPERVISORD = "/usr/bin/supervisord"
SUPERVISORCTL = "/usr/bin/supervisorctl"

SUPERVISORD_CONF = """\
[unix_http_server]
file={dir}/supervisor.sock
chmod=0700
{auth}

[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}/logs
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{dir}/supervisor.sock
{auth}

[include]
files = {dir}/conf.d/*.conf
"""


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Supervisord:
    """One supervisord process and the programs the tests give it."""

    def __init__(self, directory: str, username: str | None = None, password: str | None = None) -> None:
        self.auth = f"username={username}\npassword={password}" if username else ""
        self.directory = directory
        self.conf = os.path.join(directory, "supervisord.conf")
        self.socket = os.path.join(directory, "supervisor.sock")
        self.include_dir = os.path.join(directory, "conf.d")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        os.makedirs(self.include_dir, exist_ok=True)
        os.makedirs(os.path.join(self.directory, "logs"), exist_ok=True)
        with open(self.conf, "w", encoding="utf-8") as handle:
            handle.write(SUPERVISORD_CONF.format(dir=self.directory, auth=self.auth))
        self.process = subprocess.Popen([SUPERVISORD, "-n", "-c", self.conf], stdout=subprocess.DEVNULL)
        wait_for(lambda: self.ctl("pid").returncode == 0, 15, what="supervisord to answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([SUPERVISORCTL, "-c", self.conf, *args], capture_output=True, text=True, check=False)

    def add_program(self, name: str, command: str, **options) -> None:
        settings = {
            "command": command,
            "autostart": "true",
            "autorestart": "true",
            "startsecs": "1",
            "startretries": "3",
            "stopwaitsecs": "5",
            "stopasgroup": "true",
            "killasgroup": "true",
            "redirect_stderr": "true",
            "stdout_logfile": os.path.join(self.directory, "logs", f"{name}.log"),
            "environment": 'PYTHONUNBUFFERED="1"',
        }
        settings.update({key: str(value) for key, value in options.items()})
        body = "".join(f"{key}={value}\n" for key, value in settings.items())
        with open(os.path.join(self.include_dir, f"{name}.conf"), "w", encoding="utf-8") as handle:
            handle.write(f"[program:{name}]\n{body}")
        result = self.ctl("update", name)
        assert result.returncode == 0, result.stdout + result.stderr

    def remove_program(self, name: str) -> None:
        os.unlink(os.path.join(self.include_dir, f"{name}.conf"))
        self.ctl("update", name)

    def status(self, name: str) -> dict:
        """``{process name: (state, pid)}`` of one program, from supervisorctl (a baseline, not the probe)."""
        result = self.ctl("status", f"{name}:*")
        processes = {}
        for line in result.stdout.splitlines():
            fields = line.split()
            if len(fields) >= 2:
                pid = int(fields[3].rstrip(",")) if len(fields) > 3 and fields[2] == "pid" else 0
                processes[fields[0].split(":")[-1]] = (fields[1], pid)
        return processes

    def wait_running(self, name: str, count: int = 1, timeout: float = 15) -> dict:
        def all_running():
            status = self.status(name)
            running = [pid for state, pid in status.values() if state == "RUNNING"]
            return status if len(running) == count else None

        return wait_for(all_running, timeout, what=f"{count} RUNNING process(es) of {name}")


class LaravelApp:
    """A directory laid out like a Laravel application whose ``artisan`` is the stand-in worker."""

    def __init__(self, path, env: dict) -> None:
        self.path = str(path)
        self.env = env
        os.makedirs(self.path, exist_ok=True)
        os.symlink(STANDIN, os.path.join(self.path, "artisan"))
        with open(os.path.join(self.path, ".env"), "w", encoding="utf-8") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in env.items())

    def work_command(self, connection: str, **options) -> str:
        settings = {"queue": "default", "sleep": "0.2", "tries": "1", "timeout": "60", "memory": "128"}
        settings.update({key.replace("_", "-"): str(value) for key, value in options.items()})
        flags = " ".join(f"--{key}={value}" for key, value in settings.items())
        return f"{sys.executable} {self.path}/artisan queue:work {connection} {flags}"

    def db(self):
        return mariadb.connect(self.env["DB_DATABASE"])

    def redis(self):
        return redis_server.client()

    def push(self, connection: str, action: str = "succeed", queue: str = "default", count: int = 1, **options):
        if connection == "database":
            with self.db() as conn:
                for _index in range(count):
                    laravel_worker.push_database(conn, queue, laravel_worker.make_payload(action, **options))
        else:
            client = self.redis()
            for _index in range(count):
                laravel_worker.push_redis(
                    client, self.env["REDIS_PREFIX"], queue, laravel_worker.make_payload(action, **options)
                )

    def failed_count(self) -> int:
        with self.db() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM failed_jobs")
            return cursor.fetchone()[0]
