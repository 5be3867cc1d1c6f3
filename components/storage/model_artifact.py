"""ModelArtifact: upload a built model version directory into the primary bucket with `pulumi up`.

The same layout and commit protocol as `python -m recsys_dr.model publish`
(`models/<name>/<version>/<path>`, each object with an S3-validated SHA-256 checksum and its hex
digest as `sha256` metadata, `manifest.json` last), so the serving init container and a later
`model publish` of the same directory see one and the same version.

The bucket policy admits only conditional writes (`If-None-Match: *`) by the release role, which
pulumi-aws' `BucketObjectv2` cannot send (it has no conditional-write input), so the upload is a
Pulumi dynamic resource running `version_upload.upload_version` as `storage.releaseRoleArn`.
Pulumi never deletes what it uploaded: `pulumi destroy` (or a new pin) leaves the version in
place (it is retained, and the bucket policy denies deletes anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from recsys_dr.components.settings.base import raise_if_problems, region_problems
from recsys_dr.model.manifest import MANIFEST_NAME, ManifestError, file_digest, load_manifest
from recsys_dr.model.verify import verify_local, version_prefix

DEFAULT_PREFIX = "models"


@dataclass(frozen=True, kw_only=True)
class ModelArtifactArgs:
    """Arguments of `ModelArtifact`.

    Attributes:
        version_dir: a version directory built by `python -m recsys_dr.model build`
            (`artifacts/<name>/<version>/`, holding `manifest.json`). Read at plan time.
        model_name / model_version: the version the stack pins; the manifest must say the same.
        region: region of `bucket` (the primary's).
        bucket: the primary model bucket; replication copies the objects to the standby.
        prefix: key prefix of all models. Default "models" (what the init container reads).
        role_arn: the role allowed to write models (`storage.releaseRoleArn`); the upload
            assumes it. Default none (the deployer's own credentials, which the shipped
            bucket policy refuses).
        after: resources the upload waits for, e.g. the bucket's policy, encryption and
            replication (an object written before the replication rule is never replicated).
            A parent's `depends_on` does not reach its children. Default none.
    """

    version_dir: Path
    model_name: str
    model_version: int
    region: str
    bucket: pulumi.Input[str]
    prefix: str = DEFAULT_PREFIX
    role_arn: str | None = None
    after: Sequence[pulumi.Resource] = ()


def model_artifact_problems(key: str, version_dir: Path, model_name: str, model_version: int) -> list[str]:
    """Why `version_dir` cannot be uploaded as `model_name`/`model_version` (empty when it can).

    Every file is hashed against the manifest first, so a corrupt or partial build is refused
    before any resource exists (as `model publish` refuses it before uploading).
    """
    version_dir = Path(version_dir)
    if not version_dir.is_dir():
        return [f"`{key}` must be a model version directory (built by `python -m recsys_dr.model build`). "
                f"Received: {str(version_dir)!r}, which is not a directory"]
    try:
        manifest = load_manifest(version_dir / MANIFEST_NAME)
    except ManifestError as error:
        return [f"`{key}` must hold a valid {MANIFEST_NAME}. Received: {str(version_dir)!r}: {error}"]
    if (manifest["model_name"], manifest["version"]) != (model_name, model_version):
        return [f"`{key}` must hold the pinned model {model_name} version {model_version}. "
                f"Received: {str(version_dir)!r} holds {manifest['model_name']} version {manifest['version']}"]
    report = verify_local(version_dir)
    if not report.ok:
        return [f"`{key}` does not match its own {MANIFEST_NAME}; rebuild it. Received: {report.summary()}"]
    return []


def manifest_pin_problems(key: str, version_dir: Path, pin_key: str, pinned_sha256: str) -> list[str]:
    """The directory's manifest must be the pinned one, or the init container would refuse it."""
    actual, _ = file_digest(Path(version_dir) / MANIFEST_NAME)
    if actual != pinned_sha256:
        return [f"`{key}` must hold the manifest `{pin_key}` pins (the init container refuses any other). "
                f"Received: {str(version_dir)!r} has manifest sha256 {actual}, pinned {pinned_sha256}"]
    return []


def manifest_shape_problems(key: str, version_dir: Path, *, history_length: int, max_batch: int) -> list[str]:
    """The request shape the stack sizes its front door and batcher for must fit the version: the
    same history length, and no more rows than the version's own cap (its manifest's `serving`)."""
    serving = load_manifest(Path(version_dir) / MANIFEST_NAME).get("serving") or {}
    problems = []
    if "history_length" in serving and serving["history_length"] != history_length:
        problems.append(f"`{key}.historyLength` must be the version's `serving.history_length` ({serving['history_length']}): "
                        f"the web ACL's body limit is sized for it. Received: {history_length}")
    if "max_batch" in serving and max_batch > serving["max_batch"]:
        problems.append(f"`{key}.maxBatch` must be <= the version's `serving.max_batch` ({serving['max_batch']}): larger "
                        f"batches fail the graph's row check. Received: {max_batch}")
    return problems


class VersionUploadProvider(ResourceProvider):
    """Creates = uploads (idempotently); never deletes a published version."""

    def create(self, props: dict) -> CreateResult:
        from recsys_dr.components.storage.version_upload import s3_client, upload_version

        s3 = s3_client(region=props["region"], role_arn=props.get("roleArn") or None)
        result = upload_version(s3, bucket=props["bucket"], prefix=props["prefix"], version_dir=Path(props["versionDir"]))
        return CreateResult(
            id_=f"s3://{props['bucket']}/{props['manifestKey']}",
            outs={**props, "uploaded": result.uploaded, "skipped": result.skipped},
        )

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        # A new digest, key or bucket is another version: upload it (the old one stays).
        keys = ("bucket", "manifestKey", "manifestSha256", "region")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def delete(self, _id: str, _props: dict) -> None:
        """Published versions are immutable; the bucket policy denies deletes anyway."""


class VersionUpload(Resource):
    """One uploaded model version (dynamic resource); its id is the manifest's S3 URI."""

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(VersionUploadProvider(), name, {**props, "uploaded": None, "skipped": None}, opts)


class ModelArtifact(pulumi.ComponentResource):
    """A built model version uploaded into the primary bucket, manifest last.

    Attributes:
        upload: the upload resource; depend on it to start pods only once the version is
            complete in the bucket.
        manifest_key: S3 key of the uploaded `manifest.json`.
        manifest_sha256: hex SHA-256 of the uploaded manifest.
    """

    upload: VersionUpload
    manifest_key: str
    manifest_sha256: str

    def __init__(self, name: str, args: ModelArtifactArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems(
            "ModelArtifactArgs",
            region_problems("region", args.region)
            + model_artifact_problems("version_dir", args.version_dir, args.model_name, args.model_version),
        )
        super().__init__("recsys-dr:components:ModelArtifact", name, None, opts)
        version_dir = Path(args.version_dir).resolve()
        self.manifest_key = version_prefix(args.prefix, args.model_name, args.model_version) + MANIFEST_NAME
        self.manifest_sha256, _ = file_digest(version_dir / MANIFEST_NAME)
        self.upload = VersionUpload(
            f"{name}-upload",
            {
                "region": args.region, "bucket": args.bucket, "prefix": args.prefix, "versionDir": str(version_dir),
                "manifestKey": self.manifest_key, "manifestSha256": self.manifest_sha256, "roleArn": args.role_arn or "",
            },
            # Published objects outlive the stack: a destroy or a new pin never deletes a version.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, depends_on=list(args.after)),
        )
        self.register_outputs({"manifestKey": self.manifest_key, "manifestSha256": self.manifest_sha256})
