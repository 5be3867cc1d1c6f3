"""Upload a verified model version to S3, manifest last.

Semantics (the serving init container and S3 replication rely on them):

* the local directory is verified against its manifest first; a corrupt or
  incomplete artifact is refused before anything is uploaded;
* every file goes to ``s3://<bucket>/<prefix>/<model>/<version>/<path>`` with an
  S3-validated SHA256 checksum and its hex sha256 as object metadata ``sha256``;
* ``manifest.json`` is uploaded LAST, with a conditional write (``If-None-Match: *``),
  so its presence means the version is complete and two publishers cannot both
  create it;
* idempotent: objects whose ``sha256`` metadata and size already match are
  skipped, so re-publishing the same artifact uploads nothing and resuming an
  interrupted publish uploads only what is missing;
* immutable: if the version already has a manifest whose files differ, publishing
  raises `PublishConflictError` naming the differing files and uploads nothing.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recsys_dr.model.manifest import MANIFEST_NAME, ManifestError, files_by_path, file_digest, load_manifest, parse_manifest
from recsys_dr.model.verify import error_code, is_not_found, make_s3_client, verify_local, version_prefix

log = logging.getLogger(__name__)

MiB = 1 << 20
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_MULTIPART_CHUNKSIZE = 64 * MiB


class PublishError(Exception):
    """Publishing was refused; nothing that would break the version was uploaded."""


class PublishConflictError(PublishError):
    """The version already exists in S3 with different files (versions are immutable).

    Attributes:
        uri: str, the s3:// URI of the version.
        paths: list[str], files that differ (changed, added or removed).
    """

    def __init__(self, uri: str, paths: list[str], detail: str = "") -> None:
        self.uri = uri
        self.paths = paths
        names = ", ".join(paths) if paths else "(manifest unreadable)"
        message = (
            f"{uri} is already published with different files: {names}. "
            "Published versions are immutable; export a new version number instead."
        )
        super().__init__(message + (f" {detail}" if detail else ""))


class CorruptArtifactError(PublishError):
    """The local version directory does not match its own manifest."""


@dataclass
class PublishResult:
    """What `publish` did.

    Attributes:
        uri: str, ``s3://bucket/prefix/model/version/``.
        uploaded: list[str], paths uploaded (``manifest.json`` last, when uploaded).
        skipped: list[str], paths already present with the same sha256 and size.
        bytes_uploaded: int, total size of the uploaded files.
        manifest_sha256: str, hex sha256 of the manifest.json bytes now committed in S3 (ours,
            or the identical-files one already there): the value to pin as
            ``model.manifestSha256``.
    """

    uri: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    manifest_sha256: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def default_transfer_config() -> Any:
    """Managed-transfer settings: multipart above 64 MiB, 64 MiB parts, 8 threads."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=DEFAULT_MULTIPART_THRESHOLD,
        multipart_chunksize=DEFAULT_MULTIPART_CHUNKSIZE,
        max_concurrency=8,
    )


def _remote_manifest(s3: Any, bucket: str, key: str, uri: str) -> dict | None:
    """The version's manifest in S3 (with its bytes' sha256 under ``"_sha256"``), None if absent;
    a conflict if unreadable."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    try:
        data = body.read()
    finally:
        body.close()
    try:
        return parse_manifest(data, source=f"{uri}{MANIFEST_NAME}") | {"_sha256": hashlib.sha256(data).hexdigest()}
    except ManifestError as exc:
        raise PublishConflictError(uri, [], detail=f"Remote manifest is invalid: {exc}") from exc


def _differing(local: dict, remote: dict) -> list[str]:
    mine, theirs = files_by_path(local), files_by_path(remote)
    return sorted(p for p in set(mine) | set(theirs) if mine.get(p) != theirs.get(p))


def _already_uploaded(s3: Any, bucket: str, key: str, sha256: str, size: int) -> bool:
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return False
        raise
    return head.get("Metadata", {}).get("sha256") == sha256 and head.get("ContentLength") == size


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled or total == 0 or not sys.stderr.isatty():  # no ANSI bar in redirected output
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is in the `model` extra; publishing works without it.
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="publish")


def publish(
    version_dir: Path,
    bucket: str,
    *,
    s3_client: Any = None,
    prefix: str = "models",
    show_progress: bool = True,
    transfer_config: Any = None,
) -> PublishResult:
    """Upload a model version directory to S3 (manifest last, idempotent, immutable).

    Args:
        version_dir: Path, a version directory holding manifest.json (see model.manifest).
        bucket: str, destination bucket (the primary region's; replication copies it).
        s3_client: boto3 S3 client; default `make_s3_client()` (adaptive retries,
            up to 10 retries).
        prefix: str, key prefix of all models; default "models".
        show_progress: bool, default True: a tqdm byte progress bar on stderr.
        transfer_config: boto3.s3.transfer.TransferConfig; default
            `default_transfer_config()` (multipart from 64 MiB).

    Returns:
        PublishResult with the uploaded and skipped paths.

    Raises:
        CorruptArtifactError: the local directory fails `verify_local`.
        PublishConflictError: the version already exists remotely with other files.
        botocore.exceptions.ClientError / S3UploadFailedError: S3 failed after retries;
            no manifest.json is written, so the version stays incomplete and
            invisible to serving. Re-run to resume.
    """
    from botocore.exceptions import ClientError

    version_dir = Path(version_dir)
    report = verify_local(version_dir)
    if not report.ok:
        raise CorruptArtifactError(f"refusing to publish {version_dir}:\n{report.summary()}")
    manifest_path = version_dir / MANIFEST_NAME
    manifest = load_manifest(manifest_path)

    s3 = s3_client or make_s3_client()
    config = transfer_config or default_transfer_config()
    base = version_prefix(prefix, manifest["model_name"], manifest["version"])
    uri = f"s3://{bucket}/{base}"
    result = PublishResult(uri=uri)
    manifest_key = base + MANIFEST_NAME

    # Plan before uploading anything: a conflict must leave the bucket untouched.
    remote = _remote_manifest(s3, bucket, manifest_key, uri)
    if remote is not None:
        differing = _differing(manifest, remote)
        if differing:
            raise PublishConflictError(uri, differing)
    todo = []
    for entry in manifest["files"]:
        path, sha256, size = entry["path"], entry["sha256"], entry["size"]
        if _already_uploaded(s3, bucket, base + path, sha256, size):
            result.skipped.append(path)
        else:
            todo.append(entry)

    bar = _progress_bar(sum(e["size"] for e in todo), show_progress)
    try:
        for entry in todo:
            log.info("uploading %s%s (%d bytes)", uri, entry["path"], entry["size"])
            s3.upload_file(
                str(version_dir / entry["path"]),
                bucket,
                base + entry["path"],
                ExtraArgs={"ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": entry["sha256"]}},
                Config=config,
                Callback=bar.update if bar is not None else None,
            )
            result.uploaded.append(entry["path"])
            result.bytes_uploaded += entry["size"]
    finally:
        if bar is not None:
            bar.close()

    if remote is not None:
        # Same files already committed: keep the remote manifest (its created_at
        # and metadata are the record of the first publish).
        result.skipped.append(MANIFEST_NAME)
        result.manifest_sha256 = remote["_sha256"]
        return result

    # Commit marker. If-None-Match makes the create atomic: a concurrent publisher
    # that got here first wins, and we only accept it if its files equal ours.
    data = manifest_path.read_bytes()
    sha256, _ = file_digest(manifest_path)
    try:
        s3.put_object(
            Bucket=bucket,
            Key=manifest_key,
            Body=data,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": sha256},
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise
        winner = _remote_manifest(s3, bucket, manifest_key, uri)
        differing = _differing(manifest, winner) if winner is not None else [MANIFEST_NAME]
        if differing:
            raise PublishConflictError(uri, differing, detail="(published concurrently)") from exc
        result.skipped.append(MANIFEST_NAME)
        result.manifest_sha256 = winner["_sha256"]
        return result
    result.uploaded.append(MANIFEST_NAME)
    result.bytes_uploaded += len(data)
    result.manifest_sha256 = sha256
    log.info("published %s (%d uploaded, %d skipped)", uri, len(result.uploaded), len(result.skipped))
    return result
