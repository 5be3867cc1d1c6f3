"""Issue 12's guardrails: each fires on a bad resource and stays quiet on a good one.

The resource rules' main fire/quiet cases are in test_rules.py's CASES table; here are the
stack rules (which need several resources, resource options or the stack name) and the
edge cases whose outcome comes from how AWS, Kubernetes or TF Serving behave.
"""

import json
from pathlib import Path

import pytest

from recsys_dr.policy import rules
from recsys_dr.policy.rules import Resource, check_stack

SERVING_CONTAINER = {"name": "tf-serving", "image": "tensorflow/serving:2.21.0-gpu", "command": ["tensorflow_model_server"],
                     "args": ["--port=0", "--rest_api_port=8501"],
                     "ports": [{"containerPort": 8501, "name": "http"}, {"containerPort": 8500, "name": "grpc-off"}]}
PROVIDER = "urn:pulumi:dev::p::pulumi:providers:kubernetes::primary"


def res(type_token, name, props, *, stack="dev", provider=None, deps=None, options=None):
    return Resource(type=type_token, urn=f"urn:pulumi:{stack}::p::{type_token}::{name}", name=name, props=props,
                    provider=provider, property_dependencies=deps or {}, options=options or {})


def fired(resources):
    return [(v.rule, v.enforcement, v.urn.split("::")[-1]) for v in check_stack(resources)]


def only(rule_name, resources):
    return [(urn, message) for urn, message in rules.rule_named(rule_name).check(resources)]


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# ------------------------------------------------------------------ environment from the URN


@pytest.mark.parametrize(("urn", "stack", "production"), [
    ("urn:pulumi:prod::recsys-dr::aws:eks/cluster:Cluster::c", "prod", True),
    ("urn:pulumi:prod-eu::recsys-dr::aws:eks/cluster:Cluster::c", "prod-eu", True),
    ("urn:pulumi:production::recsys-dr::aws:eks/cluster:Cluster::c", "production", True),
    ("urn:pulumi:dev::recsys-dr::aws:eks/cluster:Cluster::c", "dev", False),
    ("urn:pulumi:preprod::recsys-dr::aws:eks/cluster:Cluster::c", "preprod", False),
    ("not-a-urn", None, False),
])
def test_environment_comes_from_the_stack_name_in_the_urn(urn, stack, production):
    assert rules.stack_of(urn) == stack
    assert rules.is_production(rules.stack_of(urn)) is production




# ------------------------------------------------------------------ EKS public endpoint


OPEN = {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}}


def test_open_api_endpoint_in_prod_is_the_prod_rule():
    assert fired([res(rules.EKS_CLUSTER, "c", OPEN, stack="prod")]) == [("eks-api-not-public-prod", "mandatory", "c")]


def test_open_api_endpoint_elsewhere_is_the_other_rule():
    assert fired([res(rules.EKS_CLUSTER, "c", OPEN, stack="dev")]) == [("eks-api-not-open", "mandatory", "c")]


def test_unset_public_access_cidrs_are_eks_default_world():
    # pulumi-aws vpcConfig: endpointPublicAccess "Default is true"; publicAccessCidrs "EKS defaults this to 0.0.0.0/0".
    (problem,) = only("eks-api-not-open", [res(rules.EKS_CLUSTER, "c", {"vpcConfig": {"subnetIds": ["s"]}}, stack="dev")])
    assert "serves its public API endpoint to 100 % of the public IP space once merged (0.0.0.0/0)" in problem[1]


HALVES = {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}}


@pytest.mark.parametrize(("stack", "rule"), [("prod", "eks-api-not-public-prod"), ("dev", "eks-api-not-open")])
def test_api_endpoint_open_in_two_halves_is_open(stack, rule):
    assert fired([res(rules.EKS_CLUSTER, "c", HALVES, stack=stack)]) == [(rule, "mandatory", "c")]


def test_prod_api_endpoint_admits_no_public_block():
    office = {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8", "8.8.8.8/32"]}}
    (problem,) = only("eks-api-not-public-prod", [res(rules.EKS_CLUSTER, "c", office, stack="prod")])
    assert "serves its public API endpoint to public addresses (8.8.8.8/32;" in problem[1]
    assert fired([res(rules.EKS_CLUSTER, "c", office, stack="dev")]) == []  # a narrow list is fine elsewhere


@pytest.mark.parametrize(("vpc", "stack"), [
    ({"endpointPublicAccess": False, "endpointPrivateAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}, "prod"),
    ({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24", "198.51.100.7/32"]}, "prod"),
    ({"endpointPublicAccess": True, "publicAccessCidrs": ["8.8.0.0/16", "1.1.1.1/32"]}, "dev"),
])
def test_private_or_restricted_api_endpoint_is_quiet(vpc, stack):
    assert fired([res(rules.EKS_CLUSTER, "c", {"vpcConfig": vpc}, stack=stack)]) == []


# ------------------------------------------------------------------ Services carry REST only


def service(ports, kind="LoadBalancer", **spec):
    return {"metadata": {"name": "tf", "namespace": "recsys"},
            "spec": {"type": kind, "selector": {"app": "tf"}, "ports": ports, **spec}}


def serving_stack(svc, provider=PROVIDER):
    deployment = {"metadata": {"name": "tf", "namespace": "recsys"},
                  "spec": {"template": {"metadata": {"labels": {"app": "tf", "v": "3"}},
                                        "spec": {"containers": [SERVING_CONTAINER]}}}}
    return [res(rules.DEPLOYMENT, "serving", deployment, provider=PROVIDER), res(rules.SERVICE, "svc", svc, provider=provider)]


def test_service_targeting_the_named_rest_port_is_quiet():
    assert only("k8s-service-rest-only", serving_stack(service([{"port": 80, "targetPort": "http"},
                                                               {"port": 443, "targetPort": 8501}]))) == []


@pytest.mark.parametrize(("ports", "kind", "fragment"), [
    ([{"port": 8500, "targetPort": 8500}], "LoadBalancer", "port 8500 targets 8500"),
    ([{"port": 8500}], "LoadBalancer", "port 8500 targets 8500"),  # Kubernetes: targetPort defaults to port
    ([{"port": 9000, "targetPort": "grpc-off"}], "LoadBalancer", "targets 'grpc-off'"),
    ([{"port": 80, "targetPort": "metrics"}], "LoadBalancer", "targets 'metrics'"),  # no selected pod names it
    ([{"port": 8500, "targetPort": 8500}], "NodePort", "(NodePort) port 8500"),
])
def test_service_exposing_another_port_fires(ports, kind, fragment):
    ((urn, message),) = only("k8s-service-rest-only", serving_stack(service(ports, kind)))
    assert urn.endswith("::svc") and fragment in message and "REST port 8501" in message


def test_service_with_external_ips_counts_as_exposed():
    svc = service([{"port": 8500}], kind="ClusterIP", externalIPs=["198.51.100.10"])
    assert [m for _, m in only("k8s-service-rest-only", serving_stack(svc))]


def test_cluster_ip_service_to_another_port_is_quiet():
    assert only("k8s-service-rest-only", serving_stack(service([{"port": 8500}], kind="ClusterIP"))) == []


def test_named_port_resolves_only_through_pods_of_the_same_cluster():
    other = "urn:pulumi:dev::p::pulumi:providers:kubernetes::standby"
    assert [m for _, m in only("k8s-service-rest-only", serving_stack(service([{"port": 80, "targetPort": "http"}]), provider=other))]


# ------------------------------------------------------------------ pods expose REST only


def pod(*containers):
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_image_entrypoint_with_grpc_off_is_quiet():
    # The image runs `tensorflow_model_server --port=8500 ... "$@"`; a later --port wins (flags parse in order).
    container = {"name": "s", "image": "registry.example.com/mirror/tensorflow/serving:2.21.0@sha256:" + "a" * 64,
                 "args": ["--port=0", "--grpc_socket_path=/tmp/s.sock"], "ports": [{"containerPort": 8501}]}
    assert rules.check_no_management_port(rules.DEPLOYMENT, pod(container)) == []


def test_other_workloads_may_declare_ports_but_not_host_ports():
    exporter = {"name": "exporter", "image": "prom/statsd-exporter", "ports": [{"containerPort": 9102}]}
    assert rules.check_no_management_port(rules.DEPLOYMENT, pod(exporter)) == []
    exporter["ports"][0]["hostPort"] = 9102
    assert rules.check_no_management_port(rules.DEPLOYMENT, pod(exporter)) == [
        "container 'exporter' binds hostPort 9102: the node's own address would serve it, outside every Service and source range"]


# ------------------------------------------------------------------ load balancer source ranges


@pytest.mark.parametrize("props", [
    service([{"port": 80}], kind="ClusterIP"),
    # in-tree controller (cloud-provider-aws): any value but "false" makes the NLB internal
    {**service([{"port": 80}]), "metadata": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}}},
    # AWS Load Balancer Controller: scheme defaults to internal
    {**service([{"port": 80}]), "metadata": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}}},
    service([{"port": 80}], loadBalancerClass="service.k8s.aws/nlb"),
    {**service([{"port": 80}]), "metadata": {"annotations": {
        "service.beta.kubernetes.io/load-balancer-source-ranges": "203.0.113.0/24,198.51.100.0/24"}}},
])
def test_internal_or_restricted_load_balancers_are_quiet(props):
    assert rules.check_load_balancer_source_ranges(rules.SERVICE, props) == []


def test_spec_source_ranges_win_over_the_annotation():
    # k8s.io/cloud-provider GetLoadBalancerSourceRanges: "if SourceRange field is specified, ignore sourceRange annotation"
    props = {**service([{"port": 80}], loadBalancerSourceRanges=["203.0.113.0/24"]),
             "metadata": {"annotations": {"service.beta.kubernetes.io/load-balancer-source-ranges": "0.0.0.0/0"}}}
    assert rules.load_balancer_source_ranges(props) == ["203.0.113.0/24"]
    assert rules.check_load_balancer_source_ranges(rules.SERVICE, props) == []


# ------------------------------------------------------------------ security groups


@pytest.mark.parametrize(("type_token", "props", "expected"), [
    (rules.SECURITY_GROUP_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443,
                                 "cidrBlocks": ["0.0.0.0/0"]},
     ["ingress on tcp 443 admits 100 % of the public IP space once merged (0.0.0.0/0), more than 0.1 %"]),
    (rules.SECURITY_GROUP_RULE, {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}, []),
    (rules.SECURITY_GROUP_INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv6": "::/0"},
     ["ingress on tcp 80 admits 100 % of the public IP space once merged (::/0), more than 0.1 %"]),
    (rules.SECURITY_GROUP_INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv4": "10.0.0.0/8"}, []),
    (rules.SECURITY_GROUP_INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 80, "toPort": 81, "referencedSecurityGroupId": "sg-1"}, []),
])
def test_security_group_rule_shapes(type_token, props, expected):
    messages = rules.check_no_world_ingress(type_token, props)
    assert [m.split(": open")[0] for m in messages] == expected


# ------------------------------------------------------------------ KMS key policies and protect


ROOT_ALL = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*", "Resource": "*"}
USE = {"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/serving"},
       "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}
BREAK_GLASS = {"Sid": "BreakGlass", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/break-glass"},
               "Action": "kms:*", "Resource": "*"}


def test_key_without_policy_gets_the_default_key_policy():
    ((urn, message),) = only("kms-key-policy-explicit", [res(rules.KMS_KEY, "k", {"enableKeyRotation": True})])
    assert urn.endswith("::k") and "has no explicit policy, so AWS applies the default key policy" in message


DENY_DESTRUCTION = {"Sid": "DestructionOnlyByBreakGlass", "Effect": "Deny", "Principal": "*",
                    "Action": ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:DeleteImportedKeyMaterial"], "Resource": "*",
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/break-glass"}}}


@pytest.mark.parametrize(("statements", "expected"), [
    ([ROOT_ALL], [("Enable IAM User Permissions", "kms:DisableKey"), ("Enable IAM User Permissions", "kms:ScheduleKeyDeletion")]),
    ([{**ROOT_ALL, "Principal": {"AWS": "123456789012"}}], [("Enable IAM User Permissions", "kms:DisableKey"),
                                                             ("Enable IAM User Permissions", "kms:ScheduleKeyDeletion")]),
    ([{**ROOT_ALL, "Sid": "Any", "Principal": "*", "Action": "*"}], [("Any", "kms:DisableKey"), ("Any", "kms:ScheduleKeyDeletion")]),
    ([{**ROOT_ALL, "Sid": "Wild", "Action": "kms:Schedule*"}], [("Wild", "kms:ScheduleKeyDeletion")]),
    # a deny of only one of them leaves the other open
    ([ROOT_ALL, {**DENY_DESTRUCTION, "Action": "kms:DisableKey"}], [("Enable IAM User Permissions", "kms:ScheduleKeyDeletion")]),
])
def test_key_policy_leaving_destruction_to_the_account_fires(statements, expected):
    problems = only("kms-key-policy-explicit", [res(rules.KMS_KEY, "k", {"policy": policy(USE, *statements)})])
    assert [(m.split("statement ")[1].split(" lets")[0], m.split("'*') ")[1].split(" and")[0]) for _, m in problems] == expected


@pytest.mark.parametrize("statements", [
    [BREAK_GLASS],
    # the account statement kept (so IAM can still manage the key) with destruction denied to all but break-glass
    [ROOT_ALL, DENY_DESTRUCTION],
    [{**ROOT_ALL, "Condition": {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/break-glass"}}}],
])
def test_key_policy_keeping_destruction_to_break_glass_is_quiet(statements):
    assert only("kms-key-policy-explicit", [res(rules.KMS_KEY, "k", {"policy": policy(USE, *statements)})]) == []


def test_separate_key_policy_resource_counts_and_is_checked():
    key = res(rules.KMS_KEY, "k", {})
    attach = lambda document: res(rules.KMS_KEY_POLICY, "kp", {"keyId": "unknown-in-preview", "policy": document},  # noqa: E731
                                  deps={"keyId": [key.urn]})
    assert only("kms-key-policy-explicit", [key, attach(policy(USE))]) == []
    assert [urn.split("::")[-1] for urn, _ in only("kms-key-policy-explicit", [key, attach(policy(ROOT_ALL))])] == ["kp", "kp"]


def test_keys_and_buckets_must_be_protected():
    unprotected = [res(rules.KMS_KEY, "k", {}), res(rules.BUCKET, "b", {})]
    protected = [res(rules.KMS_KEY, "k", {}, options={"protect": True}), res(rules.BUCKET, "b", {}, options={"protect": True})]
    assert [(v[0], v[2]) for v in fired(unprotected) if v[0].endswith("-protected")] == [
        ("s3-bucket-protected", "b"), ("kms-key-protected", "k")]
    assert [v for v in fired(protected) if v[0].endswith("-protected")] == []


# ------------------------------------------------------------------ Object Lock


def buckets_with_replication(standby_props):
    return [
        res(rules.BUCKET, "primary", {"bucket": "p", "arn": "arn:aws:s3:::p"}),
        res(rules.BUCKET, "standby", {"bucket": "s", "arn": "arn:aws:s3:::s", **standby_props}),
        res(rules.BUCKET_REPLICATION, "replication", {"bucket": "p", "rules": [
            {"id": "models", "status": "Enabled", "destination": {"bucket": "arn:aws:s3:::s"}}]}),
    ]


def test_replica_bucket_without_object_lock_fires_and_the_source_does_not():
    ((urn, message),) = only("s3-object-lock", buckets_with_replication({}))
    assert urn.endswith("::standby") and "has no Object Lock" in message


def test_replica_bucket_with_object_lock_is_quiet():
    assert only("s3-object-lock", buckets_with_replication({"objectLockEnabled": True})) == []


def test_object_lock_configuration_resource_counts():
    stack = buckets_with_replication({})
    standby_urn = stack[1].urn
    lock = res(rules.BUCKET_OBJECT_LOCK, "lock", {"bucket": "unknown", "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 365}}},
               deps={"bucket": [standby_urn]})
    assert only("s3-object-lock", [*stack, lock]) == []


def test_without_replication_every_bucket_needs_object_lock():
    assert [urn.split("::")[-1] for urn, _ in only("s3-object-lock", [res(rules.BUCKET, "a", {}), res(rules.BUCKET, "b", {})])] == ["a", "b"]


def test_guardrails_are_mandatory_now_that_the_components_comply():
    # Issue 12: the shipped environments satisfy these (tests/review/test_plan_shipped.py), so they block.
    mandatory = {"eks-api-not-public-prod", "eks-api-not-open", "k8s-lb-source-ranges", "ec2-sg-no-world-ingress", "kms-key-policy-explicit",
                 "kms-key-protected-prod", "s3-bucket-protected-prod", "s3-object-lock", "s3-model-versions-kept",
                 "s3-model-versions-immutable", "k8s-no-management-port", "k8s-service-rest-only",
                 "elb-https-only-prod", "elb-web-acl", "k8s-gpu-not-scaled-on-cpu"}
    assert {r.name for r in rules.ALL_RULES if r.enforcement == rules.MANDATORY} >= mandatory
    # Outside production these only report: a throw-away stack may set storage.forceDestroy.
    for name in ("kms-key-protected", "s3-bucket-protected"):
        assert rules.rule_named(name).enforcement == rules.ADVISORY


def test_protect_is_required_in_production_only():
    unprotected = [res(rules.BUCKET, "b", {}, stack=stack) for stack in ("prod", "dev")]
    assert {(rule, level) for rule, level, _ in fired(unprotected) if "protected" in rule} == {
        ("s3-bucket-protected-prod", "mandatory"), ("s3-bucket-protected", "advisory"),
    }


def docs_row(rule) -> str:
    types = []
    for token in rule.resource_types:
        short = token.split(":")[-1]
        label = "`HorizontalPodAutoscaler` (v1, v2)" if short == "HorizontalPodAutoscaler" else f"`{short}`"
        if label not in types:
            types.append(label)
    return f"| `{rule.name}` | {rule.scope} | {rule.enforcement} | {', '.join(types)} | {rule.description} |"


def test_docs_rule_table_matches_the_registry():
    page = (Path(__file__).resolve().parents[2] / "docs" / "reviewing.md").read_text(encoding="utf-8")
    start = page.index("| rule | scope | level | applies to | guards |")
    table = page[start:page.index("\n\n", start)].split("\n")[2:]
    assert table == [docs_row(rule) for rule in rules.ALL_RULES]


# ------------------------------------------------------------------ versions cannot be deleted or overwritten


OBJECTS = "arn:aws:s3:::s/models/*"
BREAK_GLASS_ONLY = {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/break-glass"}}
DENY_DELETES = {"Sid": "DenyVersionDeletes", "Effect": "Deny", "Principal": "*",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"], "Resource": OBJECTS, "Condition": BREAK_GLASS_ONLY}
DENY_OVERWRITES = {"Sid": "DenyOverwrites", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": OBJECTS,
                   "Condition": {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}}


def model_buckets(*statements):
    return [*buckets_with_replication({}),
            res(rules.BUCKET_POLICY, "standby-policy", {"bucket": "s", "policy": policy(*statements)}),
            res(rules.BUCKET, "audit", {"bucket": "audit", "arn": "arn:aws:s3:::audit"})]


def immutable(stack):
    return [(urn.split("::")[-1], message.split(": ", 1)[1].split(" on ")[0])
            for urn, message in only("s3-model-versions-immutable", stack)]


def test_model_bucket_policy_denying_deletes_and_overwrites_is_quiet():
    stack = model_buckets(DENY_DELETES, DENY_OVERWRITES)
    stack.append(res(rules.BUCKET_POLICY, "primary-policy", {"bucket": "p", "policy": policy(
        {**DENY_DELETES, "Resource": "arn:aws:s3:::p/*", "Action": "s3:Delete*"},
        {**DENY_OVERWRITES, "Resource": "arn:aws:s3:::p/models/*"})}))
    assert immutable(stack) == []  # and the audit bucket, which replication does not link, is not a model bucket


@pytest.mark.parametrize(("statements", "expected"), [
    ([DENY_OVERWRITES], [("standby", "no bucket policy statement denies s3:DeleteObjectVersion")]),
    ([DENY_DELETES], [("standby", "no bucket policy statement denies s3:PutObject")]),
    ([{**DENY_DELETES, "Principal": {"AWS": "arn:aws:iam::123456789012:role/publisher"}}, DENY_OVERWRITES],
     [("standby", "no bucket policy statement denies s3:DeleteObjectVersion")]),
    ([DENY_DELETES, {**DENY_OVERWRITES, "Condition": {}}], [("standby", "no bucket policy statement denies s3:PutObject")]),
    ([{**DENY_DELETES, "Resource": "arn:aws:s3:::s/tmp/*"}, DENY_OVERWRITES],
     [("standby", "no bucket policy statement denies s3:DeleteObjectVersion")]),
])
def test_model_bucket_policy_without_the_denies_fires(statements, expected):
    assert [p for p in immutable(model_buckets(*statements)) if p[0] == "standby"] == expected


def test_model_bucket_without_any_policy_fires_twice():
    assert [name for name, _ in immutable(buckets_with_replication({}))] == ["primary", "primary", "standby", "standby"]
