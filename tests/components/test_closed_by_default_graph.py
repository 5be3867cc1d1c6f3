"""Closed by default (issue 12) in the rendered stacks: exposure, pinning, buckets, keys, cluster."""

from __future__ import annotations

import copy
import json
import logging
import runpy

import pytest
import yaml

from recsys_dr.components.storage.defaults import OBJECT_LOCK_MODE
from recsys_dr.review.mock_runtime import IP_RANGES, run_program
from recsys_dr.stacks.settings import ConfigError, load_settings
from tests.support import STACKS, render_stack, stack_config

REGIONS = {"primary": "us-east-1", "standby": "us-west-2"}
ROLES = tuple(REGIONS)


def shipped(env: str) -> dict:
    document = yaml.safe_load((STACKS / f"Pulumi.{env}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in document.items()}


def only(run, type_token: str, name_part: str):
    (match,) = [r for r in run.of_type(type_token) if name_part in r.name]
    return match


@pytest.fixture(scope="module")
def prod(rendered_stacks):
    return rendered_stacks["prod"]


# --- the endpoint -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_balancer_admits_the_allowed_cidrs_and_the_configured_checker_ranges_on_https_only(prod, role):
    group = only(prod, "aws:ec2/securityGroup:SecurityGroup", f"{role}-serving-front-door-alb")
    config = shipped("prod")
    checkers = {c for r in [*config["dns"]["checkerRegions"], "global"] for c in IP_RANGES["route53_healthchecks"][r]}
    [rule] = group.inputs["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["protocol"]) == (443, 443, "tcp")
    assert rule["cidrBlocks"] == sorted(set(config["serving"]["allowedCidrs"]) | checkers)
    # Out only to the pods' REST port, through the nodes' security group.
    [out] = group.inputs["egress"]
    assert (out["fromPort"], out["toPort"]) == (8501, 8501) and "cidrBlocks" not in out


@pytest.mark.parametrize("role", ROLES)
def test_the_nodes_admit_the_balancer_on_the_rest_port_only(prod, role):
    rule = only(prod, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"{role}-serving-front-door-to-pods")
    group = only(prod, "aws:ec2/securityGroup:SecurityGroup", f"{role}-serving-front-door-alb")
    cluster = prod.one("aws:eks/cluster:Cluster", f"recsys-prod-{role}")
    assert rule.inputs["referencedSecurityGroupId"] == group.id
    assert rule.inputs["securityGroupId"] == cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (8501, 8501, "tcp")


def test_prod_refuses_an_open_endpoint():
    raw = shipped("prod")
    raw["serving"].pop("allowedCidrs")
    with pytest.raises(ConfigError, match=r"`recsys-dr:serving.allowedCidrs` is required in prod"):
        load_settings(raw, "prod")


def test_prod_refuses_tls_off():
    raw = shipped("prod")
    raw["serving"].pop("tlsCertificateArns")
    with pytest.raises(ConfigError, match=r"`recsys-dr:serving.tlsCertificateArns` is required in prod"):
        load_settings(raw, "prod")


def test_other_stacks_may_stay_open_but_are_warned():
    raw = shipped("dev")
    raw["serving"].pop("allowedCidrs")
    raw["cluster"].pop("publicAccessCidrs")
    warnings = load_settings(raw, "dev").warnings
    assert any("`recsys-dr:serving.allowedCidrs` is empty" in w for w in warnings)
    assert any("`recsys-dr:cluster.publicAccessCidrs` contains 0.0.0.0/0" in w for w in warnings)


def test_shipped_stacks_warn_only_of_the_image_tag_and_devs_plain_http():
    # The TF Serving image's missing digest (README "Images"); dev has no certificate, so its
    # balancers listen on HTTP and the plan says so.
    for env in ("prod", "dev"):
        warnings = load_settings(shipped(env), env).warnings
        expected = ["`recsys-dr:serving.image`"] + (["`recsys-dr:serving.tlsCertificateArns`"] if env == "dev" else [])
        assert sorted(w.split(" ", 1)[0] for w in warnings) == sorted(expected), warnings


def test_too_many_ranges_for_the_security_group_are_refused_at_plan_time():
    raw = shipped("prod")
    raw["dns"].pop("checkerRegions")  # Route 53's default: all 8 regions, 17 ranges
    raw["serving"]["allowedCidrs"] = [f"203.0.{i}.0/24" for i in range(44)]
    with pytest.raises(ConfigError, match=r"`recsys-dr:serving.allowedCidrs` needs 61 inbound rules on the balancer's security group"):
        load_settings(raw, "prod")


@pytest.fixture(scope="module")
def internal():
    config = shipped("prod")
    # The CloudWatch-based checks need a 180 s budget (see the budget test below).
    return render_stack("prod", stack_config("prod", serving={**config["serving"], "exposure": "internal"},
                                             dns={**config["dns"], "failoverBudgetTarget": 180}))


def test_internal_exposure_makes_internal_balancers_in_the_private_subnets_without_checker_ranges(internal):
    for balancer in internal.of_type("aws:lb/loadBalancer:LoadBalancer"):
        assert balancer.inputs["internal"] is True
    private = {s.id for s in internal.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    assert {subnet for b in internal.of_type("aws:lb/loadBalancer:LoadBalancer") for subnet in b.inputs["subnets"]} == private
    for group in internal.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert group.inputs["ingress"][0]["cidrBlocks"] == sorted(shipped("prod")["serving"]["allowedCidrs"])


def test_internal_records_follow_cloudwatch_alarms(internal, prod):
    for role in ROLES:
        check = internal.one("aws:route53/healthCheck:HealthCheck", f"recsys-prod-private-health-{role}")
        assert check.inputs["type"] == "CLOUDWATCH_METRIC" and check.inputs["cloudwatchAlarmRegion"] == REGIONS[role]
        steering = internal.one("aws:route53/record:Record", f"recsys-prod-dns-{role}").inputs["healthCheckId"]
        assert internal.outputs["regions"][role]["healthCheckId"] == steering
        # Not the HTTP check, which cannot reach a private endpoint.
        assert steering != prod.outputs["regions"][role]["healthCheckId"]
    # Route 53's checkers probe from the internet, so an HTTP(S) check of an internal balancer could
    # only fail: none is created (the public stack has one per region).
    probes = ("HTTP_STR_MATCH", "HTTPS_STR_MATCH")
    http = [c for c in internal.of_type("aws:route53/healthCheck:HealthCheck") if c.inputs["type"] in probes]
    assert http == [] and len([c for c in prod.of_type("aws:route53/healthCheck:HealthCheck")
                               if c.inputs["type"] in probes]) == 2


# --- the pinned manifest ------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_pods_get_the_stack_files_manifest_digest(prod, role):
    spec = only(prod, "kubernetes:apps/v1:Deployment", f"{role}-serving").inputs["spec"]
    digest = shipped("prod")["model"]["manifestSha256"]
    init = spec["template"]["spec"]["initContainers"][0]
    assert {"name": "MANIFEST_SHA256", "value": digest} in init["env"]
    assert spec["template"]["metadata"]["annotations"]["recsys-dr/manifest-sha256"] == digest


def test_a_stack_without_a_manifest_digest_is_refused():
    raw = shipped("dev")
    raw["model"].pop("manifestSha256")
    with pytest.raises(ConfigError, match=r"`recsys-dr:model.manifestSha256` is required"):
        load_settings(raw, "dev")


# --- network policies ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_serving_namespace_denies_by_default_and_admits_rest_from_the_balancers_subnets_only(prod, role):
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in prod.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if f"-{role}-" in r.name}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # Not the whole VPC: the public subnets the internet-facing balancer's nodes live in.
    public = sorted(s.inputs["cidrBlock"] for s in prod.of_type("aws:ec2/subnet:Subnet") if f"-{role}-net-public-" in s.name)
    assert len(public) == 3
    assert policies["recommender-tf-serving"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": c}} for c in public]
    vpc = shipped("prod")["cluster"]["vpcCidrs"][role]
    assert {"ipBlock": {"cidr": vpc}} not in policies["recommender-tf-serving"]["ingress"][0]["from"]
    assert policies["recommender-tf-serving"]["egress"][2]["to"] == [{"ipBlock": {"cidr": c}} for c in sorted(IP_RANGES["s3"][REGIONS[role]])]


def test_existing_subnets_put_the_balancer_in_their_vpcs_public_subnets():
    config = stack_config("dev", cluster={**shipped("dev")["cluster"], "subnetIds": {"primary": ["subnet-a", "subnet-b"]}})
    run = render_stack("dev", config)
    balancer = only(run, "aws:lb/loadBalancer:LoadBalancer", "primary-serving-front-door-alb")
    # The subnets tagged kubernetes.io/role/elb in the private subnets' VPC (mock: two of them).
    assert len(balancer.inputs["subnets"]) == 2 and all(s.startswith("subnet-") for s in balancer.inputs["subnets"])
    assert not {"subnet-a", "subnet-b"} & set(balancer.inputs["subnets"])
    policy = only(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "primary-serving-serving")
    cidrs = [peer["ipBlock"]["cidr"] for peer in policy.inputs["spec"]["ingress"][0]["from"]]
    assert len(cidrs) == 2 and all(c.startswith("10.250.") for c in cidrs)


# --- cluster hygiene ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_vpc_cni_enforces_policies_with_its_own_pod_identity_role(prod, role):
    addon = only(prod, "aws:eks/addon:Addon", f"{role}-vpc-cni")
    assert json.loads(addon.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    (association,) = addon.inputs["podIdentityAssociations"]
    assert association["serviceAccount"] == "aws-node"
    role_resource = prod.one("aws:iam/role:Role", f"recsys-prod-{role}-aws-node")
    assert association["roleArn"] == role_resource.outputs["arn"]


@pytest.mark.parametrize("role", ROLES)
def test_cni_policy_left_the_node_role(prod, role):
    attachments = [r for r in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if r.name.startswith(f"recsys-prod-{role}-")]
    cni = [r.name for r in attachments if r.inputs["policyArn"].endswith("/AmazonEKS_CNI_Policy")]
    assert cni == [f"recsys-prod-{role}-aws-node-AmazonEKS_CNI_Policy"]


@pytest.mark.parametrize("role", ROLES)
def test_control_plane_logs_have_a_retention_before_the_cluster_exists(prod, role):
    cluster = prod.one("aws:eks/cluster:Cluster", f"recsys-prod-{role}")
    group = prod.one("aws:cloudwatch/logGroup:LogGroup", f"recsys-prod-{role}-control-plane")
    assert group.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    assert group.inputs["retentionInDays"] == 90 and group.inputs["region"] == REGIONS[role]
    assert group.urn in cluster.dependencies


# --- buckets ------------------------------------------------------------------------------------

def _bucket_policy(run, role: str) -> dict[str, dict]:
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy", f"recsys-prod-models-{role}")
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_only_the_release_role_publishes_into_the_primary(prod):
    statements = _bucket_policy(prod, "primary")
    release = shipped("prod")["storage"]["releaseRoleArn"]
    assert statements["DenyModelWritesButPublisher"]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [release]}}
    assert "Condition" not in statements["DenyReplicaWritesButReplication"]


def test_only_replication_writes_into_the_standby(prod):
    statements = _bucket_policy(prod, "standby")
    replication = prod.one("aws:iam/role:Role", "recsys-prod-models-replication").outputs["arn"]
    assert "Condition" not in statements["DenyModelWritesButPublisher"]
    assert statements["DenyReplicaWritesButReplication"]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [replication]}}


@pytest.mark.parametrize("role", ROLES)
def test_published_versions_are_locked_and_only_break_glass_deletes(prod, role):
    lock = prod.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", f"recsys-prod-models-{role}")
    assert lock.inputs["objectLockEnabled"] == "Enabled"
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": OBJECT_LOCK_MODE, "days": 365}
    deletes = _bucket_policy(prod, role)["DenyVersionDeletesButBreakGlass"]
    assert deletes["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [shipped("prod")["storage"]["breakGlassRoleArn"]]


def test_replication_waits_for_object_lock_at_both_ends(prod):
    replication = prod.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "recsys-prod-models-replication")
    locks = {r.urn for r in prod.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")}
    assert locks <= set(replication.dependencies)


@pytest.mark.parametrize("role", ROLES)
def test_buckets_and_keys_are_protected(prod, role):
    assert prod.one("aws:s3/bucket:Bucket", f"recsys-prod-models-{role}").options.get("protect") is True
    assert prod.one("aws:kms/key:Key", f"recsys-prod-models-{role}-key").options.get("protect") is True


def test_force_destroy_lifts_the_protection():
    raw = copy.deepcopy(shipped("dev")["storage"])
    run = render_stack("dev", stack_config("dev", storage={**raw, "forceDestroy": True}))
    assert not any(r.options.get("protect") for r in run.of_type("aws:s3/bucket:Bucket"))


# --- keys ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_each_model_key_names_the_roles_that_use_it(prod, role):
    policy = prod.one("aws:kms/keyPolicy:KeyPolicy", f"recsys-prod-key-policies-{role}")
    key = prod.one("aws:kms/key:Key", f"recsys-prod-models-{role}-key")
    assert policy.inputs["keyId"] == key.outputs["keyId"] and policy.inputs["region"] == REGIONS[role]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    reader = prod.one("aws:iam/role:Role", f"recsys-prod-{role}-serving-model-reader").outputs["arn"]
    assert reader in statements["DecryptViaS3"]["Principal"]["AWS"]
    assert statements["DenyKeyDestructionButBreakGlass"]["Effect"] == "Deny"


@pytest.mark.parametrize("role", ROLES)
def test_key_calls_alarm_in_the_keys_region(prod, role):
    keys = [f"recsys-prod-models-{role}-key", f"recsys-prod-{role}-secrets", f"recsys-prod-audit-{REGIONS[role]}"]
    arns = sorted(prod.one("aws:kms/key:Key", key).outputs["arn"] for key in keys)
    rule = prod.one("aws:cloudwatch/eventRule:EventRule", f"recsys-prod-tamper-{REGIONS[role]}-keys")
    assert json.loads(rule.inputs["eventPattern"])["detail"]["resources"]["ARN"] == arns
    assert prod.outputs["alarms"][f"keys-{role}"] == f"recsys-prod-tamper-{REGIONS[role]}-keys-calls"


@pytest.mark.parametrize("role", ROLES)
def test_bucket_guard_and_trail_changes_alarm(prod, role):
    bucket = prod.one("aws:s3/bucket:Bucket", f"recsys-prod-models-{role}").outputs["bucket"]
    rule = prod.one("aws:cloudwatch/eventRule:EventRule", f"recsys-prod-tamper-{REGIONS[role]}-buckets")
    assert json.loads(rule.inputs["eventPattern"])["detail"]["requestParameters"]["bucketName"] == [bucket]
    trail = prod.one("aws:cloudtrail/trail:Trail", f"recsys-prod-audit-{REGIONS[role]}")
    rule = prod.one("aws:cloudwatch/eventRule:EventRule", f"recsys-prod-tamper-{REGIONS[role]}-trail")
    assert set(json.loads(rule.inputs["eventPattern"])["detail"]["requestParameters"]["name"]) == {trail.inputs["name"], trail.outputs["arn"]}
    assert {f"buckets-{role}", f"trail-{role}"} <= set(prod.outputs["alarms"])


def test_prod_records_model_writes_in_a_trail_per_region(prod, rendered_stacks):
    trails = prod.of_type("aws:cloudtrail/trail:Trail")
    assert sorted(t.inputs["region"] for t in trails) == sorted(REGIONS.values())
    assert {t.inputs["name"] for t in trails} == {shipped("prod")["storage"]["auditTrailName"]}
    assert not rendered_stacks["dev"].of_type("aws:cloudtrail/trail:Trail")


def test_the_program_logs_the_open_api_warning_for_the_plan():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("closed-by-default-test")
    logger.addHandler(Keep())
    cluster = {**shipped("dev")["cluster"], "publicAccessCidrs": ["0.0.0.0/0"]}
    run_program(lambda: runpy.run_path(str(STACKS / "__main__.py"), run_name="__main__"),
                config=stack_config("dev", cluster=cluster), stack="dev", logger=logger)
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any("`recsys-dr:cluster.publicAccessCidrs` contains 0.0.0.0/0" in w for w in warnings)


@pytest.mark.parametrize("role", ROLES)
def test_cluster_secrets_keys_have_an_explicit_policy_and_are_protected(prod, role):
    key = prod.one("aws:kms/key:Key", f"recsys-prod-{role}-secrets")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["EnableIamPolicies"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert statements["DenyKeyDestructionButBreakGlass"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        shipped("prod")["storage"]["breakGlassRoleArn"]]
    assert key.options.get("protect") is True


def test_internal_budget_is_the_alarms_and_is_held_to_the_target(internal):
    assert internal.outputs["failoverBudget"] == "60 s x 2 failed checks + TTL 60 s = 180 s"
    raw = shipped("prod")
    raw["serving"]["exposure"] = "internal"
    with pytest.raises(ConfigError, match=r"`recsys-dr:serving.exposure` internal fails over on a CloudWatch alarm: a budget of 60 s x 2"):
        load_settings(raw, "prod")
