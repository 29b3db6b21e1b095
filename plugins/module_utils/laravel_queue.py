# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only views of Laravel queues: pending depth and oldest job per queue, and failed jobs.

Layouts read, as Laravel writes them:

- ``database`` driver: the ``jobs`` table (``queue``, ``attempts``, ``reserved_at``, ``available_at``,
  ``created_at`` as Unix seconds). A job is *pending* when unreserved and available, *delayed* when
  available later, *reserved* while a worker holds it. A reservation older than the connection's
  ``retry_after`` counts as pending again (its worker died or hung; the next pop takes the job).
- ``redis`` driver: ``queues:<name>`` (a list, oldest first), ``queues:<name>:delayed`` and
  ``queues:<name>:reserved`` (sorted sets scored by the Unix time they become available again), every
  key under the client's ``prefix`` option. Delayed jobs already due count as pending: the next pop
  migrates them.
- ``failed_jobs`` table (``connection``, ``queue``, ``failed_at``), used by both drivers.

Nothing here writes; every identifier is checked before it is quoted into SQL.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from dataclasses import asdict, dataclass

from .errors import MutuapixError

try:
    import pymysql

    PYMYSQL_IMPORT_ERROR = None
except ImportError:
    pymysql = None
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()

try:
    import redis

    REDIS_IMPORT_ERROR = None
except ImportError:
    redis = None
    REDIS_IMPORT_ERROR = traceback.format_exc()

DRIVERS = ("database", "redis")
IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


class QueueBackendError(MutuapixError):
    """The queue's database or Redis cannot be read (unreachable, refused, unknown driver)."""


class QueueAuthError(QueueBackendError):
    """The database or Redis rejected the credentials."""


@dataclass(frozen=True)
class QueueDepth:
    connection: str
    queue: str
    pending: int
    delayed: int
    reserved: int
    expired_reservations: int
    oldest_pending_age: float | None
    head_job: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FailedJobs:
    total: int
    in_window: int
    window: int
    by_queue: dict

    def as_dict(self) -> dict:
        return asdict(self)


def quote_identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise QueueBackendError(f"{name!r} is not a plain SQL table name", table=name)
    return f"`{name}`"


def check_driver(driver: str) -> None:
    if driver not in DRIVERS:
        raise QueueBackendError(f"unknown queue driver {driver!r}: the probe reads {', '.join(DRIVERS)}", driver=driver)


def connect_database(
    host: str, port: int, user: str, password: str, database: str, unix_socket: str | None = None, timeout: float = 5.0
):
    try:
        return pymysql.connect(
            host=host,
            port=port,
            user=user,
            password=password,
            database=database,
            unix_socket=unix_socket,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=timeout,
            read_timeout=timeout,
        )
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        where = unix_socket or f"{host}:{port}"
        if code in (1044, 1045, 1698):
            raise QueueAuthError(
                f"the database at {where} refused user {user!r}: {exc.args[1]}", server=where, error_code=code
            ) from exc
        raise QueueBackendError(
            f"the queue database at {where} is unreachable: {exc.args[-1]}", server=where, error_code=code
        ) from exc


def database_depths(
    conn, connection: str, queues: list[str], table: str = "jobs", retry_after: int = 90, now: float | None = None
) -> list[QueueDepth]:
    """Depths as Laravel's DatabaseQueue::pop sees them: a reservation older than retry_after is available again."""
    now = int(time.time() if now is None else now)
    ready = "((reserved_at IS NULL AND available_at <= %(now)s) OR reserved_at <= %(expired)s)"
    waiting_since = "CASE WHEN reserved_at IS NULL THEN available_at ELSE reserved_at + %(retry_after)s END"
    # The table name is checked and quoted by quote_identifier; every value is a bound parameter.
    sql = (
        f"SELECT COUNT(*), COALESCE(SUM({ready}), 0),"  # noqa: S608
        " COALESCE(SUM(reserved_at IS NULL AND available_at > %(now)s), 0),"
        " COALESCE(SUM(reserved_at <= %(expired)s), 0),"
        f" MIN(CASE WHEN {ready} THEN id END), MIN(CASE WHEN {ready} THEN {waiting_since} END)"
        f" FROM {quote_identifier(table)} WHERE queue = %(queue)s"
    )
    depths = []
    with _database_errors(conn), conn.cursor() as cursor:
        for queue in queues:
            cursor.execute(sql, {"now": now, "expired": now - retry_after, "retry_after": retry_after, "queue": queue})
            total, pending, delayed, expired, head_id, waiting_since_min = cursor.fetchone()
            depths.append(
                QueueDepth(
                    connection=connection,
                    queue=queue,
                    pending=int(pending),
                    delayed=int(delayed),
                    reserved=int(total) - int(pending) - int(delayed),
                    expired_reservations=int(expired),
                    oldest_pending_age=float(now - waiting_since_min) if waiting_since_min is not None else None,
                    head_job=str(head_id) if head_id is not None else None,
                )
            )
    return depths


def failed_jobs(conn, connection: str, queues: list[str], window: int, table: str = "failed_jobs") -> FailedJobs:
    placeholders = ", ".join(["%s"] * len(queues))
    # The table name is checked and quoted by quote_identifier; every value is a bound parameter.
    sql = (
        "SELECT queue, COUNT(*), COALESCE(SUM(failed_at >= NOW() - INTERVAL %s SECOND), 0)"  # noqa: S608
        f" FROM {quote_identifier(table)} WHERE connection = %s AND queue IN ({placeholders}) GROUP BY queue"
    )
    by_queue = dict.fromkeys(queues, 0)
    in_window = 0
    with _database_errors(conn), conn.cursor() as cursor:
        cursor.execute(sql, (window, connection, *queues))
        for queue, count, recent in cursor.fetchall():
            by_queue[queue] = int(count)
            in_window += int(recent)
    return FailedJobs(total=sum(by_queue.values()), in_window=in_window, window=window, by_queue=by_queue)


class _database_errors:
    """Turn pymysql errors during a read into QueueBackendError, naming the missing table if that is it."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and pymysql is not None and isinstance(exc, pymysql.MySQLError):
            code = exc.args[0] if exc.args else None
            message = exc.args[-1] if exc.args else str(exc)
            raise QueueBackendError(f"reading the queue tables failed: {message}", error_code=code) from exc
        return False


def connect_redis(
    host: str, port: int, password: str | None = None, username: str | None = None, db: int = 0, timeout: float = 5.0
):
    client = redis.Redis(
        host=host,
        port=port,
        username=username or None,
        password=password or None,
        db=db,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    with _redis_errors(f"{host}:{port}"):
        client.ping()
    return client


class _redis_errors:
    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or redis is None or not isinstance(exc, redis.RedisError):
            return False
        message = str(exc)
        if isinstance(exc, redis.AuthenticationError) or message.split(" ", 1)[0] in ("NOAUTH", "WRONGPASS"):
            raise QueueAuthError(
                f"Redis at {self.where} rejected the credentials: {message}", server=self.where
            ) from exc
        if isinstance(exc, redis.ResponseError) and "AUTH" in message:
            raise QueueAuthError(
                f"Redis at {self.where} rejected the credentials: {message}", server=self.where
            ) from exc
        raise QueueBackendError(f"Redis at {self.where} cannot be read: {message}", server=self.where) from exc


def _job_identity(raw: bytes | None) -> tuple[str | None, float | None]:
    """The payload's id (or uuid) and its createdAt (Laravel 11+ stamps it; older payloads have none)."""
    if raw is None:
        return None, None
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw[:64].decode("utf-8", "replace"), None
    created = payload.get("createdAt")
    identity = payload.get("id") or payload.get("uuid")
    return (str(identity) if identity is not None else None), (float(created) if created is not None else None)


def redis_depths(
    client, connection: str, queues: list[str], prefix: str = "", now: float | None = None
) -> list[QueueDepth]:
    """Depths as Laravel's RedisQueue::pop sees them: due delayed jobs and expired reservations are pending.

    Scores of ``:delayed`` and ``:reserved`` are the Unix time a job becomes available (a reservation's
    score already includes retry_after), and the next pop migrates every due one back to the list.
    """
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        key = f"{prefix}queues:{queue}"
        pipe.llen(key)
        pipe.lindex(key, 0)
        for suffix in (":delayed", ":reserved"):
            pipe.zcard(key + suffix)
            pipe.zcount(key + suffix, "-inf", now)
            pipe.zrangebyscore(key + suffix, "-inf", now, start=0, num=1, withscores=True)
    where = "{host}:{port}".format(**client.connection_pool.connection_kwargs)
    with _redis_errors(where):
        replies = pipe.execute()
    return [
        _redis_depth(connection, queue, replies[index * 8 : index * 8 + 8], now) for index, queue in enumerate(queues)
    ]


def _redis_depth(connection: str, queue: str, replies: list, now: float) -> QueueDepth:
    ready, head, delayed, delayed_due, oldest_delayed, reserved, expired, oldest_expired = replies
    head_job, created = _job_identity(head)
    ages = [now - created] if created is not None else []
    for oldest in (oldest_delayed, oldest_expired):
        if oldest:
            ages.append(now - oldest[0][1])
            head_job = head_job or _job_identity(oldest[0][0])[0]
    return QueueDepth(
        connection=connection,
        queue=queue,
        pending=int(ready) + int(delayed_due) + int(expired),
        delayed=int(delayed) - int(delayed_due),
        reserved=int(reserved) - int(expired),
        expired_reservations=int(expired),
        oldest_pending_age=max(ages) if ages else None,
        head_job=head_job,
    )
