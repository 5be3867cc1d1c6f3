"""Upload one model version as the model buckets' policy demands (plain boto3, no Pulumi).

The primary bucket's policy (`storage.policies.model_bucket_policy`) denies every `PutObject`
under `models/` that does not carry `If-None-Match` (S3 user guide, "Enforce conditional
writes": condition key `s3:if-none-match`) and every writer but `storage.releaseRoleArn`. So
each object is created with `model.publish.put_if_absent` (the same conditional create `model
publish` uses: single `PutObject`, or parts above 64 MiB, with the SHA-256 for S3 to check and
the hex digest as `sha256` metadata), sent as the release role. `manifest.json` goes last: its presence is the
commit marker the init container waits for.

An object that already exists (S3 answers 412 Precondition Failed) is accepted only if its
`sha256` metadata and size are the manifest's: re-running an interrupted upload resumes it,
anything else is a conflict (published versions are immutable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys_dr.model.manifest import MANIFEST_NAME, file_digest, load_manifest
from recsys_dr.model.publish import PublishConflictError, put_if_absent
from recsys_dr.model.verify import version_prefix

SESSION_NAME = "recsys-dr-pulumi-up"


class UploadConflictError(Exception):
    """The version already exists in the bucket with other content."""


@dataclass
class UploadResult:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _put_once(s3: Any, bucket: str, key: str, path: Path, sha256: str, size: int, content_type: str) -> bool:
    """The conditional create `model publish` uses; False when an identical object is already there."""
    try:
        return put_if_absent(s3, bucket, key, path, sha256=sha256, size=size, content_type=content_type)
    except PublishConflictError:
        raise UploadConflictError(
            f"s3://{bucket}/{key} already exists with other content; published versions are immutable, "
            "build a new version number instead"
        ) from None


def upload_version(s3: Any, *, bucket: str, prefix: str, version_dir: Path) -> UploadResult:
    """Upload `version_dir` (verified beforehand) under `<prefix>/<name>/<version>/`, manifest last."""
    version_dir = Path(version_dir)
    manifest = load_manifest(version_dir / MANIFEST_NAME)
    base = version_prefix(prefix, manifest["model_name"], manifest["version"])
    result = UploadResult()
    entries = [(e["path"], e["sha256"], e["size"], "application/octet-stream") for e in manifest["files"]]
    manifest_sha256, manifest_size = file_digest(version_dir / MANIFEST_NAME)
    for path, sha256, size, content_type in [*entries, (MANIFEST_NAME, manifest_sha256, manifest_size, "application/json")]:
        created = _put_once(s3, bucket, base + path, version_dir / path, sha256, size, content_type)
        (result.uploaded if created else result.skipped).append(path)
    return result


def release_session(*, region: str, role_arn: str | None) -> Any:
    """A boto3 session in `region`: the ambient credentials, or `role_arn`'s (the release role
    the bucket policy admits) when given."""
    import boto3

    if role_arn is None:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region,
    )


def s3_client(*, region: str, role_arn: str | None) -> Any:
    """S3 in `region` as `release_session` gives it, with adaptive retries."""
    from botocore.config import Config

    return release_session(region=region, role_arn=role_arn).client(
        "s3", region_name=region, config=Config(retries={"max_attempts": 10, "mode": "adaptive"})
    )
