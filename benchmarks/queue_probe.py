"""How long one queue probe takes, against `supervisorctl status` measured in the same run.

    .venv/bin/python benchmarks/queue_probe.py [--runs 50] [--workers 4] [--backlog 10000] [--failed 1000]

Starts a private supervisord running the stand-in worker (tests/standin) on Redis, fills an unserved
queue with a backlog and the failed_jobs table with failures, then times, on the same machine and data:

- baseline: `supervisorctl status` for the same program (a process start plus one XML-RPC call and
  text output: what an operator or a shell script would run),
- the probe engine for the redis driver (supervisord RPC, /proc, main log, Redis depths, failed_jobs),
- the probe engine for the database driver on a jobs table with the same backlog.

Prints median and p95 in milliseconds and the ratio of each median to the baseline's. The issue's
budget is one probe under 300 ms on the lab.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, ".cache", "collections")


def expose_collection() -> None:
    """Make the work tree importable as ansible_collections.mutuapix.infra (as tests/conftest.py does)."""
    link = os.path.join(COLLECTIONS, "ansible_collections", "mutuapix", "infra")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link):
        os.symlink(REPO, link)
    sys.path.insert(0, COLLECTIONS)
    sys.path.insert(0, os.path.join(REPO, "tests"))


expose_collection()

from servers import mariadb, redis_server  # noqa: E402
from standin import laravel_worker  # noqa: E402
from standin.harness import LaravelApp, Supervisord  # noqa: E402

from ansible_collections.mutuapix.infra.plugins.module_utils import queue_probe  # noqa: E402


def timed(action, runs: int) -> list[float]:
    samples = []
    for _run in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def fill(app: LaravelApp, backlog: int, failed: int) -> None:
    client = redis_server.client()
    pipe = client.pipeline(transaction=False)
    for _job in range(backlog):
        laravel_worker.push_redis(pipe, app.env["REDIS_PREFIX"], "backlog", laravel_worker.make_payload())
    pipe.execute()
    with app.db() as conn, conn.cursor() as cursor:
        rows = [("backlog", laravel_worker.make_payload(), 0, None, int(time.time()), int(time.time()))] * backlog
        cursor.executemany(
            "INSERT INTO jobs (queue, payload, attempts, reserved_at, available_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
        cursor.executemany(
            "INSERT INTO failed_jobs (uuid, connection, queue, payload, exception) VALUES (%s, %s, %s, %s, %s)",
            [(str(uuid.uuid4()), "redis", "backlog", "{}", "RuntimeException") for _failed in range(failed)],
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=10000)
    parser.add_argument("--failed", type=int, default=1000)
    args = parser.parse_args()

    mariadb.ensure_running()
    redis_server.ensure_running()
    database = f"mtx_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"mtx_bench_{uuid.uuid4().hex[:8]}:"
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}`")
    with tempfile.TemporaryDirectory(prefix="queue-probe-bench-") as folder:
        supervisor = Supervisord(os.path.join(folder, "supervisord"))
        os.makedirs(supervisor.directory)
        supervisor.start()
        try:
            app = LaravelApp(
                os.path.join(folder, "app"),
                {
                    "DB_HOST": mariadb.HOST,
                    "DB_PORT": mariadb.PORT,
                    "DB_DATABASE": database,
                    "DB_USERNAME": mariadb.ADMIN_USER,
                    "DB_PASSWORD": "",
                    "REDIS_HOST": redis_server.HOST,
                    "REDIS_PORT": redis_server.PORT,
                    "REDIS_PREFIX": prefix,
                },
            )
            with app.db() as conn:
                laravel_worker.create_tables(conn)
            fill(app, args.backlog, args.failed)
            supervisor.add_program(
                "bench",
                app.work_command("redis", sleep=1),
                numprocs=args.workers,
                process_name="%(program_name)s_%(process_num)02d",
            )
            supervisor.wait_running("bench", count=args.workers)
            common = {
                "supervisor_socket": supervisor.socket,
                "programs": ["bench"],
                "queues": ["default", "backlog"],
                "connection": "redis",
                "database": queue_probe.DatabaseSettings(name=database, host=mariadb.HOST, port=mariadb.PORT),
                "state_file": os.path.join(folder, "state.json"),
            }
            redis_config = queue_probe.ProbeConfig(
                driver="redis",
                redis=queue_probe.RedisSettings(redis_server.HOST, redis_server.PORT, prefix=prefix),
                **common,
            )
            database_config = queue_probe.ProbeConfig(driver="database", **common)
            report = queue_probe.probe(redis_config)
            assert report["queues"][1]["pending"] == args.backlog, report["queues"]

            results = {
                "supervisorctl status (baseline)": timed(lambda: supervisor.ctl("status", "bench:*"), args.runs),
                "queue_probe redis driver": timed(lambda: queue_probe.probe(redis_config), args.runs),
                "queue_probe database driver": timed(lambda: queue_probe.probe(database_config), args.runs),
            }
        finally:
            supervisor.stop()
            redis_client = redis_server.client()
            keys = list(redis_client.scan_iter(match=prefix + "*"))
            if keys:
                redis_client.delete(*keys)
            with mariadb.connect() as conn, conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE `{database}`")

    baseline, _spread = summary(results["supervisorctl status (baseline)"])
    print(
        f"{args.workers} workers, backlog {args.backlog} jobs per driver, {args.failed} failed jobs, {args.runs} runs"
    )
    print(f"{'measurement':34} {'median ms':>10} {'p95 ms':>10} {'vs baseline':>12}")
    for name, samples in results.items():
        median, p95 = summary(samples)
        print(f"{name:34} {median:10.1f} {p95:10.1f} {median / baseline:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
