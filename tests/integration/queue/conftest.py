"""A real supervisord per test session, and Laravel-like applications (the stand-in worker) to supervise.

Each test adds programs under unique names (the main log is shared, and exit events are matched by
name); the ``supervisord`` fixture removes them afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest
from servers import mariadb, redis_server
from standin import laravel_worker
from standin.harness import LaravelApp, Supervisord


@pytest.fixture(scope="session")
def supervisord_session(tmp_path_factory):
    server = Supervisord(str(tmp_path_factory.mktemp("supervisord")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def supervisord(supervisord_session):
    """The session's supervisord; programs added during the test are removed after it."""
    before = set(os.listdir(supervisord_session.include_dir))
    yield supervisord_session
    for entry in set(os.listdir(supervisord_session.include_dir)) - before:
        supervisord_session.remove_program(entry[: -len(".conf")])


@pytest.fixture
def laravel_app(tmp_path, mariadb_db, redis_prefix) -> LaravelApp:
    env = {
        "DB_HOST": mariadb.HOST,
        "DB_PORT": mariadb.PORT,
        "DB_DATABASE": mariadb_db,
        "DB_USERNAME": mariadb.ADMIN_USER,
        "DB_PASSWORD": "",
        "REDIS_HOST": redis_server.HOST,
        "REDIS_PORT": redis_server.PORT,
        "REDIS_PREFIX": redis_prefix,
    }
    app = LaravelApp(tmp_path / "app", env)
    with app.db() as conn:
        laravel_worker.create_tables(conn)
    return app


@pytest.fixture
def program_name() -> str:
    return f"worker_{uuid.uuid4().hex[:8]}"
