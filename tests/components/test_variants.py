"""Options of the top-level component beyond the shipped environments."""

from __future__ import annotations

import re

import pulumi
import pytest

from recsys_dr.components import TwoRegionRecommender, TwoRegionRecommenderArgs
from recsys_dr.components.cluster.network import EKS_UNSUPPORTED_ZONE_IDS, usable_zones
from recsys_dr.review.mock_runtime import ProgramRun
from tests.support import registrations_before_failure, render

BASE = dict(
    regions={"primary": "us-east-1", "standby": "us-west-2"}, model={"name": "recommender", "version": 4, "manifest_sha256": "0" * 64},
    dns={"record_name": "recs.shop.example.com", "zone_id": "Z0TEST"}, serving={"allowed_cidrs": ["203.0.113.0/24"]},
)


def args_with(**overrides) -> TwoRegionRecommenderArgs:
    """BASE with sections patched: a dict merges into the section, anything else replaces it."""
    sections = {name: dict(value) for name, value in BASE.items()}
    for name, value in overrides.items():
        sections[name] = {**sections.get(name, {}), **value} if isinstance(value, dict) else value
    return TwoRegionRecommenderArgs(**sections)


def render_recommender(**overrides) -> ProgramRun:
    def program() -> None:
        deployment = TwoRegionRecommender("recs", args_with(**overrides))
        for key, value in deployment.stack_outputs.items():
            pulumi.export(key, value)

    return render(program)


@pytest.fixture(scope="module")
def with_arc() -> ProgramRun:
    return render_recommender(failover_control="arc")


def test_arc_adds_cluster_panel_two_controls_and_a_safety_rule(with_arc):
    types = [r.type for r in with_arc.resources if r.type.startswith("aws:route53recoverycontrol/")]
    assert sorted(types) == sorted([
        "aws:route53recoverycontrol/cluster:Cluster", "aws:route53recoverycontrol/controlPanel:ControlPanel",
        "aws:route53recoverycontrol/routingControl:RoutingControl", "aws:route53recoverycontrol/routingControl:RoutingControl",
        "aws:route53recoverycontrol/safetyRule:SafetyRule",
    ])
    (rule,) = with_arc.of_type("aws:route53recoverycontrol/safetyRule:SafetyRule")
    controls = {r.name: r.outputs["arn"] for r in with_arc.of_type("aws:route53recoverycontrol/routingControl:RoutingControl")}
    assert rule.inputs["ruleConfig"] == {"inverted": False, "threshold": 1, "type": "ATLEAST"}
    assert sorted(rule.inputs["assertedControls"]) == sorted(controls.values())


@pytest.mark.parametrize("role", ["primary", "standby"])
def test_arc_routing_control_checks_steer_the_records(with_arc, role):
    control = with_arc.one("aws:route53recoverycontrol/routingControl:RoutingControl", f"recs-arc-{role}")
    check = with_arc.one("aws:route53/healthCheck:HealthCheck", f"recs-arc-{role}-control")
    assert check.inputs == {**check.inputs, "type": "RECOVERY_CONTROL", "routingControlArn": control.outputs["arn"]}
    record = with_arc.one("aws:route53/record:Record", f"recs-dns-{role}")
    assert record.inputs["healthCheckId"] != with_arc.outputs["regions"][role]["healthCheckId"]
    assert with_arc.outputs["arc"]["routingControls"][role] == control.outputs["arn"]
    assert len(with_arc.outputs["arc"]["clusterEndpoints"]) == 5


def test_zone_name_creates_the_hosted_zone_the_records_use():
    run = render_recommender(dns={"zone_id": None, "zone_name": "shop.example.com"})
    (zone,) = run.of_type("aws:route53/zone:Zone")
    assert zone.inputs["name"] == "shop.example.com"
    assert {r.inputs["zoneId"] for r in run.of_type("aws:route53/record:Record")} == {run.outputs["dns"]["zoneId"]}
    assert run.outputs["dns"]["zoneId"].startswith("Z")


def test_existing_subnets_replace_the_network():
    subnets = {"primary": ["subnet-a", "subnet-b"], "standby": ["subnet-c", "subnet-d"]}
    run = render_recommender(cluster={"subnet_ids": subnets})
    assert not run.of_type("aws:ec2/vpc:Vpc")
    for role, ids in subnets.items():
        assert run.one("aws:eks/cluster:Cluster", f"recs-{role}").inputs["vpcConfig"]["subnetIds"] == ids
        assert run.one("aws:eks/nodeGroup:NodeGroup", f"recs-{role}-gpu").inputs["subnetIds"] == ids


def test_api_endpoint_can_be_limited_to_known_networks():
    run = render_recommender(cluster={"public_access_cidrs": ["203.0.113.0/24"]})
    for role in ("primary", "standby"):
        assert run.one("aws:eks/cluster:Cluster", f"recs-{role}").inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_tls_certificates_reach_each_regions_load_balancer():
    arns = {
        "primary": "arn:aws:acm:us-east-1:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666",
        "standby": "arn:aws:acm:us-west-2:123456789012:certificate/1d3e1c55-1111-4222-8333-944445555666",
    }
    run = render_recommender(serving={"tls_certificate_arns": arns})
    for role, arn in arns.items():
        # One HTTPS listener, no plain-HTTP one for clients to fall back to.
        (listener,) = [r for r in run.of_type("aws:lb/listener:Listener") if r.name.startswith(f"recs-{role}-")]
        assert (listener.inputs["port"], listener.inputs["protocol"], listener.inputs["certificateArn"]) == (443, "HTTPS", arn)
        assert listener.inputs["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")


def test_health_checks_and_budget_follow_a_threshold_and_interval_other_than_the_shipped_ones():
    """Both shipped stacks check every 10 s and give up after 3 failures: a check that ignored the
    settings would pass every test that renders them. Route 53 declares a tier unhealthy after
    FailureThreshold consecutive failed checks, RequestInterval apart (Route 53 API reference,
    HealthCheckConfig), so the budget is interval x threshold per hop + the alias TTL."""
    run = render_recommender(dns={"failure_threshold": 5, "health_check_interval": 30},
                             fallback={"version": 1, "manifest_sha256": "1" * 64})
    checks = [c.inputs for c in run.of_type("aws:route53/healthCheck:HealthCheck") if c.inputs["type"].endswith("_STR_MATCH")]
    assert len(checks) == 3  # primary, standby, fallback
    assert {(c["requestInterval"], c["failureThreshold"]) for c in checks} == {(30, 5)}
    assert (run.outputs["dns"]["healthCheckIntervalSeconds"], run.outputs["dns"]["failureThreshold"]) == (30, 5)
    assert run.outputs["failoverBudgetSeconds"] == 30 * 5 + 60
    assert run.outputs["fallback"]["budgetSeconds"] == 2 * 30 * 5 + 60


def test_bottlerocket_gpu_nodes_need_no_device_plugin():
    run = render_recommender(gpu={"os_family": "bottlerocket"})
    assert run.one("aws:eks/nodeGroup:NodeGroup", "recs-primary-gpu").inputs["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    assert {r.inputs["chart"] for r in run.of_type("kubernetes:helm.sh/v3:Release")} == {
        "cluster-autoscaler", "aws-load-balancer-controller", "keda"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"regions": {"standby": "us-east-1"}}, r"`regions.standby` must differ from `regions.primary`"),
        ({"regions": {"primary": "us-north-9"}}, r"`regions.primary` must be an AWS region with EKS, one of: .* Received: 'us-north-9'"),
        ({"standby_mode": "cold"}, r"`standby_mode` must be one of: warm, pilot-light. Received: 'cold'"),
        ({"failover_control": "manual"}, r"`failover_control` must be one of: health-check, arc, region-switch. Received: 'manual'"),
        ({"gpu": {"instance_types": ["m6i.large"]}}, r"`gpu.instance_types` must contain only NVIDIA GPU instance types"),
        ({"gpu": {"min_size": 3, "max_size": 2, "desired_size": 2}}, r"`gpu.min_size` must be <= `gpu.max_size`. Received: min_size=3, max_size=2"),
        ({"dns": {"ttl": 300}}, r"`dns.ttl` is not a setting: the failover records are aliases of the load balancers"),
        ({"model": {"history_length": 300}}, r"`model.history_length` gives a one-row Predict request of 8431 bytes"),
        ({"serving": {"batching": {"max_batch_size": 128}}}, r"`serving.batching.max_batch_size` must be <= `model.max_batch` \(64\)"),
        ({"dns": {"zone_id": None}}, r"exactly one of `dns.zone_id`"),
        ({"model": {"version": 0}}, r"`model.version` must be a positive integer"),
        ({"cluster": {"vpc_cidrs": {"primary": "10.0.0.0/8", "standby": "10.1.0.0/16"}}}, r"`cluster.vpc_cidrs.primary` must be an IPv4 CIDR from /16 to /20"),
        ({"cluster": {"vpc_cidrs": {"primary": "10.0.0.0/16", "standby": "10.0.0.0/18"}}}, r"`cluster.vpc_cidrs` must not overlap between primary and standby"),
        ({"cluster": {"availability_zones": 4}}, r"`cluster.availability_zones` must be one of: 2, 3. Received: 4"),
        ({"model": {"name": "recommender-"}}, r"starting and ending with a letter or digit"),
        ({"serving": {"tls_certificate_arns": {"primary": "arn:aws:acm:us-east-1:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666"}}},
         r"`serving.tls_certificate_arns` must map both primary and standby"),
        ({"serving": {"tls_certificate_arns": {
            "primary": "arn:aws:acm:us-east-1:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666",
            "standby": "arn:aws:acm:us-east-1:123456789012:certificate/1d3e1c55-1111-4222-8333-944445555666"}}},
         r"`serving.tls_certificate_arns.standby` must be a certificate in us-west-2 \(ACM certificates are regional\)"),
        ({"serving": {"memory": "64Gi"}}, r"`serving.memory` must be <= \d+Mi, what a g5.xlarge node can give a pod"),
    ],
)
def test_invalid_component_args_fail_before_any_resource(monkeypatch, overrides, message):
    error, registered = registrations_before_failure(
        monkeypatch, lambda: render_recommender(**overrides), pulumi.InputPropertiesError
    )
    assert re.search(message, str(error))
    assert registered == []


def test_network_asks_only_for_zones_eks_supports(monkeypatch):
    from recsys_dr.review import mock_runtime

    calls = []
    answer = mock_runtime.CloudMocks.call

    def recording_call(self, args):
        calls.append((args.token, dict(args.args)))
        return answer(self, args)

    monkeypatch.setattr(mock_runtime.CloudMocks, "call", recording_call)
    render_recommender()
    lookups = [a for token, a in calls if token == "aws:index/getAvailabilityZones:getAvailabilityZones"]
    assert sorted(a["region"] for a in lookups) == ["us-east-1", "us-west-2"]
    assert all(a["excludeZoneIds"] == list(EKS_UNSUPPORTED_ZONE_IDS) and a["state"] == "available" for a in lookups)


def test_usable_zones_takes_the_first_n_or_fails_clearly():
    assert usable_zones(["us-west-1a", "us-west-1c", "us-west-1d"], 2, "us-west-1") == ["us-west-1a", "us-west-1c"]
    with pytest.raises(ValueError, match=r"us-west-1 has 2 availability zones usable by EKS .*`availability_zone_count` is 3"):
        usable_zones(["us-west-1a", "us-west-1c"], 3, "us-west-1")


def test_arc_refuses_a_non_positive_safety_wait(monkeypatch):
    from recsys_dr.components import ArcControl, ArcControlArgs

    error, registered = registrations_before_failure(
        monkeypatch, lambda: render(lambda: ArcControl("arc", ArcControlArgs(safety_wait_ms=0))), pulumi.InputPropertiesError
    )
    assert "`safety_wait_ms` must be a positive integer of milliseconds. Received: 0" in str(error)
    assert registered == []
