"""Upload a verified model version to S3, manifest last.

Semantics (the serving init container and S3 replication rely on them):

* the local directory is verified against its manifest first; a corrupt or
  incomplete artifact is refused before anything is uploaded;
* every file goes to ``s3://<bucket>/<prefix>/<model>/<version>/<path>`` with an
  S3-validated SHA256 checksum and its hex sha256 as object metadata ``sha256``, as a
  conditional create (``If-None-Match: *``, `put_if_absent`): the model buckets' policy
  refuses any write under ``models/`` without it, so nothing can overwrite a published file;
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


@dataclass(frozen=True)
class PartSizes:
    """Multipart settings: files above `threshold` bytes go in parts of `chunk` bytes.

    S3 takes parts of 5 MiB to 5 GiB (all but the last) and one PutObject up to 5 GiB
    (S3 user guide, "Uploading and copying objects using multipart upload").
    """

    threshold: int = DEFAULT_MULTIPART_THRESHOLD
    chunk: int = DEFAULT_MULTIPART_CHUNKSIZE


CONDITION_FAILED = ("PreconditionFailed", "412", "ConditionalRequestConflict")


def _sha256_base64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _put_parts(s3: Any, bucket: str, key: str, path: Path, extra: dict, parts: PartSizes, progress: Any) -> None:
    # boto3's managed transfer cannot send If-None-Match, so the parts go by hand and the
    # condition rides on CompleteMultipartUpload (S3 conditional writes apply to it).
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", **extra)["UploadId"]
    done = []
    try:
        with path.open("rb") as handle:
            for number, chunk in enumerate(iter(lambda: handle.read(parts.chunk), b""), start=1):
                checksum = _sha256_base64(chunk)  # S3 checks the part against it and echoes it back
                part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk,
                                      ChecksumSHA256=checksum)
                done.append({"PartNumber": number, "ETag": part["ETag"], "ChecksumSHA256": checksum})
                if progress is not None:
                    progress(len(chunk))
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}, IfNoneMatch="*")
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def put_if_absent(
    s3: Any, bucket: str, key: str, path: Path, *, sha256: str, size: int,
    content_type: str = "application/octet-stream", parts: PartSizes = PartSizes(), progress: Any = None,
) -> bool:
    """Create `s3://bucket/key` from `path` only if no object is there (``If-None-Match: *``).

    The body is checked by S3 against its SHA-256 (whole object, or per part above
    `parts.threshold`), and the hex digest is stored as metadata ``sha256``.

    Returns:
        True when created; False when an object with the same ``sha256`` metadata and size
        was already there (a resumed or concurrent identical upload).

    Raises:
        PublishConflictError: an object with other content is already there.
    """
    from botocore.exceptions import ClientError

    extra = {"Metadata": {"sha256": sha256}, "ContentType": content_type}
    try:
        if size > parts.threshold:
            _put_parts(s3, bucket, key, Path(path), extra, parts, progress)
        else:
            data = Path(path).read_bytes()
            s3.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*", ChecksumAlgorithm="SHA256",
                          ChecksumSHA256=_sha256_base64(data), **extra)
            if progress is not None:
                progress(size)
        return True
    except ClientError as exc:
        if error_code(exc) not in CONDITION_FAILED:
            raise
    if _already_uploaded(s3, bucket, key, sha256, size):
        return False
    raise PublishConflictError(f"s3://{bucket}/{key.rsplit('/', 1)[0]}/", [key.rsplit("/", 1)[-1]], detail="(written concurrently)")


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
    parts: PartSizes = PartSizes(),
) -> PublishResult:
    """Upload a model version directory to S3 (manifest last, idempotent, immutable).

    Args:
        version_dir: Path, a version directory holding manifest.json (see model.manifest).
        bucket: str, destination bucket (the primary region's; replication copies it).
        s3_client: boto3 S3 client; default `make_s3_client()` (adaptive retries,
            up to 10 retries).
        prefix: str, key prefix of all models; default "models".
        show_progress: bool, default True: a tqdm byte progress bar on stderr.
        parts: PartSizes, multipart threshold and part size; default 64 MiB / 64 MiB.

    Returns:
        PublishResult with the uploaded and skipped paths.

    Raises:
        CorruptArtifactError: the local directory fails `verify_local`.
        PublishConflictError: the version already exists remotely with other files.
        botocore.exceptions.ClientError / S3UploadFailedError: S3 failed after retries;
            no manifest.json is written, so the version stays incomplete and
            invisible to serving. Re-run to resume.
    """
    version_dir = Path(version_dir)
    manifest_path, manifest = _verified_manifest(version_dir)
    s3 = s3_client or make_s3_client()
    base = version_prefix(prefix, manifest["model_name"], manifest["version"])
    result = PublishResult(uri=f"s3://{bucket}/{base}")
    remote, todo = _plan(s3, bucket, base, manifest, result)
    _upload_files(s3, bucket, base, version_dir, todo, result, parts=parts, show_progress=show_progress)
    if remote is not None:
        # Same files already committed: keep the remote manifest (its created_at
        # and metadata are the record of the first publish).
        result.skipped.append(MANIFEST_NAME)
        result.manifest_sha256 = remote["_sha256"]
        return result
    _commit_manifest(s3, bucket, base, manifest_path, manifest, result)
    return result


def _verified_manifest(version_dir: Path) -> tuple[Path, dict]:
    """The version's manifest path and content, after `verify_local` has passed."""
    report = verify_local(version_dir)
    if not report.ok:
        raise CorruptArtifactError(f"refusing to publish {version_dir}:\n{report.summary()}")
    manifest_path = version_dir / MANIFEST_NAME
    return manifest_path, load_manifest(manifest_path)


def _plan(s3: Any, bucket: str, base: str, manifest: dict, result: PublishResult) -> tuple[dict | None, list[dict]]:
    """``(remote manifest or None, file entries still to upload)``; files already there go to
    ``result.skipped``. Runs before any upload: a conflict must leave the bucket untouched."""
    remote = _remote_manifest(s3, bucket, base + MANIFEST_NAME, result.uri)
    if remote is not None:
        differing = _differing(manifest, remote)
        if differing:
            raise PublishConflictError(result.uri, differing)
    todo = []
    for entry in manifest["files"]:
        path, sha256, size = entry["path"], entry["sha256"], entry["size"]
        if _already_uploaded(s3, bucket, base + path, sha256, size):
            result.skipped.append(path)
        else:
            todo.append(entry)
    return remote, todo


def _upload_files(s3: Any, bucket: str, base: str, version_dir: Path, todo: list[dict], result: PublishResult, *,
                  parts: PartSizes, show_progress: bool) -> None:
    """`put_if_absent` each planned file, recording it as uploaded or (written meanwhile) skipped."""
    bar = _progress_bar(sum(e["size"] for e in todo), show_progress)
    try:
        for entry in todo:
            log.info("uploading %s%s (%d bytes)", result.uri, entry["path"], entry["size"])
            created = put_if_absent(
                s3, bucket, base + entry["path"], version_dir / entry["path"], sha256=entry["sha256"], size=entry["size"],
                parts=parts, progress=bar.update if bar is not None else None,
            )
            if created:
                result.uploaded.append(entry["path"])
                result.bytes_uploaded += entry["size"]
            else:
                result.skipped.append(entry["path"])
    finally:
        if bar is not None:
            bar.close()


def _commit_manifest(s3: Any, bucket: str, base: str, manifest_path: Path, manifest: dict, result: PublishResult) -> None:
    """Create manifest.json, the commit marker, with ``If-None-Match: *``.

    The condition makes the create atomic: a concurrent publisher that got here first wins,
    and its manifest is accepted only if its files equal ours.
    """
    from botocore.exceptions import ClientError

    manifest_key, uri = base + MANIFEST_NAME, result.uri
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
        if error_code(exc) not in CONDITION_FAILED:
            raise
        winner = _remote_manifest(s3, bucket, manifest_key, uri)
        differing = _differing(manifest, winner) if winner is not None else [MANIFEST_NAME]
        if differing:
            raise PublishConflictError(uri, differing, detail="(published concurrently)") from exc
        result.skipped.append(MANIFEST_NAME)
        result.manifest_sha256 = winner["_sha256"]
        return
    result.uploaded.append(MANIFEST_NAME)
    result.bytes_uploaded += len(data)
    result.manifest_sha256 = sha256
    log.info("published %s (%d uploaded, %d skipped)", uri, len(result.uploaded), len(result.skipped))
