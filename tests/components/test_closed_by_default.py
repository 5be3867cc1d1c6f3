"""Closed by default (issue 12): the plain functions behind exposure, pinning, bucket and key policies."""

import dataclasses
import ipaddress

import pytest

from recsys_dr.components.cluster.addons import vpc_cni_configuration
from recsys_dr.components.serving import exposure, manifests
from recsys_dr.components.serving.manifests import ServingSpec, deployment_spec
from recsys_dr.components.serving.model_serving import ModelServingArgs, model_serving_problems
from recsys_dr.components.serving.network_policies import POD_IDENTITY_AGENT, default_deny_spec, serving_policy_spec
from recsys_dr.components.settings import ModelSettings, ServingSettings
from recsys_dr.components.storage.policies import (
    KEY_DESTRUCTION_ACTIONS,
    KeyGrant,
    model_bucket_policy,
    model_key_policy,
    replication_role_policy,
)
from tests.support import network_policy_effect

DIGEST = "a" * 64
BUCKET = "arn:aws:s3:::models-primary"
RELEASE = "arn:aws:iam::123456789012:role/release"
REPLICATION = "arn:aws:iam::123456789012:role/replication"
BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass"
READER = "arn:aws:iam::123456789012:role/reader"


@pytest.fixture
def spec() -> ServingSpec:
    return ServingSpec(
        model_name="recommender", model_version=7, bucket="models-primary", region="us-east-1",
        replicas=2, min_replicas=2, max_replicas=6, manifest_sha256=DIGEST,
    )


def _statement(policy: dict, sid: str) -> dict:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


# --- the pinned manifest digest -------------------------------------------------------------

def test_init_container_receives_the_pinned_manifest_digest(spec):
    init = deployment_spec(spec, service_account="sa", script_config_map="cm")["template"]["spec"]["initContainers"][0]
    assert {"name": "MANIFEST_SHA256", "value": DIGEST} in init["env"]


def test_a_new_manifest_digest_changes_the_pod_template(spec):
    # A Deployment rolls its pods only when `.spec.template` changes (Kubernetes Deployment docs).
    before = deployment_spec(spec, service_account="sa", script_config_map="cm")["template"]
    after = deployment_spec(dataclasses.replace(spec, manifest_sha256="b" * 64), service_account="sa", script_config_map="cm")["template"]
    assert before["metadata"]["annotations"][manifests.MANIFEST_DIGEST_ANNOTATION] == DIGEST
    assert before != after


# --- exposure ---------------------------------------------------------------------------------

def test_checker_ranges_are_asked_for_the_checker_regions_and_the_global_block():
    assert exposure.checker_range_regions(["us-west-2", "us-east-1", "us-east-1"]) == ["us-east-1", "us-west-2", "global"]


def test_prod_shaped_ranges_fit_the_security_group_quota():
    checkers = exposure.expected_checker_ranges(["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1"])
    assert checkers == 11
    assert exposure.source_range_problems(
        "serving.allowedCidrs", allowed_cidrs=["203.0.113.0/24", "198.51.100.0/24"], checker_ranges=checkers,
    ) == []


def test_too_many_ranges_are_refused_before_ec2_refuses_the_security_group():
    # One client port, one rule per range; the VPC quota is 60 inbound rules per security group.
    allowed = [str(net) for net in ipaddress.ip_network("10.0.0.0/16").subnets(new_prefix=24)][:44]
    problems = exposure.source_range_problems("serving.allowedCidrs", allowed_cidrs=allowed, checker_ranges=17)
    assert len(problems) == 1
    assert "61 inbound rules" in problems[0] and "60" in problems[0]
    assert exposure.source_range_problems("serving.allowedCidrs", allowed_cidrs=allowed[:43], checker_ranges=17) == []


@pytest.mark.parametrize("cidrs, reason", [
    (["0.0.0.0/0"], "covers 100 % of the public IP space once merged (0.0.0.0/0)"),
    (["0.0.0.0/1", "128.0.0.0/1"], "covers 100 % of the public IP space once merged (0.0.0.0/0)"),
    (["2001:db8::/32"], "IPv4"), (["corp"], "IPv4 CIDRs"),
])
def test_open_or_unusable_ranges_are_refused(cidrs, reason):
    problems = exposure.source_range_problems("serving.allowedCidrs", allowed_cidrs=cidrs, checker_ranges=11)
    assert any(reason in p for p in problems)


def test_model_serving_refuses_an_internet_facing_endpoint_without_allowed_ranges():
    # Its default settings would let the controller open the NLB to 0.0.0.0/0 (no loadBalancerSourceRanges).
    model = ModelSettings(name="recommender", version=1, manifest_sha256=DIGEST)
    (problem,) = model_serving_problems(ModelServingArgs(region="eu-west-1", model=model))
    assert problem.startswith("`serving.allowedCidrs` must list the networks that may call an internet-facing endpoint")
    internal = ServingSettings(exposure="internal")
    assert model_serving_problems(ModelServingArgs(region="eu-west-1", model=model, serving=internal)) == []


def test_fetcher_image_is_pinned_by_digest_with_its_tag_beside_it():
    reference, digest = manifests.DEFAULT_FETCHER_IMAGE.split("@")
    assert reference.endswith(":2.22.35") and digest.startswith("sha256:") and len(digest) == 71


# --- network policies -------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [{}, {"app.kubernetes.io/name": "tf-serving"}, {"run": "debug-shell"}])
def test_default_deny_isolates_every_pod_both_ways_and_admits_nothing(labels):
    assert network_policy_effect(default_deny_spec(), labels) == {"Ingress": [], "Egress": []}


def test_serving_policy_admits_rest_from_the_balancers_subnets_only(spec):
    policy = serving_policy_spec(selector=spec.selector, balancer_cidrs=["10.20.252.0/22", "10.20.248.0/22"],
                                 s3_cidrs=["52.216.0.0/15"])
    assert policy["ingress"] == [{"from": [{"ipBlock": {"cidr": "10.20.248.0/22"}}, {"ipBlock": {"cidr": "10.20.252.0/22"}}],
                                  "ports": [{"protocol": "TCP", "port": 8501}]}]


def test_serving_policy_egress_is_dns_credentials_and_s3_only(spec):
    policy = serving_policy_spec(selector=spec.selector, balancer_cidrs=["10.20.252.0/22"], s3_cidrs=["52.216.0.0/15", "3.5.0.0/19"])
    ports = [sorted((p["protocol"], p["port"]) for p in rule["ports"]) for rule in policy["egress"]]
    assert ports == [[("TCP", 53), ("UDP", 53)], [("TCP", 80)], [("TCP", 443)]]
    assert policy["egress"][1]["to"] == [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}]
    assert policy["egress"][2]["to"] == [{"ipBlock": {"cidr": "3.5.0.0/19"}}, {"ipBlock": {"cidr": "52.216.0.0/15"}}]


@pytest.mark.parametrize("balancer_cidrs, s3_cidrs", [([], ["3.5.0.0/19"]), (["10.0.0.0/16"], [])])
def test_an_empty_peer_list_is_refused_because_it_would_allow_everyone(spec, balancer_cidrs, s3_cidrs):
    with pytest.raises(ValueError, match="allows everyone"):
        serving_policy_spec(selector=spec.selector, balancer_cidrs=balancer_cidrs, s3_cidrs=s3_cidrs)


def test_vpc_cni_enforces_network_policies_with_the_schema_string():
    assert vpc_cni_configuration() == {"enableNetworkPolicy": "true"}


# --- bucket policy ----------------------------------------------------------------------------

def test_only_the_release_role_writes_models():
    deny = _statement(model_bucket_policy(bucket_arn=BUCKET, writer_arns=[RELEASE]), "DenyModelWritesButPublisher")
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Resource"] == f"{BUCKET}/models/*"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [RELEASE]}}


def test_without_writers_nobody_writes_models():
    deny = _statement(model_bucket_policy(bucket_arn=BUCKET, replicator_arns=[REPLICATION]), "DenyModelWritesButPublisher")
    assert "Condition" not in deny


def test_only_the_replication_role_writes_replicas():
    deny = _statement(model_bucket_policy(bucket_arn=BUCKET, replicator_arns=[REPLICATION]), "DenyReplicaWritesButReplication")
    assert "s3:ReplicateObject" in deny["Action"]
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [REPLICATION]}}


def test_writes_without_if_none_match_are_refused_for_everyone():
    deny = _statement(model_bucket_policy(bucket_arn=BUCKET, writer_arns=[RELEASE]), "DenyOverwrites")
    # S3 "Enforce conditional writes": UploadPart & co. have s3:ObjectCreationOperation false.
    assert deny["Condition"] == {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}
    assert deny["Action"] == "s3:PutObject" and "Principal" in deny


def test_version_deletes_and_lock_changes_are_for_break_glass_only():
    deny = _statement(model_bucket_policy(bucket_arn=BUCKET, break_glass_arns=[BREAK_GLASS]), "DenyVersionDeletesButBreakGlass")
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= set(deny["Action"])
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [BREAK_GLASS]}}


def test_tls_rules_stay_in_the_model_bucket_policy():
    sids = {s["Sid"] for s in model_bucket_policy(bucket_arn=BUCKET)["Statement"]}
    assert {"DenyInsecureTransport", "DenyOutdatedTls"} <= sids


def test_replication_reads_retention_and_legal_hold():
    policy = replication_role_policy(
        source_bucket_arn=BUCKET, destination_bucket_arn="arn:aws:s3:::models-standby",
        source_key_arn="arn:aws:kms:us-east-1:123456789012:key/p", destination_key_arn="arn:aws:kms:us-west-2:123456789012:key/s",
        source_region="us-east-1", destination_region="us-west-2",
    )
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(_statement(policy, "ReadSourceVersions")["Action"])


# --- key policy -------------------------------------------------------------------------------

def _key_policy(**overrides) -> dict:
    args = {
        "account_id": "123456789012", "region": "us-east-1", "break_glass_arns": [BREAK_GLASS],
        "grants": [KeyGrant("ServingDecrypts", (READER,), ("kms:Decrypt",)), KeyGrant("Unused", (), ("kms:Encrypt",))],
    }
    return model_key_policy(**{**args, **overrides})


def test_key_policy_keeps_the_account_statement_so_the_key_stays_manageable():
    root = _statement(_key_policy(), "EnableIamPolicies")
    assert root == {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "kms:*", "Resource": "*"}


def test_only_break_glass_disables_or_deletes_the_key():
    deny = _statement(_key_policy(), "DenyKeyDestructionButBreakGlass")
    assert deny["Effect"] == "Deny" and set(deny["Action"]) == set(KEY_DESTRUCTION_ACTIONS)
    assert {"kms:DisableKey", "kms:ScheduleKeyDeletion"} <= set(deny["Action"])
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [BREAK_GLASS]}}


def test_without_break_glass_nobody_disables_the_key():
    assert "Condition" not in _statement(_key_policy(break_glass_arns=[]), "DenyKeyDestructionButBreakGlass")


def test_key_grants_work_only_through_s3_in_the_key_region():
    grant = _statement(_key_policy(), "ServingDecrypts")
    assert grant["Principal"] == {"AWS": [READER]} and grant["Action"] == ["kms:Decrypt"]
    assert grant["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


def test_grants_without_principals_are_left_out():
    # KMS refuses a policy statement whose principal list is empty.
    assert "Unused" not in {s["Sid"] for s in _key_policy()["Statement"]}
