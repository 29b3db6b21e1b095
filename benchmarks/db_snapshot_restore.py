"""Snapshot and restore through the engine vs the stock tools, on a generated Laravel-shaped database.

    .venv/bin/python benchmarks/db_snapshot_restore.py [--size-mb 250] [--workers 4] [--host 127.0.0.1]

Generates ``users``, ``payments`` (JSON metadata), ``webhook_logs`` (JSON payloads) and ``failed_jobs``
(serialized payloads and stack traces) server-side with the sequence engine until the dump is about
``--size-mb`` MB of SQL, then measures, in the same run on the same data:

- snapshot: the engine vs ``mariadb-dump --single-transaction --quick ... | zstd -3 -T0`` (target <= 1.10)
  and vs ``... | gzip`` (target <= 0.65);
- restore: the engine (verify file, parallel load into staging, verify counts and objects, swap) vs
  ``zstd -dc FILE | mariadb DB`` (target <= 0.60) and vs ``myloader -t 2`` on a ``mydumper`` dump of the
  same data (target <= 1.00);
- peak RSS of each command's whole process tree, sampled from /proc (target < 150 MB for the engine).

Every command runs as a child process (the engine too) so that time and memory are measured the same way.
The server must be MariaDB with the sequence engine (it is by default); the user needs the privileges a
snapshot and a restore need. The generated and restored databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")
sys.path[:0] = [COLLECTIONS_ROOT]

from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_client import (  # noqa: E402
    ConnectionParams,
    client_option_file,
    connect,
)

RSS_TARGET_MB = 150
# Approximate bytes of dump SQL per generated row, used to size the tables; the real size is measured.
ROW_BYTES = {"users": 180, "payments": 290, "webhook_logs": 1600, "failed_jobs": 3600}
SHARE = {"users": 0.15, "payments": 0.35, "webhook_logs": 0.40, "failed_jobs": 0.10}

SCHEMA = (
    """CREATE TABLE users (
      id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL,
      email VARCHAR(255) NOT NULL UNIQUE, email_verified_at TIMESTAMP NULL, password VARCHAR(255) NOT NULL,
      remember_token VARCHAR(100) NULL, created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    """CREATE TABLE payments (
      id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, user_id BIGINT UNSIGNED NOT NULL,
      amount DECIMAL(12,2) NOT NULL, currency CHAR(3) NOT NULL, status VARCHAR(20) NOT NULL,
      provider_reference VARCHAR(64) NOT NULL, metadata JSON NULL, created_at TIMESTAMP NULL,
      updated_at TIMESTAMP NULL, KEY payments_user_id_index (user_id), KEY payments_status_index (status),
      CONSTRAINT payments_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    """CREATE TABLE webhook_logs (
      id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, provider VARCHAR(50) NOT NULL, event VARCHAR(100) NOT NULL,
      payload JSON NOT NULL, headers TEXT NULL, processed_at TIMESTAMP NULL, created_at TIMESTAMP NULL,
      KEY webhook_logs_event_index (event)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    """CREATE TABLE failed_jobs (
      id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, uuid VARCHAR(255) NOT NULL UNIQUE, connection TEXT NOT NULL,
      queue TEXT NOT NULL, payload LONGTEXT NOT NULL, exception LONGTEXT NOT NULL,
      failed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
)

FILL = {
    "users": """INSERT INTO users (id, name, email, email_verified_at, password, remember_token, created_at, updated_at)
      SELECT seq, CONCAT('User ', seq, ' ', SUBSTR(MD5(seq), 1, 8)), CONCAT('user', seq, '@example.com'),
        IF(seq % 3 = 0, NULL, FROM_UNIXTIME(1600000000 + seq)),
        CONCAT('$2y$10$', SUBSTR(TO_BASE64(UNHEX(SHA2(seq, 256))), 1, 53)), SUBSTR(SHA1(seq), 1, 60),
        FROM_UNIXTIME(1600000000 + seq), FROM_UNIXTIME(1650000000 + seq)
      FROM seq_1_to_{rows}""",
    "payments": """INSERT INTO payments (user_id, amount, currency, status, provider_reference, metadata,
        created_at, updated_at)
      SELECT 1 + seq % {users}, ROUND(RAND(seq) * 1000, 2), ELT(1 + seq % 3, 'BRL', 'USD', 'EUR'),
        ELT(1 + seq % 4, 'paid', 'pending', 'failed', 'refunded'), SHA2(seq, 256),
        JSON_OBJECT('pix_key', MD5(seq), 'installments', seq % 12, 'ip', CONCAT('10.0.', seq % 255, '.', seq % 7),
          'items', JSON_ARRAY(JSON_OBJECT('sku', CONCAT('SKU-', seq % 500), 'qty', 1 + seq % 5))),
        FROM_UNIXTIME(1600000000 + seq * 7), FROM_UNIXTIME(1600000000 + seq * 7 + 60)
      FROM seq_1_to_{rows}""",
    "webhook_logs": """INSERT INTO webhook_logs (provider, event, payload, headers, processed_at, created_at)
      SELECT ELT(1 + seq % 3, 'stripe', 'mercadopago', 'pagarme'), ELT(1 + seq % 4, 'payment.succeeded',
          'payment.failed', 'charge.refunded', 'customer.updated'),
        JSON_OBJECT('id', CONCAT('evt_', SHA1(seq)), 'created', 1600000000 + seq, 'data', JSON_OBJECT(
          'object', JSON_OBJECT('id', CONCAT('pi_', MD5(seq)), 'amount', seq % 100000, 'description',
            REPEAT(CONCAT('Order ', seq, ' for customer ', MD5(seq * 3), '. '), 12), 'metadata',
            JSON_OBJECT('order_id', seq, 'hash', SHA2(seq * 7, 512))))),
        CONCAT('content-type: application/json\\nuser-agent: Webhook/1.0\\nx-signature: ', SHA2(seq, 256)),
        IF(seq % 10 = 0, NULL, FROM_UNIXTIME(1600000000 + seq)), FROM_UNIXTIME(1600000000 + seq)
      FROM seq_1_to_{rows}""",
    "failed_jobs": """INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at)
      SELECT UUID(), 'redis', ELT(1 + seq % 3, 'default', 'payments', 'webhooks'),
        CONCAT('{{"uuid":"', MD5(seq), '","displayName":"App\\\\\\\\Jobs\\\\\\\\ProcessPayment","job":',
          '"Illuminate\\\\\\\\Queue\\\\\\\\CallQueuedHandler@call","data":{{"command":"',
          TO_BASE64(REPEAT(UNHEX(SHA2(seq, 512)), 16)), '"}}}}'),
        CONCAT('Illuminate\\\\Database\\\\QueryException: SQLSTATE[40001]: Deadlock found (payment ', seq, ')\\n',
          REPEAT(CONCAT('#', seq % 40, ' /var/www/app/vendor/laravel/framework/src/Illuminate/Database/',
            'Connection.php(', seq % 900, '): Illuminate\\\\Database\\\\Connection->runQueryCallback()\\n'), 25)),
        FROM_UNIXTIME(1600000000 + seq)
      FROM seq_1_to_{rows}""",
}


def row_counts(size_mb: int) -> dict:
    return {table: max(1, int(size_mb * 1e6 * SHARE[table] / ROW_BYTES[table])) for table in SHARE}


def generate(params: ConnectionParams, database: str, size_mb: int) -> dict:
    counts = row_counts(size_mb)
    conn = connect(params)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cursor.execute(f"USE `{database}`")
            for statement in SCHEMA:
                cursor.execute(statement)
            for table in ("users", "payments", "webhook_logs", "failed_jobs"):
                cursor.execute(FILL[table].format(rows=counts[table], users=counts["users"]))
    finally:
        conn.close()
    return counts


def drop(params: ConnectionParams, *databases: str) -> None:
    conn = connect(params)
    try:
        with conn.cursor() as cursor:
            for name in databases:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def tree_rss_bytes(root: int) -> int:
    """Sum of VmRSS over ``root`` and all its descendants."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm", encoding="utf-8") as handle:
                rss[int(entry)] = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def measure_once(argv: list) -> tuple:
    """Run ``argv``; return (wall seconds, peak RSS of its process tree in MB)."""
    started = time.monotonic()
    process = subprocess.Popen(argv)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = process.wait()
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    if rc != 0:
        raise SystemExit(f"command failed (rc={rc}): {' '.join(argv)}")
    return elapsed, peak / 1e6


def measure(argv: list, repeat: int, before=None) -> tuple:
    """Best wall time and highest peak RSS over ``repeat`` runs: the best run is the least disturbed by
    other load on the machine, and memory is judged by its worst case."""
    runs = []
    for _round in range(repeat):
        if before is not None:
            before()
        runs.append(measure_once(argv))
    return min(run[0] for run in runs), max(run[1] for run in runs)


def engine(code: str) -> list:
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {COLLECTIONS_ROOT!r})\n{code}"]


def params_code(params: ConnectionParams) -> str:
    return (
        "from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_client import ConnectionParams\n"
        f"P = ConnectionParams(host={params.host!r}, port={params.port!r}, user={params.user!r}, "
        f"password={params.password!r})\n"
    )


def report(name: str, ours: tuple, baseline: tuple, target: str) -> None:
    ratio = ours[0] / baseline[0]
    print(
        f"  {name:<44} {baseline[0]:8.2f}s  ratio {ratio:5.2f}  target {target}  "
        f"baseline peak RSS {baseline[1]:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=250, help="approximate size of the dump SQL, in MB")
    parser.add_argument("--workers", type=int, default=4, help="restore connections of the engine")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the best time counts")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--user", default="root")
    parser.add_argument("--password", default=os.environ.get("MYSQL_PWD", ""))
    args = parser.parse_args()
    params = ConnectionParams(host=args.host, port=args.port, user=args.user, password=args.password)
    tag = uuid.uuid4().hex[:8]
    source, ours_db, stock_db, myloader_db = (f"bench_{tag}", f"bench_{tag}_r1", f"bench_{tag}_r2", f"bench_{tag}_r3")
    workdir = tempfile.mkdtemp(prefix="mutuapix-bench-")
    try:
        print(f"generating a Laravel-shaped database of about {args.size_mb} MB of SQL ...")
        counts = generate(params, source, args.size_mb)
        print("  rows: " + ", ".join(f"{table} {rows}" for table, rows in counts.items()))
        with client_option_file(params) as option_file:
            run_all(params, option_file, args, workdir, source, ours_db, stock_db, myloader_db)
    finally:
        drop(params, source, ours_db, stock_db, myloader_db)
        shutil.rmtree(workdir, ignore_errors=True)


def run_all(params, option_file, args, workdir, source, ours_db, stock_db, myloader_db) -> None:
    auth = f"--defaults-extra-file={option_file}"
    dump = f"mariadb-dump {auth} --single-transaction --quick --routines --triggers --events --hex-blob {source}"
    snapshots = os.path.join(workdir, "snapshots")
    snapshot_code = (
        params_code(params)
        + "from ansible_collections.mutuapix.infra.plugins.module_utils.snapshot import take_snapshot\n"
        + f"r = take_snapshot(P, {snapshots!r}, [{source!r}], 'bench')\n"
        + f"open({os.path.join(workdir, 'path')!r}, 'w').write(r['path'])\n"
    )
    print("snapshot")
    ours = measure(engine(snapshot_code), args.repeat, before=lambda: shutil.rmtree(snapshots, ignore_errors=True))
    with open(os.path.join(workdir, "path"), encoding="utf-8") as handle:
        snapshot_path = handle.read()
    from ansible_collections.mutuapix.infra.plugins.module_utils.manifest import load_manifest

    manifest = load_manifest(snapshot_path)
    raw_mb, zst_mb = manifest["raw_bytes"] / 1e6, manifest["compressed_bytes"] / 1e6
    print(
        f"  engine                                       {ours[0]:8.2f}s  peak RSS {ours[1]:6.1f} MB  "
        f"({raw_mb:.0f} MB SQL -> {zst_mb:.0f} MB, {raw_mb / ours[0]:.0f} MB/s)"
    )
    zstd_file, gzip_file = os.path.join(workdir, "stock.sql.zst"), os.path.join(workdir, "stock.sql.gz")
    report(
        "mariadb-dump | zstd -3 -T0",
        ours,
        measure(["sh", "-c", f"{dump} | zstd -q -3 -T0 -f -o {zstd_file}"], args.repeat),
        "<= 1.10",
    )
    report("mariadb-dump | gzip", ours, measure(["sh", "-c", f"{dump} | gzip > {gzip_file}"], args.repeat), "<= 0.65")

    print("restore")
    restore_code = (
        params_code(params)
        + "from ansible_collections.mutuapix.infra.plugins.module_utils.restore import restore_snapshot\n"
        + f"r = restore_snapshot(P, {snapshot_path!r}, target_database={ours_db!r}, force=True, safety_snapshot=False,"
        + f" workers={args.workers})\n"
        + "print('  engine steps:', r['timings'])\n"
    )
    ours = measure(engine(restore_code), args.repeat, before=lambda: drop(params, ours_db))
    print(f"  engine ({args.workers} workers, verify + staging + swap)     {ours[0]:8.2f}s  peak RSS {ours[1]:6.1f} MB")

    def fresh_stock_db():
        drop(params, stock_db)
        subprocess.run(["mariadb", auth, "-e", f"CREATE DATABASE `{stock_db}`"], check=True)

    stock = measure(["sh", "-c", f"zstd -dc {zstd_file} | mariadb {auth} {stock_db}"], args.repeat, fresh_stock_db)
    report("zstd -dc | mariadb", ours, stock, "<= 0.60")
    mydumper_dir = os.path.join(workdir, "mydumper")
    mydumper_auth = ["--host", params.host, "--port", str(params.port), "--user", params.user]
    if params.password:
        mydumper_auth += ["--password", params.password]
    subprocess.run(
        ["mydumper", *mydumper_auth, "-B", source, "-o", mydumper_dir, "-t", "2", "-R", "-E", "-G"], check=True
    )
    myloader = ["myloader", *mydumper_auth, "-d", mydumper_dir, "-B", myloader_db, "-t", "2"]
    report(
        "myloader -t 2 (mydumper dump)",
        ours,
        measure(myloader, args.repeat, lambda: drop(params, myloader_db)),
        "<= 1.00",
    )
    print(f"peak RSS target for the engine: < {RSS_TARGET_MB} MB (at 1 GB of SQL)")


if __name__ == "__main__":
    main()
