"""Shared fixtures: the collection on sys.path and real servers (MariaDB, Redis, S3, B2 simulator)."""

from __future__ import annotations

import os
import sys
import uuid

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")


def _link_collection() -> None:
    """Expose the work tree as ansible_collections.mutuapix.infra, as ansible-test and Ansible see it."""
    namespace_dir = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "mutuapix")
    link = os.path.join(namespace_dir, "infra")
    os.makedirs(namespace_dir, exist_ok=True)
    if not os.path.islink(link):
        os.symlink(REPO_ROOT, link)
    if COLLECTIONS_ROOT not in sys.path:
        sys.path.insert(0, COLLECTIONS_ROOT)
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS_ROOT


_link_collection()
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))

from servers import mariadb, redis_server  # noqa: E402
from servers.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server  # noqa: E402


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def mariadb_server() -> dict:
    """Connection parameters of a running MariaDB server (admin account)."""
    mariadb.ensure_running()
    return {"host": mariadb.HOST, "port": mariadb.PORT, "user": mariadb.ADMIN_USER, "password": ""}


@pytest.fixture
def mariadb_db(mariadb_server) -> str:
    """A fresh, empty database unique to this test, dropped afterwards."""
    name = unique_name("mtx")
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield name
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="session")
def redis_url() -> str:
    redis_server.ensure_running()
    return f"redis://{redis_server.HOST}:{redis_server.PORT}/0"


@pytest.fixture
def redis_prefix(redis_url) -> str:
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    prefix = unique_name("mtx") + ":"
    yield prefix
    client = redis_server.client()
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def s3_server() -> S3Server:
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> dict:
    """A new bucket on the loopback S3 server, with the settings a client needs to reach it."""
    import boto3

    if s3_server.process is None:
        s3_server.start()
    name = unique_name("mtx").replace("_", "-")
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket=name)
    return {
        "bucket": name,
        "endpoint_url": s3_server.endpoint_url,
        "region": REGION,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
    }


@pytest.fixture
def b2_simulator():
    from servers.b2sim import B2Simulator

    return B2Simulator()
