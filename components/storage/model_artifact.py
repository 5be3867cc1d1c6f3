"""ModelArtifact: upload a built model version directory into the primary bucket with `pulumi up`.

The same layout and commit protocol as `python -m recsys_dr.model publish`
(`models/<name>/<version>/<path>`, each object with an S3-validated SHA-256 checksum and its hex
digest as `sha256` metadata, `manifest.json` last), so the serving init container and a later
`model publish` of the same directory see one and the same version. Objects are never deleted by
Pulumi: `pulumi destroy` (or unpinning the directory) leaves the published version in place,
as a published version is immutable and may still be served by the standby.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

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
        after: resources every upload waits for, e.g. the bucket's encryption and replication
            configuration (an object written before the replication rule is never replicated).
            A parent's `depends_on` does not reach these objects. Default none.
    """

    version_dir: Path
    model_name: str
    model_version: int
    region: str
    bucket: pulumi.Input[str]
    prefix: str = DEFAULT_PREFIX
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


class ModelArtifact(pulumi.ComponentResource):
    """The files of one model version as S3 objects, `manifest.json` created after all of them.

    Attributes:
        manifest_object: the commit marker; depend on it to start pods only once the version
            is complete in the bucket.
        manifest_sha256: hex SHA-256 of the uploaded manifest.
    """

    manifest_object: aws.s3.BucketObjectv2
    manifest_sha256: str

    def __init__(self, name: str, args: ModelArtifactArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems(
            "ModelArtifactArgs",
            region_problems("region", args.region)
            + model_artifact_problems("version_dir", args.version_dir, args.model_name, args.model_version),
        )
        super().__init__("recsys-dr:components:ModelArtifact", name, None, opts)
        version_dir = Path(args.version_dir)
        manifest = load_manifest(version_dir / MANIFEST_NAME)
        base = version_prefix(args.prefix, args.model_name, args.model_version)
        # Published objects outlive the stack: a destroy or a new pin must never delete a version.
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True, depends_on=list(args.after))

        files = [
            self._object(f"{name}-{entry['path']}", args, base + entry["path"], version_dir / entry["path"], entry["sha256"], kept)
            for entry in manifest["files"]
        ]
        self.manifest_sha256, _ = file_digest(version_dir / MANIFEST_NAME)
        # The manifest is the commit marker (the init container treats its absence as "not
        # published yet"), so it is created only after every file exists.
        self.manifest_object = self._object(
            f"{name}-{MANIFEST_NAME}", args, base + MANIFEST_NAME, version_dir / MANIFEST_NAME, self.manifest_sha256,
            pulumi.ResourceOptions.merge(kept, pulumi.ResourceOptions(depends_on=[*args.after, *files])), content_type="application/json",
        )
        self.register_outputs({
            "manifestKey": self.manifest_object.key,
            "manifestSha256": self.manifest_sha256,
            "objectCount": len(files) + 1,
        })

    @staticmethod
    def _object(
        name: str, args: ModelArtifactArgs, key: str, path: Path, sha256: str, opts: pulumi.ResourceOptions,
        content_type: str = "application/octet-stream",
    ) -> aws.s3.BucketObjectv2:
        return aws.s3.BucketObjectv2(
            name,
            region=args.region,
            bucket=args.bucket,
            key=key,
            source=pulumi.FileAsset(str(path)),
            # The provider sends the SHA-256 with the upload and S3 rejects a body that does not
            # match it; the hex digest in metadata is what `model publish` compares to skip a file.
            checksum_algorithm="SHA256",
            metadata={"sha256": sha256},
            source_hash=sha256,
            content_type=content_type,
            opts=opts,
        )
