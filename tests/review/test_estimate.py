"""The DR estimate: cost per role from the shipped price table, RTO, RPO, standby capacity."""

from __future__ import annotations

import copy

import pytest

from recsys_dr.components.cluster.cold_start import CAPACITY_WAIT, IMAGE_PULL, MODEL_LOAD, NODE, cold_start_outputs
from recsys_dr.review import prices
from recsys_dr.review.estimate import estimate, usd

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def res(type_token, name, region, **inputs):
    return {"urn": f"urn:x::{type_token}::{name}", "type": type_token, "name": name, "region": region,
            "custom": True, "inputs": inputs}


def gpu(name, region, desired, instance="g5.xlarge"):
    return res(NODE_GROUP, name, region, amiType="AL2023_x86_64_NVIDIA", instanceTypes=[instance],
               scalingConfig={"minSize": 0, "desiredSize": desired, "maxSize": 4})


def document(*resources, outputs=None):
    return {"resources": list(resources), "outputs": outputs or {
        "regions": {"primary": {"region": "us-east-1"}, "standby": {"region": "us-west-2"}},
        "failoverBudgetSeconds": 60}}


REPLICATION = res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "r", "us-east-1", rules=[
    {"status": "Enabled", "destination": {"replicationTime": {"status": "Enabled", "time": {"minutes": 15}}}}])


def test_the_price_table_states_its_source_and_date():
    assert prices.PRICES_AS_OF and prices.PRICES_AS_OF in prices.SOURCE
    assert prices.HOURS_PER_MONTH == 730


def test_gpu_nodes_are_priced_at_their_desired_size_and_first_instance_type():
    e = estimate(document(gpu("p", "us-east-1", 2, "g5.2xlarge"), gpu("s", "us-west-2", 1)))
    cost = e["monthlyCostUsd"]
    assert cost["primary"] == round(2 * 1.212 * 730, 2)
    assert cost["standby"] == round(1.006 * 730, 2)
    assert cost["total"] == round(cost["primary"] + cost["standby"] + cost["global"], 2)


def test_warm_standby_has_no_activation_time():
    e = estimate(document(gpu("p", "us-east-1", 2), gpu("s", "us-west-2", 2), REPLICATION))
    assert e["standbyMode"] == "warm"
    assert e["rtoSeconds"] == {"dnsBudget": 60, "standbyActivation": 0, "total": 60}
    assert e["standbyCapacityPercent"] == 100
    assert e["rpoSeconds"] == 900  # S3 RTC: 15 minutes


def test_pilot_light_adds_each_stated_activation_step():
    # A plan without `coldStart` outputs: the table's phases of an unreserved pool without an image cache.
    e = estimate(document(gpu("p", "us-east-1", 2), gpu("s", "us-west-2", 0)))
    steps = CAPACITY_WAIT.seconds + NODE.seconds + IMAGE_PULL.seconds + MODEL_LOAD.seconds
    assert e["standbyMode"] == "pilot-light"
    assert e["rtoSeconds"]["standbyActivation"] == steps == 900 + 300 + 120 + 60
    assert e["rtoSeconds"]["total"] == 60 + steps
    assert e["rtoSeconds"]["capacity"] == "not guaranteed"
    assert e["standbyCapacityPercent"] == 0
    assert e["monthlyCostUsd"]["standby"] == 0


def pilot_light_outputs(*, reservation=None, image_cache=False) -> dict:
    standby = {"region": "us-west-2", "capacityReservation": reservation,
               "coldStart": cold_start_outputs(reserved=reservation is not None, image_cache=image_cache)}
    return {"regions": {"primary": {"region": "us-east-1"}, "standby": standby}, "failoverBudgetSeconds": 60}


ODCR = {"type": "on-demand", "reservationId": "cr-0123456789abcdef0", "availabilityZone": "us-west-2a",
        "instanceType": "g5.xlarge", "instanceCount": 2}


def test_a_reservation_removes_the_wait_for_instances_and_is_billed_unused():
    unreserved = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "us-west-2", 0), outputs=pilot_light_outputs()))
    reserved = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "us-west-2", 0), outputs=pilot_light_outputs(reservation=ODCR)))
    assert unreserved["rtoSeconds"]["total"] - reserved["rtoSeconds"]["total"] == CAPACITY_WAIT.seconds
    assert reserved["rtoSeconds"]["activationSteps"]["capacityWait"] == 0 and reserved["rtoSeconds"]["capacity"] == "reserved"
    # Two reserved g5.xlarge, none running in them: both billed at the On-Demand rate.
    (item,) = [i for i in reserved["monthlyCostUsd"]["items"] if i["item"].startswith("capacity reservation")]
    assert item == {"role": "standby", "region": "us-west-2", "item": "capacity reservation, unused (2 x g5.xlarge)",
                    "quantity": 2, "unit": "hour", "unitUsd": 1.006, "monthlyUsd": round(2 * 1.006 * 730, 2)}
    assert reserved["monthlyCostUsd"]["total"] - unreserved["monthlyCostUsd"]["total"] == pytest.approx(2 * 1.006 * 730, abs=0.01)


def test_instances_running_in_a_reservation_are_not_billed_twice():
    outputs = pilot_light_outputs(reservation=ODCR)
    e = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "us-west-2", 1), outputs=outputs))
    (item,) = [i for i in e["monthlyCostUsd"]["items"] if i["item"].startswith("capacity reservation")]
    assert item["quantity"] == 1  # one of the two runs a GPU node, priced as such
    full = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "us-west-2", 2), outputs=outputs))
    assert not [i for i in full["monthlyCostUsd"]["items"] if i["item"].startswith("capacity reservation")]


def test_a_capacity_block_is_named_not_priced():
    block = {**ODCR, "type": "capacity-block"}
    e = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "us-west-2", 0), outputs=pilot_light_outputs(reservation=block)))
    assert any(u.startswith("Capacity Block cr-0123456789abcdef0 in us-west-2: its price is set when it is bought")
               for u in e["monthlyCostUsd"]["unpriced"])
    assert e["rtoSeconds"]["capacity"] == "reserved"


def test_an_image_cache_removes_the_image_pull_phase():
    cached = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "us-west-2", 0),
                               outputs=pilot_light_outputs(reservation=ODCR, image_cache=True)))
    assert cached["rtoSeconds"]["activationSteps"] == {"capacityWait": 0, "gpuNodeProvisioning": NODE.seconds,
                                                       "imagePull": 0, "modelLoad": MODEL_LOAD.seconds}


def test_fallback_tier_items_are_marked_and_summed():
    fallback_nodes = res(NODE_GROUP, "fb", "us-west-2", amiType="AL2023_x86_64_STANDARD", instanceTypes=["c6i.large"],
                         scalingConfig={"minSize": 2, "desiredSize": 2, "maxSize": 3}, labels={"recsys-dr/pool": "fallback"})
    alb = res("aws:lb/loadBalancer:LoadBalancer", "fb-alb", "us-west-2", tags={"recsys-dr:role": "fallback"})
    outputs = {**pilot_light_outputs(), "fallback": {"budgetSeconds": 120}}
    e = estimate(document(gpu("p", "us-east-1", 1), fallback_nodes, alb, outputs=outputs))
    marked = {i["item"]: i["monthlyUsd"] for i in e["monthlyCostUsd"]["items"] if i.get("tier") == "fallback"}
    assert marked == {"fallback CPU nodes (2 x c6i.large)": round(2 * 0.085 * 730, 2),
                      "fallback application load balancer": round(0.0225 * 730, 2)}
    assert e["monthlyCostUsd"]["fallback"] == round(sum(marked.values()), 2)
    assert e["fallbackSeconds"] == 120


def test_half_standby_capacity_counts_gpus():
    e = estimate(document(gpu("p", "us-east-1", 1, "g5.12xlarge"), gpu("s", "us-west-2", 2, "g5.xlarge")))
    assert e["gpus"] == {"primary": 4, "standby": 2}
    assert e["standbyCapacityPercent"] == 50


def test_region_without_prices_is_named():
    e = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "eu-central-1", 1),
                          outputs={"regions": {"primary": {"region": "us-east-1"}, "standby": {"region": "eu-central-1"}}}))
    assert "no price for region eu-central-1 (node group s)" in e["monthlyCostUsd"]["unpriced"]
    assert e["monthlyCostUsd"]["standby"] == 0


def test_unknown_instance_type_is_named():
    e = estimate(document(gpu("p", "us-east-1", 1, "p5.48xlarge")))
    assert e["monthlyCostUsd"]["unpriced"] == ["no price for instance type p5.48xlarge in region us-east-1"]


def test_health_check_features_are_billed_each():
    check = res("aws:route53/healthCheck:HealthCheck", "hc", "global", type="HTTPS_STR_MATCH", requestInterval=10,
                measureLatency=True)
    e = estimate(document(check))
    assert e["monthlyCostUsd"]["global"] == 0.50 + 4 * 1.00


def test_replication_without_rtc_has_no_rpo_sla():
    plain = copy.deepcopy(REPLICATION)
    plain["inputs"]["rules"][0]["destination"] = {}
    e = estimate(document(plain))
    assert e["rpoSeconds"] is None and "no time SLA" in e["rpoBasis"]


def test_arc_cluster_is_global_and_hourly():
    e = estimate(document(res("aws:route53recoverycontrol/cluster:Cluster", "arc", "global")))
    assert e["monthlyCostUsd"]["global"] == 2.50 * 730


def test_dns_budget_is_computed_from_checks_and_records_when_not_exported():
    check = res("aws:route53/healthCheck:HealthCheck", "hc", "global", requestInterval=30, failureThreshold=3)
    record = res("aws:route53/record:Record", "rec", "global", ttl=60)
    assert estimate({"resources": [check, record], "outputs": {}})["rtoSeconds"]["dnsBudget"] == 150


@pytest.mark.parametrize(("amount", "signed", "text"), [(2340.5, False, "$2,340.50"), (2340.5, True, "+$2,340.50"),
                                                        (-12, True, "-$12.00")])
def test_usd(amount, signed, text):
    assert usd(amount, signed=signed) == text


def test_plan_carries_its_estimate(fixture_plan):
    e = fixture_plan.document["estimate"]
    assert e == estimate({k: v for k, v in fixture_plan.document.items() if k != "estimate"})
    assert e["regions"] == {"primary": "us-east-1", "standby": "us-west-2"}
    assert e["standbyMode"] == "warm" and e["standbyCapacityPercent"] == 100
    assert e["monthlyCostUsd"]["primary"] > 0 and e["monthlyCostUsd"]["unpriced"] == []


def test_shipped_prod_costs_more_and_recovers_faster_than_dev(shipped_plan):
    e = shipped_plan.document["estimate"]
    env = shipped_plan.document["environment"]
    outputs = shipped_plan.document["outputs"]
    assert e["standbyMode"] == outputs["standbyMode"]
    assert e["rtoSeconds"]["dnsBudget"] == outputs["failoverBudgetSeconds"]
    assert e["rpoSeconds"] == 900
    if env == "prod":
        assert e["standbyCapacityPercent"] == 100 and e["rtoSeconds"]["total"] == e["rtoSeconds"]["dnsBudget"]
    else:
        assert e["standbyCapacityPercent"] == 0 and e["rtoSeconds"]["total"] > e["rtoSeconds"]["dnsBudget"]
    assert all(item["monthlyUsd"] > 0 for item in e["monthlyCostUsd"]["items"])


def test_region_switch_plan_is_priced_per_month():
    e = estimate(document(res("aws:arcregionswitch/plan:Plan", "rs", "global")))
    assert e["monthlyCostUsd"]["global"] == prices.GLOBAL["regionSwitchPlanMonth"]


@pytest.mark.parametrize(("control", "item"), [("arc", "ARC routing-control cluster"),
                                               ("region-switch", "ARC Region switch plan")])
def test_shipped_prod_failover_control_is_priced_where_enabled(tmp_path, control, item):
    from .shipped import mutated

    def change(document):
        document["config"]["recsys-dr:failoverControl"] = control
        document["config"].pop("recsys-dr:fallback")  # the cascade needs failoverControl health-check

    plan = mutated("prod", tmp_path, change)
    items = [i["item"] for i in plan.document["estimate"]["monthlyCostUsd"]["items"] if i["role"] == "global"]
    assert item in items
    other = {"arc": "ARC Region switch plan", "region-switch": "ARC routing-control cluster"}[control]
    assert other not in items


def test_a_hosted_zone_the_program_creates_is_priced():
    e = estimate(document(res("aws:route53/zone:Zone", "zone", "global")))
    assert [(i["item"], i["monthlyUsd"]) for i in e["monthlyCostUsd"]["items"]] == [("Route 53 hosted zone", 0.5)]


def test_an_unpriced_region_is_named_once_with_what_it_leaves_out():
    cluster = res("aws:eks/cluster:Cluster", "c", "ap-south-1")
    nat = res("aws:ec2/natGateway:NatGateway", "n", "ap-south-1")
    e = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "ap-south-1", 1), cluster, nat,
                          outputs={"regions": {"primary": {"region": "us-east-1"}, "standby": {"region": "ap-south-1"}}}))
    assert e["monthlyCostUsd"]["unpriced"] == ["no price for region ap-south-1 (EKS control plane, NAT gateway, node group s)"]


@pytest.mark.parametrize(("version", "hourly"), [("1.35", 0.10), ("1.33", 0.60)])
def test_a_control_plane_past_standard_support_costs_the_extended_rate(version, hourly):
    # EKS pricing: $0.10/h in standard support, $0.60/h in extended support (1.33 left standard support 2026-07-29).
    e = estimate(document(res("aws:eks/cluster:Cluster", "c", "us-east-1", version=version)))
    (item,) = e["monthlyCostUsd"]["items"]
    assert item["unitUsd"] == hourly and ("extended support" in item["item"]) == (version == "1.33")


def test_the_front_door_is_priced_balancer_acl_rules_and_requests_on_the_primary():
    """ALB per hour plus LCU-hours, a web ACL and its rules per month, inspected requests per million
    (Elastic Load Balancing and AWS WAF pricing); the standby's balancer carries no traffic."""
    rules = '[{"Name": "a"}, {"Name": "b"}, {"Name": "c"}, {"Name": "d"}]'
    resources = [res("aws:lb/loadBalancer:LoadBalancer", f"alb-{r}", r, loadBalancerType="application") for r in ("us-east-1", "us-west-2")]
    resources += [res("aws:wafv2/webAcl:WebAcl", f"acl-{r}", r, scope="REGIONAL", ruleJson=rules) for r in ("us-east-1", "us-west-2")]
    items = {(i["role"], i["item"]): i["monthlyUsd"] for i in estimate(document(*resources))["monthlyCostUsd"]["items"]}
    card, assumed = prices.REGIONS["us-east-1"], prices.ASSUMPTIONS
    assert items[("primary", "application load balancer")] == round(card["albHour"] * 730, 2)
    assert items[("primary", "load balancer capacity units (1 LCU assumed)")] == round(assumed["primaryLcu"] * card["albLcuHour"] * 730, 2)
    assert items[("primary", "WAF rules")] == items[("standby", "WAF rules")] == 4 * card["wafRuleMonth"]
    assert items[("primary", "WAF requests (100 M/month assumed)")] == round(100 * card["wafMillionRequests"], 2)
    assert ("standby", "WAF requests (100 M/month assumed)") not in items
    assert ("standby", "load balancer capacity units (1 LCU assumed)") not in items


def test_keda_costs_its_pods_and_the_cloudwatch_reads_of_its_triggers():
    spec = {"pollingInterval": 30, "triggers": [{"type": "aws-cloudwatch"}, {"type": "aws-cloudwatch"}]}
    scaled = res("kubernetes:keda.sh/v1alpha1:ScaledObject", "so", "us-east-1", spec=spec)
    (item,) = estimate(document(scaled))["monthlyCostUsd"]["items"]
    # Two triggers read once per 30 s polling interval (cached for the HPA's syncs): 175,200 metrics a month.
    assert item["quantity"] == 2 * 730 * 3600 / 30 / 1000
    assert item["monthlyUsd"] == round(175.2 * prices.REGIONS["us-east-1"]["cloudwatchThousandMetrics"], 2)
