"""The individual readiness checks behind `recsys-dr status` (and the failover/drill gates).

Each check returns one or more `CheckResult`s. A result is *blocking* when it concerns the
**target** region's ability to take traffic now (the standby for `status` and `failover
--to standby`, the primary for `failover --to primary`). Facts about the other region are
reported but never block: during a regional outage the primary is expected to be down,
and `status` must still say whether the standby can take over.

A region that does not answer (connection refused, timeout, 5xx) is reported as
"unreachable"; that blocks only when it is the target region, or when the target's own
resource cannot be read.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from operations.clients import ClientFactory
from operations.outputs import RegionOutputs, StackOutputs

REPLICATION_RULE_ID = "models-to-standby"
REPLICATION_PREFIX = "models/"
RTC_THRESHOLD_SECONDS = 15 * 60
ROUTE53_HEALTHY_FRACTION = 0.18
"""Route 53 deems an endpoint healthy when more than 18% of its checkers report it healthy."""
NODEGROUP_OK_STATES = ("ACTIVE", "UPDATING")


@dataclass
class CheckResult:
    """Outcome of one check.

    Attributes:
        name: str, e.g. "serving" or "replication.rule".
        ok: bool, the check passed.
        detail: str, one line an operator can act on (the reason when not ok).
        region: str | None, AWS region the check looked at (None for global facts).
        role: str | None, "primary" / "standby" / None.
        blocking: bool, a failure means the target region cannot take traffic now.
        data: dict, machine-readable facts (JSON output).
    """

    name: str
    ok: bool
    detail: str
    region: str | None = None
    role: str | None = None
    blocking: bool = True
    data: dict = field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        """True when this result alone makes the target not ready."""
        return self.blocking and not self.ok

    @property
    def label(self) -> str:
        return f"{self.name}[{self.role}]" if self.role else self.name

    def to_dict(self) -> dict:
        out = asdict(self)
        out["status"] = "ok" if self.ok else ("FAIL" if self.blocking else "warn")
        return out


@dataclass(kw_only=True)
class CheckContext:
    """What every check needs.

    Args:
        outputs: StackOutputs of the environment.
        clients: ClientFactory for boto3 clients.
        target: str, the role that must be able to take traffic ("standby" by default).
        require_warm: bool, a pilot-light standby fails the capacity check. Default False.
        http_timeout: float, seconds per serving-endpoint request. Default 5.
        verify: callable like `model.verify.verify_remote`; default imports it lazily.
        http_get: callable(url, timeout) -> (status, body bytes); default urllib.
        now: callable returning an aware UTC datetime (metrics window).
        arc_states: dict role -> "On"/"Off", filled by status when ARC is used.
    """

    outputs: StackOutputs
    clients: ClientFactory
    target: str = "standby"
    require_warm: bool = False
    http_timeout: float = 5.0
    verify: Callable[..., Any] | None = None
    http_get: Callable[[str, float], tuple[int, bytes]] | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    def is_target(self, role: str) -> bool:
        return role == self.target


# --------------------------------------------------------------------------- helpers


def error_text(exc: BaseException) -> str:
    """Short, operator-facing text for an exception from boto3/urllib."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = err.get("Code", "?")
        msg = err.get("Message", "")
        return f"{code} (HTTP {status}){': ' + msg if msg else ''}"
    return f"{type(exc).__name__}: {exc}"


def is_unreachable(exc: BaseException) -> bool:
    """Connection errors, timeouts and 5xx answers: the region/service is not answering."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500
    return isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError))


def _failed_call(name: str, region: RegionOutputs | None, ctx: CheckContext, exc: Exception, what: str,
                 *, blocking: bool | None = None) -> CheckResult:
    role = region.role if region else None
    reason = "unreachable" if is_unreachable(exc) else "error"
    return CheckResult(
        name=name,
        ok=False,
        detail=f"cannot {what}: {reason}: {error_text(exc)}",
        region=region.region if region else None,
        role=role,
        blocking=ctx.is_target(role) if blocking is None else blocking,
        data={"error": error_text(exc), "unreachable": is_unreachable(exc)},
    )


def _manifest_key(outputs: StackOutputs) -> str:
    return f"models/{outputs.model_name}/{outputs.model_version}/manifest.json"


# --------------------------------------------------------------------------- model


def check_model(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    """The pinned version in the region's bucket: manifest present, every file verified."""
    o = ctx.outputs
    verify = ctx.verify
    if verify is None:
        from model.verify import verify_remote as verify
    name = "model"
    try:
        report = verify(region.bucket, o.model_name, o.model_version,
                        s3_client=ctx.clients.s3(region.region))
    except Exception as exc:  # botocore connection errors escape verify_remote
        return _failed_call(name, region, ctx, exc, f"verify s3://{region.bucket}")
    data = report.to_dict()
    where = f"s3://{region.bucket}/models/{o.model_name}/{o.model_version}/"
    if report.ok:
        detail = f"v{o.model_version}: {report.checked} files match the manifest ({where})"
    elif not report.manifest_found and not report.errors:
        detail = (f"v{o.model_version} manifest.json missing in {where} "
                  "(not published, or replication not finished)")
    else:
        parts = []
        if report.missing:
            parts.append(f"missing {len(report.missing)}: {', '.join(report.missing[:5])}")
        if report.mismatched:
            paths = ", ".join(f"{m['path']} ({m['reason']})" for m in report.mismatched[:5])
            parts.append(f"corrupt {len(report.mismatched)}: {paths}")
        parts += report.errors[:3]
        detail = f"v{o.model_version} does not match its manifest in {where}: " + "; ".join(parts)
    return CheckResult(name=name, ok=report.ok, detail=detail, region=region.region,
                       role=region.role, blocking=ctx.is_target(region.role), data=data)


def _read_manifest(ctx: CheckContext, region: RegionOutputs) -> dict | None:
    from botocore.exceptions import ClientError

    s3 = ctx.clients.s3(region.region)
    try:
        body = s3.get_object(Bucket=region.bucket, Key=_manifest_key(ctx.outputs))["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    try:
        return json.loads(body.read())
    finally:
        body.close()


def check_model_parity(ctx: CheckContext) -> CheckResult:
    """The standby's manifest lists the same files (sha256, size) as the primary's."""
    o = ctx.outputs
    name = "model.parity"
    blocking = ctx.target == "standby"
    try:
        primary = _read_manifest(ctx, o.primary)
    except Exception as exc:
        res = _failed_call(name, o.primary, ctx, exc, "read the primary manifest", blocking=False)
        res.detail += "; the standby copy is checked against its own manifest only"
        return res
    try:
        standby = _read_manifest(ctx, o.standby)
    except Exception as exc:
        return _failed_call(name, o.standby, ctx, exc, "read the standby manifest", blocking=blocking)
    if primary is None or standby is None:
        which = " and ".join(r for r, m in (("primary", primary), ("standby", standby)) if m is None)
        return CheckResult(name=name, ok=False, role="standby", region=o.standby.region,
                           blocking=blocking and standby is None,
                           detail=f"v{o.model_version} manifest missing in {which} bucket")
    p_files = {f.get("path"): (f.get("sha256"), f.get("size")) for f in primary.get("files", [])}
    s_files = {f.get("path"): (f.get("sha256"), f.get("size")) for f in standby.get("files", [])}
    differ = sorted(path for path in set(p_files) | set(s_files) if p_files.get(path) != s_files.get(path))
    if differ:
        return CheckResult(name=name, ok=False, role="standby", region=o.standby.region, blocking=blocking,
                           detail=f"standby manifest differs from primary for {len(differ)} file(s): "
                                  f"{', '.join(differ[:5])}",
                           data={"differing": differ})
    return CheckResult(name=name, ok=True, role="standby", region=o.standby.region, blocking=blocking,
                       detail=f"standby manifest equals primary manifest ({len(p_files)} files)")


# --------------------------------------------------------------------------- replication


def check_versioning(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    name = "replication.versioning"
    blocking = ctx.target == "standby"
    try:
        status = ctx.clients.s3(region.region).get_bucket_versioning(Bucket=region.bucket).get("Status")
    except Exception as exc:
        return _failed_call(name, region, ctx, exc, f"read versioning of {region.bucket}",
                            blocking=blocking and (region.role == "standby" or not is_unreachable(exc)))
    ok = status == "Enabled"
    return CheckResult(name=name, ok=ok, region=region.region, role=region.role, blocking=blocking,
                       detail=f"versioning {status or 'never enabled'} on {region.bucket}"
                              + ("" if ok else " (replication requires Enabled)"),
                       data={"status": status})


def check_replication_rule(ctx: CheckContext) -> CheckResult:
    """Rule `models-to-standby` on the primary bucket: Enabled, to the standby bucket, with RTC."""
    from botocore.exceptions import ClientError

    o = ctx.outputs
    name = "replication.rule"
    blocking = ctx.target == "standby"
    try:
        cfg = ctx.clients.s3(o.primary.region).get_bucket_replication(Bucket=o.primary.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ReplicationConfigurationNotFoundError":
            return CheckResult(name=name, ok=False, region=o.primary.region, role="primary",
                               blocking=blocking,
                               detail=f"no replication configuration on {o.primary.bucket}")
        return _failed_call(name, o.primary, ctx, exc, "read the replication configuration",
                            blocking=blocking and not is_unreachable(exc))
    except Exception as exc:
        return _failed_call(name, o.primary, ctx, exc, "read the replication configuration",
                            blocking=blocking and not is_unreachable(exc))
    rules = cfg.get("ReplicationConfiguration", {}).get("Rules", [])
    rule = next((r for r in rules if r.get("ID") == REPLICATION_RULE_ID), None)
    if rule is None:
        return CheckResult(name=name, ok=False, region=o.primary.region, role="primary", blocking=blocking,
                           detail=f"rule {REPLICATION_RULE_ID!r} not found on {o.primary.bucket} "
                                  f"(rules: {', '.join(r.get('ID', '?') for r in rules) or 'none'})")
    dest = rule.get("Destination", {})
    rtc = dest.get("ReplicationTime", {})
    metrics = dest.get("Metrics", {})
    problems = []
    if rule.get("Status") != "Enabled":
        problems.append(f"rule status is {rule.get('Status')}")
    if dest.get("Bucket") != f"arn:aws:s3:::{o.standby.bucket}":
        problems.append(f"destination is {dest.get('Bucket')}, expected arn:aws:s3:::{o.standby.bucket}")
    if rtc.get("Status") != "Enabled":
        problems.append("Replication Time Control (RTC) is not enabled")
    if metrics.get("Status") != "Enabled":
        problems.append("replication metrics are not enabled")
    data = {"status": rule.get("Status"), "destination": dest.get("Bucket"),
            "rtc": rtc.get("Status"), "rtcMinutes": rtc.get("Time", {}).get("Minutes"),
            "metrics": metrics.get("Status")}
    if problems:
        return CheckResult(name=name, ok=False, region=o.primary.region, role="primary", blocking=blocking,
                           detail=f"replication {REPLICATION_RULE_ID!r}: " + "; ".join(problems), data=data)
    return CheckResult(name=name, ok=True, region=o.primary.region, role="primary", blocking=blocking,
                       detail=f"{REPLICATION_RULE_ID!r} Enabled -> {o.standby.bucket}, "
                              f"RTC {rtc.get('Time', {}).get('Minutes', '?')} min, metrics on",
                       data=data)


def check_replication_metrics(ctx: CheckContext, *, window_minutes: int = 15) -> CheckResult:
    """Latest ReplicationLatency / OperationsPendingReplication (source region's CloudWatch)."""
    o = ctx.outputs
    name = "replication.metrics"
    dims = [
        {"Name": "SourceBucket", "Value": o.primary.bucket},
        {"Name": "DestinationBucket", "Value": o.standby.bucket},
        {"Name": "RuleId", "Value": REPLICATION_RULE_ID},
    ]
    end = ctx.now()
    start = end - timedelta(minutes=window_minutes)
    cw = ctx.clients.cloudwatch(o.primary.region)
    found: dict[str, float | None] = {}
    try:
        for metric in ("ReplicationLatency", "OperationsPendingReplication"):
            points = cw.get_metric_statistics(
                Namespace="AWS/S3", MetricName=metric, Dimensions=dims,
                StartTime=start, EndTime=end + timedelta(minutes=1), Period=60, Statistics=["Maximum"],
            ).get("Datapoints", [])
            latest = max(points, key=lambda p: p["Timestamp"]) if points else None
            found[metric] = latest["Maximum"] if latest else None
    except Exception as exc:
        return _failed_call(name, o.primary, ctx, exc, "read replication metrics", blocking=False)
    latency, pending = found["ReplicationLatency"], found["OperationsPendingReplication"]
    if latency is None and pending is None:
        return CheckResult(name=name, ok=True, region=o.primary.region, role="primary", blocking=False,
                           detail=f"no datapoints in the last {window_minutes} min (nothing replicated recently)",
                           data=found)
    parts = []
    if latency is not None:
        parts.append(f"latency {latency:.0f}s")
    if pending is not None:
        parts.append(f"{pending:.0f} operations pending")
    ok = latency is None or latency <= RTC_THRESHOLD_SECONDS
    detail = ", ".join(parts)
    if not ok:
        detail += f" (above the {RTC_THRESHOLD_SECONDS // 60} min RTC threshold)"
    return CheckResult(name=name, ok=ok, region=o.primary.region, role="primary", blocking=False,
                       detail=detail, data=found)


# --------------------------------------------------------------------------- health


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
        return _failed_call(name, region, ctx, exc, f"read health check {region.health_check_id}",
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
        return _failed_call(name, None, ctx, exc, f"list records of zone {o.dns.zone_id}", blocking=True)
    mine = [s for s in sets if s.get("Name", "").lower() == record.lower()]
    by_role = {s.get("Failover"): s for s in mine}
    problems = []
    for role, failover in (("primary", "PRIMARY"), ("standby", "SECONDARY")):
        rec = by_role.get(failover)
        if rec is None:
            problems.append(f"no {failover} record")
            continue
        values = [v["Value"].rstrip(".").lower() for v in rec.get("ResourceRecords", [])]
        want = o.regions[role].endpoint.split(":")[0].rstrip(".").lower()
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


# --------------------------------------------------------------------------- serving


def default_http_get(url: str, timeout: float) -> tuple[int, bytes]:
    """GET `url`; return (HTTP status, body). HTTP errors return their status and body."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (http by design)
            return resp.status, resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1 << 20) if exc.fp else b""


def serving_url(endpoint: str, model_name: str) -> str:
    return f"http://{endpoint}/v1/models/{model_name}"


def probe_serving(endpoint: str, model_name: str, version: int, *, timeout: float = 5.0,
                  http_get: Callable[[str, float], tuple[int, bytes]] | None = None) -> tuple[bool, str, dict]:
    """Ask TF Serving's REST API for the model status.

    Returns:
        (ok, detail, data): ok when version `version` is AVAILABLE.
    """
    url = serving_url(endpoint, model_name)
    get = http_get or default_http_get
    try:
        status, body = get(url, timeout)
    except Exception as exc:
        return False, f"{url}: no answer ({type(exc).__name__}: {exc})", {"url": url, "error": str(exc)}
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        doc = {}
    if status != 200:
        msg = doc.get("error") if isinstance(doc, dict) else None
        return False, f"{url}: HTTP {status}{': ' + str(msg)[:120] if msg else ''}", {"url": url, "http": status}
    entries = doc.get("model_version_status") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return False, f"{url}: answer is not TF Serving's model status JSON", {"url": url, "http": status}
    versions = {str(e.get("version")): str(e.get("state")) for e in entries if isinstance(e, dict)}
    data = {"url": url, "http": status, "versions": versions, "pinned": version}
    state = versions.get(str(version))
    if state == "AVAILABLE":
        others = sorted(v for v, s in versions.items() if v != str(version) and s == "AVAILABLE")
        extra = f" (also AVAILABLE: {', '.join(others)})" if others else ""
        return True, f"v{version} AVAILABLE{extra}", data
    available = sorted((v for v, s in versions.items() if s == "AVAILABLE"), key=lambda v: int(v) if v.isdigit() else 0)
    if state:
        return False, f"pinned v{version} is {state}, not AVAILABLE", data
    if available:
        return False, f"serves v{', v'.join(available)}, pinned v{version} not loaded", data
    listed = ", ".join(f"v{v} {s}" for v, s in versions.items()) or "no versions"
    return False, f"pinned v{version} not loaded ({listed})", data


def check_serving(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    o = ctx.outputs
    ok, detail, data = probe_serving(region.endpoint, o.model_name, o.model_version,
                                     timeout=ctx.http_timeout, http_get=ctx.http_get)
    if not ok and region.role == "standby" and o.standby_mode == "pilot-light":
        detail += " (pilot-light: scale the standby GPU node group up first)"
    return CheckResult(name="serving", ok=ok, detail=detail, region=region.region, role=region.role,
                       blocking=ctx.is_target(region.role), data=data)


# --------------------------------------------------------------------------- capacity


def check_capacity(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    """GPU node group scaling; the standby's against its declared mode (and --require-warm)."""
    o = ctx.outputs
    name = "capacity"
    try:
        ng = ctx.clients.eks(region.region).describe_nodegroup(
            clusterName=region.cluster_name, nodegroupName=region.gpu_node_group_name)["nodegroup"]
    except Exception as exc:
        return _failed_call(name, region, ctx, exc,
                            f"describe node group {region.cluster_name}/{region.gpu_node_group_name}")
    scaling = ng.get("scalingConfig", {})
    desired, lo, hi = scaling.get("desiredSize", 0), scaling.get("minSize", 0), scaling.get("maxSize", 0)
    status = ng.get("status", "?")
    mode = o.standby_mode if region.role == "standby" else "active"
    data = {"status": status, "minSize": lo, "desiredSize": desired, "maxSize": hi, "mode": mode,
            "declared": region.gpu_scaling}
    problems = []
    if status not in NODEGROUP_OK_STATES:
        problems.append(f"node group status {status}")
    if hi < 1:
        problems.append(f"maxSize={hi}: the GPU pool can never scale up")
    if region.role == "standby" and o.standby_mode == "warm" and desired < 1:
        problems.append(f"standbyMode is warm but desiredSize={desired}")
    if region.role == "primary" and desired < 1:
        problems.append(f"desiredSize={desired}: no GPU nodes")
    if region.role == "standby" and ctx.require_warm and o.standby_mode != "warm":
        problems.append(f"standby is pilot-light (desiredSize={desired}) but warm is required (--require-warm)")
    summary = f"GPU {region.gpu_node_group_name}: min {lo} / desired {desired} / max {hi}, {status}"
    if region.role == "standby":
        summary += f"; standbyMode {o.standby_mode}"
        if o.standby_mode == "pilot-light" and desired < 1:
            summary += " (RTO adds node provisioning and model load)"
    drift = {k: v for k, v in region.gpu_scaling.items() if scaling.get(k) != v}
    if drift:
        summary += f"; differs from stack outputs {drift}"
    if problems:
        return CheckResult(name=name, ok=False, region=region.region, role=region.role,
                           blocking=ctx.is_target(region.role), data=data,
                           detail="; ".join(problems) + f" ({summary})")
    return CheckResult(name=name, ok=True, region=region.region, role=region.role,
                       blocking=ctx.is_target(region.role), data=data, detail=summary)


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
