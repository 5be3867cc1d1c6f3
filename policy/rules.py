"""Guardrails for the two-region recommender, as plain functions.

Pure Python (standard library only) so that the same rules run in two places:

* offline, against the plan (`recsys-dr plan` calls `check_resource` and `check_stack`);
* in a real `pulumi preview --policy-pack policy`, where `policy/__main__.py` wraps each
  rule in a `pulumi_policy.ResourceValidationPolicy` or `StackValidationPolicy`.

Properties use the engine's names (camelCase, e.g. `versioningConfiguration`), which is
what both the plan's inputs and `pulumi_policy`'s `args.props` contain. Values may be
read-only mappings/sequences (pulumi_policy wraps them in proxies that raise when an
unknown preview value is read); the helpers here only use `Mapping`/`Sequence` access.

A resource rule is `check(resource_type, props) -> list[str]` (one message per
violation). A stack rule is `check(resources) -> list[(urn | None, message)]` over
`Resource` records, for relations that need the whole stack (a PDB per Deployment,
replication into another region).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PACK_NAME = "recsys-dr-guardrails"
MANDATORY = "mandatory"
ADVISORY = "advisory"

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
KMS_KEY = "aws:kms/key:Key"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
IAM_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:iam/role:Role",
    BUCKET_POLICY,
)
IAM_ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPES = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")

# Kept in step with components/cluster/instances.py (tests/policy/test_gpu_families.py) plus
# g4ad: an AMD GPU group still counts as a GPU group here, and then fails the NVIDIA-AMI rule.
GPU_INSTANCE_FAMILIES = ("g4dn", "g4ad", "g5", "g5g", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200")
GPU_TAINT_KEY = "nvidia.com/gpu"
MAX_FAILOVER_TTL = 60
RTC_MINUTES = 15
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GRANTEE_URIS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
BROAD_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess", "AmazonS3FullAccess", "AWSKeyManagementServicePowerUser")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Resource:
    """One resource as a stack rule sees it.

    Attributes:
        type: type token, e.g. `aws:s3/bucket:Bucket`.
        urn: the resource's URN.
        name: logical name.
        props: output properties (camelCase).
        provider: URN of its provider, or None.
        parent: URN of its parent, or None.
        region: AWS region, "global", or None when not known.
        property_dependencies: `{property: [URNs it depends on]}`.
    """

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    provider: str | None = None
    parent: str | None = None
    region: str | None = None
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    rule: str
    enforcement: str
    urn: str | None
    message: str
    resource_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "enforcement": self.enforcement,
            "urn": self.urn,
            "resourceType": self.resource_type,
            "message": self.message,
        }


@dataclass(frozen=True)
class Rule:
    """A rule on one resource at a time."""

    name: str
    description: str
    enforcement: str
    resource_types: tuple[str, ...]
    check: Callable[[str, Mapping[str, Any]], list[str]]
    scope: str = "resource"


@dataclass(frozen=True)
class StackRule:
    """A rule over all resources of a stack (relations between resources)."""

    name: str
    description: str
    enforcement: str
    resource_types: tuple[str, ...]
    check: Callable[[Sequence[Resource]], list[tuple[str | None, str]]]
    scope: str = "stack"


# --------------------------------------------------------------------------- helpers


def _is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _get(value: Any, *path: Any, default: Any = None) -> Any:
    """Walk `path` through mappings (keys) and sequences (int indexes)."""
    for step in path:
        if isinstance(step, int) and _is_list(value):
            if step >= len(value):
                return default
            value = value[step]
        elif _is_map(value) and step in value:
            value = value[step]
        else:
            return default
    return default if value is None else value


def _items(value: Any) -> list[Any]:
    return list(value) if _is_list(value) else []


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _enabled(value: Any) -> bool:
    return value == "Enabled"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if _is_list(value) else [value]


def kubeconfig_region(kubeconfig: Any) -> str | None:
    """The `--region` in a user's exec args of a kubeconfig (JSON/YAML string or mapping), or None.

    EKS kubeconfigs authenticate with `aws eks get-token --region <r> --cluster-name <n>`.
    """
    document = kubeconfig
    if isinstance(kubeconfig, str):
        try:
            document = json.loads(kubeconfig)
        except ValueError:
            try:  # kubeconfigs are often YAML; PyYAML comes with the pulumi SDK
                import yaml

                document = yaml.safe_load(kubeconfig)
            except Exception:  # noqa: BLE001 - unreadable kubeconfig: region unknown
                return None
    for user in _items(_get(document, "users")):
        args = [str(a) for a in _items(_get(user, "user", "exec", "args"))]
        for index, arg in enumerate(args):
            if arg == "--region" and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith("--region="):
                return arg.split("=", 1)[1]
    return None


GLOBAL_TYPE_PREFIXES = ("pulumi:providers:", "aws:iam/", "aws:route53/", "aws:route53recoverycontrol/")


def resource_region(resource_type: str, props: Mapping[str, Any], provider_props: Mapping[str, Any] | None) -> str | None:
    """Region of a resource as the plan defines it: "global" for providers, IAM, Route 53 and
    Route 53 ARC; a Kubernetes object's cluster region from its provider's kubeconfig; else the
    `region` property (pulumi-aws v7), falling back to the provider's. None when unknown."""
    if resource_type.startswith(GLOBAL_TYPE_PREFIXES):
        return "global"
    if resource_type.startswith("kubernetes:"):
        return kubeconfig_region(_get(provider_props, "kubeconfig"))
    region = _get(props, "region") or _get(provider_props, "region")
    return str(region) if region else None


# --------------------------------------------------------------------------- S3 / KMS


def check_bucket_acl(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    acl = _get(props, "acl")
    if acl in PUBLIC_ACLS:
        problems.append(f"bucket ACL {acl!r} makes objects readable outside the account; use 'private' or no ACL")
    grants = _items(_get(props, "grants")) + _items(_get(props, "accessControlPolicy", "grants"))
    for grant in grants:
        uri = _get(grant, "uri") or _get(grant, "grantee", "uri")
        if uri in PUBLIC_GRANTEE_URIS:
            problems.append(f"ACL grant to {uri} makes the bucket public")
    return problems


def check_sse_kms(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    rules = _items(_get(props, "rules"))
    if not rules:
        return ["bucket encryption has no rule; set applyServerSideEncryptionByDefault with sseAlgorithm 'aws:kms'"]
    problems = []
    for index, rule in enumerate(rules):
        algorithm = _get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        key = _get(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            problems.append(f"rules[{index}] encrypts with {algorithm!r}; must be 'aws:kms' with a customer-managed key")
        elif not key:
            problems.append(f"rules[{index}] uses aws:kms without kmsMasterKeyId (AWS-managed key cannot be shared with the replica)")
    return problems


def check_versioning(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    status = _get(props, "versioningConfiguration", "status")
    if status != "Enabled":
        return [f"versioningConfiguration.status is {status!r}; must be 'Enabled' (replication and rollback need versions)"]
    return []


def check_public_access_block(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [flag for flag in flags if _get(props, flag) is not True]
    if off:
        return [f"public access block must set all four flags to true; not true: {', '.join(off)}"]
    return []


def _policy_document(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if _is_map(value) else None


def _statements(document: Any) -> list[Any]:
    return _as_list(_get(document, "Statement"))


def check_bucket_policy_not_public(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    document = _policy_document(_get(props, "policy"))
    problems = []
    for index, statement in enumerate(_statements(document)):
        if _get(statement, "Effect") != "Allow" or _get(statement, "Condition"):
            continue
        principal = _get(statement, "Principal")
        aws_principals = _as_list(_get(principal, "AWS")) if _is_map(principal) else _as_list(principal)
        if "*" in aws_principals:
            sid = _get(statement, "Sid") or f"#{index}"
            problems.append(f"statement {sid} allows Principal '*' without a condition: the bucket would be public")
    return problems


def check_replication_rtc(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    rules = [r for r in _items(_get(props, "rules")) if _get(r, "status") == "Enabled"]
    if not rules:
        return ["replication configuration has no enabled rule"]
    problems = []
    for rule in rules:
        rule_id = _get(rule, "id") or "?"
        destination = _get(rule, "destination", default={})
        if not _enabled(_get(destination, "replicationTime", "status")):
            problems.append(f"rule {rule_id!r}: Replication Time Control is off; set destination.replicationTime.status 'Enabled'")
        elif _num(_get(destination, "replicationTime", "time", "minutes")) != RTC_MINUTES:
            minutes = _get(destination, "replicationTime", "time", "minutes")
            problems.append(f"rule {rule_id!r}: replicationTime.time.minutes is {minutes!r}; RTC requires {RTC_MINUTES}")
        if not _enabled(_get(destination, "metrics", "status")):
            problems.append(f"rule {rule_id!r}: replication metrics are off; RTC lag cannot be monitored (destination.metrics.status)")
    return problems


def check_replication_kms(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for rule in _items(_get(props, "rules")):
        if _get(rule, "status") != "Enabled":
            continue
        rule_id = _get(rule, "id") or "?"
        if not _enabled(_get(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "status")):
            problems.append(f"rule {rule_id!r}: KMS-encrypted objects are not replicated (sourceSelectionCriteria.sseKmsEncryptedObjects)")
        if not _get(rule, "destination", "encryptionConfiguration", "replicaKmsKeyId"):
            problems.append(f"rule {rule_id!r}: no destination.encryptionConfiguration.replicaKmsKeyId (replicas need the standby region's key)")
    return problems


def check_kms_rotation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    spec = _get(props, "customerMasterKeySpec") or _get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and _get(props, "enableKeyRotation") is not True:
        return ["enableKeyRotation must be true for symmetric keys"]
    return []


# --------------------------------------------------------------------------- EKS


def check_eks_secrets_encryption(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    configs = _as_list(_get(props, "encryptionConfig"))
    for config in configs:
        if "secrets" in _items(_get(config, "resources")) and _get(config, "provider", "keyArn"):
            return []
    return ["cluster does not encrypt Kubernetes secrets with a KMS key (encryptionConfig resources ['secrets'] + provider.keyArn)"]


def is_gpu_node_group(props: Mapping[str, Any]) -> bool:
    """A node group is a GPU pool if its instance types, AMI, labels or name say so."""
    for instance_type in _items(_get(props, "instanceTypes")):
        family = str(instance_type).split(".")[0]
        if family in GPU_INSTANCE_FAMILIES:
            return True
    ami = str(_get(props, "amiType") or "")
    if "NVIDIA" in ami or "GPU" in ami:
        return True
    labels = _get(props, "labels", default={})
    if _is_map(labels) and any("gpu" in str(k).lower() or "accelerator" in str(k).lower() for k in labels):
        return True
    return "gpu" in str(_get(props, "nodeGroupName") or "").lower()


def check_gpu_ami(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not is_gpu_node_group(props):
        return []
    ami = str(_get(props, "amiType") or "")
    if "NVIDIA" not in ami:
        return [f"GPU node group uses amiType {ami or 'unset'!r}; use an NVIDIA AMI (e.g. AL2023_x86_64_NVIDIA, BOTTLEROCKET_x86_64_NVIDIA)"]
    return []


def check_gpu_taint(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not is_gpu_node_group(props):
        return []
    for taint in _items(_get(props, "taints")):
        if _get(taint, "key") == GPU_TAINT_KEY and _get(taint, "effect") in ("NO_SCHEDULE", "NO_EXECUTE"):
            return []
    return [f"GPU node group is not tainted {GPU_TAINT_KEY}:NO_SCHEDULE; CPU pods would land on GPU nodes"]


def check_node_group_no_ssh(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if _get(props, "remoteAccess"):
        return ["node group allows SSH (remoteAccess); use SSM Session Manager instead"]
    return []


# --------------------------------------------------------------------------- Kubernetes


def _pod_spec(props: Mapping[str, Any]) -> Any:
    return _get(props, "spec", "template", "spec", default={})


def _containers(props: Mapping[str, Any], *, init: bool = True) -> list[tuple[str, Any]]:
    spec = _pod_spec(props)
    found = [("container", c) for c in _items(_get(spec, "containers"))]
    if init:
        found += [("initContainer", c) for c in _items(_get(spec, "initContainers"))]
    return found


def check_container_limits(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind, container in _containers(props):
        limits = _get(container, "resources", "limits", default={})
        missing = [r for r in ("cpu", "memory") if not _get(limits, r)]
        if missing:
            problems.append(f"{kind} {_get(container, 'name')!r} has no resources.limits.{'/'.join(missing)}")
    return problems


def check_no_privilege_escalation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind, container in _containers(props):
        context = _get(container, "securityContext", default={})
        if _get(context, "privileged") is True:
            problems.append(f"{kind} {_get(container, 'name')!r} runs privileged")
        if _get(context, "allowPrivilegeEscalation") is not False:
            problems.append(f"{kind} {_get(container, 'name')!r} must set securityContext.allowPrivilegeEscalation: false")
    return problems


def check_readiness_probe(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"container {_get(c, 'name')!r} has no readinessProbe; traffic would reach it before the model is loaded"
        for _, c in _containers(props, init=False)
        if not _get(c, "readinessProbe")
    ]


def check_rolling_update(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    strategy = _get(props, "spec", "strategy", default={})
    kind = _get(strategy, "type") or "RollingUpdate"
    if kind != "RollingUpdate":
        return [f"strategy {kind!r} stops every pod before the new version is verified; use RollingUpdate with maxUnavailable 0"]
    max_unavailable = _get(strategy, "rollingUpdate", "maxUnavailable")
    if max_unavailable not in (0, 0.0, "0", "0%"):
        return [f"rollingUpdate.maxUnavailable is {max_unavailable!r}; must be 0 so old pods serve until new ones are ready"]
    return []


def check_gpu_toleration(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    wants_gpu = any(
        _get(c, "resources", "limits", GPU_TAINT_KEY) or _get(c, "resources", "requests", GPU_TAINT_KEY)
        for _, c in _containers(props)
    )
    if not wants_gpu:
        return []
    for toleration in _items(_get(_pod_spec(props), "tolerations")):
        if _get(toleration, "key") == GPU_TAINT_KEY or (
            _get(toleration, "operator") == "Exists" and not _get(toleration, "key")
        ):
            return []
    return [f"pods request {GPU_TAINT_KEY} but do not tolerate the {GPU_TAINT_KEY} taint; they cannot schedule on GPU nodes"]


# --------------------------------------------------------------------------- Route 53


def _is_failover_record(props: Mapping[str, Any]) -> bool:
    return bool(_items(_get(props, "failoverRoutingPolicies")))


def check_failover_health_check(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not _is_failover_record(props):
        return []
    problems = []
    if not _get(props, "healthCheckId"):
        problems.append("failover record has no healthCheckId; Route 53 could not fail over on its own")
    if not _get(props, "setIdentifier"):
        problems.append("failover record has no setIdentifier")
    return problems


def check_failover_ttl(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not _is_failover_record(props) or _items(_get(props, "aliases")):
        return []
    ttl = _num(_get(props, "ttl"))
    if ttl is None or ttl > MAX_FAILOVER_TTL:
        return [f"failover record TTL is {_get(props, 'ttl')!r}; must be <= {MAX_FAILOVER_TTL} s (resolvers cache the dead region that long)"]
    return []


def check_health_check_model_aware(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    kind = _get(props, "type")
    if kind in ("RECOVERY_CONTROL", "CALCULATED", "CLOUDWATCH_METRIC"):
        return []
    if kind not in ("HTTP_STR_MATCH", "HTTPS_STR_MATCH"):
        return [f"health check type {kind!r} only proves the load balancer answers; use HTTP_STR_MATCH on /v1/models/<model>"]
    problems = []
    if not str(_get(props, "resourcePath") or "").startswith("/v1/models/"):
        problems.append(f"health check path {_get(props, 'resourcePath')!r} does not probe the model (/v1/models/<model>)")
    if not _get(props, "searchString"):
        problems.append("health check has no searchString (expect 'AVAILABLE')")
    return problems


# --------------------------------------------------------------------------- IAM


def _policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if resource_type == "aws:iam/role:Role":
        return [
            (f"inline policy {_get(p, 'name')!r}", _policy_document(_get(p, "policy")))
            for p in _items(_get(props, "inlinePolicies"))
        ]
    return [("policy", _policy_document(_get(props, "policy")))]


def _touches_s3_or_kms(action: str) -> bool:
    return action == "*" or action.lower().startswith(("s3:", "kms:"))


def check_iam_wildcards(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for where, document in _policy_documents(resource_type, props):
        for index, statement in enumerate(_statements(document)):
            if _get(statement, "Effect") != "Allow":
                continue
            sid = _get(statement, "Sid") or f"#{index}"
            actions = [str(a) for a in _as_list(_get(statement, "Action"))]
            if _get(statement, "NotAction") is not None:
                problems.append(f"{where} statement {sid}: Allow with NotAction grants almost everything")
                continue
            if "*" in actions:
                problems.append(f"{where} statement {sid}: Action '*' grants every action")
                continue
            relevant = [a for a in actions if _touches_s3_or_kms(a)]
            if not relevant:
                continue
            wild = [a for a in relevant if "*" in a]
            if wild:
                problems.append(f"{where} statement {sid}: wildcard S3/KMS actions {wild}; list the actions needed")
            resources = [str(r) for r in _as_list(_get(statement, "Resource"))]
            if _get(statement, "NotResource") is not None or any(r in ("*", "arn:aws:s3:::*") for r in resources):
                problems.append(f"{where} statement {sid}: S3/KMS actions on Resource '*'; name the bucket or key ARNs")
    return problems


def check_broad_managed_policies(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    arn = str(_get(props, "policyArn") or "")
    name = arn.rsplit("/", 1)[-1]
    if arn.startswith("arn:aws:iam::aws:policy/") and name in BROAD_MANAGED_POLICIES:
        return [f"attaches AWS managed policy {name}; grant only the actions this system needs"]
    return []


# --------------------------------------------------------------------------- stack rules


def _of(resources: Sequence[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def _depends_on(resource: Resource, prop: str, candidates: Sequence[Resource]) -> list[Resource]:
    deps = set(_items(_get(resource.property_dependencies, prop)))
    return [c for c in candidates if c.urn in deps]


def _bucket_for(resource: Resource, buckets: Sequence[Resource]) -> Resource | None:
    """The bucket a bucket-configuration resource (versioning, SSE, ...) applies to.

    Property dependencies first (known even in a preview, when an auto-named bucket's name
    is not), then the `bucket` value.
    """
    linked = _depends_on(resource, "bucket", buckets)
    if len(linked) == 1:
        return linked[0]
    value = _get(resource.props, "bucket")
    for bucket in buckets:
        if value and value in (_get(bucket.props, "bucket"), _get(bucket.props, "id")):
            return bucket
    return None


def check_buckets_guarded(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    buckets = _of(resources, BUCKET)
    guards = {BUCKET_SSE: "KMS default encryption", BUCKET_VERSIONING: "versioning", BUCKET_PAB: "a public access block"}
    covered: dict[str, set[str]] = {b.urn: set() for b in buckets}
    for resource in _of(resources, *guards):
        bucket = _bucket_for(resource, buckets)
        if bucket is not None:
            covered[bucket.urn].add(resource.type)
    problems = []
    for bucket in buckets:
        missing = [label for token, label in guards.items() if token not in covered[bucket.urn]]
        if missing:
            problems.append((bucket.urn, f"bucket {bucket.name!r} has no {', no '.join(missing)}"))
    return problems


def _bucket_by_arn(arn: Any, buckets: Sequence[Resource]) -> Resource | None:
    for bucket in buckets:
        name = _get(bucket.props, "bucket")
        if arn and (arn == _get(bucket.props, "arn") or (name and arn == f"arn:aws:s3:::{name}")):
            return bucket
    return None


def check_replication_cross_region(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    buckets = _of(resources, BUCKET)
    problems: list[tuple[str | None, str]] = []
    for config in _of(resources, BUCKET_REPLICATION):
        source = _bucket_for(config, buckets)
        source_region = (source.region if source else None) or _get(config.props, "region")
        for rule in _items(_get(config.props, "rules")):
            if _get(rule, "status") != "Enabled":
                continue
            arn = _get(rule, "destination", "bucket")
            destination = _bucket_by_arn(arn, buckets)
            if destination is None:
                candidates = [b for b in _depends_on(config, "rules", buckets) if source is None or b.urn != source.urn]
                destination = candidates[0] if len(candidates) == 1 else None
            if destination is None:
                problems.append((config.urn, f"rule {_get(rule, 'id')!r}: destination {arn!r} is not a bucket of this stack"))
            elif source_region and destination.region == source_region:
                problems.append(
                    (config.urn, f"rule {_get(rule, 'id')!r}: replicates into {destination.name!r} in the same region "
                                 f"({source_region}); the copy must survive a regional outage")
                )
    return problems


def _namespace(props: Mapping[str, Any]) -> str:
    return str(_get(props, "metadata", "namespace") or "default")


def _labels_match(selector: Any, labels: Any) -> bool:
    if not _is_map(selector) or not selector or not _is_map(labels):
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def check_deployments_have_pdb(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    pdbs = _of(resources, PDB)
    problems = []
    for deployment in _of(resources, DEPLOYMENT):
        labels = _get(deployment.props, "spec", "template", "metadata", "labels", default={})
        if not any(
            p.provider == deployment.provider
            and _namespace(p.props) == _namespace(deployment.props)
            and _labels_match(_get(p.props, "spec", "selector", "matchLabels"), labels)
            for p in pdbs
        ):
            problems.append((deployment.urn, f"Deployment {deployment.name!r} has no PodDisruptionBudget selecting its pods"))
    return problems


def check_deployments_have_hpa(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    hpas = _of(resources, *HPA_TYPES)
    problems = []
    for deployment in _of(resources, DEPLOYMENT):
        name = _get(deployment.props, "metadata", "name")
        found = False
        for hpa in hpas:
            if hpa.provider != deployment.provider or _namespace(hpa.props) != _namespace(deployment.props):
                continue
            target = _get(hpa.props, "spec", "scaleTargetRef", default={})
            if _get(target, "kind") == "Deployment" and (
                (name and _get(target, "name") == name) or deployment.urn in _items(_get(hpa.property_dependencies, "spec"))
            ):
                found = True
                break
        if not found:
            problems.append((deployment.urn, f"Deployment {deployment.name!r} has no HorizontalPodAutoscaler targeting it"))
    return problems


def check_failover_pairs(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    groups: dict[tuple[str, str, str], list[tuple[Resource, str]]] = {}
    for record in _of(resources, RECORD):
        policies = _items(_get(record.props, "failoverRoutingPolicies"))
        if not policies:
            continue
        key = (str(_get(record.props, "zoneId")), str(_get(record.props, "name")), str(_get(record.props, "type")))
        groups.setdefault(key, []).append((record, str(_get(policies[0], "type"))))
    problems: list[tuple[str | None, str]] = []
    for (_, name, kind), members in sorted(groups.items()):
        roles = sorted(role for _, role in members)
        if roles != ["PRIMARY", "SECONDARY"]:
            problems.append((members[0][0].urn, f"failover records for {name} {kind} are {roles}; need exactly one PRIMARY and one SECONDARY"))
    return problems


def check_serving_regions_complete(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    deployments = _of(resources, DEPLOYMENT)
    if not deployments or any(d.region is None for d in deployments):
        return []  # no serving, or a cluster region not known yet (kubeconfig unknown in a first preview)
    serving = sorted({d.region for d in deployments if d.region != "global"})
    problems: list[tuple[str | None, str]] = []
    if len(serving) < 2:
        problems.append((None, f"serving Deployments run in {serving or 'no known region'}; disaster recovery needs two regions"))
    for region in serving:
        here = [r for r in resources if r.region == region]
        missing = []
        if not any(r.type == EKS_CLUSTER for r in here):
            missing.append("EKS cluster")
        if not any(r.type == NODE_GROUP and is_gpu_node_group(r.props) for r in here):
            missing.append("GPU node group")
        if not any(r.type == BUCKET for r in here):
            missing.append("model bucket")
        if not any(r.type == KMS_KEY for r in here):
            missing.append("KMS key")
        if missing:
            problems.append((None, f"region {region} serves the model but has no own {', '.join(missing)}"))
    if len(serving) >= 2:
        buckets = _of(resources, BUCKET)
        linked = False
        for config in _of(resources, BUCKET_REPLICATION):
            source = _bucket_for(config, buckets)
            for rule in _items(_get(config.props, "rules")):
                destination = _bucket_by_arn(_get(rule, "destination", "bucket"), buckets)
                if source and destination and source.region in serving and destination.region in serving:
                    linked = linked or source.region != destination.region
        if not linked:
            problems.append((None, f"no S3 replication links the model buckets of the serving regions {serving}"))
    return problems


# --------------------------------------------------------------------------- registry

RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("s3-bucket-no-public-acl", "S3 buckets carry no public-read/-write or authenticated-read ACL or grant.",
         MANDATORY, (BUCKET, BUCKET_ACL), check_bucket_acl),
    Rule("s3-encryption-kms", "Bucket default encryption uses aws:kms with a customer-managed key.",
         MANDATORY, (BUCKET_SSE,), check_sse_kms),
    Rule("s3-versioning-enabled", "Bucket versioning is Enabled (required by replication, allows rollback).",
         MANDATORY, (BUCKET_VERSIONING,), check_versioning),
    Rule("s3-public-access-blocked", "Public access blocks set all four flags to true.",
         MANDATORY, (BUCKET_PAB,), check_public_access_block),
    Rule("s3-bucket-policy-not-public", "Bucket policies allow no unconditioned Principal '*'.",
         MANDATORY, (BUCKET_POLICY,), check_bucket_policy_not_public),
    Rule("s3-replication-rtc", "Replication rules use Replication Time Control (15 min) with metrics.",
         MANDATORY, (BUCKET_REPLICATION,), check_replication_rtc),
    Rule("s3-replication-kms", "Replication copies KMS-encrypted objects and re-encrypts with the replica region's key.",
         MANDATORY, (BUCKET_REPLICATION,), check_replication_kms),
    Rule("kms-key-rotation", "Symmetric KMS keys rotate yearly.",
         MANDATORY, (KMS_KEY,), check_kms_rotation),
    Rule("eks-secrets-encrypted", "EKS clusters envelope-encrypt Kubernetes secrets with a KMS key.",
         MANDATORY, (EKS_CLUSTER,), check_eks_secrets_encryption),
    Rule("eks-gpu-nvidia-ami", "GPU node groups run an NVIDIA AMI (drivers and container toolkit).",
         MANDATORY, (NODE_GROUP,), check_gpu_ami),
    Rule("eks-gpu-tainted", "GPU node groups are tainted nvidia.com/gpu:NO_SCHEDULE.",
         MANDATORY, (NODE_GROUP,), check_gpu_taint),
    Rule("eks-node-group-no-ssh", "Node groups do not open SSH (remoteAccess).",
         ADVISORY, (NODE_GROUP,), check_node_group_no_ssh),
    Rule("k8s-container-limits", "Every serving container and init container sets CPU and memory limits.",
         MANDATORY, (DEPLOYMENT,), check_container_limits),
    Rule("k8s-no-privilege-escalation", "Containers set allowPrivilegeEscalation: false and are not privileged.",
         MANDATORY, (DEPLOYMENT,), check_no_privilege_escalation),
    Rule("k8s-readiness-probe", "Serving containers have a readiness probe.",
         MANDATORY, (DEPLOYMENT,), check_readiness_probe),
    Rule("k8s-rolling-update-zero-unavailable", "Deployments roll with maxUnavailable 0 (old pods serve until new are verified).",
         MANDATORY, (DEPLOYMENT,), check_rolling_update),
    Rule("k8s-gpu-toleration", "Pods that request nvidia.com/gpu tolerate the GPU taint.",
         MANDATORY, (DEPLOYMENT,), check_gpu_toleration),
    Rule("route53-failover-health-check", "Failover records carry a health check and a set identifier.",
         MANDATORY, (RECORD,), check_failover_health_check),
    Rule("route53-failover-ttl", f"Failover records have TTL <= {MAX_FAILOVER_TTL} s.",
         MANDATORY, (RECORD,), check_failover_ttl),
    Rule("route53-health-check-model", "HTTP health checks probe /v1/models/<model> for a search string.",
         MANDATORY, (HEALTH_CHECK,), check_health_check_model_aware),
    Rule("iam-no-wildcard-s3-kms", "No IAM statement allows '*' actions, or S3/KMS actions with wildcards or on Resource '*'.",
         MANDATORY, IAM_POLICY_TYPES, check_iam_wildcards),
    Rule("iam-no-broad-managed-policy", "No attachment of AdministratorAccess, PowerUserAccess, AmazonS3FullAccess or AWSKeyManagementServicePowerUser.",
         MANDATORY, IAM_ATTACHMENT_TYPES, check_broad_managed_policies),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("s3-bucket-guarded", "Every bucket has KMS default encryption, versioning and a public access block.",
              MANDATORY, (BUCKET, BUCKET_SSE, BUCKET_VERSIONING, BUCKET_PAB), check_buckets_guarded),
    StackRule("s3-replication-cross-region", "Replication targets a bucket of this stack in another region.",
              MANDATORY, (BUCKET, BUCKET_REPLICATION), check_replication_cross_region),
    StackRule("k8s-deployment-has-pdb", "Every serving Deployment has a PodDisruptionBudget selecting its pods.",
              MANDATORY, (DEPLOYMENT, PDB), check_deployments_have_pdb),
    StackRule("k8s-deployment-has-hpa", "Every serving Deployment has a HorizontalPodAutoscaler targeting it.",
              MANDATORY, (DEPLOYMENT, *HPA_TYPES), check_deployments_have_hpa),
    StackRule("route53-failover-pair", "Failover records come as exactly one PRIMARY and one SECONDARY per name.",
              MANDATORY, (RECORD,), check_failover_pairs),
    StackRule("dr-serving-regions-complete", "At least two regions serve; each has its own cluster, GPU node group, bucket and key, and replication links their buckets.",
              MANDATORY, (DEPLOYMENT, EKS_CLUSTER, NODE_GROUP, BUCKET, KMS_KEY, BUCKET_REPLICATION), check_serving_regions_complete),
)

ALL_RULES: tuple[Rule | StackRule, ...] = RESOURCE_RULES + STACK_RULES


def rule_named(name: str) -> Rule | StackRule:
    for rule in ALL_RULES:
        if rule.name == name:
            return rule
    raise KeyError(name)


def check_resource(resource_type: str, props: Mapping[str, Any], *, urn: str | None = None) -> list[Violation]:
    """Run every resource rule that applies to `resource_type`."""
    return [
        Violation(rule.name, rule.enforcement, urn, message, resource_type)
        for rule in RESOURCE_RULES
        if resource_type in rule.resource_types
        for message in rule.check(resource_type, props)
    ]


def check_stack(resources: Sequence[Resource]) -> list[Violation]:
    """Run every stack rule over all resources."""
    by_urn = {r.urn: r for r in resources}
    return [
        Violation(rule.name, rule.enforcement, urn, message, by_urn[urn].type if urn in by_urn else None)
        for rule in STACK_RULES
        for urn, message in rule.check(resources)
    ]

