"""Live signals: the canary target group against the stable one, from the balancer's CloudWatch metrics.

Metrics (namespace `AWS/ApplicationELB`, dimensions `LoadBalancer` + `TargetGroup`; Elastic Load
Balancing User Guide, "CloudWatch metrics for your Application Load Balancer"):

* `RequestCount` (Sum): requests the balancer routed to the group's targets;
* `HTTPCode_Target_5XX_Count` (Sum): 5XX answers of the targets (TF Serving's internal errors);
* `TargetConnectionErrorCount` (Sum): connections to a target that failed (a crashed pod; the
  client gets the balancer's 502), counted against the group too;
* `TargetResponseTime` (p99): seconds from the request leaving the balancer to the answer's headers.

ELB publishes a metric only for minutes with requests ("If there are no requests flowing through
the load balancer or no data for a metric, the metric is not reported"), so no data is zero
requests, not an error. Windows are whole minutes, the current (partial) minute excluded, and
one GetMetricData period covers the whole window (a period is a multiple of 60 s for these
one-minute metrics; CloudWatch API reference, MetricStat `Period`), so the p99 is the window's,
not an average of per-minute percentiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recsys_dr.operations.release.tier import TierRegion, target_group_dimension

NAMESPACE = "AWS/ApplicationELB"
MINUTE = 60
SUMS = ("RequestCount", "HTTPCode_Target_5XX_Count", "TargetConnectionErrorCount")
LATENCY = "TargetResponseTime"
LATENCY_STAT = "p99"


def whole_minutes(since: datetime, now: datetime) -> tuple[datetime, datetime] | None:
    """The complete minutes after `since` (the share moved then) and before `now`, or None."""
    start = since.replace(second=0, microsecond=0)
    if start < since:
        start += timedelta(minutes=1)
    end = now.replace(second=0, microsecond=0)
    return (start, end) if end - start >= timedelta(minutes=1) else None


@dataclass(frozen=True)
class GroupSignal:
    """One target group over one window."""

    requests: float
    errors: float
    p99_seconds: float | None

    @property
    def error_rate(self) -> float | None:
        return None if self.requests <= 0 else self.errors / self.requests

    def to_dict(self) -> dict:
        return {"requests": self.requests, "errors": self.errors, "errorRate": self.error_rate,
                "p99Ms": None if self.p99_seconds is None else round(self.p99_seconds * 1000, 3)}


def _query(qid: str, region: TierRegion, group_arn: str, metric: str, stat: str, period: int) -> dict:
    return {"Id": qid, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": [
            {"Name": "LoadBalancer", "Value": region.load_balancer},
            {"Name": "TargetGroup", "Value": target_group_dimension(group_arn)}]},
        "Period": period, "Stat": stat}}


def read_groups(cloudwatch: Any, region: TierRegion, window: tuple[datetime, datetime]) -> dict[str, GroupSignal]:
    """`{"stable": ..., "canary": ...}` for `region` over `window` (one GetMetricData call)."""
    start, end = window
    period = int((end - start).total_seconds())
    if period < MINUTE or period % MINUTE:
        raise ValueError(f"a window is whole minutes. Received: {start} to {end}")
    groups = {"stable": region.stable_group_arn, "canary": region.canary_group_arn}
    queries = []
    for label, arn in groups.items():
        queries += [_query(f"{label}_{i}", region, arn, metric, "Sum", period) for i, metric in enumerate(SUMS)]
        queries.append(_query(f"{label}_p99", region, arn, LATENCY, LATENCY_STAT, period))
    values: dict[str, list[float]] = {}
    token = None
    while True:
        answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                            **({"NextToken": token} if token else {}))
        for result in answer.get("MetricDataResults", []):
            values.setdefault(result["Id"], []).extend(v for v in result.get("Values", []) if v is not None)
        token = answer.get("NextToken")
        if not token:
            break
    found = {}
    for label in groups:
        sums = [sum(values.get(f"{label}_{i}", [])) for i in range(len(SUMS))]
        p99 = values.get(f"{label}_p99") or []
        found[label] = GroupSignal(requests=sums[0], errors=sums[1] + sums[2],
                                   p99_seconds=max(p99) if p99 and all(math.isfinite(v) for v in p99) else None)
    return found


@dataclass(frozen=True)
class Verdict:
    """`ok`: True passed, False failed (roll back), None not enough traffic yet."""

    ok: bool | None
    detail: str
    data: dict


def judge(canary: GroupSignal, reference: GroupSignal, live: dict, *, reference_name: str) -> Verdict:
    """The live gate: the canary's error rate and p99 against the reference (the stable group now,
    or its baseline before the release when the stable group serves too little to compare)."""
    data = {"canary": canary.to_dict(), "reference": reference.to_dict(), "referenceKind": reference_name, "thresholds": {
        "maxErrorRateIncrease": live["maxErrorRateIncrease"], "maxP99Ratio": live["maxP99Ratio"],
        "p99SlackMs": live["p99SlackMs"], "minRequests": live["minRequests"]}}
    if canary.requests < max(live["minRequests"], 1):
        return Verdict(None, f"the canary served {canary.requests:g} requests, fewer than the {live['minRequests']} a "
                             "verdict needs", data)
    reference_rate = reference.error_rate or 0.0
    limit = reference_rate + live["maxErrorRateIncrease"]
    if canary.error_rate > limit:
        return Verdict(False, f"canary error rate {canary.error_rate:.2%} > {reference_name} {reference_rate:.2%} "
                              f"+ {live['maxErrorRateIncrease']:.2%} ({canary.errors:g} of {canary.requests:g})", data)
    detail = f"errors {canary.error_rate:.2%} (limit {limit:.2%})"
    if canary.p99_seconds is not None and reference.p99_seconds is not None:
        allowed = reference.p99_seconds * live["maxP99Ratio"] + live["p99SlackMs"] / 1000
        if canary.p99_seconds > allowed:
            return Verdict(False, f"canary p99 {canary.p99_seconds * 1000:.0f} ms > {reference_name} p99 "
                                  f"{reference.p99_seconds * 1000:.0f} ms x {live['maxP99Ratio']:g} + {live['p99SlackMs']} ms", data)
        detail += f", p99 {canary.p99_seconds * 1000:.0f} ms (limit {allowed * 1000:.0f} ms)"
    else:
        detail += ", p99 not compared (no latency data)"
    return Verdict(True, f"{canary.requests:g} requests: {detail}", data)
