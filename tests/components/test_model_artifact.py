"""ModelArtifact: a built version directory uploaded by `pulumi up`, as the bucket policy demands.

The upload itself (`version_upload.upload_version`) runs against moto's S3 and botocore's Stubber
(which checks every request parameter), the component under Pulumi's mocks.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import boto3
import pulumi
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from recsys_dr.components.storage import version_upload
from recsys_dr.components.storage.model_artifact import (
    ModelArtifact,
    ModelArtifactArgs,
    VersionUploadProvider,
    manifest_pin_problems,
    model_artifact_problems,
)
from recsys_dr.model.manifest import write_manifest
from recsys_dr.model.publish import publish
from recsys_dr.model.verify import verify_remote
from tests.support import render

DYNAMIC = "pulumi-python:dynamic:Resource"
REGION = "us-east-1"
FILES = ["saved_model.pb", "variables/variables.data-00000-of-00001", "variables/variables.index"]


@pytest.fixture
def version_dir(tmp_path) -> Path:
    root = tmp_path / "recommender" / "3"
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph" * 100)
    (root / "variables" / "variables.index").write_bytes(b"index")
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(bytes(range(256)) * 4)
    write_manifest(root, model_name="recommender", version=3, metadata={})
    return root


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def bucket():
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="models-primary")
        yield s3


def test_upload_writes_the_version_model_verify_accepts(bucket, version_dir):
    result = version_upload.upload_version(bucket, bucket="models-primary", prefix="models", version_dir=version_dir)
    assert result.uploaded == [*FILES, "manifest.json"] and result.skipped == []
    report = verify_remote("models-primary", "recommender", 3, s3_client=bucket)
    assert report.ok, report.summary()


def test_model_publish_finds_nothing_left_to_upload(bucket, version_dir):
    version_upload.upload_version(bucket, bucket="models-primary", prefix="models", version_dir=version_dir)
    assert publish(version_dir, "models-primary", s3_client=bucket, show_progress=False).uploaded == []


def test_every_put_is_conditional_checksummed_and_manifest_comes_last(version_dir):
    # Stubber refuses any request whose parameters differ from the expected ones.
    s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(s3)
    for path in [*FILES, "manifest.json"]:
        local = version_dir / path
        stub.add_response("put_object", {}, {
            "Bucket": "models-primary", "Key": f"models/recommender/3/{path}", "Body": ANY,
            # The bucket policy denies a PutObject without If-None-Match (s3:if-none-match).
            "IfNoneMatch": "*",
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(local.read_bytes()).digest()).decode(),
            "Metadata": {"sha256": sha256_of(local)},
            "ContentType": "application/json" if path == "manifest.json" else "application/octet-stream",
        })
    with stub:
        version_upload.upload_version(s3, bucket="models-primary", prefix="models", version_dir=version_dir)
    stub.assert_no_pending_responses()


def test_rerun_skips_what_is_already_there_identically(bucket, version_dir):
    version_upload.upload_version(bucket, bucket="models-primary", prefix="models", version_dir=version_dir)
    real_put = bucket.put_object

    def conditional_put(**kwargs):
        # moto ignores If-None-Match; S3 answers 412 when the key exists.
        try:
            bucket.head_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"])
        except ClientError:
            return real_put(**kwargs)
        raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "At least one of the pre-conditions you specified did not hold"}}, "PutObject")

    bucket.put_object = conditional_put
    result = version_upload.upload_version(bucket, bucket="models-primary", prefix="models", version_dir=version_dir)
    assert result.uploaded == [] and result.skipped == [*FILES, "manifest.json"]


def test_existing_object_with_other_content_is_a_conflict(bucket, version_dir):
    bucket.put_object(Bucket="models-primary", Key="models/recommender/3/saved_model.pb", Body=b"other", Metadata={"sha256": "0" * 64})

    def refused(**kwargs):
        raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "exists"}}, "PutObject")

    bucket.put_object = refused
    with pytest.raises(version_upload.UploadConflictError, match="already exists with other content"):
        version_upload.upload_version(bucket, bucket="models-primary", prefix="models", version_dir=version_dir)


def test_upload_assumes_the_release_role():
    with mock_aws():
        session = version_upload.release_session(region=REGION, role_arn="arn:aws:iam::123456789012:role/recsys-model-release")
        identity = session.client("sts").get_caller_identity()
    # The bucket policy compares aws:PrincipalArn, which for this session is the release role.
    assert ":assumed-role/recsys-model-release/recsys-dr-pulumi-up" in identity["Arn"]


def test_provider_create_uploads_and_never_deletes(monkeypatch, bucket, version_dir):
    monkeypatch.setattr(version_upload, "s3_client", lambda region, role_arn: bucket)
    props = {"region": REGION, "bucket": "models-primary", "prefix": "models", "versionDir": str(version_dir),
             "manifestKey": "models/recommender/3/manifest.json", "manifestSha256": sha256_of(version_dir / "manifest.json"), "roleArn": ""}
    created = VersionUploadProvider().create(props)
    assert created.id == "s3://models-primary/models/recommender/3/manifest.json"
    assert created.outs["uploaded"][-1] == "manifest.json"
    VersionUploadProvider().delete(created.id, created.outs)
    assert bucket.head_object(Bucket="models-primary", Key="models/recommender/3/manifest.json")


def test_a_new_digest_is_a_new_upload_not_an_overwrite():
    old = {"bucket": "b", "manifestKey": "models/m/3/manifest.json", "manifestSha256": "a" * 64, "region": REGION}
    diff = VersionUploadProvider().diff("id", old, {**old, "manifestSha256": "b" * 64})
    assert diff.changes and diff.replaces == ["manifestSha256"] and diff.delete_before_replace is False
    assert not VersionUploadProvider().diff("id", old, dict(old)).changes


def render_artifact(version_dir: Path, **extra):
    def program() -> None:
        artifact = ModelArtifact(
            "art",
            ModelArtifactArgs(version_dir=version_dir, model_name="recommender", model_version=3, region=REGION, bucket="models-primary", **extra),
        )
        pulumi.export("digest", artifact.manifest_sha256)
        pulumi.export("key", artifact.manifest_key)

    return render(program)


def test_component_registers_one_retained_upload_as_the_release_role(version_dir):
    run = render_artifact(version_dir, role_arn="arn:aws:iam::123456789012:role/recsys-model-release")
    [upload] = run.of_type(DYNAMIC)
    assert upload.inputs["bucket"] == "models-primary" and upload.inputs["region"] == REGION
    assert upload.inputs["roleArn"] == "arn:aws:iam::123456789012:role/recsys-model-release"
    assert upload.inputs["manifestSha256"] == sha256_of(version_dir / "manifest.json")
    assert upload.options.get("retainOnDelete") is True
    assert run.outputs == {"digest": sha256_of(version_dir / "manifest.json"), "key": "models/recommender/3/manifest.json"}


def test_missing_directory_is_refused(tmp_path):
    problems = model_artifact_problems("model.artifactDir", tmp_path / "nope", "recommender", 3)
    assert problems == [
        f"`model.artifactDir` must be a model version directory (built by `python -m recsys_dr.model build`). "
        f"Received: {str(tmp_path / 'nope')!r}, which is not a directory"
    ]


def test_directory_of_another_version_is_refused(version_dir):
    [problem] = model_artifact_problems("model.artifactDir", version_dir, "recommender", 4)
    assert "must hold the pinned model recommender version 4" in problem
    assert "holds recommender version 3" in problem


def test_corrupt_file_is_refused_before_any_resource(version_dir):
    (version_dir / "saved_model.pb").write_bytes(b"tampered")
    [problem] = model_artifact_problems("model.artifactDir", version_dir, "recommender", 3)
    assert "does not match its own manifest.json" in problem and "saved_model.pb" in problem
    with pytest.raises(pulumi.InputPropertiesError, match="does not match its own manifest.json"):
        render_artifact(version_dir)


def test_directory_without_manifest_is_refused(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"x")
    [problem] = model_artifact_problems("model.artifactDir", tmp_path, "recommender", 3)
    assert "must hold a valid manifest.json" in problem


def test_manifest_other_than_the_pinned_one_is_refused(version_dir):
    [problem] = manifest_pin_problems("model.artifactDir", version_dir, "model.manifestSha256", "0" * 64)
    assert "must hold the manifest `model.manifestSha256` pins" in problem
    assert manifest_pin_problems("model.artifactDir", version_dir, "model.manifestSha256", sha256_of(version_dir / "manifest.json")) == []
