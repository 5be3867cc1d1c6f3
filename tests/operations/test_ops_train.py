"""`recsys-dr train`: a run from the stack's template, against the fake Kubernetes API's Job
controller (`sandbox.kube.FakeJobs`) and moto S3; the published version is what it prints to pin."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from recsys_dr.components.training.manifests import NAMESPACE, TrainingSpec, headless_service_spec, job_manifest
from recsys_dr.components.training.training_job import SPEC_KEY
from recsys_dr.model.manifest import MANIFEST_NAME
from recsys_dr.operations.cli import handle_train
from recsys_dr.operations.kube import KubeApi
from recsys_dr.operations.outputs import parse_outputs
from recsys_dr.operations.training import next_version
from recsys_dr.sandbox.kube import FakeJobs, FakeKube
from tests.operations.ops_fixtures import outputs_doc

REGION = "us-east-1"
BUCKET = "b-primary"
SPEC = TrainingSpec(model_name="recommender", image="registry.example/recsys@sha256:" + "a" * 64, workers=2,
                    gpus_per_worker=1, cpu="3", memory="12Gi", interactions="s3://events/interactions/",
                    catalog="s3://events/catalog.parquet", pseudonym_key_secret="pseudonym-key", bucket=BUCKET,
                    region=REGION, service_account="recommender-training", service="recommender-training")
TEMPLATE = "recommender-training-template"


class Clients:
    """What `handle_train` asks for: the primary's Kubernetes API and S3."""

    def __init__(self, kube: FakeKube, s3):
        self.kube_api = KubeApi(server=kube.url, ca_data=None, token=lambda: "k8s-aws-v1.dGVzdA")
        self._s3 = s3

    def kube(self, region, cluster_name):
        assert (region, cluster_name) == (REGION, "c-primary")
        return self.kube_api

    def s3(self, region):
        assert region == REGION
        return self._s3


@pytest.fixture
def s3(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def _publish_as_worker_zero(s3):
    """What the chief does once it has trained: publish the exported version the Job names."""
    from recsys_dr.model.publish import publish
    from tests.model import model_fixtures as fx

    fx.exported()  # trained and exported now, not while the fake API server holds its lock

    def publish_version(job: dict) -> None:
        env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        version = int(env["RECSYS_TRAIN_VERSION"])
        staged = Path(fx.exported()).parent.parent / "staged" / "recommender" / str(version)
        if not staged.exists():  # the fixture's export, under the version this run was given
            import shutil

            shutil.copytree(fx.exported(), staged)
            manifest = json.loads((staged / MANIFEST_NAME).read_text())
            (staged / MANIFEST_NAME).write_text(json.dumps({**manifest, "version": version}, indent=2, sort_keys=True))
        publish(staged, BUCKET, s3_client=s3, show_progress=False)

    return publish_version


def _world(**batch):
    kube = FakeKube()
    kube.batch = FakeJobs(config_maps={(NAMESPACE, TEMPLATE): {SPEC_KEY: json.dumps(dataclasses.asdict(SPEC))}},
                          services={(NAMESPACE, SPEC.service): headless_service_spec(SPEC)}, **batch)
    return kube


def _outputs(tmp_path: Path, with_training: bool = True) -> str:
    doc = outputs_doc("health-check")
    doc["regions"]["primary"].update({"region": REGION, "bucket": BUCKET})
    if with_training:
        doc["training"] = {"namespace": NAMESPACE, "templateName": TEMPLATE, "roleArn": "arn:aws:iam::1:role/t"}
    parse_outputs(doc)  # a valid document
    (tmp_path / "outputs.json").write_text(json.dumps(doc))
    return str(tmp_path / "outputs.json")


def _args(outputs: str, **extra):
    import argparse

    return argparse.Namespace(command="train", outputs=outputs, json=False, version=None, timeout=600.0,
                              poll_interval=1.0, **extra)


@pytest.mark.slow
def test_train_runs_an_indexed_job_and_prints_the_published_digest_to_pin(s3, tmp_path, capsys):
    s3.put_object(Bucket=BUCKET, Key="models/recommender/4/manifest.json", Body=b"{}", IfNoneMatch="*")
    kube = _world(on_complete=_publish_as_worker_zero(s3))
    try:
        code = handle_train(_args(_outputs(tmp_path)), clients=Clients(kube, s3), sleep=lambda s: None)
    finally:
        kube.stop()
    out, err = capsys.readouterr()
    assert code == 0, err
    ((namespace, name), job), = kube.batch.jobs.items()
    # what was POSTed is the template rendered for the next free version (4 was taken)
    posted = dict(job)
    posted.pop("status")
    assert posted == job_manifest(SPEC, name=name, namespace=namespace, version=5)
    digest = s3.get_object(Bucket=BUCKET, Key="models/recommender/5/manifest.json")["Body"].read()
    import hashlib

    assert f"published recommender version 5 (Job {name}" in out
    assert f"model.version: 5, model.manifestSha256: {hashlib.sha256(digest).hexdigest()}" in out
    assert "2 active" in err and "2 succeeded" in err


def test_a_job_whose_workers_cannot_resolve_each_other_fails_with_the_reason(s3, tmp_path, capsys):
    kube = _world()
    kube.batch.services.clear()  # no headless Service: `<job>-<i>.<subdomain>` does not exist
    try:
        code = handle_train(_args(_outputs(tmp_path)), clients=Clients(kube, s3), sleep=lambda s: None)
    finally:
        kube.stop()
    err = capsys.readouterr().err
    assert code == 1
    assert "failed: worker 0 cannot resolve recommender-train-" in err and ".recommender-training" in err


def test_workers_without_gpu_room_never_start_and_the_wait_is_bounded(s3, tmp_path, capsys):
    kube = _world(gpus=1)  # two one-GPU workers, one GPU: a worker stays Pending
    clock = iter(range(0, 10_000, 100))
    try:
        code = handle_train(_args(_outputs(tmp_path)), clients=Clients(kube, s3), sleep=lambda s: None,
                            clock=lambda: next(clock))
    finally:
        kube.stop()
    assert code == 1 and "still running after 600 s" in capsys.readouterr().err


def test_a_stack_without_training_is_bad_input(tmp_path, capsys):
    assert handle_train(_args(_outputs(tmp_path, with_training=False)), clients=object()) == 2
    assert "no `training` section" in capsys.readouterr().err


def test_the_next_version_is_one_above_the_highest_published(s3):
    assert next_version(s3, BUCKET, "recommender") == 1
    for key in ("models/recommender/2/manifest.json", "models/recommender/10/saved_model.pb",
                "models/other/30/manifest.json"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    assert next_version(s3, BUCKET, "recommender") == 11


