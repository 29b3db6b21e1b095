# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backblaze B2 through its native API (b2sdk, coded against the 1.17 API Debian 12 ships).

B2 checks the SHA1 of every simple upload and of every part of a large file. For the whole large file
it only stores what the client claims in the ``large_file_sha1`` file info, and b2sdk 1.17 does not
claim anything: this backend computes the SHA1 itself (in the same pass as the sha256) and supplies it,
so downloads and ``b2 file info`` can check the whole file.
"""

from __future__ import annotations

import contextlib
import traceback
from datetime import UTC, datetime
from typing import BinaryIO, Iterator

from .storage import (
    CAPABILITIES_FOR,
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
    file_digests,
)

try:
    from b2sdk.v2 import B2Api, FileRetentionSetting, InMemoryAccountInfo, InMemoryCache, RetentionMode
    from b2sdk.v2 import exception as b2_exception
except ImportError:
    HAS_B2SDK = False
    B2SDK_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_B2SDK = True
    B2SDK_IMPORT_ERROR = None

CONTENT_TYPE = "application/zstd"
LARGE_FILE_SHA1 = "large_file_sha1"
NO_SHA1 = (None, "none")


class B2Storage(Storage):
    def __init__(self, config: StorageConfig, api: object | None = None) -> None:
        """``api``: an unauthorised B2Api to use instead of a new one (tests pass the B2 simulator's)."""
        super().__init__(config)
        if not HAS_B2SDK:
            raise StorageError("the b2 backend needs b2sdk", library="b2sdk")
        self.api = api or B2Api(InMemoryAccountInfo(), cache=InMemoryCache(), max_upload_workers=config.threads)
        with self._errors("authorise with", "B2"):
            self.api.authorize_account("production", config.key_id, config.key)
        self._check_bucket_restriction()
        with self._errors("open bucket", config.bucket):
            self.bucket = self.api.get_bucket_by_name(config.bucket)

    @property
    def location(self) -> str:
        return f"b2://{self.config.bucket}/{self.prefix}"

    @property
    def allowed(self) -> dict:
        return self.api.account_info.get_allowed() or {}

    def _check_bucket_restriction(self) -> None:
        allowed_bucket = self.allowed.get("bucketName")
        if allowed_bucket and allowed_bucket != self.config.bucket:
            raise StorageCapabilityError(
                f"the application key is restricted to bucket {allowed_bucket}, not {self.config.bucket}",
                allowed_bucket=allowed_bucket,
                bucket=self.config.bucket,
            )
        name_prefix = self.allowed.get("namePrefix")
        if name_prefix and not (self.prefix + "/").startswith(name_prefix):
            raise StorageCapabilityError(
                f"the application key is restricted to names starting with {name_prefix!r}, "
                f"which does not cover the prefix {self.prefix!r}",
                allowed_name_prefix=name_prefix,
                prefix=self.prefix,
            )

    def missing_capabilities(self, operation: str) -> list:
        granted = set(self.allowed.get("capabilities") or [])
        return [capability for capability in CAPABILITIES_FOR[operation] if capability not in granted]

    def put_file(self, key: str, path: str, metadata: dict, retain_until: datetime | None = None) -> StoredObject:
        retention = self._retention(retain_until)
        size, digests = file_digests(path, "sha1", "sha256")
        self._cancel_unfinished_named(key)
        file_infos = {**metadata, LARGE_FILE_SHA1: digests["sha1"]}
        with self._errors("upload", key):
            version = self.bucket.upload_local_file(
                local_file=path,
                file_name=key,
                content_type=CONTENT_TYPE,
                file_infos=file_infos,
                sha1_sum=digests["sha1"],
                min_part_size=self.config.part_size,
                file_retention=retention,
            )
            stored = self.bucket.get_file_info_by_id(version.id_)
        _check_stored(key, stored, size, digests["sha1"])
        return StoredObject(key, size, metadata, {"sha1": digests["sha1"], "sha256": digests["sha256"]})

    def _retention(self, retain_until: datetime | None) -> object | None:
        """Governance-mode file retention; setting it needs the writeFileRetentions capability."""
        if retain_until is None:
            return None
        if "writeFileRetentions" not in (self.allowed.get("capabilities") or []):
            raise StorageCapabilityError(
                "locking backups needs the writeFileRetentions capability, which the key lacks",
                missing_capabilities=["writeFileRetentions"],
            )
        return FileRetentionSetting(RetentionMode.GOVERNANCE, int(retain_until.timestamp() * 1000))

    def _cancel_unfinished_named(self, key: str) -> None:
        """A crashed run leaves a large file that was started and never finished: cancel it first."""
        with self._errors("list unfinished large files for", key):
            for unfinished in self.bucket.list_unfinished_large_files(prefix=key):
                if unfinished.file_name == key:
                    self.bucket.cancel_large_file(unfinished.file_id)

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/json", retain_until: datetime | None = None
    ) -> StoredObject:
        retention = self._retention(retain_until)
        with self._errors("write", key):
            version = self.bucket.upload_bytes(data, key, content_type=content_type, file_retention=retention)
        return StoredObject(key, version.size, {}, {"sha1": version.content_sha1})

    def head(self, key: str) -> StoredObject | None:
        try:
            with self._errors("read", key):
                version = self.bucket.get_file_info_by_name(key)
        except StorageNotFoundError:
            return None
        return _stored_object(key, version)

    def download(self, key: str, handle: BinaryIO) -> None:
        with self._errors("download", key):
            # Without seeking b2sdk streams sequentially through one connection: bounded memory.
            self.bucket.download_file_by_name(key).save(handle, allow_seeking=False)

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        folder = prefix.rstrip("/")
        with self._errors("list", prefix or "/"):
            for version, _folder in self.bucket.ls(folder_to_list=folder, recursive=True):
                if version.file_name.startswith(prefix):
                    yield _stored_object(version.file_name, version)

    def delete(self, key: str) -> None:
        with self._errors("delete", key):
            # Deleting every version frees the space now; hiding the name would keep the bytes (and bill
            # them) until a lifecycle rule removes them, or forever when there is none.
            for version in self.bucket.list_file_versions(key):
                if version.file_name == key:
                    self.bucket.delete_file_version(version.id_, version.file_name)

    def cancel_unfinished(self, prefix: str) -> list:
        cancelled = []
        with self._errors("cancel unfinished large files under", prefix or "/"):
            for unfinished in self.bucket.list_unfinished_large_files(prefix=prefix):
                self.bucket.cancel_large_file(unfinished.file_id)
                cancelled.append(unfinished.file_name)
        return cancelled

    def retention_warning(self) -> str | None:
        with contextlib.suppress(StorageError, b2_exception.B2Error):
            rules = self.bucket.get_fresh_state().lifecycle_rules
            if not any(rule.get("daysFromHidingToDeleting") for rule in rules):
                return (
                    f"bucket {self.config.bucket} has no lifecycle rule deleting hidden files: files hidden by "
                    "other tools (or overwritten) are kept and billed forever; pruning deletes every version "
                    "of what it removes, so it still frees space"
                )
        return None

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except b2_exception.B2Error as exc:
            raise translate_b2_error(exc, action, self.config.bucket, key) from exc


def _stored_object(key: str, version: object) -> StoredObject:
    info = dict(version.file_info or {})
    sha1 = version.content_sha1 if version.content_sha1 not in NO_SHA1 else info.get(LARGE_FILE_SHA1)
    uploaded = datetime.fromtimestamp(version.upload_timestamp / 1000, UTC) if version.upload_timestamp else None
    return StoredObject(key, version.size, info, {"sha1": sha1} if sha1 else {}, uploaded)


def _check_stored(key: str, stored: object, size: int, sha1: str) -> None:
    """B2 verified each part; compare the size and the SHA1 it reports for the finished file."""
    reported = _stored_object(key, stored)
    if reported.size != size or reported.checksums.get("sha1") != sha1:
        raise StorageIntegrityError(
            f"B2 reports {key} with {reported.size} bytes and SHA1 {reported.checksums.get('sha1')}, "
            f"expected {size} bytes and SHA1 {sha1}",
            key=key,
            sent_bytes=size,
            stored_bytes=reported.size,
        )


def translate_b2_error(exc: Exception, action: str, bucket: str, key: str) -> StorageError:
    details = {"bucket": bucket, "key": key, "b2_error": type(exc).__name__}
    if isinstance(exc, b2_exception.InvalidAuthToken) or (
        isinstance(exc, b2_exception.Unauthorized) and action == "authorise with"
    ):
        return StorageAuthError(f"B2 rejected the application key ({exc.code or 'unauthorized'})", **details)
    if isinstance(exc, b2_exception.RestrictedBucket):
        return StorageCapabilityError(f"the application key is restricted to another bucket than {bucket}", **details)
    if isinstance(exc, b2_exception.NonExistentBucket):
        return StorageNotFoundError(f"bucket {bucket} does not exist (or the key cannot see it)", **details)
    if isinstance(exc, b2_exception.FileNotPresent):
        return StorageNotFoundError(f"cannot {action} {key}: not found", **details)
    if isinstance(exc, b2_exception.Unauthorized | b2_exception.NotAllowedByAppKeyError | b2_exception.AccessDenied):
        return StorageCapabilityError(
            f"cannot {action} {key}: the application key lacks the capability (or name prefix) for it", **details
        )
    if isinstance(exc, b2_exception.CapExceeded | b2_exception.MaxFileSizeExceeded):
        return StorageQuotaError(f"cannot {action} {key}: B2 refused it ({exc})", **details)
    if isinstance(exc, b2_exception.ChecksumMismatch | b2_exception.PartSha1Mismatch | b2_exception.FileSha1Mismatch):
        return StorageIntegrityError(f"cannot {action} {key}: checksum mismatch ({exc})", **details)
    if isinstance(exc, b2_exception.MaxRetriesExceeded) and exc.exception_info_list:
        # b2sdk gives up on an upload after its own retries; the last underlying failure says why.
        return translate_b2_error(exc.exception_info_list[-1], action, bucket, key)
    if isinstance(exc, b2_exception.B2ConnectionError | b2_exception.B2RequestTimeout | b2_exception.UnknownHost):
        return StorageUnreachableError(f"cannot {action} {key}: B2 did not answer after retries ({exc})", **details)
    return StorageError(f"cannot {action} {key}: {exc}", **details)
