"""The training Job (`training.enabled`): its manifests, its role's policy, its settings, and the stack
it renders into under the mock runtime."""

from __future__ import annotations

import json

import pytest

from recsys_dr.components.cluster.addons import GPU_POOL_LABEL, GPU_TAINT
from recsys_dr.components.settings import SettingsError, TwoRegionRecommenderArgs, parse_settings
from recsys_dr.components.training.manifests import (
    JOB_NAME_LABEL,
    WORKER_PORT,
    TrainingSpec,
    headless_service_spec,
    job_manifest,
    job_name,
)
from recsys_dr.components.training.policies import training_policy
from recsys_dr.model.distributed import tf_config_from_env
from recsys_dr.review.mock_runtime import ACCOUNT_ID
from tests.support import render_stack, stack_config

SPEC = TrainingSpec(model_name="recommender", image="registry.example/recsys@sha256:" + "a" * 64, workers=3,
                    gpus_per_worker=1, cpu="3", memory="12Gi", interactions="s3://events-bucket/interactions/",
                    catalog="s3://events-bucket/catalog.parquet", pseudonym_key_secret="pseudonym-key",
                    bucket="models-primary", region="us-east-1", service_account="recommender-training",
                    service="recommender-training")
TRAINING = {"enabled": True, "image": SPEC.image, "workers": 2, "interactions": SPEC.interactions,
            "catalog": SPEC.catalog, "pseudonymKeySecret": "pseudonym-key"}


def _pod_environment(job: dict, index: int) -> dict[str, str]:
    """What the Job controller and the kubelet give pod `index`: JOB_COMPLETION_INDEX, the
    job-name label through the downward API, and the literal values."""
    env = {"JOB_COMPLETION_INDEX": str(index)}
    for var in job["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        elif var["valueFrom"].get("fieldRef", {}).get("fieldPath") == f"metadata.labels['{JOB_NAME_LABEL}']":
            env[var["name"]] = job["metadata"]["name"]
    return env


def test_the_job_is_indexed_with_every_worker_started_at_once_and_none_retried():
    job = job_manifest(SPEC, name="recommender-train-1", namespace="recsys-training", version=7)["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"] == 3
    assert job["backoffLimit"] == 0 and job["template"]["spec"]["restartPolicy"] == "Never"


def test_each_worker_names_every_pod_as_kubernetes_resolves_indexed_pods():
    """kubernetes.io "Job with Pod-to-Pod Communication": an indexed Job's pod i has hostname
    `<job>-<i>`, resolvable as `<hostname>.<subdomain>` when `subdomain` names a headless Service
    of the namespace that selects the pod."""
    name = "recommender-train-20261207"
    job = job_manifest(SPEC, name=name, namespace="recsys-training", version=7)
    template = job["spec"]["template"]
    service = headless_service_spec(SPEC)
    assert template["spec"]["subdomain"] == SPEC.service and service["clusterIP"] == "None"
    assert service["selector"].items() <= template["metadata"]["labels"].items()
    resolvable = [f"{name}-{i}.{template['spec']['subdomain']}:{WORKER_PORT}" for i in range(3)]
    for index in range(3):
        config = tf_config_from_env(_pod_environment(job, index))
        assert config == {"cluster": {"worker": resolvable}, "task": {"type": "worker", "index": index}}


def test_workers_run_on_the_gpu_pool_tolerating_its_taint():
    pod = job_manifest(SPEC, name="j", namespace="n", version=1)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == GPU_POOL_LABEL
    assert {"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True


def test_only_worker_zero_publishes_the_version_the_run_was_given():
    container = job_manifest(SPEC, name="j", namespace="n", version=7)["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][2]
    assert {"name": "RECSYS_TRAIN_VERSION", "value": "7"} in container["env"]
    assert '--version "$RECSYS_TRAIN_VERSION"' in script
    assert 'if [ "$JOB_COMPLETION_INDEX" = 0 ]; then python -m recsys_dr.model publish' in script
    assert "--strategy multi-worker" in script and "--bucket models-primary" in script


@pytest.mark.parametrize("model_name", ["recommender", "a-very-long-model-name-for-the-search-ranking-team"])
def test_pod_hostnames_stay_dns_labels(model_name):
    # A hostname is a DNS-1123 label: at most 63 characters (Kubernetes "Object Names and IDs").
    assert len(f"{job_name(model_name, '20261207t065959')}-63") <= 63


def _statements(policy: dict, action: str) -> list[dict]:
    return [s for s in policy["Statement"] if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]


def test_the_role_creates_model_files_only_with_if_none_match_and_reads_only_the_data_prefix():
    policy = training_policy(interactions=SPEC.interactions, catalog=SPEC.catalog, model_bucket_arn="arn:aws:s3:::models",
                             model_key_arn="arn:aws:kms:us-east-1:1:key/k", model_name="recommender", region="us-east-1")
    writes = _statements(policy, "s3:PutObject")
    # S3 user guide, "Enforce conditional writes": s3:if-none-match present = a create; the
    # multipart steps without the header have s3:ObjectCreationOperation false.
    assert [w["Condition"] for w in writes] == [{"Null": {"s3:if-none-match": "false"}},
                                               {"Bool": {"s3:ObjectCreationOperation": "false"}}]
    assert {w["Resource"] for w in writes} == {"arn:aws:s3:::models/models/recommender/*"}
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "kms:GenerateDataKey",
                       "kms:Decrypt"}
    (read_data,) = [s for s in _statements(policy, "s3:GetObject") if s["Sid"] == "ReadData"]
    assert read_data["Resource"] == ["arn:aws:s3:::events-bucket/interactions/*", "arn:aws:s3:::events-bucket/catalog.parquet"]


def _args(**training) -> TwoRegionRecommenderArgs:
    config = stack_config("dev", training={k: v for k, v in {**TRAINING, **training}.items() if v is not None})
    raw = {k.split(":", 1)[1]: json.loads(v) if v[:1] in "{[" else v for k, v in config.items()}
    return parse_settings(raw, key_prefix="", subject="the stack file")


def test_an_enabled_job_without_its_image_and_data_is_refused_naming_them():
    with pytest.raises(SettingsError, match=r"`training` with enabled: true needs image, pseudonymKeySecret"):
        _args(image=None, pseudonymKeySecret=None)


def test_a_catalog_outside_the_data_bucket_is_refused():
    with pytest.raises(SettingsError, match=r"`training.catalog` must be in the bucket of `interactions` \(events-bucket\)"):
        _args(catalog="s3://elsewhere/catalog.csv")


def test_workers_that_the_gpu_pool_cannot_hold_at_once_are_refused():
    # dev: g5.xlarge (1 GPU), maxSize 2, one serving replica: one GPU is left for training
    with pytest.raises(SettingsError, match=r"plus the serving pods' minimum must fit `gpu.maxSize` nodes of 1 GPU"):
        _args(workers=2)
    _args(workers=1)


@pytest.fixture(scope="module")
def rendered():
    return render_stack("dev", stack_config("dev", training={**TRAINING, "workers": 1}))


def test_the_stack_creates_the_standing_parts_and_no_job(rendered):
    types = {r.type for r in rendered.resources}
    assert "kubernetes:batch/v1:Job" not in types
    (service,) = [r for r in rendered.of_type("kubernetes:core/v1:Service") if "training" in r.name]
    assert service.inputs["spec"]["clusterIP"] == "None"
    (template,) = [r for r in rendered.of_type("kubernetes:core/v1:ConfigMap") if "training" in r.name]
    spec = json.loads(template.inputs["data"]["spec.json"])
    assert spec["workers"] == 1 and spec["interactions"] == SPEC.interactions and spec["bucket"]


def test_the_role_is_the_primary_clusters_and_may_publish_into_the_primary_bucket(rendered):
    (role,) = [r for r in rendered.of_type("aws:iam/role:Role") if r.name.endswith("-training-role")]
    (association,) = [r for r in rendered.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                      if r.name.endswith("-training-role")]
    assert association.inputs["region"] == "us-east-1" and association.inputs["namespace"] == "recsys-training"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert trust["aws:RequestTag/kubernetes-service-account"] == "recommender-training"
    policies = {r.name: json.loads(r.inputs["policy"]) for r in rendered.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{role.inputs['name']}"
    for name, policy in policies.items():
        (deny,) = [s for s in policy["Statement"] if s["Sid"] == "DenyModelWritesButPublisher"]
        exempt = deny.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", [])
        assert (arn in exempt) == ("primary" in name), name


def test_a_stack_with_training_passes_the_policy_pack(tmp_path):
    import yaml

    from recsys_dr.review.plan import render
    from tests.support import STACKS

    document = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    document["config"]["recsys-dr:training"] = {**TRAINING, "workers": 1}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    plan = render("dev", stack_file=tmp_path / "Pulumi.dev.yaml").document
    assert [v for v in plan["policy"]["violations"] if "training" in (v.get("urn") or "")] == []
    assert plan["policy"]["violations"] == render("dev").document["policy"]["violations"]
