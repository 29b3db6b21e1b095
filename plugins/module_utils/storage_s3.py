# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3-compatible storage through boto3: B2's S3 endpoint, AWS, MinIO-style servers.

Multipart uploads are driven here rather than by boto3's transfer manager so that memory is bounded
(at most ``threads + 1`` parts in flight), every part carries a Content-MD5 the server checks, and the
ETag the server reports for the whole object can be compared with the one computed while streaming.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import os
import re
import threading
import traceback
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import BinaryIO, Iterator

from .storage import (
    CHUNK_SIZE,
    Storage,
    StorageAuthError,
    StorageCapabilityError,
    StorageConfig,
    StorageError,
    StorageIntegrityError,
    StorageNotFoundError,
    StorageQuotaError,
    StorageUnreachableError,
    StoredObject,
)

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError
except ImportError:
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None

CONTENT_TYPE = "application/zstd"
AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "InvalidSecurity"}
NOT_FOUND_CODES = {"NoSuchBucket", "NoSuchKey", "NotFound", "404"}
DENIED_CODES = {"AccessDenied", "403", "AllAccessDisabled"}
INTEGRITY_CODES = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "IncompleteBody"}
QUOTA_CODES = {"QuotaExceeded", "StorageCapExceeded", "EntityTooLarge", "ServiceQuotaExceeded", "InsufficientStorage"}
MD5_ETAG = re.compile(r"^[0-9a-f]{32}(-\d+)?$")


def checksum_options(option_defaults: dict) -> dict:
    """Client options that keep checksums to what every S3-compatible service accepts.

    botocore 1.36 started adding CRC checksums (and aws-chunked bodies) to every upload and validating
    them on download by default; several S3-compatible services reject those requests. Older botocore
    (Debian 12 has 1.29) neither does that nor knows the options, so they are passed only when present.
    Integrity does not depend on them: every part carries a Content-MD5 and the ETag is compared.
    """
    if "request_checksum_calculation" not in option_defaults:
        return {}
    return {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}


def client_config(config: StorageConfig) -> Config:
    return Config(
        connect_timeout=config.timeout,
        read_timeout=config.timeout,
        retries={"max_attempts": config.retries, "mode": "standard"},
        signature_version="s3v4",
        # Path-style addressing works with MinIO, B2 and loopback endpoints that have no wildcard DNS.
        s3={"addressing_style": "path" if config.endpoint_url else "auto"},
        max_pool_connections=max(10, config.threads + 2),
        **checksum_options(Config.OPTION_DEFAULTS),
    )


def lock_arguments(retain_until: datetime | None) -> dict:
    """Governance mode: an admin can still lift it in an emergency; compliance mode could never be undone."""
    if retain_until is None:
        return {}
    return {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": retain_until}


def md5_header(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def multipart_etag(part_digests: list) -> str:
    """The ETag S3 reports for a multipart object: md5 of the concatenated part md5s, dash, part count."""
    return f"{hashlib.md5(b''.join(part_digests)).hexdigest()}-{len(part_digests)}"  # noqa: S324 - S3's format


class S3Storage(Storage):
    def __init__(self, config: StorageConfig, client: object | None = None) -> None:
        super().__init__(config)
        if not HAS_BOTO3:
            raise StorageError("the s3 backend needs boto3", library="boto3")
        self.bucket = config.bucket
        self.client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            aws_access_key_id=config.key_id,
            aws_secret_access_key=config.key,
            config=client_config(config),
        )

    @property
    def location(self) -> str:
        endpoint = self.config.endpoint_url or "aws"
        return f"s3://{self.bucket}/{self.prefix} ({endpoint})"

    def put_file(self, key: str, path: str, metadata: dict, retain_until: datetime | None = None) -> StoredObject:
        lock = lock_arguments(retain_until)
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < self.config.part_size:
                return self._put_single(key, handle.read(), metadata, lock)
            return self._put_multipart(key, handle, metadata, lock)

    def _put_checked(self, action: str, key: str, data: bytes, **arguments) -> str:
        """One PUT with Content-MD5, its ETag compared with the md5 sent; returns that md5 (hex)."""
        md5 = hashlib.md5(data)  # noqa: S324 - Content-MD5 is the integrity check S3 servers apply
        with self._errors(action, key):
            response = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentMD5=md5_header(md5.digest()), **arguments
            )
        _check_etag(key, response.get("ETag"), md5.hexdigest())
        return md5.hexdigest()

    def _put_single(self, key: str, data: bytes, metadata: dict, lock: dict) -> StoredObject:
        md5 = self._put_checked("upload", key, data, ContentType=CONTENT_TYPE, Metadata=metadata, **lock)
        return self._verify_stored(key, len(data), md5, hashlib.sha256(data).hexdigest(), metadata)

    def _put_multipart(self, key: str, handle: BinaryIO, metadata: dict, lock: dict) -> StoredObject:
        for stale in self._unfinished_uploads(key):
            if stale["Key"] == key:
                self._abort(key, stale["UploadId"])
        with self._errors("start a multipart upload of", key):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=CONTENT_TYPE, Metadata=metadata, **lock
            )["UploadId"]
        try:
            parts, sha256, size = self._upload_parts(key, upload_id, handle)
            with self._errors("complete the multipart upload of", key):
                response = self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [{"ETag": part[1], "PartNumber": part[0]} for part in parts]},
                )
        except BaseException:
            self._abort(key, upload_id)
            raise
        expected = multipart_etag([part[2] for part in parts])
        _check_etag(key, response.get("ETag"), expected)
        return self._verify_stored(key, size, expected, sha256, metadata)

    def _upload_parts(self, key: str, upload_id: str, handle: BinaryIO) -> tuple:
        """Upload parts with at most ``threads`` in memory at once; return (parts, sha256 hex, total size).

        A part is read only once a slot is free, so memory stays at ``threads * part_size`` however
        large the snapshot, and the first failed part stops further reads.
        """
        sha256 = hashlib.sha256()
        slots = threading.BoundedSemaphore(self.config.threads)
        failed = threading.Event()
        futures: list[Future] = []
        size = 0

        def part_done(future: Future) -> None:
            if future.exception() is not None:
                failed.set()
            slots.release()

        with ThreadPoolExecutor(max_workers=self.config.threads) as pool:
            for number in itertools.count(1):
                slots.acquire()
                data = handle.read(self.config.part_size)
                if not data or failed.is_set():
                    slots.release()
                    break
                sha256.update(data)
                size += len(data)
                futures.append(pool.submit(self._upload_part, key, upload_id, number, data))
                futures[-1].add_done_callback(part_done)
                del data  # the pending part holds the only reference; it is freed once sent
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                if future.done() and future.exception():
                    for other in futures:
                        other.cancel()
                    raise future.exception()
            parts = [future.result() for future in futures]
        return parts, sha256.hexdigest(), size

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> tuple:
        md5 = hashlib.md5(data)  # noqa: S324 - Content-MD5 is the integrity check S3 servers apply
        with self._errors(f"upload part {number} of", key):
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ContentMD5=md5_header(md5.digest()),
            )
        _check_etag(key, response.get("ETag"), md5.hexdigest(), part=number)
        return number, response["ETag"], md5.digest()

    def _verify_stored(self, key: str, size: int, etag: str, sha256: str, metadata: dict) -> StoredObject:
        stored = self.head(key)
        if stored is None or stored.size != size:
            raise StorageIntegrityError(
                f"the store reports {key} with {stored.size if stored else 'no'} bytes, {size} were sent",
                key=key,
                sent_bytes=size,
            )
        _check_etag(key, stored.checksums.get("etag"), etag)
        return StoredObject(key, size, metadata, {"sha256": sha256, "etag": etag})

    def _abort(self, key: str, upload_id: str) -> None:
        # Best effort: when the endpoint is gone the abort fails too, and the next run or prune cancels it.
        with contextlib.suppress(BotoCoreError, ClientError):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/json", retain_until: datetime | None = None
    ) -> StoredObject:
        md5 = self._put_checked("write", key, data, ContentType=content_type, **lock_arguments(retain_until))
        return StoredObject(key, len(data), {}, {"etag": md5})

    def head(self, key: str) -> StoredObject | None:
        try:
            with self._errors("read", key):
                response = self.client.head_object(Bucket=self.bucket, Key=key)
        except StorageNotFoundError:
            return None
        etag = response.get("ETag", "").strip('"')
        return StoredObject(key, response["ContentLength"], response.get("Metadata", {}), {"etag": etag})

    def download(self, key: str, handle: BinaryIO) -> None:
        with self._errors("download", key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    handle.write(chunk)
            finally:
                body.close()

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list", prefix or "/"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    etag = item.get("ETag", "").strip('"')
                    yield StoredObject(item["Key"], item["Size"], {}, {"etag": etag}, item.get("LastModified"))

    def delete(self, key: str) -> None:
        with self._errors("delete", key):
            versions = self._versions_of(key)
            if not versions:
                self.client.delete_object(Bucket=self.bucket, Key=key)
            for version_id in versions:
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)

    def _versions_of(self, key: str) -> list:
        """Version ids of ``key``: deleting each one frees the space, where a plain delete only hides it."""
        try:
            response = self.client.list_object_versions(Bucket=self.bucket, Prefix=key)
        except ClientError as exc:
            if _error_code(exc) in ("NotImplemented", "MethodNotAllowed"):
                return []
            raise
        entries = response.get("Versions", []) + response.get("DeleteMarkers", [])
        return [entry["VersionId"] for entry in entries if entry["Key"] == key and entry.get("VersionId")]

    def cancel_unfinished(self, prefix: str) -> list:
        cancelled = []
        for upload in self._unfinished_uploads(prefix):
            self._abort(upload["Key"], upload["UploadId"])
            cancelled.append(upload["Key"])
        return cancelled

    def _unfinished_uploads(self, prefix: str) -> list:
        with self._errors("list unfinished uploads under", prefix or "/"):
            return self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix).get("Uploads", [])

    def retention_warning(self) -> str | None:
        try:
            versioning = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except (BotoCoreError, ClientError):
            return None
        if versioning != "Enabled" or self._expires_noncurrent_versions():
            return None
        return (
            f"bucket {self.bucket} keeps every object version and has no lifecycle rule expiring noncurrent "
            "versions: deletions by other tools only hide objects, and the space is never freed"
        )

    def _expires_noncurrent_versions(self) -> bool:
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket).get("Rules", [])
        except (BotoCoreError, ClientError):
            return False
        return any(rule.get("Status") == "Enabled" and "NoncurrentVersionExpiration" in rule for rule in rules)

    def close(self) -> None:
        with contextlib.suppress(AttributeError):
            self.client.close()

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            raise translate_client_error(exc, action, self.bucket, key) from exc
        except (BotoConnectionError, BotoCoreError) as exc:
            if isinstance(exc, BotoConnectionError) or "connect" in str(exc).lower():
                raise StorageUnreachableError(
                    f"cannot {action} {key}: {self.config.endpoint_url or 'S3'} did not answer after "
                    f"{self.config.retries} attempts ({type(exc).__name__})",
                    endpoint=self.config.endpoint_url,
                    key=key,
                ) from exc
            raise StorageError(f"cannot {action} {key}: {exc}", key=key) from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate_client_error(exc: ClientError, action: str, bucket: str, key: str) -> StorageError:
    code = _error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or code
    details = {"bucket": bucket, "key": key, "code": code}
    if code in AUTH_CODES:
        return StorageAuthError(f"the S3 endpoint rejected the credentials: {message}", **details)
    if code == "NoSuchBucket":
        return StorageNotFoundError(f"bucket {bucket} does not exist", **details)
    if code in NOT_FOUND_CODES:
        return StorageNotFoundError(f"cannot {action} {key}: not found", **details)
    if code in QUOTA_CODES or "cap exceeded" in message.lower():
        return StorageQuotaError(f"cannot {action} {key}: the store refused it ({message})", **details)
    if code in DENIED_CODES:
        return StorageCapabilityError(
            f"cannot {action} {key}: access denied; the key lacks the permission for this operation", **details
        )
    if code in INTEGRITY_CODES:
        return StorageIntegrityError(f"cannot {action} {key}: the server saw corrupted data ({message})", **details)
    return StorageError(f"cannot {action} {key}: {message}", **details)


def _check_etag(key: str, reported: str | None, expected: str, part: int | None = None) -> None:
    """Compare an MD5-style ETag; other forms (SSE-KMS, some services) carry no checksum to compare."""
    etag = (reported or "").strip('"')
    if MD5_ETAG.match(etag) and etag != expected:
        where = f"part {part} of {key}" if part else key
        raise StorageIntegrityError(
            f"the store holds different bytes for {where} than were sent (ETag {etag}, expected {expected})",
            key=key,
            part=part,
            reported_etag=etag,
            expected_etag=expected,
        )
