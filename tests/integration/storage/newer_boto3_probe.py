"""Run by test_storage_s3 under the newer boto3 of .venv-s3: upload through the engine, report the headers sent.

Usage: python newer_boto3_probe.py ENDPOINT BUCKET KEY_ID SECRET PAYLOAD_PATH PART_SIZE
Prints one JSON document: the botocore version, the checksum settings of the engine's client, and for
both the engine's client and a default-configured client the checksum-related headers of every request.
"""

from __future__ import annotations

import json
import sys

import boto3
import botocore

from ansible_collections.mutuapix.infra.plugins.module_utils.storage import StorageConfig
from ansible_collections.mutuapix.infra.plugins.module_utils.storage_s3 import S3Storage


def checksum_headers(client) -> list:
    seen = []

    def capture(request, **_kwargs):
        headers = {name.lower(): str(value) for name, value in request.headers.items()}
        seen.append(
            sorted(
                f"{name}: {value}"
                for name, value in headers.items()
                if name.startswith("x-amz-checksum") or name == "x-amz-sdk-checksum-algorithm" or "aws-chunked" in value
            )
        )

    client.meta.events.register("before-send.s3", capture)
    return seen


def main() -> None:
    endpoint, bucket, key_id, secret, payload, part_size = sys.argv[1:7]
    config = StorageConfig(
        backend="s3",
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        key_id=key_id,
        key=secret,
        part_size=int(part_size),
        timeout=10,
        retries=2,
    )
    storage = S3Storage(config)
    engine_headers = checksum_headers(storage.client)
    single = storage.put_bytes("probe/single.json", b"{}")
    multipart = storage.put_file("probe/multi.sql.zst", payload, {"mutuapix-label": "probe"})
    default_client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=secret
    )
    default_headers = checksum_headers(default_client)
    default_client.put_object(Bucket=bucket, Key="probe/default.json", Body=b"{}")
    print(
        json.dumps(
            {
                "botocore": botocore.__version__,
                "request_checksum_calculation": storage.client.meta.config.request_checksum_calculation,
                "response_checksum_validation": storage.client.meta.config.response_checksum_validation,
                "engine_headers": engine_headers,
                "default_headers": default_headers,
                "single_size": single.size,
                "multipart_etag": multipart.checksums["etag"],
                "multipart_sha256": multipart.checksums["sha256"],
            }
        )
    )


main()
