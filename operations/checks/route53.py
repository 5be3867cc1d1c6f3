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
from recsys_dr.operations.outputs import RegionOutputs, StackOutputs, endpoint_host


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


def check_health(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    """The region's Route 53 health check as its checkers see it (Route 53 API in us-east-1)."""
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


def check_dns_records(ctx: CheckContext) -> CheckResult:
    """The failover records: PRIMARY -> primary endpoint, SECONDARY -> standby endpoint."""
    o = ctx.outputs
    name = "dns.records"
    record = o.dns.record_name.rstrip(".") + "."
    try:
        sets = ctx.clients.route53().list_resource_record_sets(
            HostedZoneId=o.dns.zone_id, StartRecordName=record, MaxItems="10")["ResourceRecordSets"]
    except Exception as exc:
        return _route53_failed(name, None, ctx, exc, f"list records of zone {o.dns.zone_id}", blocking=True)
    mine = [s for s in sets if s.get("Name", "").lower() == record.lower()]
    by_role = {s.get("Failover"): s for s in mine}
    problems = []
    for role, failover in (("primary", "PRIMARY"), ("standby", "SECONDARY")):
        rec = by_role.get(failover)
        if rec is None:
            problems.append(f"no {failover} record")
            continue
        values = [v["Value"].rstrip(".").lower() for v in rec.get("ResourceRecords", [])]
        if rec.get("AliasTarget"):  # an alias of the front door: Route 53 may prefix "dualstack."
            values.append(rec["AliasTarget"]["DNSName"].rstrip(".").lower().removeprefix("dualstack."))
        want = endpoint_host(o.regions[role].endpoint)
        if want not in values:
            problems.append(f"{failover} points to {', '.join(values) or 'nothing'}, expected {want}")
        if not rec.get("HealthCheckId"):
            problems.append(f"{failover} record has no health check")
    target_failover = "SECONDARY" if ctx.target == "standby" else "PRIMARY"
    blocking = any(target_failover in p for p in problems)
    if problems:
        return CheckResult(name=name, ok=False, detail=f"{o.dns.record_name}: " + "; ".join(problems),
                           blocking=blocking, data={"records": len(mine)})
    return CheckResult(name=name, ok=True, blocking=True,
                       detail=f"{o.dns.record_name}: PRIMARY -> primary, SECONDARY -> standby, both health-checked")


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
