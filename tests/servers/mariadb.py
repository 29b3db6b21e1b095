"""A real MariaDB server for the tests: the one on 127.0.0.1:3306 when it answers, else one we start."""

from __future__ import annotations

import shutil
import subprocess
import time

import pymysql

HOST = "127.0.0.1"
PORT = 3306
ADMIN_USER = "root"


def connect(database: str | None = None, **overrides) -> pymysql.connections.Connection:
    params = {
        "host": HOST,
        "port": PORT,
        "user": ADMIN_USER,
        "password": "",
        "database": database,
        "charset": "utf8mb4",
        "autocommit": True,
        "connect_timeout": 5,
    }
    params.update(overrides)
    return pymysql.connect(**params)


def answers() -> bool:
    try:
        connect().close()
        return True
    except pymysql.MySQLError:
        return False


def ensure_running(timeout: float = 60) -> None:
    """Use the running server, or install and start mariadb-server from Debian's packages."""
    if answers():
        return
    if not shutil.which("mariadbd") and not shutil.which("mariadbd", path="/usr/sbin"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "mariadb-server"], check=True)
    subprocess.run(
        ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"], check=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return
        time.sleep(0.5)
    raise RuntimeError(f"MariaDB did not answer on {HOST}:{PORT} within {timeout}s")
