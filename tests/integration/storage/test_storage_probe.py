"""The guided credentials check: every problem reported at once, least privilege included."""

from __future__ import annotations

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils.storage_probe import probe_storage

UPLOAD_CAPABILITIES = ["listBuckets", "listFiles", "readFiles", "writeFiles"]


@pytest.fixture
def b2(b2_simulator):
    b2_simulator.admin.create_bucket("mtx-probe", "allPrivate")
    return b2_simulator


def b2_config(key) -> dict:
    return {"backend": "b2", "bucket": "mtx-probe", "prefix": "backups", "key_id": key.id_, "key": key.application_key}


def test_a_correct_upload_key_passes_and_keeps_its_probe(b2):
    key = b2.admin.create_key(UPLOAD_CAPABILITIES, "nightly", name_prefix="backups/")

    report = probe_storage(b2_config(key), "upload", api=b2.new_api())

    assert report["ok"] is True, report["problems"]
    assert [check["check"] for check in report["checks"]] == [
        "authorise and open the bucket",
        "capabilities to upload",
        "capabilities to list",
        "capabilities to fetch",
        "list objects",
        "write a probe object",
        "read the probe object back",
        "delete the probe object",
    ]
    assert "cannot delete, as an upload key should not" in report["checks"][-1]["detail"]
    assert "lifecycle" in report["warning"]


def test_an_upload_key_that_can_delete_fails_least_privilege(b2):
    key = b2.admin.create_key([*UPLOAD_CAPABILITIES, "deleteFiles"], "too-strong")

    report = probe_storage(b2_config(key), "upload", api=b2.new_api())

    assert report["ok"] is False
    assert report["problems"] == ["least privilege: this upload key can also delete: create one without deleteFiles"]


def test_a_prune_key_without_delete_is_told_what_is_missing(b2):
    key = b2.admin.create_key(UPLOAD_CAPABILITIES, "weak-prune")

    report = probe_storage(b2_config(key), "prune", api=b2.new_api())

    assert report["ok"] is False
    assert "capabilities to prune: missing deleteFiles" in report["problems"]
    assert any(problem.startswith("delete the probe object") for problem in report["problems"])


def test_a_read_only_key_writes_nothing(b2):
    key = b2.admin.create_key(["listBuckets", "listFiles", "readFiles"], "reader")

    report = probe_storage(b2_config(key), "read", api=b2.new_api())

    assert report["ok"] is True, report["problems"]
    assert list(b2.admin.get_bucket_by_name("mtx-probe").ls(recursive=True)) == []


def test_bad_credentials_stop_at_the_first_check_with_the_reason(b2):
    report = probe_storage(
        {"backend": "b2", "bucket": "mtx-probe", "key_id": b2.account_id, "key": "wrong"}, api=b2.new_api()
    )
    assert report["ok"] is False
    assert report["problems"] == ["authorise and open the bucket: B2 rejected the application key (unauthorized)"]


def test_s3_all_purposes_key_passes_and_removes_its_probe(s3_bucket):
    config = {
        "backend": "s3",
        "bucket": s3_bucket["bucket"],
        "endpoint_url": s3_bucket["endpoint_url"],
        "region": s3_bucket["region"],
        "key_id": s3_bucket["access_key_id"],
        "key": s3_bucket["secret_access_key"],
        "prefix": "backups",
    }
    report = probe_storage(config, "all")

    assert report["ok"] is True, report["problems"]
    assert report["checks"][-1] == {"check": "delete the probe object", "ok": True, "detail": "deleted"}


def test_a_missing_local_directory_is_reported(tmp_path):
    report = probe_storage({"backend": "local", "path": str(tmp_path / "nope")}, "all")
    assert report["problems"] == [f"authorise and open the bucket: backup directory {tmp_path / 'nope'} does not exist"]
