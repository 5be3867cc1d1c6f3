"""Stack configuration: every bad value is refused with its key, its value and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from recsys_dr.stacks.settings import ConfigError, load_settings

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def shipped(env: str) -> dict:
    """Raw config of a shipped environment, as `read_config` returns it."""
    document = yaml.safe_load((STACKS / f"Pulumi.{env}.yaml").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items()}


def with_change(env: str, section: str, key: str | None, value) -> dict:
    raw = copy.deepcopy(shipped(env))
    if key is None:
        raw[section] = value
    elif value is None:
        raw[section].pop(key)
    else:
        raw.setdefault(section, {})[key] = value
    return raw


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_shipped_environments_are_valid(env):
    settings = load_settings(shipped(env), env)
    assert settings.args.regions.primary == "us-east-1"
    assert settings.args.tags["environment"] == env


def test_prod_budget_is_the_fastest_detection_plus_the_alias_ttl():
    # Alias records to a load balancer carry its fixed 60 s TTL (Route 53 FAQ): the budget is the
    # fastest checks Route 53 offers (10 s) times three failures, plus those 60 s.
    args = load_settings(shipped("prod"), "prod").args
    assert args.dns.budget.total_seconds == 10 * 3 + 60 <= args.dns.failover_budget_target
    assert args.standby_mode == "warm"


def test_dev_is_small_and_pilot_light():
    args = load_settings(shipped("dev"), "dev").args
    assert args.standby_mode == "pilot-light"
    assert args.gpu.max_size == 2  # one node for the replica, one for a rollout's surge pod
    standby = args.gpu_pool("standby")
    assert (standby.min_size, standby.desired_size, standby.max_size) == (0, 0, 2)


BAD_INPUTS = [
    # (description, section, key, value, expected message)
    ("primary equals standby", "regions", "standby", "us-east-1",
     r"`recsys-dr:regions.standby` must differ from `recsys-dr:regions.primary`.*Received: recsys-dr:regions.primary=us-east-1, recsys-dr:regions.standby=us-east-1"),
    ("unknown region", "regions", "standby", "us-middle-1",
     r"`recsys-dr:regions.standby` must be an AWS region with EKS, one of: af-south-1, .*us-west-2. Received: 'us-middle-1'"),
    ("non-GPU instance type", "gpu", "instanceTypes", ["g5.xlarge", "m5.2xlarge"],
     r"`recsys-dr:gpu.instanceTypes` must contain only NVIDIA GPU instance types .*Received: 'm5.2xlarge'"),
    ("AMD GPU instance type", "gpu", "instanceTypes", ["g4ad.xlarge"],
     r"`recsys-dr:gpu.instanceTypes` must contain only NVIDIA GPU instance types .*Received: 'g4ad.xlarge'"),
    ("min above max", "gpu", "minSize", 10,
     r"`recsys-dr:gpu.minSize` must be <= `recsys-dr:gpu.maxSize`. Received: minSize=10, maxSize=9"),
    ("desired below min", "gpu", "desiredSize", 1,
     r"`recsys-dr:gpu.desiredSize` must be between minSize and maxSize. Received: minSize=2, desiredSize=1, maxSize=9"),
    ("desired above max", "gpu", "desiredSize", 10,
     r"`recsys-dr:gpu.desiredSize` must be between minSize and maxSize. Received: minSize=2, desiredSize=10, maxSize=9"),
    ("interval not 10 or 30", "dns", "healthCheckInterval", 15,
     r"`recsys-dr:dns.healthCheckInterval` must be one of: 10, 30. Received: 15"),
    ("failure threshold zero", "dns", "failureThreshold", 0,
     r"`recsys-dr:dns.failureThreshold` must be an integer from 1 to 10. Received: 0"),
    ("failure threshold eleven", "dns", "failureThreshold", 11,
     r"`recsys-dr:dns.failureThreshold` must be an integer from 1 to 10. Received: 11"),
    ("TTL set for alias records", "dns", "ttl", 30,
     r"`recsys-dr:dns.ttl` is not a setting: the failover records are aliases of the load balancers, whose TTL Route 53 "
     r"fixes at 60 s. Remove the key. Received: ttl=30"),
    ("missing record name", "dns", "recordName", None,
     r"`recsys-dr:dns.recordName` is required"),
    ("missing zone", "dns", "zoneId", None,
     r"exactly one of `recsys-dr:dns.zoneId` \(existing hosted zone\) and `recsys-dr:dns.zoneName` \(zone to create\) must be set. Received: zoneId=None, zoneName=None"),
    ("version zero", "model", "version", 0,
     r"`recsys-dr:model.version` must be a positive integer \(a TF Serving version directory\). Received: 0"),
    ("version as text", "model", "version", "v3",
     r"`recsys-dr:model.version` must be a positive integer .*Received: 'v3'"),
    ("version as float", "model", "version", 2.5,
     r"`recsys-dr:model.version` must be a positive integer .*Received: 2.5"),
    ("model name with slash", "model", "name", "recs/v2",
     r"`recsys-dr:model.name` must be 1-63 characters .*Received: 'recs/v2'"),
    ("model name with space", "model", "name", "my model",
     r"`recsys-dr:model.name` must be 1-63 characters .*Received: 'my model'"),
    ("model name ending in a dash", "model", "name", "recommender-",
     r"`recsys-dr:model.name` must be 1-63 characters .*starting and ending with a letter or digit.*Received: 'recommender-'"),
    ("unknown standby mode", "standbyMode", None, "cold",
     r"`recsys-dr:standbyMode` must be one of: warm, pilot-light. Received: 'cold'"),
    ("unknown failover control", "failoverControl", None, "manual",
     r"`recsys-dr:failoverControl` must be one of: health-check, arc, region-switch. Received: 'manual'"),
    ("budget above target", "dns", "failoverBudgetTarget", 60,
     r"`recsys-dr:dns` gives a failover budget of 10 s x 3 failed checks \+ TTL 60 s = 90 s, above `recsys-dr:dns.failoverBudgetTarget`=60"),
    ("typo in a key", "gpu", "maxsize", 3,
     r"`recsys-dr:gpu.maxsize` is not a known key; did you mean `maxSize`\? Allowed: instanceTypes, minSize, desiredSize, maxSize"),
    ("too few checker regions", "dns", "checkerRegions", ["us-east-1", "eu-west-1"],
     r"`recsys-dr:dns.checkerRegions` must list at least 3 distinct Route 53 checker regions"),
    ("API open to a malformed CIDR", "cluster", "publicAccessCidrs", ["10.0.0.0/33"],
     r"`recsys-dr:cluster.publicAccessCidrs` must be a list of IPv4 CIDRs such as \[203.0.113.0/24\]. Received: \['10.0.0.0/33'\]"),
    ("certificate in the wrong region", "serving", "tlsCertificateArns",
     {"primary": "arn:aws:acm:us-east-1:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666",
      "standby": "arn:aws:acm:us-east-1:123456789012:certificate/1d3e1c55-1111-4222-8333-944445555666"},
     r"`recsys-dr:serving.tlsCertificateArns.standby` must be a certificate in us-west-2 \(ACM certificates are regional\)"),
    ("certificate for one region only", "serving", "tlsCertificateArns",
     {"primary": "arn:aws:acm:us-east-1:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666"},
     r"`recsys-dr:serving.tlsCertificateArns` must map both primary and standby"),
    ("alarm topic that is not SNS", "alarms", "topicArns", ["arn:aws:sqs:us-east-1:123456789012:q"],
     r"`recsys-dr:alarms.topicArns` must be a list of SNS topic ARNs"),
    ("VPC block too large", "cluster", "vpcCidrs", {"primary": "10.0.0.0/8", "standby": "10.21.0.0/16"},
     r"`recsys-dr:cluster.vpcCidrs.primary` must be an IPv4 CIDR from /16 to /20. Received: '10.0.0.0/8'"),
    ("VPC blocks overlap", "cluster", "vpcCidrs", {"primary": "10.20.0.0/16", "standby": "10.20.0.0/18"},
     r"`recsys-dr:cluster.vpcCidrs` must not overlap between primary and standby. Received: primary=10.20.0.0/16, standby=10.20.0.0/18"),
    ("Kubernetes version not major.minor", "cluster", "kubernetesVersion", "a.b",
     r"`recsys-dr:cluster.kubernetesVersion` must be an EKS \"major.minor\" version string such as \"1.33\". Received: 'a.b'"),
    ("CPU not a quantity", "serving", "cpu", "abc",
     r"`recsys-dr:serving.cpu` must be a Kubernetes CPU quantity such as \"3\" or \"1500m\". Received: 'abc'"),
    ("memory not a quantity", "serving", "memory", "lots",
     r"`recsys-dr:serving.memory` must be a Kubernetes memory quantity such as 12Gi or 16384Mi. Received: 'lots'"),
    ("min replicas above max", "serving", "minReplicas", 9,
     r"`recsys-dr:serving.minReplicas` must be <= `recsys-dr:serving.maxReplicas`. Received: minReplicas=9, maxReplicas=8"),
]


@pytest.mark.parametrize(("section", "key", "value", "message"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_invalid_setting_is_refused_with_key_value_and_allowed(section, key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(with_change("prod", section, key, value), "prod")


def test_unknown_top_level_key_is_refused():
    raw = {**shipped("dev"), "gpus": "4"}
    with pytest.raises(ConfigError, match=r"`recsys-dr:gpus` is not a setting of this project; did you mean `gpu`\? Allowed: alarms, cluster, dns"):
        load_settings(raw, "dev")


def test_every_problem_is_reported_at_once():
    raw = with_change("prod", "regions", "standby", "us-east-1")
    raw["dns"]["healthCheckInterval"] = 20
    raw["model"]["version"] = -1
    with pytest.raises(ConfigError) as caught:
        load_settings(raw, "prod")
    assert len(caught.value.problems) == 3
    assert "(3 problems)" in str(caught.value)
    assert [detail["property_path"] for detail in caught.value.errors] == [
        "recsys-dr:regions.standby", "recsys-dr:model.version", "recsys-dr:dns.healthCheckInterval",
    ]


def test_missing_required_sections_are_named():
    with pytest.raises(ConfigError) as caught:
        load_settings({"standbyMode": "warm"}, "empty")
    message = str(caught.value)
    for key in ("recsys-dr:regions", "recsys-dr:model", "recsys-dr:dns"):
        assert f"`{key}` is required and missing" in message
