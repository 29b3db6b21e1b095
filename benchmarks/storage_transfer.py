"""Upload and download a snapshot through the engine vs plain boto3, against moto's S3 server on loopback.

    .venv/bin/python benchmarks/storage_transfer.py [--size-mb 1024] [--part-size-mb 16] [--threads 4]

Each transfer runs in a fresh child process so that its peak RSS is its own. The baseline is boto3's
own managed transfer (``upload_file``/``download_file`` with its defaults) of the same file to the same
server in the same run; ratios are against it (time: lower is better). Downloads also get a second
baseline, one streamed ``get_object``: boto3's managed download issues parallel ranged GETs, which
moto's server answers slowly, so the single-GET figure is the like-for-like comparison. The engine's upload also
streams a sha256, sends a Content-MD5 per part, compares ETags and writes the sidecar; its download
verifies the sha256 before the file appears. The peak RSS budget for the engine is 200 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")
sys.path[:0] = [COLLECTIONS_ROOT, os.path.join(REPO_ROOT, "tests")]

RSS_BUDGET_MB = 200
MIB = 1024 * 1024


def write_snapshot(directory: str, size_mb: int) -> str:
    """An incompressible ``.sql.zst``-named file with its manifest (the bytes need not be zstd here)."""
    started = datetime.now(UTC).replace(microsecond=0)
    path = os.path.join(directory, f"{started.strftime('%Y%m%dT%H%M%SZ')}-bench-nightly.sql.zst")
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for _mib in range(size_mb):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            handle.write(chunk)
    manifest = {
        "format": "mutuapix.snapshot/v1",
        "snapshot_file": os.path.basename(path),
        "sha256": digest.hexdigest(),
        "compressed_bytes": size_mb * MIB,
        "raw_bytes": size_mb * MIB,
        "databases": ["bench"],
        "label": "nightly",
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "finished_at": started.isoformat().replace("+00:00", "Z"),
        "host": "bench",
    }
    with open(path[: -len(".sql.zst")] + ".json", "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    return path


def boto3_client(settings: dict):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        region_name=settings["region"],
        aws_access_key_id=settings["key_id"],
        aws_secret_access_key=settings["key"],
    )


def engine_storage(settings: dict):
    from ansible_collections.mutuapix.infra.plugins.module_utils.storage import open_storage

    return open_storage(
        {
            "backend": "s3",
            "bucket": settings["bucket"],
            "endpoint_url": settings["endpoint_url"],
            "region": settings["region"],
            "key_id": settings["key_id"],
            "key": settings["key"],
            "prefix": "bench",
            "part_size": settings["part_size_mb"] * MIB,
            "threads": settings["threads"],
        }
    )


def worker(operation: str, settings: dict) -> dict:
    """One transfer in this process; returns its duration and this process's peak RSS."""
    started = time.monotonic()
    if operation == "boto3-upload":
        boto3_client(settings).upload_file(settings["snapshot"], settings["bucket"], "baseline/snapshot.sql.zst")
    elif operation == "boto3-download":
        target = os.path.join(settings["workdir"], "baseline-download")
        boto3_client(settings).download_file(settings["bucket"], "baseline/snapshot.sql.zst", target)
    elif operation == "boto3-get-object":
        target = os.path.join(settings["workdir"], "baseline-get-object")
        body = boto3_client(settings).get_object(Bucket=settings["bucket"], Key="baseline/snapshot.sql.zst")["Body"]
        with open(target, "wb") as handle:
            for chunk in body.iter_chunks(MIB):
                handle.write(chunk)
    elif operation == "engine-upload":
        from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import upload_snapshot

        upload_snapshot(engine_storage(settings), settings["snapshot"])
    elif operation == "engine-download":
        from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import fetch_backup, find_backup

        storage = engine_storage(settings)
        target = os.path.join(settings["workdir"], "engine-download")
        os.makedirs(target, exist_ok=True)
        fetch_backup(storage, find_backup(storage, "latest"), target)
    seconds = time.monotonic() - started
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_worker(operation: str, settings: dict) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", operation, "--settings", json.dumps(settings)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def report(size_mb: int, results: dict) -> None:
    print(f"\n{size_mb} MiB snapshot, moto S3 server on loopback (same file, same server, same run)\n")
    print(f"{'operation':<18}{'seconds':>9}{'MiB/s':>9}{'peak RSS MB':>13}{'time ratio':>12}")
    rows = {
        "upload": ("boto3-upload", "engine-upload"),
        "download": ("boto3-download", "boto3-get-object", "engine-download"),
    }
    for direction, names in rows.items():
        baseline = results[f"boto3-{direction}"]
        for name in names:
            result = results[name]
            ratio = result["seconds"] / baseline["seconds"]
            print(
                f"{name:<18}{result['seconds']:>9.1f}{size_mb / result['seconds']:>9.1f}"
                f"{result['peak_rss_mb']:>13.0f}{ratio:>12.2f}"
            )
    worst = max(results["engine-upload"]["peak_rss_mb"], results["engine-download"]["peak_rss_mb"])
    verdict = "within" if worst < RSS_BUDGET_MB else "OVER"
    print(f"\nengine peak RSS {worst:.0f} MB: {verdict} the {RSS_BUDGET_MB} MB budget")


def benchmark(arguments: argparse.Namespace) -> int:
    from servers.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server

    server = S3Server()
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="mutuapix-bench-") as workdir:
            settings = {
                "endpoint_url": server.endpoint_url,
                "region": REGION,
                "key_id": ACCESS_KEY_ID,
                "key": SECRET_ACCESS_KEY,
                "bucket": "mutuapix-bench",
                "part_size_mb": arguments.part_size_mb,
                "threads": arguments.threads,
                "workdir": workdir,
                "snapshot": write_snapshot(workdir, arguments.size_mb),
            }
            boto3_client(settings).create_bucket(Bucket=settings["bucket"])
            operations = ("boto3-upload", "engine-upload", "boto3-download", "boto3-get-object", "engine-download")
            results = {operation: run_worker(operation, settings) for operation in operations}
        report(arguments.size_mb, results)
        return 0 if max(r["peak_rss_mb"] for n, r in results.items() if n.startswith("engine")) < RSS_BUDGET_MB else 1
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--part-size-mb", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(worker(arguments.worker, json.loads(arguments.settings))))
        return 0
    return benchmark(arguments)


if __name__ == "__main__":
    sys.exit(main())
