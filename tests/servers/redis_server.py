"""A real Redis server for the tests: the one on 127.0.0.1:6379 when it answers, else one we start."""

from __future__ import annotations

import shutil
import subprocess
import time

import redis

HOST = "127.0.0.1"
PORT = 6379


def client(**overrides) -> redis.Redis:
    params = {"host": HOST, "port": PORT, "socket_timeout": 5}
    params.update(overrides)
    return redis.Redis(**params)


def answers() -> bool:
    try:
        return bool(client().ping())
    except redis.RedisError:
        return False


def ensure_running(timeout: float = 30) -> None:
    if answers():
        return
    if not shutil.which("redis-server"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True)
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", HOST, "--port", str(PORT), "--save", "", "--appendonly", "no"],
        check=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return
        time.sleep(0.2)
    raise RuntimeError(f"Redis did not answer on {HOST}:{PORT} within {timeout}s")
