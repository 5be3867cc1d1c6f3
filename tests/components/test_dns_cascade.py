"""The DNS cascade primary GPU -> standby GPU -> fallback, judged by Route 53's own rules.

The records the components register are read back as Route 53 would store them and answered by the
sandbox's evaluator (`sandbox.route53.resolve`), which encodes the Route 53 Developer Guide's rules
("How Amazon Route 53 chooses records when health checking is configured", "How health checks work in
complex Amazon Route 53 configurations"). The evaluator's own rules are tested here too, so a wrong
evaluator cannot make a wrong cascade pass.
"""

from __future__ import annotations

import itertools

import pytest

from recsys_dr.components.dns.failover_records import CASCADE_LABEL, record_layout
from recsys_dr.review.mock_runtime import ProgramRun
from recsys_dr.sandbox.route53 import record_healthy, resolve
from tests.components.test_variants import render_recommender

TIERS = ("primary", "standby", "fallback")
FALLBACK = {"version": 2, "manifest_sha256": "1" * 64, "min_size": 1, "max_size": 2, "min_replicas": 1, "max_replicas": 1}
RECORD = "recs.shop.example.com"


@pytest.fixture(scope="module")
def cascade() -> ProgramRun:
    return render_recommender(fallback=FALLBACK)


@pytest.fixture(scope="module")
def private_cascade() -> ProgramRun:
    return render_recommender(fallback=FALLBACK, serving={"exposure": "internal", "allowed_cidrs": []})


def record_sets(run: ProgramRun) -> list[dict]:
    """The failover records as `ListResourceRecordSets` returns them."""
    sets = []
    for record in run.of_type("aws:route53/record:Record"):
        inputs = record.inputs
        (alias,) = inputs["aliases"]
        entry = {"Name": inputs["name"] + ".", "Type": inputs["type"], "SetIdentifier": inputs["setIdentifier"],
                 "Failover": inputs["failoverRoutingPolicies"][0]["type"],
                 "AliasTarget": {"HostedZoneId": alias["zoneId"], "DNSName": alias["name"],
                                 "EvaluateTargetHealth": alias["evaluateTargetHealth"]}}
        if inputs.get("healthCheckId"):
            entry["HealthCheckId"] = inputs["healthCheckId"]
        sets.append(entry)
    return sets


def tier_of_check(run: ProgramRun) -> dict[str, str]:
    """Health check id -> tier, from the checks that steer the records (HTTP or CloudWatch-alarm checks)."""
    steering = [c for c in run.of_type("aws:route53/healthCheck:HealthCheck")
                if c.name.startswith(("recs-dns-", "recs-private-health-"))]
    return {check.id: check.name.rsplit("-", 1)[-1] for check in steering}


def balancers(run: ProgramRun) -> dict[str, str]:
    """The balancer DNS name of each tier."""
    outputs = {"primary": "recs-primary-serving", "standby": "recs-standby-serving", "fallback": "recs-fallback-serving"}
    by_parent = {}
    for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer"):
        for tier, prefix in outputs.items():
            if lb.name.startswith(prefix):
                by_parent[lb.outputs["dnsName"].lower()] = tier
    return by_parent


def answer(run: ProgramRun, up: dict[str, bool], targets_up: dict[str, bool] | None = None) -> str:
    checks, names = tier_of_check(run), balancers(run)
    values = resolve(record_sets(run), RECORD, "A", healthy=lambda check_id: up[checks[check_id]],
                     target_healthy=lambda name: (targets_up or up)[names[name]])
    (value,) = values
    return names[value]


def expected(up: dict[str, bool]) -> str:
    """First healthy tier in cascade order; when none is, Route 53 answers the PRIMARY."""
    return next((tier for tier in TIERS if up[tier]), "primary")


@pytest.mark.parametrize("states", list(itertools.product([True, False], repeat=3)), ids=lambda s: "".join("+-"[not x] for x in s))
@pytest.mark.parametrize("variant", ["cascade", "private_cascade"])
def test_fallback_answers_only_when_both_gpu_tiers_are_unhealthy(states, variant, request):
    run = request.getfixturevalue(variant)
    up = dict(zip(TIERS, states))
    assert answer(run, up) == expected(up)


@pytest.mark.parametrize("variant", ["cascade", "private_cascade"])
def test_a_target_group_without_healthy_targets_does_not_move_its_tier_while_the_check_passes(variant, request):
    # With EvaluateTargetHealth an ALB with one target group whose targets are all unhealthy counts
    # as down (Route 53 API reference, AliasTarget): a release's failing canary group would fail the
    # region over. The balancers' aliases follow their checks alone, which probe the status path
    # through the same listener.
    run = request.getfixturevalue(variant)
    checks_pass = {tier: True for tier in TIERS}
    assert answer(run, checks_pass, targets_up={"primary": False, "standby": False, "fallback": True}) == "primary"
    for record in run.of_type("aws:route53/record:Record"):
        (alias,) = record.inputs["aliases"]
        in_zone = alias["zoneId"] == record.inputs["zoneId"]
        assert alias["evaluateTargetHealth"] is in_zone  # only the nested pair's alias evaluates its records
        assert in_zone or record.inputs["healthCheckId"]


def test_client_facing_secondary_aliases_the_nested_pair_without_a_check_of_its_own(cascade):
    sets = {(s["Name"], s["Failover"]): s for s in record_sets(cascade)}
    nested = f"{CASCADE_LABEL}.{RECORD}."
    secondary = sets[(RECORD + ".", "SECONDARY")]
    assert secondary["AliasTarget"]["DNSName"] == nested.rstrip(".") and secondary["AliasTarget"]["EvaluateTargetHealth"] is True
    # Same hosted zone: an alias of another record must name its own zone.
    assert secondary["AliasTarget"]["HostedZoneId"] == "Z0TEST"
    assert "HealthCheckId" not in secondary
    assert {(k[1], s["SetIdentifier"]) for k, s in sets.items() if k[0] == nested} == {("PRIMARY", "standby"), ("SECONDARY", "fallback")}
    assert all("HealthCheckId" in s for k, s in sets.items() if k[0] == nested)


def test_nested_records_exist_before_the_alias_that_names_them(cascade):
    records = {r.name: r for r in cascade.of_type("aws:route53/record:Record")}
    assert {records["recs-dns-cascade-standby"].urn, records["recs-dns-cascade-fallback"].urn} <= set(records["recs-dns-standby"].dependencies)


def test_without_a_fallback_the_records_are_one_pair():
    layout = record_layout(RECORD, fallback=False)
    assert [(r.name, r.failover, r.target) for r in layout] == [(RECORD, "PRIMARY", "primary"), (RECORD, "SECONDARY", "standby")]


def test_fallback_exports_its_cascade_and_two_hop_budget(cascade):
    fallback = cascade.outputs["fallback"]
    assert fallback["cascadeRecordName"] == f"{CASCADE_LABEL}.{RECORD}"
    # dns defaults: 10 s x 3 per hop, alias TTL 60 s.
    assert cascade.outputs["failoverBudgetSeconds"] == 90 and fallback["budgetSeconds"] == 120
    assert fallback["budget"] == "2 hops x (10 s x 3 failed checks) + TTL 60 s = 120 s"


def test_private_cascade_doubles_the_alarm_detection(private_cascade):
    # Two one-minute alarm periods per hop (PrivateEndpointHealth), then the TTL.
    assert private_cascade.outputs["failoverBudgetSeconds"] == 180
    assert private_cascade.outputs["fallback"]["budgetSeconds"] == 300


# ------------------------------------------------------------------ the evaluator's own rules


def rrset(name, failover=None, check=None, alias=None, ett=True, value=None):
    entry = {"Name": name, "Type": "A"}
    if failover:
        entry.update(Failover=failover, SetIdentifier=failover.lower())
    if check:
        entry["HealthCheckId"] = check
    if alias:
        entry["AliasTarget"] = {"HostedZoneId": "Z1", "DNSName": alias, "EvaluateTargetHealth": ett}
    if value:
        entry["ResourceRecords"] = [{"Value": value}]
    return entry


def test_evaluator_answers_primary_when_no_record_is_healthy():
    sets = [rrset("a.", "PRIMARY", "p", value="1.1.1.1"), rrset("a.", "SECONDARY", "s", value="2.2.2.2")]
    assert resolve(sets, "a", "A", healthy=lambda _id: False) == ["1.1.1.1"]
    assert resolve(sets, "a", "A", healthy=lambda i: i == "s") == ["2.2.2.2"]


def test_evaluator_alias_is_healthy_while_one_record_of_its_target_group_is():
    sets = [rrset("n.", "PRIMARY", "x", value="1.1.1.1"), rrset("n.", "SECONDARY", "y", value="2.2.2.2")]
    alias = rrset("a.", "SECONDARY", alias="n")
    assert record_healthy(alias, sets, healthy=lambda i: i == "y")
    assert not record_healthy(alias, sets, healthy=lambda _id: False)
    # Without Evaluate Target Health the alias is healthy whatever its target says.
    assert record_healthy(rrset("a.", "SECONDARY", alias="n", ett=False), sets, healthy=lambda _id: False)


def test_evaluator_alias_with_a_failing_check_of_its_own_is_unhealthy():
    sets = [rrset("n.", "PRIMARY", "x", value="1.1.1.1")]
    assert not record_healthy(rrset("a.", "SECONDARY", check="own", alias="n"), sets, healthy=lambda i: i == "x")
