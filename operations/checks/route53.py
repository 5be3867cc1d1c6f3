"""Route 53 facts: health-check status, the failover records, and the failover budget.

The Route 53 control-plane API (health-check status, record listing) is served from
us-east-1, which is also this project's primary region. When it cannot be reached, the
answer is *unknown*, not "unhealthy": Route 53's data plane (DNS answers, health checkers)
and the ARC routing controls keep working without it, so these checks then warn and never
block. A reachable Route 53 that reports the target unhealthy, or records that point
elsewhere, still blocks.
"""

from __future__ import annotations

from recsys_dr.operations.checks.base import ROUTE53_HEALTHY_FRACTION, CheckContext, CheckResult, failed_call
from recsys_dr.operations.errors import is_unreachable
from recsys_dr.operations.outputs import FallbackOutputs, RegionOutputs, StackOutputs, endpoint_host


# --------------------------------------------------------------------------- health


def _route53_failed(name: str, region: RegionOutputs | None, ctx: CheckContext, exc: Exception, what: str,
                    *, blocking: bool) -> CheckResult:
    """A failed Route 53 API call: advisory when the API cannot be reached, else `blocking`."""
    if is_unreachable(exc):
        res = failed_call(name, region, ctx, exc, what, blocking=False)
        res.detail = (f"unknown, Route 53 API unreachable ({res.detail}); Route 53 DNS and ARC routing "
                      "controls do not need it, so this does not block")
        res.data["advisory"] = True
        return res
    return failed_call(name, region, ctx, exc, what, blocking=blocking)


def check_health(ctx: CheckContext, region: RegionOutputs | FallbackOutputs) -> CheckResult:
    """The region's (or the fallback tier's) Route 53 health check as its checkers see it (Route 53 API in us-east-1)."""
    name = "health"
    r53 = ctx.clients.route53()
    try:
        hc_type = r53.get_health_check(HealthCheckId=region.health_check_id)["HealthCheck"][
            "HealthCheckConfig"].get("Type")
        observations = r53.get_health_check_status(HealthCheckId=region.health_check_id).get(
            "HealthCheckObservations", [])
    except Exception as exc:
        return _route53_failed(name, region, ctx, exc, f"read health check {region.health_check_id}",
                               blocking=ctx.is_target(region.role))
    total = len(observations)
    healthy = sum(1 for ob in observations
                  if str(ob.get("StatusReport", {}).get("Status", "")).startswith("Success"))
    fraction = healthy / total if total else 0.0
    ok = total > 0 and fraction > ROUTE53_HEALTHY_FRACTION
    failures = sorted({str(ob.get("StatusReport", {}).get("Status", ""))[:80] for ob in observations
                       if not str(ob.get("StatusReport", {}).get("Status", "")).startswith("Success")})
    data = {"healthCheckId": region.health_check_id, "type": hc_type, "checkers": total,
            "healthy": healthy, "failures": failures}
    blocking = ctx.is_target(region.role)
    if hc_type == "RECOVERY_CONTROL":
        # Its status mirrors the routing control, which failover turns on: not a readiness fact.
        blocking = False
        detail = f"RECOVERY_CONTROL check {'On' if ok else 'Off'} (mirrors the ARC routing control)"
    elif total == 0:
        detail = f"{region.health_check_id}: no checker observations yet"
    else:
        detail = f"{region.health_check_id}: {healthy}/{total} checkers healthy"
        if failures:
            detail += f"; e.g. {failures[0]}"
    return CheckResult(name=name, ok=ok, detail=detail, region=region.region, role=region.role,
                       blocking=blocking, data=data)


def _values(record: dict) -> list[str]:
    """What a record points at: its values, and for an alias its target (Route 53 may prefix "dualstack.")."""
    values = [v["Value"].rstrip(".").lower() for v in record.get("ResourceRecords", [])]
    if record.get("AliasTarget"):
        values.append(record["AliasTarget"]["DNSName"].rstrip(".").lower().removeprefix("dualstack."))
    return values


def _expected_records(o: StackOutputs) -> list[tuple[str, str, str, str, bool]]:
    """(name, failover type, label, target host, needs a check of its own) of every failover record."""
    record = o.dns.record_name.rstrip(".").lower()
    primary, standby = endpoint_host(o.primary.endpoint), endpoint_host(o.standby.endpoint)
    if o.fallback is None:
        return [(record, "PRIMARY", "PRIMARY", primary, True), (record, "SECONDARY", "SECONDARY", standby, True)]
    # The cascade: the client-facing SECONDARY aliases the nested pair, which carries the checks.
    nested = o.fallback.cascade_record_name.rstrip(".").lower()
    return [(record, "PRIMARY", "PRIMARY", primary, True), (record, "SECONDARY", "SECONDARY", nested, False),
            (nested, "PRIMARY", "cascade PRIMARY", standby, True),
            (nested, "SECONDARY", "cascade SECONDARY", endpoint_host(o.fallback.endpoint), True)]


def check_dns_records(ctx: CheckContext) -> CheckResult:
    """The failover records: PRIMARY -> primary endpoint, SECONDARY -> standby endpoint; with a fallback
    tier, SECONDARY -> the nested pair (standby, then fallback)."""
    o = ctx.outputs
    name = "dns.records"
    expected = _expected_records(o)
    sets: list[dict] = []
    try:
        for record_name in dict.fromkeys(n for n, *_ in expected):
            sets += ctx.clients.route53().list_resource_record_sets(
                HostedZoneId=o.dns.zone_id, StartRecordName=record_name + ".", MaxItems="10")["ResourceRecordSets"]
    except Exception as exc:
        return _route53_failed(name, None, ctx, exc, f"list records of zone {o.dns.zone_id}", blocking=True)
    by_key = {(s.get("Name", "").rstrip(".").lower(), s.get("Failover")): s for s in sets}
    problems: list[tuple[str, str]] = []  # (label, message)
    for record_name, failover, label, want, needs_check in expected:
        rec = by_key.get((record_name, failover))
        if rec is None:
            problems.append((label, f"no {label} record"))
            continue
        values = _values(rec)
        if want not in values:
            problems.append((label, f"{label} points to {', '.join(values) or 'nothing'}, expected {want}"))
        if needs_check and not rec.get("HealthCheckId"):
            problems.append((label, f"{label} record has no health check"))
    # The records that route to the target: the standby's SECONDARY (and the nested PRIMARY), or the PRIMARY.
    routes_target = {"standby": ("SECONDARY", "cascade PRIMARY"), "primary": ("PRIMARY",)}[ctx.target]
    blocking = any(label in routes_target for label, _ in problems)
    problems = [message for _, message in problems]
    if problems:
        return CheckResult(name=name, ok=False, detail=f"{o.dns.record_name}: " + "; ".join(problems),
                           blocking=blocking, data={"records": len(by_key)})
    detail = "PRIMARY -> primary, SECONDARY -> standby, both health-checked" if o.fallback is None else \
        "PRIMARY -> primary, SECONDARY -> cascade (standby, then fallback), each tier health-checked"
    return CheckResult(name=name, ok=True, blocking=True, detail=f"{o.dns.record_name}: {detail}")


# --------------------------------------------------------------------------- budget


def computed_budget_seconds(outputs: StackOutputs) -> float:
    """Detection (interval x failure threshold) plus the record TTL."""
    d = outputs.dns
    return d.health_check_interval_seconds * d.failure_threshold + d.ttl


def check_budget(ctx: CheckContext) -> CheckResult:
    o = ctx.outputs
    computed = computed_budget_seconds(o)
    data = {"budgetSeconds": o.failover_budget_seconds, "targetSeconds": o.failover_budget_target_seconds,
            "computedSeconds": computed, "standbyMode": o.standby_mode}
    ok = o.failover_budget_seconds <= o.failover_budget_target_seconds
    d = o.dns
    detail = (f"{o.failover_budget_seconds:g}s (= {d.health_check_interval_seconds}s x {d.failure_threshold}"
              f" + TTL {d.ttl}s) vs target {o.failover_budget_target_seconds:g}s")
    if computed != o.failover_budget_seconds:
        detail += f"; recomputed from dns outputs: {computed:g}s"
    if not ok:
        detail += " - over target"
    if o.standby_mode == "pilot-light":
        detail += "; pilot-light adds GPU node provisioning and model load"
    return CheckResult(name="budget", ok=ok, detail=detail, blocking=False, data=data)
