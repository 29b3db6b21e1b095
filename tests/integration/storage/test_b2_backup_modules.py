"""b2_backup and b2_backup_info through real ansible-playbook runs against moto's S3 server and a directory."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import yaml
from ansible_run import localhost_play, run_playbook
from servers import mariadb
from storage_snapshots import make_snapshot

from ansible_collections.mutuapix.infra.plugins.module_utils.offsite import upload_snapshot
from ansible_collections.mutuapix.infra.plugins.module_utils.storage import open_storage
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_options import (
    STORAGE_ARGUMENT_SPEC,
    storage_config_from_params,
)

NIGHT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
STORAGE_DEFAULTS = {name: spec.get("default") for name, spec in STORAGE_ARGUMENT_SPEC.items()}


@pytest.fixture(params=["s3", "local"])
def storage_args(request, tmp_path) -> dict:
    if request.param == "local":
        root = tmp_path / "offsite"
        root.mkdir()
        return {"backend": "local", "path": str(root), "prefix": "backups"}
    bucket = request.getfixturevalue("s3_bucket")
    return {
        "backend": "s3",
        "bucket": bucket["bucket"],
        "endpoint_url": bucket["endpoint_url"],
        "region": bucket["region"],
        "key_id": bucket["access_key_id"],
        "key": bucket["secret_access_key"],
        "prefix": "backups",
        "part_size_mb": 5,
    }


def run_task(tmp_path, module: str, args: dict, *, check: bool = False) -> dict:
    run = run_playbook(tmp_path, [localhost_play([{"name": "under test", module: args}])], check=check)
    assert run.tasks, run.stdout + run.stderr
    return run.result("under test")


def run_four_steps(tmp_path, module: str, args: dict) -> list:
    """check -> real -> check -> real, as four tasks of one play (check_mode per task, as users write it)."""
    steps = ("check", "real", "check again", "real again")
    tasks = [{"name": step, module: args, "check_mode": step.startswith("check")} for step in steps]
    run = run_playbook(tmp_path, [localhost_play(tasks)])
    assert len(run.tasks) == 4, run.stdout + run.stderr
    return [run.result(step) for step in steps]


def upload_with_engine(storage_args: dict, snapshot: str) -> None:
    """Arrange backups directly through the engine; the module under test is the one being asserted on."""
    with open_storage(storage_config_from_params({**STORAGE_DEFAULTS, **storage_args})) as storage:
        upload_snapshot(storage, snapshot)


def test_present_uploads_once_in_the_four_step_rhythm(tmp_path, storage_args):
    snapshot = make_snapshot(tmp_path, incompressible_bytes=6 * 1024 * 1024)
    args = {**storage_args, "snapshot": snapshot}

    predicted, uploaded, checked, again = run_four_steps(tmp_path, "mutuapix.infra.b2_backup", args)

    assert [r["changed"] for r in (predicted, uploaded, checked, again)] == [True, True, False, False]
    assert all(not r.get("failed") for r in (predicted, uploaded, checked, again))
    assert uploaded["key"] == predicted["key"] == "backups/db1/app/20260301T020000Z-nightly.sql.zst"
    assert uploaded["size"] == os.path.getsize(snapshot)
    assert uploaded["verified"] == "store-checksum"
    assert uploaded["throughput_bytes_per_second"] > 0
    if storage_args["backend"] == "s3":
        assert uploaded["checksums"]["etag"].endswith("-2")  # 6 MiB+ in 5 MiB parts
        assert uploaded["invocation"]["module_args"]["key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_info_lists_verified_backups_newest_first_with_filters(tmp_path, storage_args):
    for days, database in ((0, "app"), (1, "app"), (2, "crm")):
        upload_with_engine(
            storage_args, make_snapshot(tmp_path, database=database, started_at=NIGHT + timedelta(days=days))
        )

    everything = run_task(tmp_path, "mutuapix.infra.b2_backup_info", storage_args, check=True)
    app = run_task(tmp_path, "mutuapix.infra.b2_backup_info", {**storage_args, "database": "app"})

    assert everything["changed"] is False and everything["count"] == 3
    assert [b["timestamp"] for b in everything["backups"]] == [
        "2026-03-03T02:00:00Z",
        "2026-03-02T02:00:00Z",
        "2026-03-01T02:00:00Z",
    ]
    assert app["latest"]["key"] == "backups/db1/app/20260302T020000Z-nightly.sql.zst"
    assert app["latest"]["manifest"]["databases"] == ["app"]
    assert app["count"] == 2 and app["total_bytes"] == sum(b["size"] for b in app["backups"])


def test_fetched_downloads_the_latest_in_the_four_step_rhythm(tmp_path, storage_args):
    snapshot = make_snapshot(tmp_path)
    upload_with_engine(storage_args, snapshot)
    dest = tmp_path / "restore"
    dest.mkdir()
    args = {**storage_args, "state": "fetched", "dest": str(dest), "database": "app"}

    results = run_four_steps(tmp_path, "mutuapix.infra.b2_backup", args)

    assert [r["changed"] for r in results] == [True, True, False, False]
    with open(results[1]["path"], "rb") as fetched, open(snapshot, "rb") as original:
        assert fetched.read() == original.read()
    assert os.path.exists(results[1]["manifest_path"])


def test_pruned_predicts_then_deletes_and_keeps_held(tmp_path, storage_args):
    for day in range(6):
        upload_with_engine(storage_args, make_snapshot(tmp_path, started_at=NIGHT + timedelta(days=day)))
    held = make_snapshot(tmp_path, label="pre-migrate-v3", started_at=NIGHT - timedelta(days=90))
    upload_with_engine(storage_args, held)
    args = {**storage_args, "state": "pruned", "keep_last": 2, "hold": ["pre-migrate-v3"]}

    results = run_four_steps(tmp_path, "mutuapix.infra.b2_backup", args)

    assert [r["changed"] for r in results] == [True, True, False, False]
    assert results[0]["deleted"] == results[1]["deleted"]
    assert len(results[1]["deleted"]) == 4
    remaining = run_task(tmp_path, "mutuapix.infra.b2_backup_info", storage_args)
    assert [b["label"] for b in remaining["backups"]] == ["nightly", "nightly", "pre-migrate-v3"]


def test_bad_input_fails_with_a_clear_message(tmp_path, storage_args):
    missing = run_task(tmp_path, "mutuapix.infra.b2_backup", {**storage_args, "snapshot": str(tmp_path / "x.sql.zst")})
    bad_policy = run_task(
        tmp_path, "mutuapix.infra.b2_backup", {**storage_args, "state": "pruned", "keep_within": "3m"}
    )

    assert missing["failed"] and "manifest" in missing["msg"]
    assert bad_policy["failed"] and "duration" in bad_policy["msg"]


def test_wrong_endpoint_fails_without_leaking_the_key(tmp_path, s3_bucket):
    from servers.s3 import free_port

    args = {
        "backend": "s3",
        "bucket": s3_bucket["bucket"],
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "key_id": "id",
        "key": "very-secret-value-42",
        "timeout": 1,
        "retries": 2,
    }
    run = run_playbook(tmp_path, [localhost_play([{"name": "under test", "mutuapix.infra.b2_backup_info": args}])])
    result = run.result("under test")

    assert result["failed"] and "did not answer" in result["msg"]
    assert "very-secret-value-42" not in run.stdout + run.stderr


def test_a_module_upload_restores_with_stock_tools(tmp_path, s3_bucket, mariadb_db):
    """boto3 downloads the object, `zstd -dc | mariadb` loads it: no part of this collection is needed."""
    snapshot = make_snapshot(tmp_path, rows=50)
    storage_args = {
        "backend": "s3",
        "bucket": s3_bucket["bucket"],
        "endpoint_url": s3_bucket["endpoint_url"],
        "region": s3_bucket["region"],
        "key_id": s3_bucket["access_key_id"],
        "key": s3_bucket["secret_access_key"],
    }
    key = run_task(tmp_path, "mutuapix.infra.b2_backup", {**storage_args, "snapshot": snapshot})["key"]
    client = boto3.client(
        "s3",
        endpoint_url=s3_bucket["endpoint_url"],
        region_name=s3_bucket["region"],
        aws_access_key_id=s3_bucket["access_key_id"],
        aws_secret_access_key=s3_bucket["secret_access_key"],
    )
    downloaded = tmp_path / "stock.sql.zst"
    client.download_file(s3_bucket["bucket"], key, str(downloaded))
    metadata = client.head_object(Bucket=s3_bucket["bucket"], Key=key)["Metadata"]

    load = f"zstd -dc {downloaded} | mariadb -h {mariadb.HOST} -P {mariadb.PORT} -u {mariadb.ADMIN_USER} {mariadb_db}"
    subprocess.run(["sh", "-c", load], check=True)

    with mariadb.connect(mariadb_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM `t`")
        assert cur.fetchone()[0] == 50
    assert metadata["mutuapix-label"] == "nightly"
    assert metadata["mutuapix-databases"] == "app"


def test_verify_storage_playbook_passes_for_good_settings_and_names_the_problem_otherwise(tmp_path, s3_bucket):
    playbook = os.path.join(os.path.dirname(__file__), "..", "..", "..", "playbooks", "verify_storage.yml")
    settings = {
        "storage_backend": "s3",
        "storage_bucket": s3_bucket["bucket"],
        "storage_endpoint_url": s3_bucket["endpoint_url"],
        "storage_region": s3_bucket["region"],
        "storage_key_id": s3_bucket["access_key_id"],
        "storage_key": s3_bucket["secret_access_key"],
        "verify_storage_purpose": "all",
    }
    with open(playbook, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)

    good = run_playbook(tmp_path, plays, extra_args=("-e", json.dumps(settings)))
    wrong_bucket = run_playbook(
        tmp_path, plays, extra_args=("-e", json.dumps({**settings, "storage_bucket": "mtx-nope"}))
    )

    assert good.rc == 0, good.stdout[-2000:]
    assert good.result("Check credentials, bucket, capabilities and a probe object")["ok"] is True
    assert wrong_bucket.rc != 0
    failure = wrong_bucket.result("Fail with what is wrong")
    assert failure["failed"] and "list objects: bucket mtx-nope does not exist" in failure["msg"]


def test_present_accepts_a_registered_db_snapshot_result(tmp_path):
    root = tmp_path / "offsite"
    root.mkdir()
    snapshot = make_snapshot(tmp_path, label="pre-migrate-v8")
    registered = {"changed": True, "path": snapshot, "manifest_path": snapshot[: -len(".sql.zst")] + ".json"}

    result = run_task(
        tmp_path, "mutuapix.infra.b2_backup", {"backend": "local", "path": str(root), "snapshot": registered}
    )

    assert result["changed"] is True
    assert result["key"] == "backups/db1/app/20260301T020000Z-pre-migrate-v8.sql.zst"
    assert (root / "backups" / "db1" / "app" / "20260301T020000Z-pre-migrate-v8.json").exists()
