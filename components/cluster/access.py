"""Who may act on the clusters: EKS access entries for the operators' IAM roles.

The clusters authenticate with EKS access entries only (`authenticationMode: API`), so an IAM
role can use `kubectl` only once it has an access entry and an access policy association in
that cluster. Each role named in `cluster.adminRoleArns` gets both, in both clusters, so the
on-call engineer can act on the standby while the primary's region is down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

ADMIN_ACCESS_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# An IAM role ARN, optionally with a path (EKS User Guide, "Create access entries": a role ARN
# "can include a path"). Never an STS session (`arn:aws:sts::...:assumed-role/...`): "You can't
# use the STS session principal type with access entries" (EKS API, CreateAccessEntry).
ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})$")


def admin_role_problems(key: str, role_arns: Sequence[str]) -> list[str]:
    """Each entry must be an IAM role ARN, listed once."""
    problems = []
    for arn in role_arns:
        if not isinstance(arn, str) or not ROLE_ARN.match(arn):
            hint = " (an assumed-role session ARN; name the role: arn:aws:iam::<account>:role/<name>)" if isinstance(arn, str) and ":assumed-role/" in arn else ""
            problems.append(f"`{key}` must hold IAM role ARNs such as arn:aws:iam::123456789012:role/oncall{hint}. Received: {arn!r}")
    names = [ROLE_ARN.match(arn).group("name") for arn in role_arns if isinstance(arn, str) and ROLE_ARN.match(arn)]
    same_name = sorted({n for n in names if names.count(n) > 1})
    duplicates = sorted({arn for arn in role_arns if isinstance(arn, str) and list(role_arns).count(arn) > 1})
    if same_name and not duplicates:
        # Resources are named after the role; two accounts' or paths' roles of one name would clash.
        problems.append(f"`{key}` must not name two roles called {', '.join(same_name)}. Received: {list(role_arns)}")
    if duplicates:
        # "An IAM principal can't be included in more than one access entry" (EKS User Guide).
        problems.append(f"`{key}` must name each role once. Received twice: {', '.join(duplicates)}")
    return problems


def role_name(role_arn: str) -> str:
    """`arn:aws:iam::123456789012:role/team/oncall` -> `oncall` (stable resource names)."""
    match = ROLE_ARN.match(role_arn)
    if match is None:
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    return match.group("name")


def grant_cluster_admin(
    name: str,
    *,
    region: str,
    cluster_name: pulumi.Input[str],
    role_arns: Sequence[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> list[aws.eks.AccessPolicyAssociation]:
    """An access entry and a cluster-wide AmazonEKSClusterAdminPolicy association per role."""
    associations = []
    for arn in role_arns:
        child = f"{name}-admin-{role_name(arn)}"
        entry = aws.eks.AccessEntry(
            child, region=region, cluster_name=cluster_name, principal_arn=arn, type="STANDARD", tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        associations.append(aws.eks.AccessPolicyAssociation(
            child,
            region=region,
            cluster_name=cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=ADMIN_ACCESS_POLICY_ARN,
            access_scope={"type": "cluster"},
            opts=pulumi.ResourceOptions(parent=parent),
        ))
    return associations
