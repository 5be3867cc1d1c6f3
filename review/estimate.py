"""The DR estimate of a plan: monthly cost per role, recovery time and point, standby capacity.

`estimate(document)` reads only the plan's resources (types and inputs) and the stack outputs
the program exports, never the program's settings code, so it also works on a plan written by an
older commit. Prices come from `review.prices` (a dated table with its sources). An item the table
cannot price (a region without a rate card, an unknown instance type, a Capacity Block) is listed
in `monthlyCostUsd.unpriced` and `unpricedItems`, never priced at zero: the totals are then lower
bounds, and `cost_text` says so on the total's own line.

Roles: the regions named by the `regions` output (`primary`, `standby`); failing that, the
region of the bucket replication (primary) and the other region holding an EKS cluster
(standby). Resources that are not regional count as `global`.

What counts as running: a node group at its `scalingConfig.desiredSize` (what the plan sets;
the cluster autoscaler may move it later), priced at its first instance type (EKS launches
on-demand capacity with the `prioritized` strategy: the first type of `instanceTypes` first).

Reserved capacity (`regions.<role>.capacityReservation`): an On-Demand Capacity Reservation is billed at
the On-Demand rate whether an instance runs in it or not (EC2 user guide, "Capacity Reservation
pricing and billing"); the instances running in it are the node group's, so only the unused part is
added. A Capacity Block's price is set when it is bought: it is named, not priced.

The fallback tier's items (its node group, balancer, web ACL, health check) are marked `tier:
"fallback"` and summed in `monthlyCostUsd.fallback` (also counted in their role).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from recsys_dr.components.cluster.cold_start import cold_start_outputs
from recsys_dr.components.settings.aws_limits import EKS_EXTENDED_SUPPORT_VERSIONS
from recsys_dr.policy.rules.cluster import is_gpu_node_group as rules_gpu_node_group
from recsys_dr.review import prices

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
CLUSTER = "aws:eks/cluster:Cluster"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
SERVICE = "kubernetes:core/v1:Service"
KMS_KEY = "aws:kms/key:Key"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ARC_CLUSTER = "aws:route53recoverycontrol/cluster:Cluster"
REGION_SWITCH_PLAN = "aws:arcregionswitch/plan:Plan"
BUCKET = "aws:s3/bucket:Bucket"
ZONE = "aws:route53/zone:Zone"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
KEDA_DEFAULT_POLLING_SECONDS = 30  # ScaledObject pollingInterval default (kedacore/keda scaledobject_types.go)
ROLES = ("primary", "standby", "global")
FALLBACK = "fallback"
POOL_LABEL = "recsys-dr/pool"
ROLE_TAG = "recsys-dr:role"


def _inputs(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("inputs") or {}


def is_gpu_node_group(resource: dict[str, Any]) -> bool:
    """A GPU node group as the policy rules define one (`policy.rules.cluster.is_gpu_node_group`)."""
    return resource.get("type") == NODE_GROUP and rules_gpu_node_group(_inputs(resource))


def desired_size(resource: dict[str, Any]) -> int:
    size = (_inputs(resource).get("scalingConfig") or {}).get("desiredSize")
    return size if isinstance(size, int) else 0


def region_roles(document: dict[str, Any]) -> dict[str, str]:
    """`{region: role}` for the primary and the standby region."""
    regions = (document.get("outputs") or {}).get("regions")
    if isinstance(regions, dict):
        found = {info.get("region"): role for role, info in regions.items()
                 if role in ("primary", "standby") and isinstance(info, dict) and isinstance(info.get("region"), str)}
        if len(found) == 2:
            return found
    resources = document.get("resources") or []
    primary = next((r["region"] for r in resources if r.get("type") == REPLICATION), None)
    clusters = sorted({r["region"] for r in resources if r.get("type") == CLUSTER})
    roles = {primary: "primary"} if primary else {}
    for region in clusters:
        if region != primary and "standby" not in roles.values():
            roles[region] = "standby"
    return roles


def role_of(resource: dict[str, Any], roles: dict[str, str]) -> str:
    return roles.get(resource.get("region"), "global") if resource.get("region") != "global" else "global"


def gpu_count(resources: list[dict[str, Any]], region: str) -> int:
    """GPUs running in `region`: desired GPU nodes x GPUs of their first instance type."""
    total = 0
    for group in resources:
        if group.get("region") == region and is_gpu_node_group(group):
            types = _inputs(group).get("instanceTypes") or []
            total += desired_size(group) * (prices.instance_gpus(types[0]) or 1 if types else 1)
    return total


def tier_of(resource: dict[str, Any]) -> str | None:
    """"fallback" for the fallback tier's resources (its pool label, or its role tag), else None."""
    inputs = _inputs(resource)
    labels, tags = inputs.get("labels") or {}, inputs.get("tags") or {}
    if labels.get(POOL_LABEL) == FALLBACK or tags.get(ROLE_TAG) == FALLBACK or str(tags.get("Name", "")).endswith("-" + FALLBACK):
        return FALLBACK
    return None


def _health_check_features(inputs: dict[str, Any]) -> list[str]:
    # Route 53 bills each optional feature of a health check separately (Route 53 pricing page).
    kind = str(inputs.get("type") or "")
    features = []
    if kind.startswith("HTTPS"):
        features.append("HTTPS")
    if kind.endswith("STR_MATCH"):
        features.append("string matching")
    if inputs.get("requestInterval") == 10:
        features.append("fast interval")
    if inputs.get("measureLatency"):
        features.append("latency measurement")
    return features


def _is_load_balancer(service: dict[str, Any]) -> bool:
    return ((_inputs(service).get("spec") or {}).get("type")) == "LoadBalancer"


def _web_acl_rules(inputs: dict[str, Any]) -> int:
    """Rules of a web ACL, from `ruleJson` (the WAF API's rule list) or `rules`."""
    import json

    if isinstance(inputs.get("ruleJson"), str):
        try:
            return len(json.loads(inputs["ruleJson"]))
        except ValueError:
            return 0
    return len(inputs.get("rules") or [])


def _cloudwatch_metrics_per_month(scaled_object: dict[str, Any]) -> int:
    """Metrics KEDA's aws-cloudwatch triggers request per month: one per trigger and polling
    interval (cached for the HPA's syncs with `useCachedMetrics`)."""
    spec = _inputs(scaled_object).get("spec") or {}
    triggers = [t for t in spec.get("triggers") or [] if isinstance(t, dict) and t.get("type") == "aws-cloudwatch"]
    interval = spec.get("pollingInterval") if isinstance(spec.get("pollingInterval"), int) else KEDA_DEFAULT_POLLING_SECONDS
    return len(triggers) * (prices.HOURS_PER_MONTH * 3600 // max(interval, 1))


class _Ledger:
    """Priced items, and the items the table cannot price (which make every total a lower bound)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.unpriced: list[dict[str, str]] = []

    def add(self, role: str, region: str, item: str, quantity: float, unit: str, unit_usd: float, *,
            tier: str | None = None) -> None:
        monthly = quantity * unit_usd * (prices.HOURS_PER_MONTH if unit == "hour" else 1)
        self.items.append({"role": role, "region": region, "item": f"{tier} {item}" if tier else item, "quantity": quantity,
                           "unit": unit, "unitUsd": unit_usd, "monthlyUsd": round(monthly, 2),
                           **({"tier": tier} if tier else {})})

    def missing(self, role: str, region: str, item: str, reason: str) -> None:
        self.unpriced.append({"role": role, "region": region, "item": item, "reason": reason})

    def charge(self, role: str, region: str, item: str, quantity: float, unit: str, key: str, *,
               tier: str | None = None) -> None:
        """Add `item` at the table's `key` rate of `region`, or list it as unpriced there."""
        unit_usd = prices.rate(region, key)
        if unit_usd is None:
            self.missing(role, region, f"{tier} {item}" if tier else item, f"no {region} price in the table")
        else:
            self.add(role, region, item, quantity, unit, unit_usd, tier=tier)


def _price_cluster(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    # A version past standard support is billed at the extended-support rate (EKS pricing).
    version = _inputs(resource).get("version")
    extended = version in EKS_EXTENDED_SUPPORT_VERSIONS
    ledger.charge(role, region, "EKS control plane" + (f" (extended support, {version})" if extended else ""),
                  1, "hour", "eksClusterExtendedHour" if extended else "eksClusterHour")


def _price_node_group(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    types = _inputs(resource).get("instanceTypes") or []
    size = desired_size(resource)
    if not types or size == 0:
        return
    pool = "GPU" if is_gpu_node_group(resource) else ("CPU" if tier_of(resource) else "system")
    item = f"{pool} nodes ({size} x {types[0]})"
    price = prices.instance_rate(region, types[0])
    if price is None:
        ledger.missing(role, region, item, f"no price for instance type {types[0]} in region {region}")
        return
    ledger.add(role, region, item, size, "hour", price, tier=tier_of(resource))


def _price_service(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    if _is_load_balancer(resource):
        ledger.charge(role, region, "network load balancer", 1, "hour", "nlbHour")


def _price_load_balancer(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    ledger.charge(role, region, "application load balancer", 1, "hour", "albHour", tier=tier_of(resource))
    if role == "primary":
        lcu = prices.ASSUMPTIONS["primaryLcu"]
        ledger.charge(role, region, f"load balancer capacity units ({lcu} LCU assumed)", lcu, "hour", "albLcuHour")


def _price_web_acl(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    tier = tier_of(resource)
    ledger.charge(role, region, "WAF web ACL", 1, "month", "wafWebAclMonth", tier=tier)
    ledger.charge(role, region, "WAF rules", _web_acl_rules(_inputs(resource)), "month", "wafRuleMonth", tier=tier)
    if role == "primary":
        millions = prices.ASSUMPTIONS["servedRequestsPerMonth"] / 1e6
        ledger.charge(role, region, f"WAF requests ({millions:g} M/month assumed)", millions, "million", "wafMillionRequests")


def _price_scaled_object(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    metrics = _cloudwatch_metrics_per_month(resource)
    if metrics:
        ledger.charge(role, region, "KEDA CloudWatch reads (GetMetricData)", metrics / 1000, "thousand",
                      "cloudwatchThousandMetrics")


def _price_health_check(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    features = _health_check_features(_inputs(resource))
    extra = f" + {', '.join(features)}" if features else ""
    ledger.add("global", "global", f"Route 53 health check{extra}", 1, "month",
               prices.GLOBAL["healthCheckMonth"] + prices.GLOBAL["healthCheckFeatureMonth"] * len(features),
               tier=tier_of(resource))


def _price_replication(ledger: _Ledger, resource: dict[str, Any], role: str, region: str) -> None:
    rule_times = [((rule.get("destination") or {}).get("replicationTime") or {}).get("status") == "Enabled"
                  for rule in _inputs(resource).get("rules") or [] if rule.get("status") == "Enabled"]
    if not rule_times:
        return
    gb = prices.ASSUMPTIONS["replicatedGbPerMonth"]
    label = f"{'S3 replication with RTC' if any(rule_times) else 'S3 replication'} ({gb} GB/month assumed)"
    transfer, rtc = prices.rate(region, "s3InterRegionPerGb"), prices.rate(region, "s3RtcPerGb")
    if transfer is None or (any(rule_times) and rtc is None):
        ledger.missing(role, region, label, f"no {region} price in the table")
        return
    ledger.add(role, region, label, gb, "GB", transfer + (rtc if any(rule_times) else 0))


_PRICE_RESOURCE = {
    CLUSTER: _price_cluster, NODE_GROUP: _price_node_group, SERVICE: _price_service,
    LOAD_BALANCER: _price_load_balancer, WEB_ACL: _price_web_acl, SCALED_OBJECT: _price_scaled_object,
    HEALTH_CHECK: _price_health_check, REPLICATION: _price_replication,
}
# Resources priced by how many a region holds: (type, label, rate key, unit).
_PRICE_COUNTED = (
    (NAT, "NAT gateway", "natGatewayHour", "hour"),
    (EIP, "public IPv4 address", "publicIpv4Hour", "hour"),
    (KMS_KEY, "KMS key", "kmsKeyMonth", "month"),
    (ALARM, "CloudWatch alarm", "alarmMonth", "month"),
)
_PRICE_GLOBAL_COUNTED = (
    (ZONE, "Route 53 hosted zone", "hostedZoneMonth", "month"),
    (ARC_CLUSTER, "ARC routing-control cluster", "arcClusterHour", "hour"),
    (REGION_SWITCH_PLAN, "ARC Region switch plan", "regionSwitchPlanMonth", "month"),
)


def _price_counted(ledger: _Ledger, resources: list[dict[str, Any]], roles: dict[str, str]) -> None:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for resource in resources:
        if resource.get("custom", True):
            counts[(resource.get("region", "global"), resource["type"])] += 1
    for (region, kind), count in sorted(counts.items()):
        for type_token, label, key, unit in _PRICE_COUNTED:
            if kind == type_token:
                ledger.charge(roles.get(region, "global"), region, label, count, unit, key)
        for type_token, label, key, unit in _PRICE_GLOBAL_COUNTED:
            if kind == type_token:
                ledger.add("global", "global", label, count, unit, prices.GLOBAL[key])


def _monthly_cost(document: dict[str, Any], roles: dict[str, str]) -> dict[str, Any]:
    """Monthly cost per role; `total` is a lower bound whenever `unpriced` is not empty."""
    ledger = _Ledger()
    resources = document.get("resources") or []
    for resource in resources:
        price = _PRICE_RESOURCE.get(resource["type"])
        if price is not None:
            price(ledger, resource, role_of(resource, roles), resource.get("region", "global"))
    _price_counted(ledger, resources, roles)
    _reservations(document, roles, resources, ledger)
    totals = {role: round(sum(i["monthlyUsd"] for i in ledger.items if i["role"] == role), 2) for role in ROLES}
    items = sorted(ledger.items, key=lambda i: (ROLES.index(i["role"]), i["region"], -i["monthlyUsd"], i["item"]))
    fallback = round(sum(i["monthlyUsd"] for i in ledger.items if i.get("tier") == FALLBACK), 2)
    cost = {**totals, "total": round(sum(totals.values()), 2), "fallback": fallback, "items": items,
            "unpriced": sorted({f"{u['item']} ({u['role']}, {u['region']}): {u['reason']}" for u in ledger.unpriced})}
    if ledger.unpriced:  # written only then, so a fully priced plan reads as before
        cost["unpricedItems"] = sorted(ledger.unpriced, key=lambda u: (ROLES.index(u["role"]), u["region"], u["item"]))
    return cost


def unpriced_count(cost: dict[str, Any], role: str | None = None) -> int:
    """Items of `cost` (a `monthlyCostUsd`) the table could not price, of `role` or of all roles."""
    detailed = cost.get("unpricedItems")
    if detailed is None:  # a plan written before `unpricedItems`: only the sentences
        return len(cost.get("unpriced") or []) if role is None else 0
    return sum(1 for u in detailed if role is None or u["role"] == role)


def _reservations(document: dict[str, Any], roles: dict[str, str], resources: list[dict[str, Any]],
                  ledger: _Ledger) -> None:
    """The unused part of each On-Demand Capacity Reservation; a Capacity Block is named as unpriced."""
    regions = (document.get("outputs") or {}).get("regions") or {}
    for role, info in sorted(regions.items()):
        reservation = info.get("capacityReservation") if isinstance(info, dict) else None
        if not isinstance(reservation, dict):
            continue
        region, instance, count = info.get("region"), reservation.get("instanceType"), reservation.get("instanceCount")
        if reservation.get("type") == "capacity-block":
            ledger.missing(roles.get(region, role), region, f"Capacity Block {reservation.get('reservationId')}",
                           "its price is set when it is bought (prepaid for its window)")
            continue
        running = sum(desired_size(g) for g in resources if g.get("region") == region and is_gpu_node_group(g))
        unused = max(0, (count if isinstance(count, int) else 0) - running)
        if not unused:
            continue
        item = f"capacity reservation, unused ({unused} x {instance})"
        price = prices.instance_rate(region, instance)
        if price is None:
            ledger.missing(roles.get(region, role), region, item, f"no price for instance type {instance} in region {region}")
        else:
            ledger.add(roles.get(region, role), region, item, unused, "hour", price)


def _dns_budget(document: dict[str, Any]) -> int | None:
    exported = (document.get("outputs") or {}).get("failoverBudgetSeconds")
    if isinstance(exported, int):
        return exported
    # Not exported: detection (interval x threshold of the slowest check) plus the longest TTL.
    resources = document.get("resources") or []
    checks = [_inputs(r) for r in resources if r.get("type") == HEALTH_CHECK]
    detection = [c.get("requestInterval") * c.get("failureThreshold") for c in checks
                 if isinstance(c.get("requestInterval"), int) and isinstance(c.get("failureThreshold"), int)]
    ttls = [_inputs(r).get("ttl") for r in resources if r.get("type") == RECORD and isinstance(_inputs(r).get("ttl"), int)]
    if not detection or not ttls:
        return None
    return max(detection) + max(ttls)


def _cold_start(document: dict[str, Any]) -> dict[str, Any]:
    """The standby's cold-start phases as the stack exports them (`regions.standby.coldStart`); for a
    plan without them, the table's figures for an unreserved pool without an image cache."""
    regions = (document.get("outputs") or {}).get("regions") or {}
    exported = (regions.get("standby") or {}).get("coldStart") if isinstance(regions.get("standby"), dict) else None
    default = cold_start_outputs(reserved=False, image_cache=False)
    if isinstance(exported, dict) and all(isinstance(exported.get(k), int) for k in default if k.endswith("Seconds")):
        return {**default, **exported}
    return default


def _rpo_seconds(document: dict[str, Any]) -> tuple[int | None, str]:
    minutes = []
    enabled = False
    for resource in document.get("resources") or []:
        if resource.get("type") != REPLICATION:
            continue
        for rule in _inputs(resource).get("rules") or []:
            if rule.get("status") != "Enabled":
                continue
            enabled = True
            rtc = (rule.get("destination") or {}).get("replicationTime") or {}
            if rtc.get("status") == "Enabled":
                minutes.append(((rtc.get("time") or {}).get("minutes")) or 15)
    if minutes:
        # S3 RTC's SLA: 99.99 % of objects replicated within 15 minutes (S3 RTC documentation).
        return max(minutes) * 60, "S3 Replication Time Control SLA"
    if enabled:
        return None, "replication without RTC has no time SLA"
    return None, "no replication to the standby"


def estimate(document: dict[str, Any]) -> dict[str, Any]:
    """The DR estimate of a plan document (see the module docstring)."""
    roles = region_roles(document)
    by_role = {role: region for region, role in roles.items()}
    resources = document.get("resources") or []
    primary_gpus = gpu_count(resources, by_role.get("primary", ""))
    standby_gpus = gpu_count(resources, by_role.get("standby", ""))
    standby_groups = [r for r in resources if r.get("region") == by_role.get("standby") and is_gpu_node_group(r)]
    mode = "pilot-light" if standby_groups and standby_gpus == 0 else ("warm" if standby_groups else "none")

    cold = _cold_start(document)
    steps = {"capacityWait": cold["capacityWaitSeconds"], "gpuNodeProvisioning": cold["nodeSeconds"],
             "imagePull": cold["imagePullSeconds"], "modelLoad": cold["modelLoadSeconds"]}
    activation = sum(steps.values()) if mode == "pilot-light" else (0 if mode == "warm" else None)
    dns = _dns_budget(document)
    rpo, rpo_basis = _rpo_seconds(document)
    rto: dict[str, Any] = {"dnsBudget": dns, "standbyActivation": activation,
                           "total": dns + activation if dns is not None and activation is not None else None}
    if mode == "pilot-light":
        rto["activationSteps"] = steps
        # A reservation removes the wait for instances; without one the wait has no bound (cold_start.CAPACITY_WAIT).
        rto["capacity"] = "reserved" if cold["capacityGuaranteed"] else "not guaranteed"
    fallback = (document.get("outputs") or {}).get("fallback")
    return {
        "pricesAsOf": prices.PRICES_AS_OF,
        "priceSource": prices.SOURCE,
        "regions": {role: region for role, region in sorted(by_role.items())},
        "standbyMode": mode,
        "monthlyCostUsd": _monthly_cost(document, roles),
        "rtoSeconds": rto,
        "rpoSeconds": rpo,
        "rpoBasis": rpo_basis,
        "gpus": {"primary": primary_gpus, "standby": standby_gpus},
        "standbyCapacityPercent": round(100 * standby_gpus / primary_gpus) if primary_gpus else None,
        # When both GPU tiers fail one after the other: the fallback answers within two detections and a TTL.
        "fallbackSeconds": fallback.get("budgetSeconds") if isinstance(fallback, dict) else None,
        "assumptions": {
            "hoursPerMonth": prices.HOURS_PER_MONTH,
            "replicatedGbPerMonth": prices.ASSUMPTIONS["replicatedGbPerMonth"],
            "servedRequestsPerMonth": prices.ASSUMPTIONS["servedRequestsPerMonth"],
            "primaryLcu": prices.ASSUMPTIONS["primaryLcu"],
            "notCounted": "NAT per-GB traffic, the standby's and the fallback's balancer LCUs and WAF requests, DNS queries, "
                          "EBS volumes, S3 storage and requests, CloudWatch logs, EKS extended support, the balancers' "
                          "public IPv4 addresses",
        },
    }


def usd(amount: float, *, signed: bool = False) -> str:
    """`2340.5` -> `$2,340.50`; signed: `+$2,340.50` / `-$12.00`."""
    sign = ("+" if amount >= 0 else "-") if signed else ("-" if amount < 0 else "")
    return f"{sign}${abs(amount):,.2f}"


def cost_text(cost: dict[str, Any], role: str = "total") -> str:
    """A role's monthly cost (`role="total"`: all roles) as shown to people: `$1,297.29`, or
    `≥ $7.10 (6 items unpriced)` when the table could not price some of its items."""
    missing = unpriced_count(cost, None if role == "total" else role)
    amount = usd(cost.get(role) or 0)
    if not missing:
        return amount
    return f"≥ {amount} ({missing} item{'s' if missing != 1 else ''} unpriced)"
