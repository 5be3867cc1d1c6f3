"""IAM policies and attachments (rules `iam-*`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import MANDATORY, Rule, StackRule, get, items, as_list, policy_document, statements
from .storage import BUCKET_POLICY

__all__ = [
    "IAM_POLICY_TYPES",
    "IAM_ATTACHMENT_TYPES",
    "BROAD_MANAGED_POLICIES",
    "check_iam_wildcards",
    "check_broad_managed_policies",
    "check_service_trust_scoped",
]


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
BROAD_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess", "AmazonS3FullAccess", "AWSKeyManagementServicePowerUser")


def _policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if resource_type == "aws:iam/role:Role":
        return [
            (f"inline policy {get(p, 'name')!r}", policy_document(get(p, "policy")))
            for p in items(get(props, "inlinePolicies"))
        ]
    return [("policy", policy_document(get(props, "policy")))]


def _touches_s3_or_kms(action: str) -> bool:
    return action == "*" or action.lower().startswith(("s3:", "kms:"))


def check_iam_wildcards(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for where, document in _policy_documents(resource_type, props):
        for index, statement in enumerate(statements(document)):
            if get(statement, "Effect") != "Allow":
                continue
            sid = get(statement, "Sid") or f"#{index}"
            actions = [str(a) for a in as_list(get(statement, "Action"))]
            if get(statement, "NotAction") is not None:
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
            resources = [str(r) for r in as_list(get(statement, "Resource"))]
            if get(statement, "NotResource") is not None or any(r in ("*", "arn:aws:s3:::*") for r in resources):
                problems.append(f"{where} statement {sid}: S3/KMS actions on Resource '*'; name the bucket or key ARNs")
    return problems


def check_broad_managed_policies(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    arn = str(get(props, "policyArn") or "")
    name = arn.rsplit("/", 1)[-1]
    if arn.startswith("arn:aws:iam::aws:policy/") and name in BROAD_MANAGED_POLICIES:
        return [f"attaches AWS managed policy {name}; grant only the actions this system needs"]
    return []


# Conditions a role's trust must carry for these service principals (each key under a
# condition operator other than *IfExists): EKS Pod Identity's session tags naming the cluster,
# namespace and service account (EKS user guide, pod-id-role), and for S3 the account whose
# buckets it acts for (aws:SourceAccount, IAM user guide, cross-service confused deputy).
SCOPED_TRUST = {
    "pods.eks.amazonaws.com": (("aws:RequestTag/eks-cluster-arn", "aws:RequestTag/eks-cluster-name"),
                               ("aws:RequestTag/kubernetes-namespace",), ("aws:RequestTag/kubernetes-service-account",)),
    "s3.amazonaws.com": (("aws:SourceAccount", "aws:SourceArn"),),
}


def _condition_keys(statement: Any) -> set[str]:
    conditions = get(statement, "Condition", default={})
    return {str(key).lower() for operator, block in (conditions.items() if isinstance(conditions, Mapping) else [])
            if not str(operator).endswith("IfExists") and isinstance(block, Mapping) for key in block}


def check_service_trust_scoped(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for index, statement in enumerate(statements(policy_document(get(props, "assumeRolePolicy")))):
        if get(statement, "Effect") != "Allow":
            continue
        services = [str(s) for s in as_list(get(statement, "Principal", "Service"))]
        keys = _condition_keys(statement)
        for service in services:
            for alternatives in SCOPED_TRUST.get(service, ()):
                if not any(key.lower() in keys for key in alternatives):
                    problems.append(f"trust statement {get(statement, 'Sid') or f'#{index}'} lets {service} assume the role "
                                    f"without a condition on {' or '.join(alternatives)}")
    return problems


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("iam-no-wildcard-s3-kms", "No IAM statement allows '*' actions, or S3/KMS actions with wildcards or on Resource '*'.",
         MANDATORY, IAM_POLICY_TYPES, check_iam_wildcards),
    Rule("iam-service-trust-scoped", "Roles that EKS Pod Identity assumes name the cluster, namespace and service account "
         "(session-tag conditions); roles that S3 assumes name the source account.",
         MANDATORY, ("aws:iam/role:Role",), check_service_trust_scoped),
    Rule("iam-no-broad-managed-policy", "No attachment of AdministratorAccess, PowerUserAccess, AmazonS3FullAccess or AWSKeyManagementServicePowerUser.",
         MANDATORY, IAM_ATTACHMENT_TYPES, check_broad_managed_policies),
)

STACK_RULES: tuple[StackRule, ...] = ()
