"""ModelArtifact: a built version directory uploaded by `pulumi up`, as `model publish` would."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import pulumi
import pytest
from moto import mock_aws

from recsys_dr.components.storage.model_artifact import ModelArtifact, ModelArtifactArgs, model_artifact_problems
from recsys_dr.model.manifest import write_manifest
from recsys_dr.model.publish import publish
from recsys_dr.model.verify import verify_remote
from tests.support import render

OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
REGION = "us-east-1"


@pytest.fixture
def version_dir(tmp_path) -> Path:
    root = tmp_path / "recommender" / "3"
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph" * 100)
    (root / "variables" / "variables.index").write_bytes(b"index")
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(bytes(range(256)) * 4)
    write_manifest(root, model_name="recommender", version=3, metadata={})
    return root


def render_artifact(version_dir: Path):
    def program() -> None:
        ModelArtifact(
            "art",
            ModelArtifactArgs(version_dir=version_dir, model_name="recommender", model_version=3, region=REGION, bucket="models-primary"),
        )

    run = render(program)
    return run, [r for r in run.resources if r.type == OBJECT]


def test_every_manifest_file_and_the_manifest_become_objects(version_dir):
    _, objects = render_artifact(version_dir)
    assert sorted(o.inputs["key"] for o in objects) == [
        "models/recommender/3/manifest.json",
        "models/recommender/3/saved_model.pb",
        "models/recommender/3/variables/variables.data-00000-of-00001",
        "models/recommender/3/variables/variables.index",
    ]
    assert {o.inputs["region"] for o in objects} == {REGION}
    assert {o.inputs["bucket"] for o in objects} == {"models-primary"}


def test_each_object_is_sent_with_a_sha256_checksum_and_digest(version_dir):
    _, objects = render_artifact(version_dir)
    for obj in objects:
        assert obj.inputs["checksumAlgorithm"] == "SHA256"
        assert len(obj.inputs["metadata"]["sha256"]) == 64
        assert obj.inputs["sourceHash"] == obj.inputs["metadata"]["sha256"]


def test_manifest_is_created_after_every_file(version_dir):
    _, objects = render_artifact(version_dir)
    manifest = next(o for o in objects if o.inputs["key"].endswith("manifest.json"))
    files = {o.urn for o in objects if o is not manifest}
    assert set(manifest.dependencies) >= files
    assert manifest.inputs["contentType"] == "application/json"
    for obj in objects:
        assert not set(obj.dependencies) & {manifest.urn}


def test_objects_survive_pulumi_destroy(version_dir):
    _, objects = render_artifact(version_dir)
    assert all(o.options.get("retainOnDelete") for o in objects)


def test_uploaded_objects_are_what_model_publish_would_write(version_dir):
    """Replays the registered objects as the AWS provider would (PutObject with the checksum and
    metadata), then `model verify` accepts the version and `model publish` has nothing left to do."""
    _, objects = render_artifact(version_dir)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="models-primary")
        for obj in sorted(objects, key=lambda o: o.inputs["key"].endswith("manifest.json")):
            path = version_dir / obj.inputs["key"].removeprefix("models/recommender/3/")
            s3.put_object(
                Bucket=obj.inputs["bucket"], Key=obj.inputs["key"], Body=path.read_bytes(),
                ChecksumAlgorithm=obj.inputs["checksumAlgorithm"], Metadata=obj.inputs["metadata"],
                ContentType=obj.inputs["contentType"],
            )
        report = verify_remote("models-primary", "recommender", 3, s3_client=s3)
        assert report.ok, report.summary()
        result = publish(version_dir, "models-primary", s3_client=s3, show_progress=False)
        assert result.uploaded == []


def test_manifest_digest_is_the_uploaded_files_digest(version_dir):
    def program() -> None:
        artifact = ModelArtifact(
            "art",
            ModelArtifactArgs(version_dir=version_dir, model_name="recommender", model_version=3, region=REGION, bucket="models-primary"),
        )
        pulumi.export("digest", artifact.manifest_sha256)

    run = render(program)
    expected = hashlib.sha256((version_dir / "manifest.json").read_bytes()).hexdigest()
    assert run.outputs["digest"] == expected
    manifest = next(o for o in run.resources if o.type == OBJECT and o.inputs["key"].endswith("manifest.json"))
    assert manifest.inputs["metadata"]["sha256"] == expected


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
