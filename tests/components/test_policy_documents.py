"""IAM and bucket policy documents, built by plain functions."""

from recsys_dr.components.cluster.policies import cluster_autoscaler_policy
from recsys_dr.components.serving.policies import model_reader_policy
from recsys_dr.components.storage.policies import replication_role_policy, tls_only_bucket_policy

PRIMARY_BUCKET = "arn:aws:s3:::models-primary"
STANDBY_BUCKET = "arn:aws:s3:::models-standby"
PRIMARY_KEY = "arn:aws:kms:us-east-1:123456789012:key/primary"
STANDBY_KEY = "arn:aws:kms:us-west-2:123456789012:key/standby"


def _listed(document: dict, field: str) -> list[str]:
    """Every value of `field` ("Resource" or "Action") over the statements, lists flattened."""
    values = []
    for statement in document["Statement"]:
        value = statement[field]
        values += value if isinstance(value, list) else [value]
    return values


def test_model_reader_reads_only_its_model_prefix_and_key():
    policy = model_reader_policy(bucket_arn=STANDBY_BUCKET, key_arn=STANDBY_KEY, model_name="recommender", region="us-west-2")
    assert set(_listed(policy, "Resource")) == {STANDBY_BUCKET, f"{STANDBY_BUCKET}/models/recommender/*", STANDBY_KEY}
    assert set(_listed(policy, "Action")) == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    listing = next(s for s in policy["Statement"] if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/recommender/*"]}}
    decrypt = next(s for s in policy["Statement"] if s["Action"] == "kms:Decrypt")
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-west-2.amazonaws.com"


def test_replication_role_is_scoped_to_both_prefixes_and_keys():
    policy = replication_role_policy(
        source_bucket_arn=PRIMARY_BUCKET, destination_bucket_arn=STANDBY_BUCKET, source_key_arn=PRIMARY_KEY,
        destination_key_arn=STANDBY_KEY, source_region="us-east-1", destination_region="us-west-2",
    )
    resources = _listed(policy, "Resource")
    assert "*" not in resources
    assert set(resources) == {PRIMARY_BUCKET, f"{PRIMARY_BUCKET}/models/*", f"{STANDBY_BUCKET}/models/*", PRIMARY_KEY, STANDBY_KEY}
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["DecryptSource"]["Resource"] == PRIMARY_KEY
    assert statements["EncryptReplica"]["Resource"] == STANDBY_KEY
    assert statements["EncryptReplica"]["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-west-2.amazonaws.com"
    assert not any(a.endswith("*") for a in _listed(policy, "Action"))


def test_bucket_policy_denies_plain_http_and_old_tls():
    policy = tls_only_bucket_policy(PRIMARY_BUCKET)
    assert {s["Effect"] for s in policy["Statement"]} == {"Deny"}
    conditions = [s["Condition"] for s in policy["Statement"]]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": "1.2"}} in conditions
    assert all(s["Resource"] == [PRIMARY_BUCKET, f"{PRIMARY_BUCKET}/*"] for s in policy["Statement"])


def test_autoscaler_changes_only_groups_owned_by_its_cluster_in_its_region():
    policy = cluster_autoscaler_policy(cluster_name="recs-primary", region="us-east-1")
    scale = next(s for s in policy["Statement"] if s["Sid"] == "ScaleOwnGroups")
    assert scale["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/recs-primary": "owned"}}
    assert scale["Resource"].startswith("arn:aws:autoscaling:us-east-1:")
    nodegroups = next(s for s in policy["Statement"] if s["Sid"] == "DescribeOwnNodegroups")
    assert nodegroups["Resource"] == "arn:aws:eks:us-east-1:*:nodegroup/recs-primary/*"
    discover = next(s for s in policy["Statement"] if s["Sid"] == "Discover")
    assert all(action.split(":")[1].startswith(("Describe", "Get")) for action in discover["Action"])


def test_pod_identity_trust_names_the_cluster_namespace_and_service_account():
    from recsys_dr.components.iam import pod_identity_trust_policy

    cluster = "arn:aws:eks:us-west-2:123456789012:cluster/recs-standby"
    (statement,) = pod_identity_trust_policy(cluster_arn=cluster, namespace="recsys", service_account="reader")["Statement"]
    # EKS user guide (pod-id-role): the agent needs both actions; the session tags name who asks.
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {"StringEquals": {
        "aws:RequestTag/eks-cluster-arn": cluster, "aws:RequestTag/kubernetes-namespace": "recsys",
        "aws:RequestTag/kubernetes-service-account": "reader"}}


def test_service_trust_with_a_source_account_admits_only_that_accounts_resources():
    from recsys_dr.components.iam import service_trust_policy

    (statement,) = service_trust_policy("s3.amazonaws.com", source_account="123456789012")["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "Condition" not in service_trust_policy("eks.amazonaws.com")["Statement"][0]


def test_s3_endpoint_reads_the_model_buckets_and_image_layers_and_writes_nothing():
    from recsys_dr.components.cluster.policies import s3_gateway_endpoint_policy

    policy = s3_gateway_endpoint_policy(region="eu-west-1", model_bucket_arns=[PRIMARY_BUCKET])
    assert set(_listed(policy, "Action")) == {"s3:GetObject", "s3:ListBucket"}
    assert set(_listed(policy, "Resource")) == {
        PRIMARY_BUCKET, f"{PRIMARY_BUCKET}/*",
        # ECR user guide: layers of every private ECR image (EKS add-ons included) come from here.
        "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*",
        "arn:aws:s3:::prod-registry-k8s-io-eu-west-1/*",
    }
    # Endpoint policies need a Principal; a gateway endpoint takes "*" (PrivateLink guide).
    assert {s["Principal"] for s in policy["Statement"]} == {"*"}
