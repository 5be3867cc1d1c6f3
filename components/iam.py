"""IAM policy documents shared by several components (plain dicts, no resources)."""

from __future__ import annotations


def service_trust_policy(service: str) -> dict:
    """Trust policy letting an AWS service principal (e.g. `eks.amazonaws.com`) assume a role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def pod_identity_trust_policy() -> dict:
    """Trust policy for EKS Pod Identity: the agent assumes the role and tags the session."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }],
    }


def managed_policy_arn(name: str) -> str:
    return f"arn:aws:iam::aws:policy/{name}"
