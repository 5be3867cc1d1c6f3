"""The mocked graph of both shipped environments: where things are and how they connect."""

from __future__ import annotations

import json

import pytest

from recsys_dr.policy.rules import GLOBAL_TYPE_PREFIXES
from recsys_dr.review.mock_runtime import ProgramRun, RegisteredResource
from tests.support import children_of

ROLES = ("primary", "standby")
REGIONS = {"primary": "us-east-1", "standby": "us-west-2"}


@pytest.fixture(params=["dev", "prod"])
def env(request) -> str:
    return request.param


@pytest.fixture
def run(rendered_stacks, env) -> ProgramRun:
    return rendered_stacks[env]


def component(run: ProgramRun, type_suffix: str, name: str) -> RegisteredResource:
    return run.one(f"recsys-dr:components:{type_suffix}", name)


def regional_aws(resources: list[RegisteredResource]) -> list[RegisteredResource]:
    return [r for r in resources if r.custom and r.type.startswith("aws:") and not r.type.startswith(GLOBAL_TYPE_PREFIXES)]


def under(run: ProgramRun, env: str, role: str, type_token: str) -> RegisteredResource:
    """The one resource of `type_token` in `role`'s serving component."""
    serving = component(run, "ModelServing", f"recsys-{env}-{role}-serving")
    matches = [r for r in children_of(run, serving) if r.type == type_token]
    assert len(matches) == 1, f"{len(matches)} {type_token} under {role}"
    return matches[0]


def bucket_of(run: ProgramRun, env: str, role: str) -> RegisteredResource:
    return run.one("aws:s3/bucket:Bucket", f"recsys-{env}-models-{role}")


def key_of(run: ProgramRun, env: str, role: str) -> RegisteredResource:
    return run.one("aws:kms/key:Key", f"recsys-{env}-models-{role}-key")


def test_every_regional_resource_names_a_region_of_the_pair(run):
    resources = regional_aws(run.resources)
    assert len(resources) > 50
    assert {r.inputs.get("region") for r in resources} == set(REGIONS.values())


@pytest.mark.parametrize("role", ROLES)
def test_each_regions_cluster_and_serving_stay_in_that_region(run, env, role):
    roots = [component(run, "GpuCluster", f"recsys-{env}-{role}"), component(run, "ModelServing", f"recsys-{env}-{role}-serving")]
    resources = regional_aws([r for root in roots for r in children_of(run, root)])
    assert resources
    assert {r.inputs["region"] for r in resources} == {REGIONS[role]}


def test_every_resource_hangs_under_a_component(run):
    roots = [r for r in run.resources if r.parent.endswith(f"pulumi:pulumi:Stack::recsys-dr-{r.urn.split('::')[0].split(':')[-1]}")]
    assert {r.type for r in roots} == {"pulumi:providers:aws", "recsys-dr:components:TwoRegionRecommender"}


@pytest.mark.parametrize("role", ROLES)
def test_gpu_node_group_is_nvidia_tainted_and_scaled(run, env, role):
    group = run.one("aws:eks/nodeGroup:NodeGroup", f"recsys-{env}-{role}-gpu")
    inputs = group.inputs
    assert inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert inputs["labels"]["recsys-dr/pool"] == "gpu"
    assert inputs["region"] == REGIONS[role]
    expected = {
        ("dev", "primary"): (["g5.xlarge"], {"minSize": 1, "desiredSize": 1, "maxSize": 2}),
        ("dev", "standby"): (["g5.xlarge"], {"minSize": 0, "desiredSize": 0, "maxSize": 2}),
        ("prod", "primary"): (["g5.2xlarge", "g6.2xlarge"], {"minSize": 2, "desiredSize": 2, "maxSize": 9}),
        ("prod", "standby"): (["g5.2xlarge", "g6.2xlarge"], {"minSize": 2, "desiredSize": 2, "maxSize": 9}),
    }[(env, role)]
    assert inputs["instanceTypes"] == expected[0]
    assert inputs["scalingConfig"] == expected[1]


@pytest.mark.parametrize("role", ROLES)
def test_cluster_encrypts_secrets_with_a_regional_key_and_runs_core_addons(run, env, role):
    cluster = run.one("aws:eks/cluster:Cluster", f"recsys-{env}-{role}")
    key = run.one("aws:kms/key:Key", f"recsys-{env}-{role}-secrets")
    # dev names its operators' network; prod's API has no public endpoint (eks-api-not-public-prod).
    public = {"dev": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
              "prod": {"endpointPublicAccess": False}}[env]
    assert {k: v for k, v in cluster.inputs["vpcConfig"].items() if k in ("endpointPublicAccess", "publicAccessCidrs")} == public
    assert cluster.inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster.inputs["encryptionConfig"] == {"provider": {"keyArn": key.outputs["arn"]}, "resources": ["secrets"]}
    assert key.inputs["region"] == REGIONS[role]
    addons = {r.inputs["addonName"] for r in run.of_type("aws:eks/addon:Addon") if r.inputs["region"] == REGIONS[role]}
    assert addons == {"vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "metrics-server"}
    charts = {r.inputs["chart"] for r in children_of(run, component(run, "GpuCluster", f"recsys-{env}-{role}")) if r.type == "kubernetes:helm.sh/v3:Release"}
    assert charts == {"nvidia-device-plugin", "cluster-autoscaler", "aws-load-balancer-controller", "keda"}
    autoscaler = run.one("kubernetes:helm.sh/v3:Release", f"recsys-{env}-{role}-cluster-autoscaler").inputs["values"]
    # The image follows the cluster's minor version, pinned by its index digest (components/supply_chain.py).
    assert autoscaler["image"]["tag"].startswith(f"v{cluster.inputs['version']}.0@sha256:")
    assert autoscaler["autoDiscovery"]["clusterName"] == cluster.outputs["name"]
    assert autoscaler["awsRegion"] == REGIONS[role]


@pytest.mark.parametrize("role", ROLES)
def test_private_subnets_span_the_configured_zones(run, env, role):
    subnets = [r for r in run.of_type("aws:ec2/subnet:Subnet") if r.name.startswith(f"recsys-{env}-{role}-net-private-")]
    zones = {s.inputs["availabilityZone"] for s in subnets}
    assert len(zones) == {"dev": 2, "prod": 3}[env]
    assert all(z.startswith(REGIONS[role]) for z in zones)


@pytest.mark.parametrize("role", ROLES)
def test_kubernetes_objects_go_to_their_own_regions_cluster(run, env, role):
    provider = run.one("pulumi:providers:kubernetes", f"recsys-{env}-{role}-k8s")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["args"][-3] == REGIONS[role]
    serving = children_of(run, component(run, "ModelServing", f"recsys-{env}-{role}-serving"))
    k8s_objects = [r for r in serving if r.type.startswith("kubernetes:")]
    assert len(k8s_objects) == 13  # incl. the NetworkPolicies, the two TargetGroupBindings and KEDA's two objects
    assert all(r.provider.startswith(provider.urn + "::") for r in k8s_objects)


@pytest.mark.parametrize("role", ROLES)
def test_serving_reads_only_its_regional_bucket_and_key(run, env, role):
    deployment = under(run, env, role, "kubernetes:apps/v1:Deployment")
    init_env = {e["name"]: e["value"] for e in deployment.inputs["spec"]["template"]["spec"]["initContainers"][0]["env"]}
    assert init_env["MODEL_BUCKET"] == bucket_of(run, env, role).outputs["bucket"]
    assert init_env["AWS_REGION"] == REGIONS[role]

    policy = json.loads(run.one("aws:iam/rolePolicy:RolePolicy", f"recsys-{env}-{role}-serving-model-reader").inputs["policy"])
    resources = set()
    for statement in policy["Statement"]:
        resources |= set(statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    bucket_arn = bucket_of(run, env, role).outputs["arn"]
    assert resources == {bucket_arn, f"{bucket_arn}/models/recommender/*", key_of(run, env, role).outputs["arn"]}
    association = under(run, env, role, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert association.inputs["region"] == REGIONS[role]
    assert association.inputs["namespace"] == "recsys"


@pytest.mark.parametrize("role", ROLES)
def test_serving_deployment_uses_the_gpu_and_rolls_safely(run, env, role):
    spec = under(run, env, role, "kubernetes:apps/v1:Deployment").inputs["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # Neither shipped GPU pool holds HPA max + 1 pods (dev 1 node for 1 replica, prod 8 for 8),
    # so both replace pods in place rather than leave a surge pod Pending (rollout.rolling_update).
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/models/recommender"
    # Only the pilot-light standby pins replicas (at 0); elsewhere KEDA's HPA owns the count.
    expected_replicas = {("dev", "primary"): None, ("dev", "standby"): 0, ("prod", "primary"): None, ("prod", "standby"): None}
    assert spec.get("replicas") == expected_replicas[(env, role)]


def test_no_service_or_pod_port_leads_to_tf_servings_management_api(run):
    # TF Serving's gRPC listener carries ModelService (unload/reload, model_servers/server.cc);
    # only the REST container port (8501) may be named by any Service or container.
    for deployment in (r for r in run.resources if r.type == "kubernetes:apps/v1:Deployment"):
        for container in deployment.inputs["spec"]["template"]["spec"]["containers"]:
            assert {p["containerPort"] for p in container.get("ports", [])} <= {8501}, deployment.name
            assert "--port=0" in container["args"], deployment.name
    for service in (r for r in run.resources if r.type == "kubernetes:core/v1:Service"):
        assert {p["targetPort"] for p in service.inputs["spec"]["ports"]} <= {"http", 8501}, service.name


@pytest.mark.parametrize("role", ROLES)
def test_scaled_object_and_pdb_bound_the_serving_pods(run, env, role):
    scaled = under(run, env, role, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    pdb = under(run, env, role, "kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    deployment = under(run, env, role, "kubernetes:apps/v1:Deployment").inputs
    bounds = {("dev", "primary"): (1, 1), ("dev", "standby"): (0, 1), ("prod", "primary"): (2, 8), ("prod", "standby"): (2, 8)}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == bounds[(env, role)]
    assert scaled["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert not run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")  # KEDA makes the HPA
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_replication_targets_the_standby_bucket_with_rtc_and_the_standby_key(run, env):
    replication = run.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig", f"recsys-{env}-models-replication")
    assert replication.inputs["region"] == REGIONS["primary"]
    assert replication.inputs["bucket"] == bucket_of(run, env, "primary").outputs["bucket"]
    (rule,) = replication.inputs["rules"]
    destination = rule["destination"]
    assert destination["bucket"] == bucket_of(run, env, "standby").outputs["arn"]
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert destination["metrics"]["status"] == "Enabled"
    assert destination["encryptionConfiguration"]["replicaKmsKeyId"] == key_of(run, env, "standby").outputs["arn"]
    assert rule["filter"] == {"prefix": "models/"}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}


@pytest.mark.parametrize("role", ROLES)
def test_bucket_is_versioned_kms_encrypted_private_and_keeps_old_versions(run, env, role):
    name = f"recsys-{env}-models-{role}"
    assert run.one("aws:s3/bucketVersioning:BucketVersioning", name).inputs["versioningConfiguration"]["status"] == "Enabled"
    (sse,) = run.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", name).inputs["rules"]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_of(run, env, role).outputs["arn"]}
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", name).inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (lifecycle,) = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", name).inputs["rules"]
    # Noncurrent model versions are the record of what ran: no lifecycle rule expires them.
    assert "noncurrentVersionExpiration" not in lifecycle and "expiration" not in lifecycle
    policy = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy", name).inputs["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert key_of(run, env, role).inputs["enableKeyRotation"] is True


# The record of each tier that aliases its balancer: the standby's and the fallback's are the nested
# pair of the cascade (tests/components/test_dns_cascade.py answers it by Route 53's rules).
TIER_RECORDS = {"primary": ("dns-primary", "PRIMARY"), "standby": ("dns-cascade-standby", "PRIMARY"),
                "fallback": ("dns-cascade-fallback", "SECONDARY")}


@pytest.mark.parametrize("role", [*ROLES, "fallback"])
def test_failover_record_points_at_its_regions_endpoint_with_its_health_check(run, env, role):
    name, failover = TIER_RECORDS[role]
    record = run.one("aws:route53/record:Record", f"recsys-{env}-{name}")
    region_outputs = run.outputs["fallback"] if role == "fallback" else run.outputs["regions"][role]
    assert record.inputs["failoverRoutingPolicies"] == [{"type": failover}]
    balancer = under(run, env, role, "aws:lb/loadBalancer:LoadBalancer")
    # An alias of the region's own balancer, by its DNS name and Elastic Load Balancing's zone id.
    assert record.inputs["type"] == "A" and "ttl" not in record.inputs and "records" not in record.inputs
    # The health check alone decides (`components.dns.failover_records`: a canary group's target
    # health must not take a region out).
    assert record.inputs["aliases"] == [{"name": region_outputs["endpoint"], "zoneId": balancer.outputs["zoneId"],
                                         "evaluateTargetHealth": False}]
    assert balancer.outputs["dnsName"] == region_outputs["endpoint"]
    assert record.inputs["healthCheckId"] == region_outputs["healthCheckId"]
    check = run.one("aws:route53/healthCheck:HealthCheck", f"recsys-{env}-dns-{role}")
    assert check.inputs["fqdn"] == region_outputs["endpoint"]
    # prod has certificates and listens on 443 only: the checks use HTTPS there.
    assert (check.inputs["type"], check.inputs["port"]) == {"dev": ("HTTP_STR_MATCH", 80), "prod": ("HTTPS_STR_MATCH", 443)}[env]
    assert check.inputs["resourcePath"] == "/v1/models/recommender"
    assert check.inputs["searchString"] == "AVAILABLE"


def test_primary_and_standby_endpoints_differ(run):
    assert run.outputs["regions"]["primary"]["endpoint"] != run.outputs["regions"]["standby"]["endpoint"]


def test_failover_budget_is_computed_from_the_health_check_and_the_alias_ttl(run, env):
    check = run.one("aws:route53/healthCheck:HealthCheck", f"recsys-{env}-dns-primary").inputs
    # Alias records to a load balancer have Route 53's fixed 60 s TTL (Route 53 FAQ).
    assert run.outputs["dns"]["ttl"] == 60
    assert run.outputs["failoverBudgetSeconds"] == check["requestInterval"] * check["failureThreshold"] + 60
    assert run.outputs["failoverBudgetSeconds"] <= run.outputs["failoverBudgetTargetSeconds"]


def test_prod_fails_over_within_ninety_seconds(rendered_stacks):
    assert rendered_stacks["prod"].outputs["failoverBudgetSeconds"] == 90
    assert rendered_stacks["prod"].outputs["standbyMode"] == "warm"
    assert rendered_stacks["dev"].outputs["standbyMode"] == "pilot-light"


def test_no_arc_resources_without_arc(run):
    assert not [r for r in run.resources if r.type.startswith("aws:route53recoverycontrol/")]
    assert "arc" not in run.outputs
