# -*- coding: utf-8 -*-  # noqa: UP009 (the header ansible-test expects of a plugin)
# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The storage options shared by mutuapix.infra.b2_backup and mutuapix.infra.b2_backup_info.
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - Where backups are stored.
      - V(b2) uses Backblaze B2's native API through b2sdk (O(key_id) and O(key) are an application key).
      - V(s3) uses any S3-compatible service through boto3 (B2's S3 endpoint, AWS S3, MinIO); without
        O(key_id)/O(key) boto3's usual credential chain applies.
      - V(local) uses a directory, for the second local copy of 3-2-1 (another disk or mount).
    type: str
    choices: [b2, s3, local]
    default: b2
  bucket:
    description: The bucket. Required for O(backend=b2) and O(backend=s3).
    type: str
  path:
    description: The backup directory for O(backend=local); it must exist.
    type: path
  prefix:
    description:
      - Key prefix under which backups are stored, as C(<prefix>/<host>/<database>/<timestamp>-<label>.sql.zst).
      - With a B2 key restricted to a name prefix, this must lie within it.
    type: str
    default: backups
  endpoint_url:
    description:
      - S3 endpoint URL for O(backend=s3), for example V(https://s3.eu-central-003.backblazeb2.com) or a
        MinIO URL. Omit for AWS.
    type: str
  region:
    description: S3 region for O(backend=s3) (B2's S3 endpoints use the region in their host name).
    type: str
  key_id:
    description: The application key ID (B2) or access key ID (S3).
    type: str
  key:
    description: The application key (B2) or secret access key (S3). Never logged.
    type: str
  part_size_mb:
    description:
      - Size of each part of a multipart (S3) or large-file (B2) upload, in MiB; at least 5.
      - Memory used by an upload is about O(part_size_mb) times (O(threads) + 1) for S3.
    type: int
    default: 16
  threads:
    description: How many parts are uploaded in parallel.
    type: int
    default: 4
  timeout:
    description: Connect and read timeout of each request, in seconds.
    type: float
    default: 60
  retries:
    description:
      - How many attempts a request gets before failing (with exponential backoff between them).
      - b2sdk applies its own fixed retry policy for the native B2 API.
    type: int
    default: 5
"""
