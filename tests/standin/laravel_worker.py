"""A stand-in for Laravel's ``php artisan`` queue commands, for tests where Laravel cannot be installed.

What it imitates (Laravel 11, Illuminate\\Queue\\Worker and the database/redis queue drivers):

- ``queue:work [connection] --queue=a,b --sleep --tries --backoff --timeout --memory --max-time
  --max-jobs --stop-when-empty --once``: the daemon loop. Jobs are taken from the ``database`` driver
  (the ``jobs`` table, reserved in a transaction with ``FOR UPDATE SKIP LOCKED``, ``attempts`` column)
  or the ``redis`` driver (``queues:<name>`` list, ``:delayed`` and ``:reserved`` sorted sets, attempts
  counted inside the payload, expired reservations migrated back, every key under the client prefix).
- Failures: a job that throws is released with ``--backoff`` until its attempts reach ``--tries`` (or
  the payload's ``maxTries``), then written to ``failed_jobs`` (uuid, connection, queue, payload,
  exception, failed_at) in the database, as Laravel's database-uuids failed job provider does for both
  drivers.
- Exit codes: 0 after ``--max-time``, ``--max-jobs``, ``--stop-when-empty`` or a ``queue:restart``
  signal; 12 once memory reaches ``--memory`` MB (checked between jobs, like Laravel); 1 when a job
  exceeds ``--timeout`` (the pcntl alarm path, which also fails the job if it has no attempts left).
- Signals: SIGTERM/SIGINT/SIGQUIT let the current job finish and then exit 0; SIGUSR2 pauses and
  SIGCONT resumes, as Laravel's worker does with pcntl.
- ``queue:restart`` stores the restart timestamp in the application cache, here a file under
  ``storage/framework/cache`` of the application directory (the directory this script is run from, so
  it can be symlinked as ``<app>/artisan``).
- ``schedule:run`` appends one line to ``storage/logs/schedule.log``, enough to see a timer fire.

Configuration comes from the environment and the application's ``.env`` like Laravel's config/*.php
(``DB_HOST``, ``DB_PORT``, ``DB_DATABASE``, ``DB_USERNAME``, ``DB_PASSWORD``, ``DB_QUEUE_TABLE``,
``DB_QUEUE_RETRY_AFTER``, ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_USERNAME``, ``REDIS_PASSWORD``,
``REDIS_DB``, ``REDIS_PREFIX``, ``REDIS_QUEUE_RETRY_AFTER``); the process environment wins over
``.env`` as with Laravel's immutable dotenv. The connection name is the driver name, as in Laravel's
default config/queue.php.

Jobs say what to do in ``data.standin`` of their payload (see ``make_payload``): succeed, fail, sleep
(a slow or hung job) or leak (keep memory, like a job that leaks). The memory measured is this
process's resident set, where Laravel measures PHP's allocator; both grow with a leak.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
import uuid

EXIT_SUCCESS = 0
EXIT_ERROR = 1
EXIT_MEMORY_LIMIT = 12

# Memory kept by "leak" jobs: module-level on purpose, it is the leak.
_LEAKED: list = []

REDIS_POP = """
local job = redis.call('lpop', KEYS[1])
local reserved = false
if (job ~= false) then
    reserved = cjson.decode(job)
    reserved['attempts'] = reserved['attempts'] + 1
    reserved = cjson.encode(reserved)
    redis.call('zadd', KEYS[2], ARGV[1], reserved)
end
return {job, reserved}
"""

REDIS_MIGRATE_EXPIRED = """
local val = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1])
if (next(val) ~= nil) then
    redis.call('zremrangebyrank', KEYS[1], 0, #val - 1)
    for i = 1, #val, 100 do
        redis.call('rpush', KEYS[2], unpack(val, i, math.min(i + 99, #val)))
    end
end
return val
"""

REDIS_RELEASE = """
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
return true
"""

# Table names below come from the application's own config (DB_QUEUE_TABLE), as in Laravel, and are
# interpolated into SQL the way Laravel's query builder wraps them in backticks.
# Table names come from the application's own config (DB_QUEUE_TABLE), as in Laravel, and are
# interpolated into SQL the way Laravel's query builder wraps them in backticks.
JOBS_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS `{table}` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `queue` varchar(255) NOT NULL,
  `payload` longtext NOT NULL,
  `attempts` tinyint unsigned NOT NULL,
  `reserved_at` int unsigned NULL,
  `available_at` int unsigned NOT NULL,
  `created_at` int unsigned NOT NULL,
  KEY `jobs_queue_index` (`queue`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""

FAILED_JOBS_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS `failed_jobs` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `uuid` varchar(255) NOT NULL,
  `connection` text NOT NULL,
  `queue` text NOT NULL,
  `payload` longtext NOT NULL,
  `exception` longtext NOT NULL,
  `failed_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY `failed_jobs_uuid_unique` (`uuid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""


# ----------------------------------------------------------------------------------------------------
# Helpers tests use to prepare a queue, as the application would (migrations, dispatch()).


def make_payload(action: str = "succeed", display_name: str = "App\\Jobs\\StandinJob", **options) -> str:
    """A job payload shaped like Laravel's Queue::createPayloadArray, with the stand-in's instructions."""
    return json.dumps(
        {
            "uuid": str(uuid.uuid4()),
            "displayName": display_name,
            "job": "Illuminate\\Queue\\CallQueuedHandler@call",
            "maxTries": options.pop("max_tries", None),
            "maxExceptions": None,
            "failOnTimeout": False,
            "backoff": None,
            "timeout": None,
            "retryUntil": None,
            "data": {"commandName": display_name, "standin": {"action": action, **options}},
            "createdAt": int(time.time()),
            "id": str(uuid.uuid4()),
            "attempts": 0,
        }
    )


def create_tables(connection, jobs_table: str = "jobs") -> None:
    with connection.cursor() as cursor:
        cursor.execute(JOBS_TABLE_DDL.format(table=jobs_table))
        cursor.execute(FAILED_JOBS_TABLE_DDL)


def push_database(connection, queue: str, payload: str, delay: int = 0, table: str = "jobs") -> int:
    now = int(time.time())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO `{table}` (queue, payload, attempts, reserved_at, available_at, created_at)"  # noqa: S608
            " VALUES (%s, %s, 0, NULL, %s, %s)",
            (queue, payload, now + delay, now),
        )
        return cursor.lastrowid


def push_redis(client, prefix: str, queue: str, payload: str, delay: int = 0) -> None:
    if delay:
        client.zadd(f"{prefix}queues:{queue}:delayed", {payload: time.time() + delay})
    else:
        client.rpush(f"{prefix}queues:{queue}", payload)


# ----------------------------------------------------------------------------------------------------
# Configuration, as config/database.php and config/queue.php read it.


def load_env(base_path: str) -> dict:
    values: dict = {}
    env_file = os.path.join(base_path, ".env")
    if os.path.exists(env_file):
        with open(env_file, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    values[key.strip()] = value.strip().strip('"')
    values.update(os.environ)
    return values


def database_connection(env: dict):
    import pymysql

    return pymysql.connect(
        host=env.get("DB_HOST", "127.0.0.1"),
        port=int(env.get("DB_PORT", "3306")),
        user=env.get("DB_USERNAME", "root"),
        password=env.get("DB_PASSWORD", ""),
        database=env.get("DB_DATABASE", "laravel"),
        charset="utf8mb4",
        autocommit=True,
    )


def redis_client(env: dict):
    import redis

    return redis.Redis(
        host=env.get("REDIS_HOST", "127.0.0.1"),
        port=int(env.get("REDIS_PORT", "6379")),
        username=env.get("REDIS_USERNAME") or None,
        password=env.get("REDIS_PASSWORD") or None,
        db=int(env.get("REDIS_DB", "0")),
    )


# ----------------------------------------------------------------------------------------------------
# Queue drivers: pop / delete / release, and the failed job provider.


class ReservedJob:
    def __init__(self, queue: str, raw: str, attempts: int, job_id: object, reserved: str | None = None) -> None:
        self.queue = queue
        self.raw = raw
        self.payload = json.loads(raw)
        self.attempts = attempts
        self.job_id = job_id
        self.reserved = reserved


class DatabaseQueue:
    def __init__(self, env: dict) -> None:
        self.db = database_connection(env)
        self.table = env.get("DB_QUEUE_TABLE", "jobs")
        self.retry_after = int(env.get("DB_QUEUE_RETRY_AFTER", "90"))

    def pop(self, queue: str) -> ReservedJob | None:
        now = int(time.time())
        with self.db.cursor() as cursor:
            self.db.begin()
            cursor.execute(
                f"SELECT id, payload, attempts FROM `{self.table}` WHERE queue = %s AND"  # noqa: S608
                " ((reserved_at IS NULL AND available_at <= %s) OR reserved_at <= %s)"
                " ORDER BY id ASC LIMIT 1 FOR UPDATE SKIP LOCKED",
                (queue, now, now - self.retry_after),
            )
            row = cursor.fetchone()
            if row is None:
                self.db.commit()
                return None
            cursor.execute(
                f"UPDATE `{self.table}` SET reserved_at = %s, attempts = attempts + 1 WHERE id = %s",  # noqa: S608
                (now, row[0]),
            )
            self.db.commit()
        return ReservedJob(queue, row[1], row[2] + 1, row[0])

    def delete(self, job: ReservedJob) -> None:
        with self.db.cursor() as cursor:
            cursor.execute(f"DELETE FROM `{self.table}` WHERE id = %s", (job.job_id,))  # noqa: S608

    def release(self, job: ReservedJob, delay: int) -> None:
        with self.db.cursor() as cursor:
            cursor.execute(
                f"UPDATE `{self.table}` SET reserved_at = NULL, available_at = %s WHERE id = %s",  # noqa: S608
                (int(time.time()) + delay, job.job_id),
            )


class RedisQueue:
    def __init__(self, env: dict) -> None:
        self.client = redis_client(env)
        self.prefix = env.get("REDIS_PREFIX", "")
        self.retry_after = int(env.get("REDIS_QUEUE_RETRY_AFTER", "90"))

    def key(self, queue: str, suffix: str = "") -> str:
        return f"{self.prefix}queues:{queue}{suffix}"

    def pop(self, queue: str) -> ReservedJob | None:
        now = time.time()
        for suffix in (":delayed", ":reserved"):
            self.client.eval(REDIS_MIGRATE_EXPIRED, 2, self.key(queue, suffix), self.key(queue), now)
        job, reserved = self.client.eval(
            REDIS_POP, 2, self.key(queue), self.key(queue, ":reserved"), now + self.retry_after
        )
        if not job:
            return None
        reserved = reserved.decode()
        return ReservedJob(queue, job.decode(), json.loads(reserved)["attempts"], None, reserved)

    def delete(self, job: ReservedJob) -> None:
        self.client.zrem(self.key(job.queue, ":reserved"), job.reserved)

    def release(self, job: ReservedJob, delay: int) -> None:
        self.client.eval(
            REDIS_RELEASE,
            2,
            self.key(job.queue, ":delayed"),
            self.key(job.queue, ":reserved"),
            job.reserved,
            time.time() + delay,
        )


def log_failed(env: dict, connection_name: str, job: ReservedJob, exception: str) -> None:
    db = database_connection(env)
    try:
        with db.cursor() as cursor:
            cursor.execute(
                "INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at)"
                " VALUES (%s, %s, %s, %s, %s, NOW())",
                (job.payload.get("uuid") or str(uuid.uuid4()), connection_name, job.queue, job.raw, exception),
            )
    finally:
        db.close()


# ----------------------------------------------------------------------------------------------------
# The worker loop (Illuminate\Queue\Worker::daemon).


class JobFailed(Exception):
    """What the stand-in's "fail" action throws, like an exception escaping a job's handle()."""


def resident_megabytes() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def restart_file(base_path: str) -> str:
    return os.path.join(base_path, "storage", "framework", "cache", "illuminate-queue-restart")


def last_restart(base_path: str) -> str | None:
    try:
        with open(restart_file(base_path), encoding="ascii") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def say(name: str, status: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"  {stamp} {name} {'.' * 20} {status}", flush=True)


def run_job(job: ReservedJob) -> None:
    instructions = job.payload.get("data", {}).get("standin", {})
    action = instructions.get("action", "succeed")
    if action == "fail":
        raise JobFailed(instructions.get("message", "the stand-in job was told to fail"))
    if action == "sleep":
        time.sleep(float(instructions.get("seconds", 1)))
    elif action == "leak":
        # Touch every page so the memory is really resident, as a PHP array that grows would be.
        _LEAKED.append(bytearray(b"x" * int(float(instructions.get("megabytes", 16)) * 1024 * 1024)))
    elif action != "succeed":
        raise JobFailed(f"unknown stand-in action {action!r}")


class Worker:
    def __init__(self, args: argparse.Namespace, env: dict, base_path: str) -> None:
        self.args = args
        self.env = env
        self.base_path = base_path
        self.connection_name = args.connection or env.get("QUEUE_CONNECTION", "database")
        if self.connection_name == "database":
            self.driver: DatabaseQueue | RedisQueue = DatabaseQueue(env)
        elif self.connection_name == "redis":
            self.driver = RedisQueue(env)
        else:
            raise SystemExit(f"queue connection [{self.connection_name}] is not defined")
        self.queues = [name for name in args.queue.split(",") if name]
        self.should_quit = False
        self.paused = False
        self.current: ReservedJob | None = None
        self.started = time.monotonic()
        self.jobs_processed = 0
        self.restart_seen = last_restart(base_path)

    def install_signals(self) -> None:
        def quit_after_job(signum, frame):
            self.should_quit = True

        def pause(signum, frame):
            self.paused = True

        def resume(signum, frame):
            self.paused = False

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, quit_after_job)
        signal.signal(signal.SIGUSR2, pause)
        signal.signal(signal.SIGCONT, resume)
        signal.signal(signal.SIGALRM, self.timed_out)

    def max_tries(self, job: ReservedJob) -> int:
        return job.payload.get("maxTries") or self.args.tries

    def fail(self, job: ReservedJob, exception: str) -> None:
        self.driver.delete(job)
        log_failed(self.env, self.connection_name, job, exception)
        say(job.payload.get("displayName", "job"), "FAIL")

    def timed_out(self, signum, frame) -> None:
        job = self.current
        if job is not None and self.max_tries(job) and job.attempts >= self.max_tries(job):
            self.fail(job, "Illuminate\\Queue\\TimeoutExceededException: job has timed out.")
        os._exit(EXIT_ERROR)

    def next_job(self) -> ReservedJob | None:
        for queue in self.queues:
            job = self.driver.pop(queue)
            if job is not None:
                return job
        return None

    def process(self, job: ReservedJob) -> None:
        name = job.payload.get("displayName", "job")
        say(name, "RUNNING")
        self.current = job
        signal.alarm(max(self.args.timeout, 0))
        try:
            run_job(job)
        except Exception:
            exception = traceback.format_exc()
            if self.max_tries(job) and job.attempts >= self.max_tries(job):
                self.fail(job, exception)
            else:
                self.driver.release(job, self.args.backoff)
                say(name, "RELEASED")
        else:
            self.driver.delete(job)
            say(name, "DONE")
        finally:
            signal.alarm(0)
            self.current = None
        self.jobs_processed += 1

    def stop_code(self, job_found: bool) -> int | None:
        """Illuminate\\Queue\\Worker::stopIfNecessary, checked in the same order."""
        if self.should_quit:
            return EXIT_SUCCESS
        if resident_megabytes() >= self.args.memory:
            return EXIT_MEMORY_LIMIT
        if last_restart(self.base_path) != self.restart_seen:
            return EXIT_SUCCESS
        if self.args.stop_when_empty and not job_found:
            return EXIT_SUCCESS
        if self.args.max_jobs and self.jobs_processed >= self.args.max_jobs:
            return EXIT_SUCCESS
        if self.args.max_time and time.monotonic() - self.started >= self.args.max_time:
            return EXIT_SUCCESS
        return None

    def daemon(self) -> int:
        self.install_signals()
        while True:
            if self.paused:
                time.sleep(self.args.sleep or 1)
                code = self.stop_code(True)
                if code is not None:
                    return code
                continue
            job = self.next_job()
            if job is not None:
                self.process(job)
                if self.args.rest:
                    time.sleep(self.args.rest)
            elif self.args.sleep:
                time.sleep(self.args.sleep)
            if self.args.once:
                return EXIT_SUCCESS
            code = self.stop_code(job is not None)
            if code is not None:
                return code


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="artisan", description="stand-in for Laravel's artisan queue commands")
    commands = parser.add_subparsers(dest="command", required=True)
    work = commands.add_parser("queue:work")
    work.add_argument("connection", nargs="?")
    work.add_argument("--queue", default="default")
    work.add_argument("--sleep", type=float, default=3)
    work.add_argument("--rest", type=float, default=0)
    work.add_argument("--tries", type=int, default=1)
    work.add_argument("--backoff", type=int, default=0)
    work.add_argument("--timeout", type=int, default=60)
    work.add_argument("--memory", type=int, default=128)
    work.add_argument("--max-time", dest="max_time", type=int, default=0)
    work.add_argument("--max-jobs", dest="max_jobs", type=int, default=0)
    work.add_argument("--stop-when-empty", dest="stop_when_empty", action="store_true")
    work.add_argument("--once", action="store_true")
    work.add_argument("--name", default="default")
    commands.add_parser("queue:restart")
    commands.add_parser("schedule:run")
    return parser.parse_args(argv)


def queue_restart(base_path: str) -> int:
    path = restart_file(base_path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(f"{time.time():.6f}\n")
    print("   INFO  Broadcasting queue restart signal.", flush=True)
    return EXIT_SUCCESS


def schedule_run(base_path: str) -> int:
    path = os.path.join(base_path, "storage", "logs", "schedule.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="ascii") as handle:
        handle.write(f"schedule:run at {time.time():.0f}\n")
    return EXIT_SUCCESS


def main(argv: list | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    base_path = os.path.dirname(os.path.abspath(sys.argv[0]))
    if args.command == "queue:restart":
        return queue_restart(base_path)
    if args.command == "schedule:run":
        return schedule_run(base_path)
    return Worker(args, load_env(base_path), base_path).daemon()


if __name__ == "__main__":
    sys.exit(main())
