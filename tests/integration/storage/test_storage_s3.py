"""S3 specifics: the checksum choice on old and new botocore, multipart cleanup, error translation."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess

import boto3
import pytest
from botocore.config import Config
from servers.s3 import REPO_ROOT

from ansible_collections.mutuapix.infra.plugins.module_utils.storage import (
    MIN_PART_SIZE,
    StorageAuthError,
    StorageCapabilityError,
    StorageNotFoundError,
    StorageUnreachableError,
    open_storage,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_s3 import checksum_options, client_config

HERE = os.path.dirname(os.path.abspath(__file__))
S3_VENV_PYTHON = os.path.join(REPO_ROOT, ".venv-s3", "bin", "python")


def s3_config(fixture: dict, **overrides) -> dict:
    config = {
        "backend": "s3",
        "bucket": fixture["bucket"],
        "endpoint_url": fixture["endpoint_url"],
        "region": fixture["region"],
        "key_id": fixture["access_key_id"],
        "key": fixture["secret_access_key"],
        "prefix": "backups",
        "part_size": MIN_PART_SIZE,
        "timeout": 5,
        "retries": 2,
    }
    return {**config, **overrides}


def raw_client(bucket: dict):
    return boto3.client(
        "s3",
        endpoint_url=bucket["endpoint_url"],
        region_name=bucket["region"],
        aws_access_key_id=bucket["access_key_id"],
        aws_secret_access_key=bucket["secret_access_key"],
    )


def test_checksum_options_are_passed_only_to_botocore_that_knows_them():
    assert checksum_options({"retries": None}) == {}
    assert checksum_options({"request_checksum_calculation": None, "response_checksum_validation": None}) == {
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }


def test_the_installed_botocore_gets_a_config_it_accepts():
    from ansible_collections.mutuapix.infra.plugins.module_utils.storage import StorageConfig

    config = client_config(StorageConfig(backend="s3", bucket="b", retries=3, timeout=7))
    assert config.retries == {"max_attempts": 3, "mode": "standard"}
    assert config.connect_timeout == 7
    if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
        assert config.request_checksum_calculation == "when_required"


def test_newer_botocore_sends_no_checksum_headers_from_the_engine(s3_bucket, tmp_path):
    """Run the engine under .venv-s3's newer boto3 (which adds CRC checksums by default) against moto."""
    payload = tmp_path / "payload"
    data = random.Random(9).randbytes(MIN_PART_SIZE + 1000)
    payload.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": os.environ["ANSIBLE_COLLECTIONS_PATH"]}
    command = [
        S3_VENV_PYTHON,
        os.path.join(HERE, "newer_boto3_probe.py"),
        s3_bucket["endpoint_url"],
        s3_bucket["bucket"],
    ]
    command += [s3_bucket["access_key_id"], s3_bucket["secret_access_key"], str(payload), str(MIN_PART_SIZE)]

    report = json.loads(subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout)

    assert tuple(int(n) for n in report["botocore"].split(".")[:2]) >= (1, 36)
    assert report["request_checksum_calculation"] == "when_required"
    assert report["response_checksum_validation"] == "when_required"
    assert report["engine_headers"] and all(headers == [] for headers in report["engine_headers"])
    # The contrast that makes the test meaningful: left to its defaults, this botocore adds checksums.
    assert any(headers for headers in report["default_headers"])
    assert report["multipart_etag"].endswith("-2")
    assert report["multipart_sha256"] == hashlib.sha256(data).hexdigest()


def test_a_failed_multipart_upload_is_aborted(s3_bucket, tmp_path, monkeypatch):
    storage = open_storage(s3_config(s3_bucket))
    (tmp_path / "big").write_bytes(random.Random(1).randbytes(MIN_PART_SIZE * 3))
    original = storage.client.upload_part
    calls = []

    def fail_third_part(**kwargs):
        calls.append(kwargs["PartNumber"])
        if kwargs["PartNumber"] == 3:
            raise storage.client.exceptions.ClientError(
                {"Error": {"Code": "InternalError", "Message": "boom"}}, "UploadPart"
            )
        return original(**kwargs)

    monkeypatch.setattr(storage.client, "upload_part", fail_third_part)
    with pytest.raises(Exception, match="boom"):
        storage.put_file("backups/x.sql.zst", str(tmp_path / "big"), {})

    assert raw_client(s3_bucket).list_multipart_uploads(Bucket=s3_bucket["bucket"]).get("Uploads", []) == []
    assert storage.head("backups/x.sql.zst") is None


def test_a_leftover_multipart_upload_is_cancelled(s3_bucket, tmp_path):
    raw_client(s3_bucket).create_multipart_upload(Bucket=s3_bucket["bucket"], Key="backups/h/d/left.sql.zst")
    storage = open_storage(s3_config(s3_bucket))

    assert storage.cancel_unfinished("backups/") == ["backups/h/d/left.sql.zst"]
    assert raw_client(s3_bucket).list_multipart_uploads(Bucket=s3_bucket["bucket"]).get("Uploads", []) == []


def test_a_missing_bucket_is_reported_as_missing(s3_bucket):
    storage = open_storage(s3_config(s3_bucket, bucket="mtx-does-not-exist"))
    with pytest.raises(StorageNotFoundError, match="mtx-does-not-exist"):
        list(storage.list_objects("backups/"))


def test_an_unreachable_endpoint_fails_within_the_bounded_retries(s3_bucket):
    from servers.s3 import free_port

    storage = open_storage(s3_config(s3_bucket, endpoint_url=f"http://127.0.0.1:{free_port()}", timeout=1, retries=2))
    with pytest.raises(StorageUnreachableError) as raised:
        list(storage.list_objects("backups/"))
    assert raised.value.details["endpoint"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("InvalidAccessKeyId", StorageAuthError),
        ("SignatureDoesNotMatch", StorageAuthError),
        ("AccessDenied", StorageCapabilityError),
    ],
)
def test_client_errors_become_typed_errors_without_secrets(s3_bucket, code, error):
    from botocore.exceptions import ClientError

    from ansible_collections.mutuapix.infra.plugins.module_utils.storage_s3 import translate_client_error

    translated = translate_client_error(
        ClientError({"Error": {"Code": code, "Message": "no"}}, "PutObject"), "upload", "b", "k"
    )
    assert isinstance(translated, error)
    assert s3_bucket["secret_access_key"] not in str(translated.to_dict())


def test_versioned_bucket_without_lifecycle_warns_and_delete_removes_every_version(s3_bucket):
    client = raw_client(s3_bucket)
    client.put_bucket_versioning(Bucket=s3_bucket["bucket"], VersioningConfiguration={"Status": "Enabled"})
    storage = open_storage(s3_config(s3_bucket))
    storage.put_bytes("backups/v.json", b"1")
    storage.put_bytes("backups/v.json", b"2")

    storage.delete("backups/v.json")

    versions = client.list_object_versions(Bucket=s3_bucket["bucket"], Prefix="backups/v.json")
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
    assert "lifecycle" in storage.retention_warning()
