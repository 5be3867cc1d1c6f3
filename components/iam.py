"""IAM policy documents shared by several components (plain dicts, no resources)."""

from __future__ import annotations

POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
# Session tags EKS Pod Identity sends with every AssumeRole; a trust policy conditions on them
# with aws:RequestTag/<key> to name the cluster, namespace and service account that may use the
# role (EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity",
# awsdocs/amazon-eks-user-guide latest/ug/manage-access/aws-access/pod-id-role.adoc).
POD_IDENTITY_TAGS = ("eks-cluster-arn", "kubernetes-namespace", "kubernetes-service-account")


def service_trust_policy(service: str, *, source_account: str | None = None) -> dict:
    """Trust policy letting an AWS service principal (e.g. `eks.amazonaws.com`) assume a role;
    with `source_account`, only on behalf of that account's resources (aws:SourceAccount, the
    IAM user guide's cross-service confused-deputy protection)."""
    statement: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def pod_identity_trust_policy(*, cluster_arn: str, namespace: str, service_account: str) -> dict:
    """Trust policy for EKS Pod Identity: the agent assumes the role and tags the session, and only
    for `service_account` in `namespace` of the cluster `cluster_arn`.

    Pod Identity assumes roles of the cluster's own account only, and the cluster ARN (which
    carries the account) is the condition: the EKS user guide documents these request tags for
    Pod Identity trust policies, not aws:SourceAccount/aws:SourceArn (its confused-deputy page
    covers the cluster role), and a condition on a key the service does not send never matches.
    """
    values = dict(zip(POD_IDENTITY_TAGS, (cluster_arn, namespace, service_account)))
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": POD_IDENTITY_SERVICE},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {f"aws:RequestTag/{key}": value for key, value in values.items()}},
        }],
    }


def eks_cluster_arn(*, partition: str, region: str, account_id: str, cluster_name: str) -> str:
    """`arn:<partition>:eks:<region>:<account>:cluster/<name>` (EKS user guide, confused-deputy page)."""
    return f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}"


def managed_policy_arn(name: str) -> str:
    return f"arn:aws:iam::aws:policy/{name}"
