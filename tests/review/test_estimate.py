"""The DR estimate: cost per role from the shipped price table, RTO, RPO, standby capacity."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from recsys_dr.components.cluster.cold_start import CAPACITY_WAIT, IMAGE_PULL, MODEL_LOAD, NODE, cold_start_outputs
from recsys_dr.components.settings.aws_limits import KNOWN_REGIONS
from recsys_dr.review import prices
from recsys_dr.review.estimate import estimate, unpriced_count, usd

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


def test_the_price_table_is_dated_and_cites_a_page_for_every_rate():
    assert date.fromisoformat(prices.PRICES_AS_OF) and prices.PRICES_AS_OF in prices.SOURCE
    keys = set(prices.ALL_REGIONS) | set(prices.GLOBAL) - {"healthCheckFeatureMonth"}
    keys |= {key for card in prices.REGIONS.values() for key in card}
    assert keys - set(prices.SOURCES) == set()


def test_an_hourly_item_is_billed_for_aws_730_hour_month():
    # AWS price pages and the Pricing Calculator bill a month as 730 hours.
    e = estimate(document(res("aws:eks/cluster:Cluster", "c", "us-east-1")))
    assert e["monthlyCostUsd"]["primary"] == 73.0


def test_gpu_nodes_are_priced_at_their_desired_size_and_first_instance_type():
    e = estimate(document(gpu("p", "us-east-1", 2, "g5.2xlarge"), gpu("s", "us-west-2", 1)))
    cost = e["monthlyCostUsd"]
    assert cost["primary"] == round(2 * 1.212 * 730, 2)
    assert cost["standby"] == round(1.006 * 730, 2)
    assert cost["total"] == round(cost["primary"] + cost["standby"] + cost["global"], 2)


def test_no_standby_has_an_unknown_activation_time_not_zero():
    # Nothing to activate is not "activates in 0 s": there is no region to fail over to.
    e = estimate(document(gpu("p", "us-east-1", 2), REPLICATION))
    assert e["standbyMode"] == "none"
    assert e["rtoSeconds"] == {"dnsBudget": 60, "standbyActivation": None, "total": None}


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
    assert "Capacity Block cr-0123456789abcdef0 (standby, us-west-2): its price is set when it is bought (prepaid for " \
           "its window)" in e["monthlyCostUsd"]["unpriced"]
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


def test_a_region_without_a_rate_card_lists_what_it_cannot_price():
    e = estimate(document(gpu("p", "us-east-1", 1), gpu("s", "eu-central-1", 1),
                          outputs={"regions": {"primary": {"region": "us-east-1"}, "standby": {"region": "eu-central-1"}}}))
    cost = e["monthlyCostUsd"]
    assert cost["unpriced"] == ["GPU nodes (1 x g5.xlarge) (standby, eu-central-1): no price for instance type g5.xlarge "
                                "in region eu-central-1"]
    assert cost["unpricedItems"] == [{"role": "standby", "region": "eu-central-1", "item": "GPU nodes (1 x g5.xlarge)",
                                      "reason": "no price for instance type g5.xlarge in region eu-central-1"}]
    assert unpriced_count(cost, "standby") == 1 and unpriced_count(cost, "primary") == 0


def test_unknown_instance_type_is_named():
    e = estimate(document(gpu("p", "us-east-1", 1, "p5.48xlarge")))
    assert e["monthlyCostUsd"]["unpriced"] == ["GPU nodes (1 x p5.48xlarge) (primary, us-east-1): no price for instance "
                                               "type p5.48xlarge in region us-east-1"]


def test_a_hosted_zone_the_program_creates_is_priced():
    e = estimate(document(res("aws:route53/zone:Zone", "zone", "global")))
    assert [(i["item"], i["monthlyUsd"]) for i in e["monthlyCostUsd"]["items"]] == [("Route 53 hosted zone", 0.5)]


def test_rates_published_for_all_regions_price_a_region_without_a_card():
    # EKS ($0.10/h per cluster), KMS ($1/month per key) and public IPv4 ($0.005/h) have one rate for
    # every commercial region; a NAT gateway's rate is the region's own.
    cluster = res("aws:eks/cluster:Cluster", "c", "ap-south-1")
    nat = res("aws:ec2/natGateway:NatGateway", "n", "ap-south-1")
    e = estimate(document(cluster, nat, outputs={"regions": {"primary": {"region": "us-east-1"},
                                                             "standby": {"region": "ap-south-1"}}}))
    assert [(i["item"], i["monthlyUsd"]) for i in e["monthlyCostUsd"]["items"]] == [("EKS control plane", 73.0)]
    assert e["monthlyCostUsd"]["unpriced"] == ["NAT gateway (standby, ap-south-1): no ap-south-1 price in the table"]


def _every_covered_resource(region):
    """One of each resource the estimate prices, in `region` (the standby), as the program writes them."""
    return [
        res("aws:eks/cluster:Cluster", "c", region, version="1.35"),
        gpu("s", region, 1),
        res(NODE_GROUP, "sys", region, instanceTypes=["t3.large"], scalingConfig={"minSize": 1, "desiredSize": 1, "maxSize": 2}),
        res("aws:ec2/natGateway:NatGateway", "n", region),
        res("aws:ec2/eip:Eip", "ip", region),
        res("aws:kms/key:Key", "k", region),
        res("aws:cloudwatch/metricAlarm:MetricAlarm", "a", region),
        res("aws:lb/loadBalancer:LoadBalancer", "alb", region),
        res("aws:wafv2/webAcl:WebAcl", "acl", region, rules=[{"name": "rate"}]),
        res("kubernetes:core/v1:Service", "svc", region, spec={"type": "LoadBalancer"}),
        res("kubernetes:keda.sh/v1alpha1:ScaledObject", "so", region, spec={"triggers": [{"type": "aws-cloudwatch"}]}),
    ]


@pytest.mark.parametrize("region", sorted(KNOWN_REGIONS - {"us-east-1"}))
def test_every_accepted_region_prices_each_covered_resource_above_zero_or_lists_it_unpriced(region):
    # A $0.00 line for a resource that costs money would read as free; the table never says 0.
    resources = _every_covered_resource(region)
    e = estimate(document(*resources, outputs={"regions": {"primary": {"region": "us-east-1"},
                                                           "standby": {"region": region}}}))
    cost = e["monthlyCostUsd"]
    standby = [i for i in cost["items"] if i["region"] == region]
    assert all(i["monthlyUsd"] > 0 and i["unitUsd"] > 0 for i in standby), standby
    # Each covered resource shows up as a priced item or an unpriced one (the WAF ACL counts twice: ACL and rules).
    assert len(standby) + unpriced_count(cost, "standby") == len(resources) + 1
    assert cost["standby"] == round(sum(i["monthlyUsd"] for i in standby), 2)


@pytest.mark.parametrize("region", sorted(KNOWN_REGIONS))
def test_no_rate_in_the_table_is_zero_for_any_accepted_region(region):
    keys = set(prices.ALL_REGIONS) | {key for card in prices.REGIONS.values() for key in card if key != "instanceHour"}
    assert all(prices.rate(region, key) is None or prices.rate(region, key) > 0 for key in keys)
    assert all(prices.instance_rate(region, t) is None or prices.instance_rate(region, t) > 0 for t in prices.GPU_COUNT)


def test_a_region_the_settings_refuse_has_no_price():
    assert prices.rate("us-nowhere-1", "eksClusterHour") is None


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


def test_the_total_line_of_a_partly_priced_plan_says_it_is_a_lower_bound():
    from rich.console import Console

    from recsys_dr.review.diff import diff_plans
    from recsys_dr.review.diff_render import estimate_rows
    from recsys_dr.review.summary import estimate_table

    eu = {"regions": {"primary": {"region": "eu-west-3"}, "standby": {"region": "eu-central-1"}}}
    plan = {**document(gpu("p", "eu-west-3", 1), gpu("s", "eu-central-1", 1),
                       res("aws:eks/cluster:Cluster", "c", "eu-west-3"), outputs=eu), "environment": "eu"}
    plan["estimate"] = estimate(plan)
    console = Console(record=True, width=100, color_system=None)
    console.print(estimate_table(plan))
    (total,) = [line for line in console.export_text().splitlines() if " total" in line]
    assert "≥ $73.00 (2 items unpriced)" in total and "lower bound" in total
    rows = {what: head for what, _, head in estimate_rows(diff_plans(plan, plan))}
    assert rows["monthly cost, total"] == "≥ $73.00 (2 items unpriced)"
    assert rows["monthly cost, standby"] == "≥ $0.00 (1 item unpriced)"
