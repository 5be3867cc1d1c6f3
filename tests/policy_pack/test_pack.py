"""The pulumi_policy wrapper, exercised through the analyzer servicer's Analyze/AnalyzeStack
(the gRPC methods the Pulumi CLI calls) without starting a server or building a PolicyPack
in the pack process."""

import json
import runpy
from pathlib import Path

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

import pack  # noqa: E402 - from the pack folder, see conftest.py
import rules  # noqa: E402

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
ADVISORY = analyzer_pb2.EnforcementLevel.Value("ADVISORY")
GPU_GROUP = {"instanceTypes": ["g5.xlarge"], "amiType": "AL2023_x86_64_NVIDIA",
             "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]}


def struct(value):
    message = struct_pb2.Struct()
    message.update(value)
    return message


@pytest.fixture()
def servicer():
    return _PolicyAnalyzerServicer(rules.PACK_NAME, "0.1.0", pack.build_policies(), EnforcementLevel.MANDATORY)


def analyze(servicer, type_token, props, name="r"):
    request = analyzer_pb2.AnalyzeRequest(type=type_token, properties=struct(props),
                                          urn=f"urn:pulumi:dev::recsys-dr::{type_token}::{name}", name=name)
    return list(servicer.Analyze(request, None).diagnostics)


def test_one_policy_per_rule_with_the_same_name_and_level():
    policies = pack.build_policies()
    assert [p.name for p in policies] == [r.name for r in rules.ALL_RULES]
    for policy, rule in zip(policies, rules.ALL_RULES):
        expected = ResourceValidationPolicy if rule.scope == "resource" else StackValidationPolicy
        assert isinstance(policy, expected)
        assert policy.enforcement_level == pack.LEVELS[rule.enforcement]
        assert policy.description == rule.description


def test_good_gpu_node_group_passes(servicer):
    assert analyze(servicer, rules.NODE_GROUP, GPU_GROUP) == []


def test_untainted_gpu_node_group_is_a_mandatory_violation(servicer):
    diagnostics = analyze(servicer, rules.NODE_GROUP, {**GPU_GROUP, "taints": []}, name="gpu")
    # the engine attaches the resource's URN to resource-policy diagnostics itself
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [("eks-gpu-tainted", MANDATORY)]
    assert "not tainted nvidia.com/gpu:NO_SCHEDULE" in diagnostics[0].message


def test_numbers_arrive_as_floats_and_still_pass(servicer):
    record = {"failoverRoutingPolicies": [{"type": "PRIMARY"}], "healthCheckId": "hc", "setIdentifier": "p", "ttl": 30}
    assert analyze(servicer, rules.RECORD, record) == []
    assert [d.policyName for d in analyze(servicer, rules.RECORD, {**record, "ttl": 300})] == ["route53-failover-ttl"]


def test_unknown_preview_value_is_not_a_violation(servicer):
    diagnostics = analyze(servicer, rules.NODE_GROUP, {**GPU_GROUP, "amiType": UNKNOWN_STRING_VALUE})
    assert all(d.enforcementLevel == ADVISORY for d in diagnostics)
    assert any("can't run policy 'eks-gpu-nvidia-ami'" in d.message for d in diagnostics)


def test_rule_skips_other_types(servicer):
    assert analyze(servicer, "aws:sqs/queue:Queue", {"name": "q"}) == []


def kube_provider(region):
    kubeconfig = json.dumps({"users": [{"user": {"exec": {"args": ["eks", "get-token", "--region", region]}}}]})
    return analyzer_pb2.AnalyzerProviderResource(
        type="pulumi:providers:kubernetes", properties=struct({"kubeconfig": kubeconfig}),
        urn=f"urn:pulumi:dev::recsys-dr::pulumi:providers:kubernetes::{region}", name=region)


def stack_resource(type_token, name, props, provider=None, deps=None):
    return analyzer_pb2.AnalyzerResource(
        type=type_token, properties=struct(props), urn=f"urn:pulumi:dev::recsys-dr::{type_token}::{name}", name=name,
        provider=provider,
        propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v) for k, v in (deps or {}).items()})


def test_stack_policies_see_regions_providers_and_dependencies(servicer):
    labels = {"app": "tf-serving"}
    resources = []
    for region in ("us-east-1", "us-west-2"):
        provider = kube_provider(region)
        resources += [
            # GPU serving (the regions rule counts the regions that serve on GPUs).
            stack_resource(rules.DEPLOYMENT, f"serving-{region}", {
                "metadata": {"name": "tf", "namespace": "recsys"},
                "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [
                    {"name": "tf-serving", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}}}, provider),
            stack_resource(rules.HPA_TYPES[0], f"hpa-{region}", {
                "metadata": {"namespace": "recsys"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "tf"}}}, provider),
        ]
    # only the primary has a PDB
    resources.append(stack_resource(rules.PDB, "pdb", {"metadata": {"namespace": "recsys"},
                                                       "spec": {"selector": {"matchLabels": labels}}},
                                    kube_provider("us-east-1")))
    diagnostics = list(servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), None).diagnostics)
    found = {(d.policyName, d.urn.split("::")[-1]) for d in diagnostics}
    assert ("k8s-deployment-has-pdb", "serving-us-west-2") in found
    assert ("k8s-deployment-has-pdb", "serving-us-east-1") not in found
    assert not any(name == "k8s-deployment-has-hpa" for name, _ in found)
    # Deployments in two regions (from the kubeconfigs) but no clusters, node groups, buckets, keys:
    assert any(d.policyName == "dr-serving-regions-complete" and "us-west-2" in d.message for d in diagnostics)


def test_pack_entry_point_runs_from_its_own_folder(monkeypatch):
    """`pulumi preview --policy-pack policy` runs policy/__main__.py with the folder as sys.path[0]."""
    created = {}

    class RecordingPack:
        def __init__(self, **kwargs):
            created.update(kwargs)

    import pulumi_policy

    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordingPack)
    monkeypatch.syspath_prepend(str(POLICY_DIR))
    runpy.run_path(str(POLICY_DIR), run_name="__main__")
    assert created["name"] == "recsys-dr-guardrails"
    assert [p.name for p in created["policies"]] == [r.name for r in rules.ALL_RULES]


def stack_diagnostics(servicer, resources):
    return list(servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), None).diagnostics)


def test_protect_reaches_stack_rules_from_the_resource_options(servicer):
    def bucket(name, protect):
        resource = stack_resource(rules.BUCKET, name, {"bucket": name})
        resource.options.CopyFrom(analyzer_pb2.AnalyzerResourceOptions(protect=protect))
        return resource

    diagnostics = stack_diagnostics(servicer, [bucket("kept", True), bucket("loose", False)])
    flagged = [(d.policyName, d.enforcementLevel, d.urn.split("::")[-1]) for d in diagnostics if d.policyName == "s3-bucket-protected"]
    assert flagged == [("s3-bucket-protected", ADVISORY, "loose")]


def test_environment_is_read_from_the_urns_stack_name(servicer):
    def cluster(stack):
        return analyzer_pb2.AnalyzerResource(
            type=rules.EKS_CLUSTER, properties=struct({"vpcConfig": {"publicAccessCidrs": ["0.0.0.0/0"]}}),
            urn=f"urn:pulumi:{stack}::recsys-dr::{rules.EKS_CLUSTER}::c", name="c")

    names = lambda stack: {d.policyName for d in stack_diagnostics(servicer, [cluster(stack)])}  # noqa: E731
    assert {"eks-api-not-public-prod"} <= names("prod") and "eks-api-not-open" not in names("prod")
    assert {"eks-api-not-open"} <= names("dev") and "eks-api-not-public-prod" not in names("dev")


def test_an_open_list_spelt_in_halves_is_a_mandatory_violation_in_the_pack(servicer):
    # The pack runs from policy/ with rules/cidrs.py beside the rules, as `pulumi preview --policy-pack` loads it.
    halves = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 8501}],
                       "loadBalancerSourceRanges": ["0.0.0.0/1", "128.0.0.0/1"]}}
    (open_lb,) = [d for d in analyze(servicer, rules.SERVICE, halves) if d.policyName == "k8s-lb-source-ranges"]
    assert open_lb.enforcementLevel == MANDATORY and "once merged (0.0.0.0/0)" in open_lb.message


def test_grpc_on_tcp_is_a_mandatory_violation(servicer):
    container = {"name": "tf", "image": "tensorflow/serving:2.21.0-gpu", "args": ["--rest_api_port=8501"],
                 "ports": [{"containerPort": 8501}]}
    diagnostics = analyze(servicer, rules.DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [container]}}}})
    (grpc,) = [d for d in diagnostics if d.policyName == "k8s-no-management-port"]
    assert grpc.enforcementLevel == MANDATORY and "listens for gRPC on TCP port 8500" in grpc.message


def test_open_load_balancer_is_mandatory_and_numbers_as_floats_pass(servicer):
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 8501}]}}
    (open_lb,) = [d for d in analyze(servicer, rules.SERVICE, svc) if d.policyName == "k8s-lb-source-ranges"]
    assert open_lb.enforcementLevel == MANDATORY
    assert analyze(servicer, rules.SERVICE, {"spec": {**svc["spec"], "loadBalancerSourceRanges": ["203.0.113.0/24"]}}) == []


def test_front_door_rules_relate_listeners_and_web_acls_to_their_balancer(servicer):
    """In a preview the balancer's ARN is unknown: the rules link by property dependency."""
    def resource(type_token, name, props, stack="prod", deps=None):
        return analyzer_pb2.AnalyzerResource(
            type=type_token, properties=struct(props), urn=f"urn:pulumi:{stack}::recsys-dr::{type_token}::{name}", name=name,
            propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v) for k, v in (deps or {}).items()})

    alb = resource(rules.LOAD_BALANCER, "alb", {"loadBalancerType": "application", "arn": UNKNOWN_STRING_VALUE})
    http = resource(rules.LISTENER, "http", {"protocol": "HTTP", "port": 80, "loadBalancerArn": UNKNOWN_STRING_VALUE},
                    deps={"loadBalancerArn": [alb.urn]})
    waf = resource(rules.WEB_ACL_ASSOCIATION, "waf", {"resourceArn": UNKNOWN_STRING_VALUE, "webAclArn": UNKNOWN_STRING_VALUE},
                   deps={"resourceArn": [alb.urn]})
    found = {(d.policyName, d.enforcementLevel, d.urn.split("::")[-1]) for d in stack_diagnostics(servicer, [alb, http])}
    assert found == {("elb-https-only-prod", MANDATORY, "http"), ("elb-web-acl", MANDATORY, "alb")}
    assert stack_diagnostics(servicer, [alb, waf]) == []


def test_a_cpu_trigger_on_a_gpu_deployment_is_mandatory(servicer):
    provider = kube_provider("us-east-1")
    gpu = {"name": "tf", "resources": {"limits": {"nvidia.com/gpu": 1}}}
    resources = [
        stack_resource(rules.DEPLOYMENT, "serving", {"metadata": {"name": "tf", "namespace": "recsys"},
                                                     "spec": {"template": {"spec": {"containers": [gpu]}}}}, provider),
        stack_resource(rules.SCALED_OBJECT, "scaled", {"metadata": {"namespace": "recsys"}, "spec": {
            "scaleTargetRef": {"name": "tf"}, "triggers": [{"type": "cpu", "metadata": {"value": "60"}}]}}, provider),
    ]
    flagged = [(d.policyName, d.enforcementLevel, d.urn.split("::")[-1]) for d in stack_diagnostics(servicer, resources)
               if d.policyName.endswith("-on-cpu")]
    assert flagged == [("k8s-gpu-not-scaled-on-cpu", MANDATORY, "scaled")]
