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
from recsys_dr.review.plan import render as render_plan
from recsys_dr.stacks.settings import ConfigError, load_settings
from tests.support import STACKS, network_policy_effect, render_stack, stack_config

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


def test_prod_requires_allowed_ranges_even_for_an_internal_endpoint():
    raw = shipped("prod")
    raw["serving"].pop("allowedCidrs")
    raw["serving"]["exposure"] = "internal"
    raw["dns"]["failoverBudgetTarget"] = 180  # an internal endpoint's alarm budget: 60 s x 2 + the alias TTL 60 s
    with pytest.raises(ConfigError, match=r"`recsys-dr:serving.allowedCidrs` is required in prod"):
        load_settings(raw, "prod")


def test_prod_refuses_tls_off():
    raw = shipped("prod")
    raw["serving"].pop("tlsCertificateArns")
    with pytest.raises(ConfigError, match=r"`recsys-dr:serving.tlsCertificateArns` is required in prod"):
        load_settings(raw, "prod")


def test_an_internet_facing_endpoint_without_allowed_ranges_is_refused_everywhere():
    raw = shipped("dev")
    raw["serving"].pop("allowedCidrs")
    with pytest.raises(ConfigError, match=r"`recsys-dr:serving.allowedCidrs` must list the networks that may call an "
                                          r"internet-facing endpoint .* or `recsys-dr:serving.exposure` must be internal"):
        load_settings(raw, "dev")
    raw["serving"]["exposure"] = "internal"
    raw["dns"].pop("failoverBudgetTarget")  # the alarm-based failover budget is longer
    assert load_settings(raw, "dev").args.serving.allowed_cidrs == []  # an internal endpoint may list none


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize(("section", "key"), [("serving", "allowedCidrs"), ("cluster", "publicAccessCidrs")])
def test_a_list_open_in_two_halves_is_refused(env, section, key):
    raw = shipped(env)
    raw[section][key] = ["0.0.0.0/1", "128.0.0.0/1"]
    with pytest.raises(ConfigError, match=rf"`recsys-dr:{section}.{key}` covers 100 % of the public IP space once merged "
                                          r"\(0.0.0.0/0\); at most 0.1 % is allowed"):
        load_settings(raw, env)


def test_prod_api_admits_no_public_address():
    raw = shipped("prod")
    raw["cluster"]["publicAccessCidrs"] = ["8.8.8.8/32"]
    with pytest.raises(ConfigError, match=r"`recsys-dr:cluster.publicAccessCidrs` must hold no public address in prod: "
                                          r".*Received: \['8.8.8.8/32'\] \(public: 8.8.8.8/32\)"):
        load_settings(raw, "prod")
    raw = shipped("dev")
    raw["cluster"]["publicAccessCidrs"] = ["8.8.8.8/32"]
    assert load_settings(raw, "dev").args.cluster.public_access_cidrs == ["8.8.8.8/32"]


def test_shipped_stacks_warn_only_about_what_is_not_pinned_by_content():
    # docs/security.md "Images and charts": every Helm chart (fetched by version), TF Serving (GPU and fallback CPU
    # builds) and the NVIDIA device plugin (no digest confirmed offline); the fetcher and Cluster
    # Autoscaler images are pinned. Dev has no certificate, so its balancers listen on HTTP, and its
    # pilot-light standby has no capacity reservation; the plan says both.
    for env in ("prod", "dev"):
        warnings = render_plan(env).warnings
        assert sorted(w.split(" is ", 1)[0] for w in warnings) == sorted([
            "Helm chart cluster-autoscaler 9.46.6", "Helm chart nvidia-device-plugin 0.17.1",
            "Helm chart aws-load-balancer-controller 3.5.0", "Helm chart keda 2.20.2", "the NVIDIA device plugin image",
            "`serving.image`", "`fallback.image`"] + (
                ["no TLS certificate for us-east-1: the balancer listens on plain HTTP (port 80), so queries, "
                 "histories and recommendations cross the network in clear text (`serving.tlsCertificateArns`)",
                 "no TLS certificate for us-west-2: the balancer listens on plain HTTP (port 80), so queries, "
                 "histories and recommendations cross the network in clear text (`serving.tlsCertificateArns`)",
                 "capacity not guaranteed: the standby"] if env == "dev" else [])), warnings


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
    # The record each tier's check steers: the primary's is client-facing, the standby's and the
    # fallback's are the nested pair of the cascade.
    records = {"primary": "recsys-prod-dns-primary", "standby": "recsys-prod-dns-cascade-standby",
               "fallback": "recsys-prod-dns-cascade-fallback"}
    for tier, record in records.items():
        outputs = internal.outputs["fallback"] if tier == "fallback" else internal.outputs["regions"][tier]
        public = prod.outputs["fallback"] if tier == "fallback" else prod.outputs["regions"][tier]
        check = internal.one("aws:route53/healthCheck:HealthCheck", f"recsys-prod-private-health-{tier}")
        assert check.inputs["type"] == "CLOUDWATCH_METRIC" and check.inputs["cloudwatchAlarmRegion"] == REGIONS.get(tier, "us-west-2")
        steering = internal.one("aws:route53/record:Record", record).inputs["healthCheckId"]
        assert outputs["healthCheckId"] == steering
        # Not the HTTP check, which cannot reach a private endpoint.
        assert steering != public["healthCheckId"]
    # Route 53's checkers probe from the internet, so an HTTP(S) check of an internal balancer could
    # only fail: none is created (the public stack has one per tier).
    probes = ("HTTP_STR_MATCH", "HTTPS_STR_MATCH")
    http = [c for c in internal.of_type("aws:route53/healthCheck:HealthCheck") if c.inputs["type"] in probes]
    assert http == [] and len([c for c in prod.of_type("aws:route53/healthCheck:HealthCheck")
                               if c.inputs["type"] in probes]) == 3


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
    serving_pod = policies["recommender-tf-serving"]["podSelector"]["matchLabels"]
    for labels in (serving_pod, {"run": "debug-shell"}):  # the serving pods, and any other pod of the namespace
        assert network_policy_effect(policies["default-deny"], labels) == {"Ingress": [], "Egress": []}
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


# --- the serving pod's containers -------------------------------------------------------------

def mounts_by_volume(pod: dict) -> dict[str, dict[str, bool]]:
    """`{volume: {container: writable}}` over init and regular containers."""
    found: dict[str, dict[str, bool]] = {}
    for container in pod["initContainers"] + pod["containers"]:
        for mount in container.get("volumeMounts", []):
            found.setdefault(mount["name"], {})[container["name"]] = not mount.get("readOnly", False)
    return found


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_nothing_tf_serving_writes_is_read_by_the_init_container(rendered_stacks, env):
    # The init container alone writes /models; a file TF Serving could plant where it reads
    # (a HOME with ~/.aws/config and a credential_process) would run with that right.
    for deployment in rendered_stacks[env].of_type("kubernetes:apps/v1:Deployment"):
        pod = deployment.inputs["spec"]["template"]["spec"]
        (init,) = [c["name"] for c in pod["initContainers"]]
        (serving,) = [c["name"] for c in pod["containers"]]
        shared = {volume: users for volume, users in mounts_by_volume(pod).items() if init in users and serving in users}
        assert shared == {"models": {init: True, serving: False}}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_init_containers_home_is_its_own_and_holds_no_aws_config(rendered_stacks, env):
    for deployment in rendered_stacks[env].of_type("kubernetes:apps/v1:Deployment"):
        pod = deployment.inputs["spec"]["template"]["spec"]
        (init,) = pod["initContainers"]
        env_vars = {e["name"]: e["value"] for e in init["env"]}
        (home_volume,) = [m["name"] for m in init["volumeMounts"] if env_vars["HOME"].startswith(m["mountPath"])]
        assert list(mounts_by_volume(pod)[home_volume]) == [init["name"]]
        assert env_vars["AWS_CONFIG_FILE"] == env_vars["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"


# --- who may assume the roles, and what the S3 endpoint lets through -------------------------

def trust_condition(role) -> dict:
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    return statement.get("Condition", {}).get("StringEquals", {})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_pod_identity_role_trusts_only_the_service_account_it_is_associated_with(rendered_stacks, env):
    run = rendered_stacks[env]
    clusters = {c.inputs["name"]: c.outputs["arn"] for c in run.of_type("aws:eks/cluster:Cluster")}
    roles = {r.outputs["arn"]: r for r in run.of_type("aws:iam/role:Role")}
    associations = [(a.inputs["clusterName"], a.inputs["namespace"], a.inputs["serviceAccount"], a.inputs["roleArn"])
                    for a in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")]
    associations += [(addon.inputs["clusterName"], "kube-system", association["serviceAccount"], association["roleArn"])
                     for addon in run.of_type("aws:eks/addon:Addon") for association in addon.inputs.get("podIdentityAssociations", [])]
    pod_roles = [r for r in roles.values() if "pods.eks.amazonaws.com" in r.inputs["assumeRolePolicy"]]
    # Per region: model reader, aws-node, cluster-autoscaler, load balancer controller, KEDA operator;
    # and the fallback tier's model reader.
    assert len(associations) == len(pod_roles) == 11
    for cluster, namespace, service_account, role_arn in associations:
        assert trust_condition(roles[role_arn]) == {
            "aws:RequestTag/eks-cluster-arn": clusters[cluster], "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account}


def test_the_replication_role_trusts_s3_for_this_account_only(prod):
    role = prod.one("aws:iam/role:Role", "recsys-prod-models-replication")
    assert trust_condition(role) == {"aws:SourceAccount": "123456789012"}


@pytest.mark.parametrize("role", ROLES)
def test_the_s3_endpoint_admits_this_regions_model_bucket_and_image_layers_only(prod, role):
    region = REGIONS[role]
    (endpoint,) = [e for e in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["region"] == region]
    policy = json.loads(endpoint.inputs["policy"])
    bucket = prod.one("aws:s3/bucket:Bucket", f"recsys-prod-models-{role}").outputs["arn"]
    resources = {r for s in policy["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert resources == {bucket, f"{bucket}/*", f"arn:aws:s3:::prod-{region}-starport-layer-bucket/*",
                         f"arn:aws:s3:::prod-registry-k8s-io-{region}/*"}
    assert {a for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])} == {
        "s3:GetObject", "s3:ListBucket"}
