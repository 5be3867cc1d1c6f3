"""Every policy rule fires on a bad resource and stays quiet on a good one.

Rules are pure functions (policy/rules/, one file per concern); the same functions run in the plan and, wrapped,
in the pulumi_policy pack. Quiet-on-shipped-environments is asserted in
tests/review/test_plan_shipped.py::test_policies_are_quiet (both dev and prod).
"""

import json
from collections.abc import Mapping, Sequence

import pytest

from recsys_dr.policy import rules
from recsys_dr.policy.rules import Resource, check_resource, check_stack, rule_named

SSE_GOOD = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:k"}}]}
REPLICATION_GOOD = {
    "rules": [{
        "id": "models-to-standby", "status": "Enabled",
        "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
        "destination": {"bucket": "arn:aws:s3:::b", "encryptionConfiguration": {"replicaKmsKeyId": "arn:k2"},
                        "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
                        "metrics": {"status": "Enabled"}},
    }]
}
GPU_GROUP = {"instanceTypes": ["g5.xlarge"], "amiType": "AL2023_x86_64_NVIDIA",
             "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]}
CONTAINER = {"name": "tf-serving", "resources": {"limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}},
             "securityContext": {"allowPrivilegeEscalation": False}, "readinessProbe": {"httpGet": {"path": "/v1/models/r"}}}
INIT = {"name": "fetch", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False}}
DEPLOYMENT = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
                       "template": {"spec": {"containers": [CONTAINER], "initContainers": [INIT],
                                             "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}}
RECORD = {"failoverRoutingPolicies": [{"type": "PRIMARY"}], "healthCheckId": "hc", "setIdentifier": "primary", "ttl": 30}
HEALTH = {"type": "HTTP_STR_MATCH", "resourcePath": "/v1/models/recommender", "searchString": "AVAILABLE"}
# TF Serving as the components run it: gRPC on a unix socket only, REST 8501 the one port.
SERVING = {**CONTAINER, "image": "tensorflow/serving:2.21.0-gpu", "command": ["tensorflow_model_server"],
           "args": ["--model_name=recommender", "--port=0", "--grpc_socket_path=/tmp/grpc.sock", "--rest_api_port=8501"],
           "ports": [{"containerPort": 8501, "name": "http", "protocol": "TCP"}]}
CPU_SERVING = {"name": "tf-serving", "image": "tensorflow/serving:2.21.0", "command": ["tensorflow_model_server"],
               "resources": {"limits": {"cpu": "1", "memory": "1536Mi"}}}
LIFECYCLE_GOOD = {"rules": [
    {"id": "scratch", "status": "Enabled", "filter": {"prefix": "tmp/"}, "noncurrentVersionExpiration": {"noncurrentDays": 30}},
    {"id": "uploads", "status": "Enabled", "filter": {"prefix": ""}, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}},
    {"id": "off", "status": "Disabled", "filter": {"prefix": ""}, "noncurrentVersionExpiration": {"noncurrentDays": 1}},
]}
SERVICE = {"metadata": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}],
                    "loadBalancerSourceRanges": ["203.0.113.0/24", "54.183.255.128/26"]}}
SECURITY_GROUP = {"ingress": [{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["203.0.113.0/24"]}],
                  "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def with_(base, path, value):
    """A deep copy of `base` with the value at `path` (tuple of keys/indexes) replaced (or deleted if ...)."""
    copy = json.loads(json.dumps(base))
    node = copy
    for step in path[:-1]:
        node = node[step]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copy


SERVING_DEPLOYMENT = with_(DEPLOYMENT, ("spec", "template", "spec", "containers"), [SERVING])
SERVING_PATH = ("spec", "template", "spec", "containers", 0)

# rule name -> (resource type, good props, [(bad props, expected message fragment), ...])
# The front door's weighted route: all to the stable group at rest (ELB: weights 0-999, at most 5 groups).
FORWARD_RULE = {"actions": [{"type": "forward", "forward": {"targetGroups": [{"arn": "stable", "weight": 100},
                                                                             {"arn": "canary", "weight": 0}]}}]}

CASES = {
    "s3-bucket-no-public-acl": (rules.BUCKET, {"acl": "private"}, [
        ({"acl": "public-read"}, "public-read"),
        ({"grants": [{"uri": "http://acs.amazonaws.com/groups/global/AllUsers"}]}, "AllUsers"),
    ]),
    "s3-encryption-kms": (rules.BUCKET_SSE, SSE_GOOD, [
        ({"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}, "'AES256'"),
        ({"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}, "without kmsMasterKeyId"),
        ({"rules": []}, "no rule"),
    ]),
    "s3-versioning-enabled": (rules.BUCKET_VERSIONING, {"versioningConfiguration": {"status": "Enabled"}}, [
        ({"versioningConfiguration": {"status": "Suspended"}}, "'Suspended'"),
    ]),
    "s3-public-access-blocked": (rules.BUCKET_PAB, dict.fromkeys(
        ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"], True), [
        ({"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True}, "blockPublicPolicy, restrictPublicBuckets"),
    ]),
    "s3-bucket-policy-not-public": (rules.BUCKET_POLICY, {"policy": policy(
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/r"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})}, [
        ({"policy": policy({"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::b/*"})}, "statement Open allows Principal '*'"),
    ]),
    "s3-replication-rtc": (rules.BUCKET_REPLICATION, REPLICATION_GOOD, [
        (with_(REPLICATION_GOOD, ("rules", 0, "destination", "replicationTime", "status"), "Disabled"), "Replication Time Control is off"),
        (with_(REPLICATION_GOOD, ("rules", 0, "destination", "replicationTime", "time", "minutes"), 30), "RTC requires 15"),
        (with_(REPLICATION_GOOD, ("rules", 0, "destination", "metrics"), ...), "metrics are off"),
        (with_(REPLICATION_GOOD, ("rules", 0, "status"), "Disabled"), "no enabled rule"),
    ]),
    "s3-replication-kms": (rules.BUCKET_REPLICATION, REPLICATION_GOOD, [
        (with_(REPLICATION_GOOD, ("rules", 0, "sourceSelectionCriteria"), ...), "KMS-encrypted objects are not replicated"),
        (with_(REPLICATION_GOOD, ("rules", 0, "destination", "encryptionConfiguration"), ...), "replicaKmsKeyId"),
    ]),
    "s3-model-versions-kept": (rules.BUCKET_LIFECYCLE, LIFECYCLE_GOOD, [
        # what the buckets shipped before issue 12: every prefix, noncurrent versions gone after 30 days
        ({"rules": [{"id": "expire-noncurrent-versions", "status": "Enabled", "filter": {"prefix": ""},
                     "noncurrentVersionExpiration": {"noncurrentDays": 30}}]},
         "rule 'expire-noncurrent-versions' (prefix '') expires noncurrent versions of models/ after 30 days"),
        ({"rules": [{"id": "m", "status": "Enabled", "filter": {"and": {"prefix": "models/recommender/"}},
                     "noncurrentVersionExpiration": {"noncurrentDays": 7}}]}, "(prefix 'models/recommender/')"),
        ({"rules": [{"id": "legacy", "status": "Enabled", "prefix": "models",
                     "noncurrentVersionExpiration": {"noncurrentDays": 7}}]}, "rule 'legacy' (prefix 'models')"),
        ({"rules": [{"id": "e", "status": "Enabled", "expiration": {"days": 90}}]}, "expires current objects under models/"),
    ]),
    "kms-key-rotation": (rules.KMS_KEY, {"enableKeyRotation": True}, [
        ({"enableKeyRotation": False}, "enableKeyRotation must be true"),
        ({}, "enableKeyRotation must be true"),
    ]),
    "eks-secrets-encrypted": (rules.EKS_CLUSTER, {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:k"}}}, [
        ({}, "does not encrypt Kubernetes secrets"),
        ({"encryptionConfig": {"resources": ["secrets"], "provider": {}}}, "does not encrypt"),
    ]),
    "eks-gpu-nvidia-ami": (rules.NODE_GROUP, GPU_GROUP, [
        (with_(GPU_GROUP, ("amiType",), "AL2023_x86_64_STANDARD"), "use an NVIDIA AMI"),
        ({"instanceTypes": ["p4d.24xlarge"], "taints": GPU_GROUP["taints"]}, "amiType 'unset'"),
    ]),
    "eks-gpu-tainted": (rules.NODE_GROUP, GPU_GROUP, [
        (with_(GPU_GROUP, ("taints",), []), "not tainted nvidia.com/gpu:NO_SCHEDULE"),
        (with_(GPU_GROUP, ("taints", 0, "effect"), "PREFER_NO_SCHEDULE"), "not tainted"),
        ({"amiType": "AL2023_x86_64_NVIDIA", "instanceTypes": ["m6i.large"]}, "not tainted"),
    ]),
    "eks-node-group-no-ssh": (rules.NODE_GROUP, {"instanceTypes": ["t3.large"]}, [
        ({"remoteAccess": {"ec2SshKey": "k"}}, "allows SSH"),
    ]),
    "k8s-container-limits": (rules.DEPLOYMENT, DEPLOYMENT, [
        (with_(DEPLOYMENT, ("spec", "template", "spec", "containers", 0, "resources"), {}), "container 'tf-serving' has no resources.limits.cpu/memory"),
        (with_(DEPLOYMENT, ("spec", "template", "spec", "initContainers", 0, "resources", "limits", "memory"), ...),
         "initContainer 'fetch' has no resources.limits.memory"),
    ]),
    "k8s-no-privilege-escalation": (rules.DEPLOYMENT, DEPLOYMENT, [
        (with_(DEPLOYMENT, ("spec", "template", "spec", "containers", 0, "securityContext"), {}), "allowPrivilegeEscalation: false"),
        (with_(DEPLOYMENT, ("spec", "template", "spec", "initContainers", 0, "securityContext"),
               {"allowPrivilegeEscalation": False, "privileged": True}), "initContainer 'fetch' runs privileged"),
    ]),
    "k8s-readiness-probe": (rules.DEPLOYMENT, DEPLOYMENT, [
        (with_(DEPLOYMENT, ("spec", "template", "spec", "containers", 0, "readinessProbe"), ...), "has no readinessProbe"),
    ]),
    "k8s-rolling-update-zero-unavailable": (rules.DEPLOYMENT, DEPLOYMENT, [
        (with_(DEPLOYMENT, ("spec", "strategy", "rollingUpdate", "maxUnavailable"), "25%"), "maxUnavailable is '25%'"),
        # One pod at a time is allowed only without a surge (the in-place strategy), never two.
        (with_(DEPLOYMENT, ("spec", "strategy", "rollingUpdate"), {"maxUnavailable": 1, "maxSurge": 1}), "maxUnavailable is 1"),
        (with_(DEPLOYMENT, ("spec", "strategy", "rollingUpdate"), {"maxUnavailable": 2, "maxSurge": 0}), "maxUnavailable is 2"),
        (with_(DEPLOYMENT, ("spec", "strategy"), {"type": "Recreate"}), "strategy 'Recreate'"),
        (with_(DEPLOYMENT, ("spec", "strategy"), ...), "maxUnavailable is None"),
    ]),
    "k8s-gpu-toleration": (rules.DEPLOYMENT, DEPLOYMENT, [
        (with_(DEPLOYMENT, ("spec", "template", "spec", "tolerations"), []), "do not tolerate"),
    ]),
    "k8s-no-management-port": (rules.DEPLOYMENT, SERVING_DEPLOYMENT, [
        (with_(SERVING_DEPLOYMENT, (*SERVING_PATH, "args"), ["--rest_api_port=8501"]),
         "container 'tf-serving' listens for gRPC on TCP port 8500 (--port; default 8500)"),
        (with_(SERVING_DEPLOYMENT, (*SERVING_PATH, "args"), ["--port=0", "--port", "9000"]), "TCP port 9000"),
        # no command: the image's entrypoint runs `tensorflow_model_server --port=8500 ... "$@"`
        (with_(with_(SERVING_DEPLOYMENT, (*SERVING_PATH, "command"), ...), (*SERVING_PATH, "args"), ["--model_name=r"]),
         "TCP port 8500"),
        (with_(SERVING_DEPLOYMENT, (*SERVING_PATH, "ports"), [{"containerPort": 8501}, {"containerPort": 8500, "name": "grpc"}]),
         "declares containerPort 8500"),
        (with_(SERVING_DEPLOYMENT, ("spec", "template", "spec", "initContainers", 0, "ports"), [{"containerPort": 9090, "hostPort": 9090}]),
         "initContainer 'fetch' binds hostPort 9090"),
    ]),
    "k8s-lb-source-ranges": (rules.SERVICE, SERVICE, [
        (with_(SERVICE, ("spec", "loadBalancerSourceRanges"), ...), "sets no spec.loadBalancerSourceRanges, so the controller opens it to 0.0.0.0/0"),
        (with_(SERVICE, ("spec", "loadBalancerSourceRanges"), ["203.0.113.0/24", "0.0.0.0/0"]),
         "admits 100 % of the public IP space once merged (0.0.0.0/0)"),
        (with_(SERVICE, ("spec", "loadBalancerSourceRanges"), ["::/0"]), "admits 100 % of the public IP space once merged (::/0)"),
        # The literal 0.0.0.0/0 spelt as two halves is just as open.
        (with_(SERVICE, ("spec", "loadBalancerSourceRanges"), ["0.0.0.0/1", "128.0.0.0/1"]), "once merged (0.0.0.0/0)"),
        (with_(with_(SERVICE, ("spec", "loadBalancerSourceRanges"), ...), ("metadata", "annotations"),
               {"service.beta.kubernetes.io/load-balancer-source-ranges": "10.0.0.0/8, 0.0.0.0/0"}), "(0.0.0.0/0)"),
        (with_(with_(SERVICE, ("spec", "loadBalancerSourceRanges"), ...), ("metadata", "annotations"),
               {"service.beta.kubernetes.io/aws-load-balancer-type": "external",
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}), "sets no spec.loadBalancerSourceRanges"),
        (with_(with_(SERVICE, ("spec", "loadBalancerSourceRanges"), ...), ("metadata", "annotations"),
               {"service.beta.kubernetes.io/aws-load-balancer-internal": "false"}), "sets no spec.loadBalancerSourceRanges"),
    ]),
    "ec2-sg-no-world-ingress": (rules.SECURITY_GROUP, SECURITY_GROUP, [
        (with_(SECURITY_GROUP, ("ingress", 0, "cidrBlocks"), ["0.0.0.0/0"]),
         "ingress on tcp 80 admits 100 % of the public IP space once merged (0.0.0.0/0), more than 0.1 %: open to the internet"),
        (with_(SECURITY_GROUP, ("ingress", 0, "ipv6CidrBlocks"), ["::/0"]), "ingress on tcp 80 admits 100 %"),
        (with_(SECURITY_GROUP, ("ingress", 0, "cidrBlocks"), ["0.0.0.0/2", "64.0.0.0/2"]), "(0.0.0.0/1)"),
        (with_(SECURITY_GROUP, ("ingress",), [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]),
         "on every port"),
    ]),
    "elb-forward-weights": (rules.LISTENER_RULE, FORWARD_RULE, [
        (with_(FORWARD_RULE, ("actions", 0, "forward", "targetGroups", 1, "weight"), 1000), "weights must be integers from 0 to 999"),
        (with_(FORWARD_RULE, ("actions", 0, "forward", "targetGroups", 0, "weight"), 0), "send requests nowhere"),
        (with_(FORWARD_RULE, ("actions", 0, "forward", "targetGroups"), [{"arn": f"tg{i}", "weight": 1} for i in range(6)]),
         "1 to 5 target groups"),
    ]),
    "route53-failover-health-check": (rules.RECORD, RECORD, [
        (with_(RECORD, ("healthCheckId",), ...), "no healthCheckId"),
        (with_(RECORD, ("setIdentifier",), ""), "no setIdentifier"),
    ]),
    "route53-failover-ttl": (rules.RECORD, RECORD, [
        (with_(RECORD, ("ttl",), 300), "TTL is 300"),
        (with_(RECORD, ("ttl",), 61), "must be <= 60"),
        (with_(RECORD, ("ttl",), ...), "TTL is None"),
    ]),
    "route53-health-check-model": (rules.HEALTH_CHECK, HEALTH, [
        ({"type": "TCP"}, "only proves the load balancer answers"),
        (with_(HEALTH, ("resourcePath",), "/"), "does not probe the model"),
        (with_(HEALTH, ("searchString",), ...), "no searchString"),
    ]),
    "iam-no-wildcard-s3-kms": ("aws:iam/rolePolicy:RolePolicy", {"policy": policy(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:us-east-1:1:key/k"},
        {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"})}, [
        ({"policy": policy({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"})}, "Action '*' grants every action"),
        ({"policy": policy({"Sid": "S", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"})}, "statement S: wildcard S3/KMS actions ['s3:*']"),
        ({"policy": policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b"})}, "wildcard S3/KMS actions ['s3:Get*']"),
        ({"policy": policy({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*"})}, "on Resource '*'"),
        ({"policy": policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}, "NotAction"),
    ]),
    # Shapes of components/iam.py: Pod Identity conditioned on its session tags, S3 on the source account.
    "iam-service-trust-scoped": ("aws:iam/role:Role", {"assumeRolePolicy": policy(
        {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"],
         "Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-east-1:1:cluster/c",
                                        "aws:RequestTag/kubernetes-namespace": "recsys",
                                        "aws:RequestTag/kubernetes-service-account": "sa"}}},
        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}},
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})}, [
        ({"assumeRolePolicy": policy({"Sid": "P", "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                      "Action": ["sts:AssumeRole", "sts:TagSession"]})},
         "trust statement P lets pods.eks.amazonaws.com assume the role without a condition on aws:RequestTag/kubernetes-namespace"),
        # A condition that passes when the key is absent is no condition.
        ({"assumeRolePolicy": policy({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
                                      "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "1"}}})},
         "s3.amazonaws.com assume the role without a condition on aws:SourceAccount or aws:SourceArn"),
    ]),
    "iam-no-broad-managed-policy": ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                    {"policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}, [
        ({"policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}, "AmazonS3FullAccess"),
        ({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, "AdministratorAccess"),
    ]),
}


def resource_cases():
    for name, (type_token, _, bad_list) in CASES.items():
        for index, (bad, fragment) in enumerate(bad_list):
            yield pytest.param(name, type_token, bad, fragment, id=f"{name}-{index}")


@pytest.mark.parametrize(("name", "type_token", "bad", "fragment"), list(resource_cases()))
def test_rule_fires_on_bad_resource(name, type_token, bad, fragment):
    rule = rule_named(name)
    assert type_token in rule.resource_types
    messages = rule.check(type_token, bad)
    assert messages, f"{name} did not fire"
    assert any(fragment in m for m in messages), messages
    assert name in [v.rule for v in check_resource(type_token, bad, urn="urn:x")]


@pytest.mark.parametrize("name", list(CASES))
def test_rule_is_quiet_on_good_resource(name):
    type_token, good, _ = CASES[name]
    assert rule_named(name).check(type_token, good) == []


def test_rollout_one_pod_at_a_time_without_surge_is_allowed():
    # What components/serving/rollout.py derives when the GPU pool holds no surge pod.
    in_place = with_(DEPLOYMENT, ("spec", "strategy", "rollingUpdate"), {"maxUnavailable": 1, "maxSurge": 0})
    assert rules.check_rolling_update(rules.DEPLOYMENT, in_place) == []


def test_iam_rule_reads_role_inline_policies():
    props = {"inlinePolicies": [{"name": "x", "policy": policy({"Effect": "Allow", "Action": "kms:*", "Resource": "arn:k"})}]}
    assert rules.check_iam_wildcards("aws:iam/role:Role", props) == [
        "inline policy 'x' statement #0: wildcard S3/KMS actions ['kms:*']; list the actions needed"
    ]


def test_cpu_node_group_needs_no_gpu_ami_or_taint():
    cpu = {"instanceTypes": ["m6i.large"], "amiType": "AL2023_x86_64_STANDARD", "nodeGroupName": "system"}
    assert rules.check_gpu_ami(rules.NODE_GROUP, cpu) == [] and rules.check_gpu_taint(rules.NODE_GROUP, cpu) == []


def test_asymmetric_kms_key_needs_no_rotation():
    assert rules.check_kms_rotation(rules.KMS_KEY, {"customerMasterKeySpec": "RSA_2048"}) == []


def test_rules_accept_read_only_mappings_like_policy_proxies():
    """pulumi_policy hands rules Mapping/Sequence proxies, not dicts and lists."""

    class RO(Mapping):
        def __init__(self, d):
            self._d = {k: wrap(v) for k, v in d.items()}

        def __getitem__(self, k):
            return self._d[k]

        def __iter__(self):
            return iter(self._d)

        def __len__(self):
            return len(self._d)

    class ROList(Sequence):
        def __init__(self, items):
            self._items = [wrap(v) for v in items]

        def __getitem__(self, i):
            return self._items[i]

        def __len__(self):
            return len(self._items)

    def wrap(v):
        return RO(v) if isinstance(v, dict) else ROList(v) if isinstance(v, list) else v

    for name, (type_token, good, bad_list) in CASES.items():
        rule = rule_named(name)
        assert rule.check(type_token, wrap(good)) == [], name
        assert rule.check(type_token, wrap(bad_list[0][0])), name


# ------------------------------------------------------------------ stack rules

P1 = "urn:pulumi:s::p::pulumi:providers:kubernetes::primary"
P2 = "urn:pulumi:s::p::pulumi:providers:kubernetes::standby"


def res(type_token, name, props, region=None, provider=None, deps=None, options=None):
    return Resource(type=type_token, urn=f"urn:pulumi:s::p::{type_token}::{name}", name=name, props=props,
                    provider=provider, region=region, property_dependencies=deps or {}, options=options or {})


KEY_POLICY = policy({"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/serving"},
                     "Action": ["kms:Decrypt"], "Resource": "*"})
PROTECT = {"protect": True}


def good_stack():
    labels = {"app": "tf-serving"}
    stack = []
    for role, region, provider in (("primary", "us-east-1", P1), ("standby", "us-west-2", P2)):
        bucket = f"models-{role}"
        stack += [
            res(rules.BUCKET, bucket, {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "objectLockEnabled": True},
                region, options=PROTECT),
            res(rules.BUCKET_SSE, f"{role}-sse", {"bucket": bucket, **SSE_GOOD}, region),
            res(rules.BUCKET_VERSIONING, f"{role}-ver", {"bucket": bucket}, region),
            res(rules.BUCKET_PAB, f"{role}-pab", {"bucket": bucket}, region),
            res(rules.BUCKET_POLICY, f"{role}-policy", {"bucket": bucket, "policy": policy(
                {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObjectVersion", "Resource": f"arn:aws:s3:::{bucket}/models/*"},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/models/*",
                 "Condition": {"Null": {"s3:if-none-match": "true"}}})}, region),
            res(rules.KMS_KEY, f"{role}-key", {"policy": KEY_POLICY}, region, options=PROTECT),
            res(rules.EKS_CLUSTER, f"{role}-cluster", {"vpcConfig": {"publicAccessCidrs": ["203.0.113.0/24"]}}, region),
            res(rules.NODE_GROUP, f"{role}-gpu", GPU_GROUP, region),
            res(rules.DEPLOYMENT, f"{role}-serving", {"metadata": {"name": "tf", "namespace": "recsys"},
                                                      "spec": {"template": {"metadata": {"labels": {**labels, "v": "1"}},
                                                                            "spec": {"containers": [CONTAINER]}}}},
                region, provider),
            res(rules.PDB, f"{role}-pdb", {"metadata": {"namespace": "recsys"}, "spec": {"selector": {"matchLabels": labels}}},
                region, provider),
            res(rules.HPA_TYPES[0], f"{role}-hpa", {"metadata": {"namespace": "recsys"},
                                                   "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "tf"}}}, region, provider),
            res(rules.RECORD, f"{role}-record", {"zoneId": "Z", "name": "recs", "type": "CNAME",
                                                 "failoverRoutingPolicies": [{"type": "PRIMARY" if role == "primary" else "SECONDARY"}]},
                "global"),
        ]
    stack.append(res(rules.BUCKET_REPLICATION, "replication",
                     {"bucket": "models-primary", "rules": [{"id": "r", "status": "Enabled",
                                                              "destination": {"bucket": "arn:aws:s3:::models-standby"}}]},
                     "us-east-1"))
    # The CPU fallback tier in the standby's cluster (dr-fallback-tier).
    fallback = {"app": "tf-serving", "tier": "fallback"}
    stack += [
        res(rules.DEPLOYMENT, "fallback-serving", {"metadata": {"name": "tf", "namespace": "recsys-fallback"}, "spec": {"template": {
            "metadata": {"labels": fallback}, "spec": {"containers": [{**CPU_SERVING}]}}}}, "us-west-2", P2),
        res(rules.PDB, "fallback-pdb", {"metadata": {"namespace": "recsys-fallback"}, "spec": {"selector": {"matchLabels": fallback}}},
            "us-west-2", P2),
        res(rules.HPA_TYPES[0], "fallback-hpa", {"metadata": {"namespace": "recsys-fallback"},
                                                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "tf"}}}, "us-west-2", P2),
    ]
    return stack


def drop(stack, name):
    return [r for r in stack if r.name != name]


def replace(stack, name, **changes):
    return [Resource(**{**r.__dict__, **changes}) if r.name == name else r for r in stack]


def fired(stack):
    return {(v.rule, v.urn.split("::")[-1] if v.urn else None) for v in check_stack(stack)}


def test_stack_rules_quiet_on_good_stack():
    assert check_stack(good_stack()) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: drop(s, "standby-ver"), ("s3-bucket-guarded", "models-standby")),
        (lambda s: drop(s, "primary-sse"), ("s3-bucket-guarded", "models-primary")),
        (lambda s: drop(s, "primary-pab"), ("s3-bucket-guarded", "models-primary")),
        (lambda s: replace(s, "models-standby", region="us-east-1"), ("s3-replication-cross-region", "replication")),
        (lambda s: replace(s, "replication", props={"bucket": "models-primary", "rules": [
            {"id": "r", "status": "Enabled", "destination": {"bucket": "arn:aws:s3:::elsewhere"}}]}),
         ("s3-replication-cross-region", "replication")),
        (lambda s: drop(s, "standby-pdb"), ("k8s-deployment-has-pdb", "standby-serving")),
        (lambda s: replace(s, "primary-pdb", provider=P2), ("k8s-deployment-has-pdb", "primary-serving")),
        (lambda s: drop(s, "primary-hpa"), ("k8s-deployment-has-hpa", "primary-serving")),
        (lambda s: replace(s, "standby-hpa", props={"metadata": {"namespace": "other"},
                                                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "tf"}}}),
         ("k8s-deployment-has-hpa", "standby-serving")),
        # A KEDA ScaledObject in place of the HPA counts (it makes one); one on CPU does not belong on a GPU server.
        (lambda s: replace(s, "primary-hpa", type=rules.SCALED_OBJECT, props={"metadata": {"namespace": "recsys"}, "spec": {
            "scaleTargetRef": {"name": "tf"}, "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]}}),
         ("k8s-gpu-not-scaled-on-cpu", "primary-hpa")),
        (lambda s: replace(s, "standby-hpa", props={"metadata": {"namespace": "recsys"}, "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "tf"},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}}),
         ("k8s-gpu-not-scaled-on-cpu", "standby-hpa")),
        (lambda s: drop(s, "standby-record"), ("route53-failover-pair", "primary-record")),
        (lambda s: drop(s, "standby-gpu"), ("dr-serving-regions-complete", None)),
        (lambda s: drop(s, "replication"), ("dr-serving-regions-complete", None)),
        (lambda s: [r for r in s if r.name not in ("standby-serving", "standby-pdb", "standby-hpa")],
         ("dr-serving-regions-complete", None)),
    ],
)
def test_stack_rule_fires(mutate, expected):
    assert expected in fired(mutate(good_stack()))


PILOT_LIGHT_POOL = {**GPU_GROUP, "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": 2}}


def test_a_gpu_pool_at_zero_without_a_reservation_is_capacity_not_guaranteed():
    stack = replace(good_stack(), "standby-gpu", props=PILOT_LIGHT_POOL)
    assert ("dr-standby-capacity", "standby-gpu") in fired(stack)
    [violation] = [v for v in check_stack(stack) if v.rule == "dr-standby-capacity"]
    assert violation.enforcement == rules.ADVISORY and "capacity not guaranteed" in violation.message


def test_in_production_an_unreserved_pilot_light_is_mandatory():
    stack = [Resource(**{**r.__dict__, "urn": r.urn.replace("urn:pulumi:s::", "urn:pulumi:prod::")})
             for r in replace(good_stack(), "standby-gpu", props=PILOT_LIGHT_POOL)]
    assert {(v.rule, v.enforcement) for v in check_stack(stack) if v.rule.startswith("dr-standby")} == {
        ("dr-standby-capacity-prod", rules.MANDATORY)}


def test_a_pool_at_zero_launching_into_a_reservation_is_guaranteed():
    template = res(rules.LAUNCH_TEMPLATE, "standby-gpu-template", {"capacityReservationSpecification": {
        "capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}}}, "us-west-2")
    stack = replace(good_stack(), "standby-gpu", props={**PILOT_LIGHT_POOL, "launchTemplate": {"id": "lt-1", "version": "1"}},
                    property_dependencies={"launchTemplate": [template.urn]})
    assert "dr-standby-capacity" not in {rule for rule, _ in fired([*stack, template])}
    # A template without a target (only an image volume, say) reserves nothing.
    plain = res(rules.LAUNCH_TEMPLATE, "standby-gpu-template", {"blockDeviceMappings": []}, "us-west-2")
    assert ("dr-standby-capacity", "standby-gpu") in fired([*stack, plain])


def test_gpu_serving_without_a_cpu_fallback_is_reported():
    stack = [r for r in good_stack() if not r.name.startswith("fallback-")]
    assert ("dr-fallback-tier", None) in fired(stack)
    # A CPU container that is not TF Serving is no fallback.
    web = replace(good_stack(), "fallback-serving", props={"metadata": {"name": "tf", "namespace": "recsys-fallback"},
                  "spec": {"template": {"metadata": {"labels": {"app": "tf-serving", "tier": "fallback"}},
                                        "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    assert ("dr-fallback-tier", None) in fired(web)


def test_a_scaled_object_on_serving_load_is_an_autoscaler_and_not_cpu_scaling():
    keda = {"metadata": {"namespace": "recsys"}, "spec": {"scaleTargetRef": {"name": "tf"}, "triggers": [
        {"type": "aws-cloudwatch", "metricType": "AverageValue", "metadata": {"metricName": "RequestCount"}}]}}
    stack = replace(good_stack(), "primary-hpa", type=rules.SCALED_OBJECT, props=keda)
    assert check_stack(stack) == []


def test_cpu_scaling_of_a_cpu_only_deployment_is_left_alone():
    stack = replace(good_stack(), "primary-hpa", props={"metadata": {"namespace": "recsys"}, "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "tf"}, "targetCPUUtilizationPercentage": 60}}, type=rules.HPA_TYPES[1])
    cpu_only = {"metadata": {"name": "tf", "namespace": "recsys"}, "spec": {"template": {
        "metadata": {"labels": {"app": "tf-serving", "v": "1"}}, "spec": {"containers": [{"name": "web"}]}}}}
    assert ("k8s-gpu-not-scaled-on-cpu", "primary-hpa") not in fired(replace(stack, "primary-serving", props=cpu_only))
    gpu = {"metadata": {"name": "tf", "namespace": "recsys"}, "spec": {"template": {
        "metadata": {"labels": {"app": "tf-serving", "v": "1"}}, "spec": {"containers": [CONTAINER]}}}}
    assert ("k8s-gpu-not-scaled-on-cpu", "primary-hpa") in fired(replace(stack, "primary-serving", props=gpu))


def front_door(stack: str, *, protocol: str = "HTTPS", web_acl: bool = True) -> list[Resource]:
    alb = Resource(type=rules.LOAD_BALANCER, urn=f"urn:pulumi:{stack}::p::{rules.LOAD_BALANCER}::alb", name="alb",
                   props={"arn": "arn:alb", "loadBalancerType": "application"})
    listener = Resource(type=rules.LISTENER, urn=f"urn:pulumi:{stack}::p::{rules.LISTENER}::listener", name="listener",
                        props={"loadBalancerArn": "arn:alb", "protocol": protocol, "port": 443 if protocol == "HTTPS" else 80},
                        property_dependencies={"loadBalancerArn": [alb.urn]})
    association = Resource(type=rules.WEB_ACL_ASSOCIATION, urn=f"urn:pulumi:{stack}::p::{rules.WEB_ACL_ASSOCIATION}::waf", name="waf",
                           props={"resourceArn": "arn:alb", "webAclArn": "arn:acl"}, property_dependencies={"resourceArn": [alb.urn]})
    return [alb, listener, *([association] if web_acl else [])]


def test_production_balancers_have_no_plain_text_listener_and_others_may():
    assert fired(front_door("prod")) == set()
    assert fired(front_door("prod", protocol="HTTP")) == {("elb-https-only-prod", "listener")}
    assert fired(front_door("dev", protocol="HTTP")) == set()  # dev without a certificate: the plan warns instead


def test_every_application_balancer_needs_a_web_acl():
    assert fired(front_door("dev", web_acl=False)) == {("elb-web-acl", "alb")}
    network = [Resource(**{**r.__dict__, "props": {**r.props, "loadBalancerType": "network"}}) if r.name == "alb" else r
               for r in front_door("dev", web_acl=False)]
    assert fired(network) == set()  # WAF cannot attach to a network load balancer


def test_stack_rules_link_by_dependencies_when_names_are_unknown():
    """In a preview, auto-named buckets have no name yet; property dependencies still link them."""
    stack = good_stack()
    bucket_urn = next(r.urn for r in stack if r.name == "models-standby")
    stack = replace(stack, "standby-ver", props={"bucket": "04da6b54-unknown"}, property_dependencies={"bucket": [bucket_urn]})
    assert "s3-bucket-guarded" not in {rule for rule, _ in fired(stack)}


def test_regions_rule_waits_when_a_cluster_region_is_unknown():
    """First preview: the kubeconfig (hence a Deployment's region) is not known yet."""
    stack = replace(drop(good_stack(), "standby-gpu"), "standby-serving", region=None)
    assert "dr-serving-regions-complete" not in {rule for rule, _ in fired(stack)}


def test_registry_is_complete_and_consistent():
    names = [r.name for r in rules.ALL_RULES]
    assert len(names) == len(set(names)) >= 12
    assert set(CASES) == {r.name for r in rules.RESOURCE_RULES}
    for rule in rules.ALL_RULES:
        assert rule.enforcement in (rules.MANDATORY, rules.ADVISORY)
        assert rule.description.endswith(".") and rule.resource_types


def test_kubeconfig_region():
    kubeconfig = {"users": [{"user": {"exec": {"args": ["eks", "get-token", "--region", "eu-west-1", "--cluster-name", "c"]}}}]}
    assert rules.kubeconfig_region(json.dumps(kubeconfig)) == "eu-west-1"
    assert rules.kubeconfig_region("users:\n- user:\n    exec:\n      args: [--region=ap-south-1]\n") == "ap-south-1"
    assert rules.kubeconfig_region("not a kubeconfig") is None
