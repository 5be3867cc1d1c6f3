"""EKS clusters and node groups (rules `eks-*`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from .cidrs import MAX_PUBLIC_SHARE_TEXT, coverage
from .core import (
    ADVISORY,
    MANDATORY,
    Resource,
    Rule,
    StackRule,
    as_list,
    get,
    is_map,
    items,
    of,
    is_production,
    stack_of,
)

__all__ = [
    "EKS_CLUSTER",
    "NODE_GROUP",
    "GPU_INSTANCE_FAMILIES",
    "GPU_TAINT_KEY",
    "check_eks_secrets_encryption",
    "is_gpu_node_group",
    "check_gpu_ami",
    "check_gpu_taint",
    "check_node_group_no_ssh",
    "public_api_cidrs",
]


EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

# Kept in step with components/cluster/instances.py (tests/policy/test_gpu_families.py) plus
# g4ad: an AMD GPU group still counts as a GPU group here, and then fails the NVIDIA-AMI rule.
GPU_INSTANCE_FAMILIES = ("g4dn", "g4ad", "g5", "g5g", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200")
GPU_TAINT_KEY = "nvidia.com/gpu"


def check_eks_secrets_encryption(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    configs = as_list(get(props, "encryptionConfig"))
    for config in configs:
        if "secrets" in items(get(config, "resources")) and get(config, "provider", "keyArn"):
            return []
    return ["cluster does not encrypt Kubernetes secrets with a KMS key (encryptionConfig resources ['secrets'] + provider.keyArn)"]


def is_gpu_node_group(props: Mapping[str, Any]) -> bool:
    """A node group is a GPU pool if its instance types, AMI, labels or name say so.

    The project's one definition: the GPU rules here and the estimate's GPU count
    (`review.estimate.is_gpu_node_group`) both ask this function."""
    for instance_type in items(get(props, "instanceTypes")):
        family = str(instance_type).split(".")[0]
        if family in GPU_INSTANCE_FAMILIES:
            return True
    ami = str(get(props, "amiType") or "")
    if "NVIDIA" in ami or "GPU" in ami:
        return True
    labels = get(props, "labels", default={})
    if is_map(labels) and any("gpu" in str(k).lower() or "accelerator" in str(k).lower() for k in labels):
        return True
    return "gpu" in str(get(props, "nodeGroupName") or "").lower()


def check_gpu_ami(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not is_gpu_node_group(props):
        return []
    ami = str(get(props, "amiType") or "")
    if "NVIDIA" not in ami:
        return [f"GPU node group uses amiType {ami or 'unset'!r}; use an NVIDIA AMI (e.g. AL2023_x86_64_NVIDIA, BOTTLEROCKET_x86_64_NVIDIA)"]
    return []


def check_gpu_taint(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not is_gpu_node_group(props):
        return []
    for taint in items(get(props, "taints")):
        if get(taint, "key") == GPU_TAINT_KEY and get(taint, "effect") in ("NO_SCHEDULE", "NO_EXECUTE"):
            return []
    return [f"GPU node group is not tainted {GPU_TAINT_KEY}:NO_SCHEDULE; CPU pods would land on GPU nodes"]


def check_node_group_no_ssh(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if get(props, "remoteAccess"):
        return ["node group allows SSH (remoteAccess); use SSM Session Manager instead"]
    return []


def public_api_cidrs(props: Mapping[str, Any]) -> list[str]:
    """The ranges that reach the cluster's public API endpoint ([] when it is off).

    pulumi-aws `vpcConfig.endpointPublicAccess`: "Default is `true`"; `publicAccessCidrs`:
    "EKS defaults this to a list with `0.0.0.0/0`".
    """
    vpc = get(props, "vpcConfig", default={})
    if get(vpc, "endpointPublicAccess") is False:
        return []
    return [str(c) for c in items(get(vpc, "publicAccessCidrs"))] or ["0.0.0.0/0"]


def _public_api(resources: Sequence[Resource], *, production: bool) -> list[tuple[str | None, str]]:
    """Production: the public endpoint admits no public address. Elsewhere: it admits at most
    `cidrs.MAX_PUBLIC_SHARE` of the public space."""
    problems: list[tuple[str | None, str]] = []
    for cluster in of(resources, EKS_CLUSTER):
        if is_production(stack_of(cluster.urn)) != production:
            continue
        covered = coverage(public_api_cidrs(cluster.props))
        if production and covered.public:
            problems.append((cluster.urn, f"cluster {cluster.name!r} serves its public API endpoint to public addresses "
                                          f"({covered.public_text()}; vpcConfig.publicAccessCidrs): in production the API "
                                          f"is reached from inside the VPC; leave cluster.publicAccessCidrs empty"))
        elif covered.too_open:
            problems.append((cluster.urn, f"cluster {cluster.name!r} serves its public API endpoint to "
                                          f"{covered.describe()}, more than {MAX_PUBLIC_SHARE_TEXT} (vpcConfig.publicAccessCidrs); "
                                          f"list the operators' ranges (cluster.publicAccessCidrs) or leave it empty"))
    return problems


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("eks-secrets-encrypted", "EKS clusters envelope-encrypt Kubernetes secrets with a KMS key.",
         MANDATORY, (EKS_CLUSTER,), check_eks_secrets_encryption),
    Rule("eks-gpu-nvidia-ami", "GPU node groups run an NVIDIA AMI (drivers and container toolkit).",
         MANDATORY, (NODE_GROUP,), check_gpu_ami),
    Rule("eks-gpu-tainted", "GPU node groups are tainted nvidia.com/gpu:NO_SCHEDULE.",
         MANDATORY, (NODE_GROUP,), check_gpu_taint),
    Rule("eks-node-group-no-ssh", "Node groups do not open SSH (remoteAccess).",
         ADVISORY, (NODE_GROUP,), check_node_group_no_ssh),
)

# The environment is the stack name in each resource's URN (core.stack_of): the plan and a
# `pulumi preview` give the same one, with no policy configuration to keep in step.
STACK_RULES: tuple[StackRule, ...] = (
    StackRule("eks-api-not-public-prod", "In production stacks (prod, production, prod-*), the EKS API endpoint admits "
              "no public address (the public endpoint is off, or lists none).",
              MANDATORY, (EKS_CLUSTER,), partial(_public_api, production=True)),
    StackRule("eks-api-not-open", f"Outside production, the EKS API endpoint admits at most {MAX_PUBLIC_SHARE_TEXT} of "
              "the public IP space once merged.",
              MANDATORY, (EKS_CLUSTER,), partial(_public_api, production=False)),
)
