"""The CPU fallback tier of the shipped environments: where it runs, what it serves, what reaches it."""

from __future__ import annotations

import json

import pytest

from recsys_dr.components.cluster.addons import FALLBACK_POOL_LABEL, FALLBACK_TAINT
from recsys_dr.review.mock_runtime import ProgramRun, RegisteredResource
from tests.support import children_of

STANDBY = "us-west-2"
FALLBACK_DIGEST = "4aaf554acd0b37bfa2afa44a867e313053809e05de05909c7605f3201419d3e7"


@pytest.fixture(params=["dev", "prod"])
def env(request) -> str:
    return request.param


@pytest.fixture
def run(rendered_stacks, env) -> ProgramRun:
    return rendered_stacks[env]


def tier(run: ProgramRun, env: str, name: str, type_token: str) -> RegisteredResource:
    """The one resource of `type_token` under serving component `recsys-<env>-<name>-serving`."""
    serving = run.one("recsys-dr:components:ModelServing", f"recsys-{env}-{name}-serving")
    (found,) = [r for r in children_of(run, serving) if r.type == type_token]
    return found


def pod(deployment: RegisteredResource) -> dict:
    return deployment.inputs["spec"]["template"]["spec"]


def test_fallback_pods_run_on_cpu_nodes_of_the_standby_cluster(run, env):
    deployment = tier(run, env, "fallback", "kubernetes:apps/v1:Deployment")
    spec = pod(deployment)
    assert deployment.inputs["metadata"]["namespace"] == "recsys-fallback"
    assert spec["nodeSelector"] == FALLBACK_POOL_LABEL
    assert spec["tolerations"] == [{"key": FALLBACK_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}]
    (serving,) = spec["containers"]
    assert serving["image"] == "tensorflow/serving:2.21.0"  # the CPU build
    assert all("nvidia.com/gpu" not in serving["resources"][kind] for kind in ("requests", "limits"))
    # The standby cluster's Kubernetes provider: the fallback shares the standby's cluster, not the primary's.
    standby = tier(run, env, "standby", "kubernetes:apps/v1:Deployment")
    assert deployment.provider == standby.provider


def test_fallback_serves_its_own_pinned_version_under_the_main_models_name(run, env):
    spec = pod(tier(run, env, "fallback", "kubernetes:apps/v1:Deployment"))
    env_vars = {e["name"]: e["value"] for e in spec["initContainers"][0]["env"]}
    assert env_vars["MODEL_NAME"] == "recommender-fallback" and env_vars["MODEL_VERSION"] == "1"
    assert env_vars["MANIFEST_SHA256"] == FALLBACK_DIGEST
    assert env_vars["MODEL_BUCKET"] == run.outputs["regions"]["standby"]["bucket"]
    assert env_vars["TARGET_DIR"] == "/models/recommender"
    # Clients keep one path: TF Serving answers the fallback at /v1/models/recommender.
    assert "--model_name=recommender" in spec["containers"][0]["args"]


def test_fallback_node_group_is_tainted_cpu_capacity_in_every_zone(run, env):
    group = run.one("aws:eks/nodeGroup:NodeGroup", f"recsys-{env}-standby-fallback")
    gpu = run.one("aws:eks/nodeGroup:NodeGroup", f"recsys-{env}-standby-gpu")
    inputs = group.inputs
    assert inputs["region"] == STANDBY and inputs["clusterName"] == gpu.inputs["clusterName"]
    assert inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert inputs["labels"] == FALLBACK_POOL_LABEL and inputs["taints"] == [FALLBACK_TAINT]
    assert inputs["instanceTypes"] == {"dev": ["c6i.large"], "prod": ["c6i.xlarge"]}[env]
    assert inputs["scalingConfig"] == {"dev": {"minSize": 1, "desiredSize": 1, "maxSize": 2},
                                       "prod": {"minSize": 2, "desiredSize": 2, "maxSize": 4}}[env]
    # Always running, every zone: it waits for no capacity and survives a zone.
    assert inputs["subnetIds"] == gpu.inputs["subnetIds"] and len(inputs["subnetIds"]) >= 2
    assert inputs["tags"]["recsys-dr:role"] == "fallback"
    # One fallback pool, in the standby region only.
    assert [g.name for g in run.of_type("aws:eks/nodeGroup:NodeGroup") if "fallback" in g.name] == [group.name]


def test_fallback_reads_only_its_prefix_of_the_standby_bucket_and_may_decrypt_it(run, env):
    reader = run.one("aws:iam/rolePolicy:RolePolicy", f"recsys-{env}-fallback-serving-model-reader")
    statements = json.loads(reader.inputs["policy"])["Statement"]
    bucket = f"arn:aws:s3:::{run.outputs['regions']['standby']['bucket']}"
    assert {s["Sid"]: s["Resource"] for s in statements}["ReadModelFiles"] == f"{bucket}/models/recommender-fallback/*"
    key_policy = json.loads(run.one("aws:kms/keyPolicy:KeyPolicy", f"recsys-{env}-key-policies-standby").inputs["policy"])
    role = run.one("aws:iam/role:Role", f"recsys-{env}-fallback-serving-model-reader").outputs["arn"]
    decrypters = [s for s in key_policy["Statement"] if "kms:Decrypt" in s.get("Action", [])]
    assert any(role in s["Principal"]["AWS"] for s in decrypters)


def test_fallback_front_door_exposes_nothing_the_gpu_tiers_do_not(run, env):
    """Same ranges, same web ACL rules, same listener paths, same certificate region as the standby."""
    for type_token in ("aws:ec2/securityGroup:SecurityGroup",):
        fallback, standby = tier(run, env, "fallback", type_token), tier(run, env, "standby", type_token)
        assert [rule["cidrBlocks"] for rule in fallback.inputs["ingress"]] == [rule["cidrBlocks"] for rule in standby.inputs["ingress"]]
    acl = {name: json.loads(tier(run, env, name, "aws:wafv2/webAcl:WebAcl").inputs["ruleJson"]) for name in ("fallback", "standby")}
    without_metrics = {name: [{k: v for k, v in rule.items() if k != "VisibilityConfig"} for rule in rules]
                       for name, rules in acl.items()}
    assert without_metrics["fallback"] == without_metrics["standby"]
    rules = {name: sorted(json.dumps(r.inputs["conditions"], sort_keys=True) for r in run.of_type("aws:lb/listenerRule:ListenerRule")
                          if f"-{name}-serving-" in r.name) for name in ("fallback", "standby")}
    assert rules["fallback"] == rules["standby"] and rules["fallback"]
    listener = {name: tier(run, env, name, "aws:lb/listener:Listener").inputs for name in ("fallback", "standby")}
    assert (listener["fallback"]["port"], listener["fallback"]["protocol"]) == (listener["standby"]["port"], listener["standby"]["protocol"])
    assert listener["fallback"].get("certificateArn") == listener["standby"].get("certificateArn")


def test_fallback_namespace_denies_by_default(run, env):
    policies = [p for p in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if p.inputs["metadata"]["namespace"] == "recsys-fallback"]
    assert sorted(p.inputs["metadata"]["name"] for p in policies) == ["default-deny", "recommender-tf-serving"]


def test_fallback_scales_on_its_own_balancer_and_never_to_zero(run, env):
    scaled = tier(run, env, "fallback", "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    serving = run.one("recsys-dr:components:ModelServing", f"recsys-{env}-fallback-serving")
    (group,) = [r for r in children_of(run, serving) if r.type == "aws:lb/targetGroup:TargetGroup" and r.name.endswith("-targets")]
    assert scaled["minReplicaCount"] == {"dev": 1, "prod": 2}[env] >= 1
    dimensions = [t["metadata"]["dimensionValue"] for t in scaled["triggers"] if "dimensionValue" in t["metadata"]]
    assert dimensions and all(group.outputs["arnSuffix"] in value for value in dimensions)


def test_fallback_health_check_asks_the_model_status_like_the_gpu_tiers(run, env):
    check = run.one("aws:route53/healthCheck:HealthCheck", f"recsys-{env}-dns-fallback").inputs
    standby = run.one("aws:route53/healthCheck:HealthCheck", f"recsys-{env}-dns-standby").inputs
    assert check["fqdn"] == run.outputs["fallback"]["endpoint"]
    assert {k: check[k] for k in ("type", "port", "resourcePath", "searchString", "requestInterval", "failureThreshold")} == \
        {k: standby[k] for k in ("type", "port", "resourcePath", "searchString", "requestInterval", "failureThreshold")}
