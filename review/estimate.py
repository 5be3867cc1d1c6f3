"""The DR estimate of a plan: monthly cost per role, recovery time and point, standby capacity.

`estimate(document)` reads only the plan's resources (types and inputs) and the stack outputs
the program exports, never the program's settings code, so it also works on a plan written by an
older commit. Prices come from `review.prices` (a table with its source and date).

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
_GPU_AMI_MARKERS = ("NVIDIA", "GPU", "NEURON")
FALLBACK = "fallback"
POOL_LABEL = "recsys-dr/pool"
ROLE_TAG = "recsys-dr:role"


def _inputs(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("inputs") or {}


def is_gpu_node_group(resource: dict[str, Any]) -> bool:
    """A node group of GPU instances: an accelerated AMI, or a GPU instance type."""
    if resource.get("type") != NODE_GROUP:
        return False
    inputs = _inputs(resource)
    ami = str(inputs.get("amiType") or "").upper()
    types = inputs.get("instanceTypes") or []
    return any(marker in ami for marker in _GPU_AMI_MARKERS) or any((prices.instance_gpus(t) or 0) > 0 for t in types)


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
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.unpriced: set[str] = set()
        self.unpriced_regions: dict[str, set[str]] = defaultdict(set)  # region -> what it left unpriced

    def add(self, role: str, region: str, item: str, quantity: float, unit: str, unit_usd: float, *,
            tier: str | None = None) -> None:
        monthly = quantity * unit_usd * (prices.HOURS_PER_MONTH if unit == "hour" else 1)
        self.items.append({"role": role, "region": region, "item": f"{tier} {item}" if tier else item, "quantity": quantity,
                           "unit": unit, "unitUsd": unit_usd, "monthlyUsd": round(monthly, 2),
                           **({"tier": tier} if tier else {})})


def _monthly_cost(document: dict[str, Any], roles: dict[str, str]) -> dict[str, Any]:
    ledger = _Ledger()
    resources = document.get("resources") or []
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for resource in resources:
        if resource.get("custom", True):
            counts[(resource.get("region", "global"), resource["type"])] += 1

    def card(region: str, what: str) -> dict[str, Any] | None:
        rates = prices.REGIONS.get(region)
        if rates is None:
            ledger.unpriced_regions[region].add(what)
        return rates

    for resource in resources:
        region, role, inputs = resource.get("region", "global"), role_of(resource, roles), _inputs(resource)
        kind = resource["type"]
        if kind == CLUSTER:
            rates = card(region, "EKS control plane")
            if rates:
                # A version past standard support is billed at the extended-support rate (EKS pricing).
                extended = inputs.get("version") in EKS_EXTENDED_SUPPORT_VERSIONS
                ledger.add(role, region, "EKS control plane" + (f" (extended support, {inputs.get('version')})" if extended else ""),
                           1, "hour", rates["eksClusterExtendedHour" if extended else "eksClusterHour"])
        elif kind == NODE_GROUP:
            types = inputs.get("instanceTypes") or []
            size = desired_size(resource)
            if not types or size == 0:
                continue
            rates = card(region, f"node group {resource['name']}")
            if rates is None:
                continue
            price = rates["instanceHour"].get(types[0])
            pool = "GPU" if is_gpu_node_group(resource) else ("CPU" if tier_of(resource) else "system")
            if price is None:
                ledger.unpriced.add(f"no price for instance type {types[0]} in region {region}")
                continue
            ledger.add(role, region, f"{pool} nodes ({size} x {types[0]})", size, "hour", price, tier=tier_of(resource))
        elif kind == SERVICE and _is_load_balancer(resource):
            rates = card(region, "load balancer")
            if rates:
                ledger.add(role, region, "network load balancer", 1, "hour", rates["nlbHour"])
        elif kind == LOAD_BALANCER:
            rates = card(region, "load balancer")
            if rates:
                ledger.add(role, region, "application load balancer", 1, "hour", rates["albHour"], tier=tier_of(resource))
                if role == "primary":
                    lcu = prices.ASSUMPTIONS["primaryLcu"]
                    ledger.add(role, region, f"load balancer capacity units ({lcu} LCU assumed)", lcu, "hour", rates["albLcuHour"])
        elif kind == WEB_ACL:
            rates = card(region, "web ACL")
            if rates:
                ledger.add(role, region, "WAF web ACL", 1, "month", rates["wafWebAclMonth"], tier=tier_of(resource))
                ledger.add(role, region, "WAF rules", _web_acl_rules(inputs), "month", rates["wafRuleMonth"], tier=tier_of(resource))
                if role == "primary":
                    millions = prices.ASSUMPTIONS["servedRequestsPerMonth"] / 1e6
                    ledger.add(role, region, f"WAF requests ({millions:g} M/month assumed)", millions, "million", rates["wafMillionRequests"])
        elif kind == SCALED_OBJECT:
            metrics = _cloudwatch_metrics_per_month(resource)
            rates = card(region, "KEDA CloudWatch reads") if metrics else None
            if rates:
                ledger.add(role, region, "KEDA CloudWatch reads (GetMetricData)", metrics / 1000, "thousand", rates["cloudwatchThousandMetrics"])
        elif kind == HEALTH_CHECK:
            features = _health_check_features(inputs)
            extra = f" + {', '.join(features)}" if features else ""
            ledger.add("global", "global", f"Route 53 health check{extra}", 1, "month",
                       prices.GLOBAL["healthCheckMonth"] + prices.GLOBAL["healthCheckFeatureMonth"] * len(features),
                       tier=tier_of(resource))
        elif kind == REPLICATION:
            rule_times = [((rule.get("destination") or {}).get("replicationTime") or {}).get("status") == "Enabled"
                          for rule in inputs.get("rules") or [] if rule.get("status") == "Enabled"]
            rates = card(region, "replication")
            if rates and rule_times:
                gb = prices.ASSUMPTIONS["replicatedGbPerMonth"]
                per_gb = rates["s3InterRegionPerGb"] + (rates["s3RtcPerGb"] if any(rule_times) else 0)
                label = "S3 replication with RTC" if any(rule_times) else "S3 replication"
                ledger.add(role, region, f"{label} ({gb} GB/month assumed)", gb, "GB", per_gb)

    simple = (
        (NAT, "NAT gateway", "natGatewayHour", "hour"),
        (EIP, "public IPv4 address", "publicIpv4Hour", "hour"),
        (KMS_KEY, "KMS key", "kmsKeyMonth", "month"),
        (ALARM, "CloudWatch alarm", "alarmMonth", "month"),
    )
    for (region, kind), count in sorted(counts.items()):
        for type_token, label, rate, unit in simple:
            if kind == type_token:
                rates = card(region, label)
                if rates:
                    ledger.add(roles.get(region, "global"), region, label, count, unit, rates[rate])
        if kind == ZONE:
            ledger.add("global", "global", "Route 53 hosted zone", count, "month", prices.GLOBAL["hostedZoneMonth"])
        if kind == ARC_CLUSTER:
            ledger.add("global", "global", "ARC routing-control cluster", count, "hour", prices.GLOBAL["arcClusterHour"])
        if kind == REGION_SWITCH_PLAN:
            ledger.add("global", "global", "ARC Region switch plan", count, "month", prices.GLOBAL["regionSwitchPlanMonth"])

    _reservations(document, roles, resources, ledger, card)
    totals = {role: round(sum(i["monthlyUsd"] for i in ledger.items if i["role"] == role), 2) for role in ROLES}
    items = sorted(ledger.items, key=lambda i: (ROLES.index(i["role"]), i["region"], -i["monthlyUsd"], i["item"]))
    unpriced = ledger.unpriced | {f"no price for region {region} ({', '.join(sorted(what))})"
                                  for region, what in ledger.unpriced_regions.items()}
    fallback = round(sum(i["monthlyUsd"] for i in ledger.items if i.get("tier") == FALLBACK), 2)
    return {**totals, "total": round(sum(totals.values()), 2), "fallback": fallback, "items": items, "unpriced": sorted(unpriced)}


def _reservations(document: dict[str, Any], roles: dict[str, str], resources: list[dict[str, Any]], ledger: _Ledger,
                  card) -> None:
    """The unused part of each On-Demand Capacity Reservation; a Capacity Block is named as unpriced."""
    regions = (document.get("outputs") or {}).get("regions") or {}
    for role, info in sorted(regions.items()):
        reservation = info.get("capacityReservation") if isinstance(info, dict) else None
        if not isinstance(reservation, dict):
            continue
        region, instance, count = info.get("region"), reservation.get("instanceType"), reservation.get("instanceCount")
        if reservation.get("type") == "capacity-block":
            ledger.unpriced.add(f"Capacity Block {reservation.get('reservationId')} in {region}: its price is set when it "
                                "is bought (prepaid for its window)")
            continue
        running = sum(desired_size(g) for g in resources if g.get("region") == region and is_gpu_node_group(g))
        unused = max(0, (count if isinstance(count, int) else 0) - running)
        rates = card(region, "capacity reservation") if unused else None
        price = rates["instanceHour"].get(instance) if rates else None
        if rates and price is None:
            ledger.unpriced.add(f"no price for instance type {instance} in region {region}")
        elif price is not None:
            ledger.add(roles.get(region, role), region, f"capacity reservation, unused ({unused} x {instance})",
                       unused, "hour", price)


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
