"""Check a model version against its manifest, locally or in S3.

`verify_local` is what `publish` runs before uploading; `verify_remote` checks a
bucket's copy (e.g. the standby region's replica) and is reused by
`recsys-dr status`. Both report every problem, not just the first.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recsys_dr.model.manifest import (
    CHUNK_SIZE,
    MANIFEST_NAME,
    ManifestError,
    file_digest,
    files_by_path,
    list_files,
    load_manifest,
    parse_manifest,
)

RETRY_CONFIG = {"mode": "adaptive", "max_attempts": 10}


def make_s3_client(region_name: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 S3 client with adaptive retries (botocore does the retrying, not us).

    Args:
        region_name: AWS region; default None (ambient configuration).
        endpoint_url: S3 endpoint, e.g. a moto server; default None (AWS).
    """
    import boto3
    from botocore.config import Config

    return boto3.client("s3", region_name=region_name, endpoint_url=endpoint_url,
                        config=Config(retries=RETRY_CONFIG))


def version_prefix(prefix: str, model_name: str, version: int) -> str:
    """S3 key prefix of a version, ending in "/": ``models/recommender/3/``."""
    parts = [p for p in prefix.strip("/").split("/") if p]
    return "/".join([*parts, model_name, str(version)]) + "/"


@dataclass
class VerifyReport:
    """Outcome of checking a model version against its manifest.

    Attributes:
        ok: bool, True when the manifest was found and valid and every listed file
            is present with the listed size and sha256.
        manifest_found: bool, False when manifest.json is absent (the version is not
            published, or replication has not finished).
        missing: list[str], listed paths that do not exist.
        mismatched: list[dict], one per listed file with the wrong content: keys
            path, reason ("size", "sha256" or "s3-checksum"), expected_sha256,
            actual_sha256 (None when the size already differed), expected_size,
            actual_size.
        checked: int, listed files examined.
        extra: list[str], files present but not listed. Locally this fails the check
            (the manifest must describe the whole directory); in S3 it is reported
            but tolerated, because the init container only installs listed files.
        errors: list[str], problems not tied to one listed file (invalid manifest,
            access denied, ...).
        location: str, the directory or s3:// URI checked.
        manifest_sha256: str | None, hex sha256 of the manifest.json bytes read (what a stack
            pins as ``model.manifestSha256``); None when no manifest was read.
    """

    ok: bool = False
    manifest_found: bool = False
    missing: list[str] = field(default_factory=list)
    mismatched: list[dict] = field(default_factory=list)
    checked: int = 0
    extra: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    location: str = ""
    model_name: str | None = None
    version: int | None = None
    manifest_sha256: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line per problem, headed by OK/FAILED; suitable for a CLI."""
        head = "OK" if self.ok else "FAILED"
        lines = [f"{head}: {self.location} ({self.checked} files checked)"]
        if self.manifest_sha256:
            lines.append(f"  manifest sha256: {self.manifest_sha256}")
        if not self.manifest_found:
            lines.append(f"  manifest: {MANIFEST_NAME} not found")
        lines += [f"  error: {err}" for err in self.errors]
        lines += [f"  missing: {path}" for path in self.missing]
        for item in self.mismatched:
            if item["reason"] == "size":
                detail = f"size {item['actual_size']} != expected {item['expected_size']}"
            elif item["reason"] == "s3-checksum":
                detail = "S3 checksum validation failed while reading the object"
            else:
                detail = (
                    f"sha256 {str(item['actual_sha256'])[:12]}... != expected "
                    f"{item['expected_sha256'][:12]}..."
                )
            lines.append(f"  mismatched: {item['path']}: {detail}")
        for path in self.extra:
            lines.append(f"  extra (not in manifest): {path}")
        return "\n".join(lines)

    def _finish(self, *, extra_fails: bool = False) -> "VerifyReport":
        self.ok = self.manifest_found and not (
            self.missing or self.mismatched or self.errors or (extra_fails and self.extra)
        )
        return self


def _mismatch(path: str, reason: str, exp_sha: str, act_sha: str | None, exp_size: int, act_size: int) -> dict:
    return {
        "path": path,
        "reason": reason,
        "expected_sha256": exp_sha,
        "actual_sha256": act_sha,
        "expected_size": exp_size,
        "actual_size": act_size,
    }


def _check_pin(report: VerifyReport, data: bytes, expected: str | None) -> None:
    report.manifest_sha256 = hashlib.sha256(data).hexdigest()
    if expected is not None and expected.lower() != report.manifest_sha256:
        report.errors.append(
            f"{MANIFEST_NAME} sha256 {report.manifest_sha256} != pinned {expected} (model.manifestSha256)")


def verify_local(version_dir: Path, *, expected_manifest_sha256: str | None = None) -> VerifyReport:
    """Check every file of a local version directory against its manifest.json.

    Args:
        version_dir: Path, e.g. ``artifacts/recommender/3``.
        expected_manifest_sha256: str, the pinned digest of manifest.json; a different
            digest fails the check. Default None: not checked (the digest is still reported).
    """
    version_dir = Path(version_dir)
    report = VerifyReport(location=str(version_dir))
    manifest_path = version_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        return report._finish()
    report.manifest_found = True
    _check_pin(report, manifest_path.read_bytes(), expected_manifest_sha256)
    try:
        manifest = load_manifest(manifest_path)
    except ManifestError as exc:
        report.errors.append(str(exc))
        return report._finish()
    report.model_name, report.version = manifest["model_name"], manifest["version"]

    expected = files_by_path(manifest)
    for path, (exp_sha, exp_size) in expected.items():
        report.checked += 1
        full = version_dir / path
        if not full.is_file():
            report.missing.append(path)
            continue
        act_size = full.stat().st_size
        if act_size != exp_size:
            report.mismatched.append(_mismatch(path, "size", exp_sha, None, exp_size, act_size))
            continue
        act_sha, _ = file_digest(full)
        if act_sha != exp_sha:
            report.mismatched.append(_mismatch(path, "sha256", exp_sha, act_sha, exp_size, act_size))
    try:
        present = list_files(version_dir)
    except ManifestError as exc:
        report.errors.append(str(exc))
    else:
        report.extra = [path for path in present if path not in expected]
    return report._finish(extra_fails=True)


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def is_not_found(exc: BaseException) -> bool:
    """True for S3's "no such object" answers (404 / NoSuchKey / NotFound)."""
    return error_code(exc) in ("404", "NoSuchKey", "NotFound")


def _full_object_sha256(head: dict) -> str | None:
    """S3's stored SHA256 of the whole object as hex, or None when not usable.

    Single-part uploads sent with ChecksumAlgorithm=SHA256 carry a FULL_OBJECT
    checksum that S3 validated on upload (and replication preserves). Multipart
    uploads carry a COMPOSITE checksum (hash of part hashes, "<b64>-<parts>") that
    cannot be compared with the manifest, so those objects are downloaded and hashed.
    """
    value = head.get("ChecksumSHA256")
    if not value or "-" in value or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    # A multipart ETag ("<md5>-<parts>") also means composite, even where a server
    # (moto, some S3 clones) omits the "-<parts>" suffix and ChecksumType.
    if "-" in str(head.get("ETag", "")).strip('"'):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def _stream_sha256(s3: Any, bucket: str, key: str) -> str:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    try:
        for chunk in body.iter_chunks(CHUNK_SIZE):
            digest.update(chunk)
    finally:
        body.close()
    return digest.hexdigest()


def verify_remote(
    bucket: str,
    model_name: str,
    version: int,
    *,
    s3_client: Any = None,
    prefix: str = "models",
    trust_s3_checksums: bool = True,
    expected_manifest_sha256: str | None = None,
) -> VerifyReport:
    """Check ``s3://bucket/prefix/model_name/version/`` against its manifest.json.

    Args:
        bucket: str, bucket name (the regional bucket to check).
        model_name: str, model name, e.g. "recommender".
        version: int, model version.
        s3_client: boto3 S3 client; default `make_s3_client()` (ambient region and
            credentials, adaptive retries).
        prefix: str, key prefix of all models; default "models".
        trust_s3_checksums: bool, default True: when S3 holds a full-object SHA256
            checksum for an object, compare it instead of downloading the object.
            False downloads and hashes every object.
        expected_manifest_sha256: str, pinned digest of manifest.json, see `verify_local`;
            default None.
    """
    s3 = s3_client or make_s3_client()
    base = version_prefix(prefix, model_name, version)
    report = VerifyReport(location=f"s3://{bucket}/{base}", model_name=model_name, version=version)
    data = _read_remote_manifest(s3, bucket, base, report)
    if data is None:
        return report._finish()
    report.manifest_found = True
    _check_pin(report, data, expected_manifest_sha256)
    manifest = _parse_remote_manifest(data, report, model_name, version)
    if manifest is None:
        return report._finish()
    present = _list_sizes(s3, bucket, base, report)
    if present is None:
        return report._finish()
    expected = files_by_path(manifest)
    for path, (exp_sha, exp_size) in expected.items():
        report.checked += 1
        if path not in present:
            report.missing.append(path)
        elif present[path] != exp_size:
            report.mismatched.append(_mismatch(path, "size", exp_sha, None, exp_size, present[path]))
        else:
            _check_remote_file(s3, bucket, base, path, exp_sha, exp_size, report, trust_s3_checksums=trust_s3_checksums)
    report.extra = sorted(
        p for p in present if p != MANIFEST_NAME and p not in expected and not p.endswith("/")
    )
    return report._finish()


def _read_remote_manifest(s3: Any, bucket: str, base: str, report: VerifyReport) -> bytes | None:
    """manifest.json's bytes; None when absent or unreadable (the latter noted in ``report``)."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=base + MANIFEST_NAME)["Body"]
        try:
            return body.read()
        finally:
            body.close()
    except ClientError as exc:
        if not is_not_found(exc):
            report.errors.append(f"cannot read {MANIFEST_NAME}: {exc}")
        return None


def _parse_remote_manifest(data: bytes, report: VerifyReport, model_name: str, version: int) -> dict | None:
    """The parsed manifest when valid and describing ``model_name/version``; else None, noted in ``report``."""
    try:
        manifest = parse_manifest(data, source=report.location + MANIFEST_NAME)
    except ManifestError as exc:
        report.errors.append(str(exc))
        return None
    if (manifest["model_name"], manifest["version"]) != (model_name, version):
        report.errors.append(
            f"manifest describes {manifest['model_name']}/{manifest['version']}, "
            f"not {model_name}/{version}"
        )
        return None
    return manifest


def _list_sizes(s3: Any, bucket: str, base: str, report: VerifyReport) -> dict[str, int] | None:
    """``{path: size}`` of everything under ``base`` from one listing; None when it fails (noted)."""
    from botocore.exceptions import ClientError

    present: dict[str, int] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            for obj in page.get("Contents", []):
                present[obj["Key"][len(base):]] = obj["Size"]
    except ClientError as exc:
        report.errors.append(f"cannot list {report.location}: {exc}")
        return None
    return present


def _check_remote_file(s3: Any, bucket: str, base: str, path: str, exp_sha: str, exp_size: int,
                       report: VerifyReport, *, trust_s3_checksums: bool) -> None:
    """Compare one present, right-sized object's sha256 with the manifest's; note any problem in ``report``."""
    from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

    key = base + path
    try:
        act_sha = None
        if trust_s3_checksums:
            head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            act_sha = _full_object_sha256(head)
        if act_sha != exp_sha:
            # No usable stored checksum, or it disagrees: hash the bytes
            # themselves, so a mismatch is never reported on metadata alone.
            act_sha = _stream_sha256(s3, bucket, key)
    except FlexibleChecksumError:
        # botocore validated the body against S3's checksum and it differed.
        report.mismatched.append(_mismatch(path, "s3-checksum", exp_sha, None, exp_size, exp_size))
        return
    except ClientError as exc:
        if is_not_found(exc):  # deleted between listing and reading
            report.missing.append(path)
        else:
            report.errors.append(f"{path}: {exc}")
        return
    except BotoCoreError as exc:
        report.errors.append(f"{path}: {exc}")
        return
    if act_sha != exp_sha:
        report.mismatched.append(_mismatch(path, "sha256", exp_sha, act_sha, exp_size, exp_size))
