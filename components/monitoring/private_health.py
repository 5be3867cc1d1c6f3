"""PrivateEndpointHealth: failover health checks for internal balancers, from CloudWatch.

Route 53 health checkers probe from the internet and cannot reach a private endpoint, so an
internal deployment's failover records follow CloudWatch alarms instead (Route 53 health check
type CLOUDWATCH_METRIC). Each alarm watches the balancer target group's `HealthyHostCount`
(namespace AWS/ApplicationELB, dimensions TargetGroup and LoadBalancer): its targets are pod
IPs, healthy only while TF Serving answers 200 on the model's status path, which it does once
the model is AVAILABLE. Route 53 takes alarms on one standard-resolution metric with a plain
statistic (Route 53 API reference, `AlarmIdentifier`), so the alarm names its metric and
dimensions directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.dns.budget import FailoverBudget, failover_budget

# Standard-resolution metric, one-minute periods (Route 53 takes no high-resolution alarm).
ALARM_PERIOD_SECONDS = 60
DEFAULT_EVALUATION_PERIODS = 2


def private_failover_budget(*, ttl: int, evaluation_periods: int = DEFAULT_EVALUATION_PERIODS, hops: int = 1) -> FailoverBudget:
    """Detection is the alarm's (`evaluation_periods` one-minute periods) per hop, then the TTL."""
    return failover_budget(interval=ALARM_PERIOD_SECONDS, failure_threshold=evaluation_periods, ttl=ttl, hops=hops)


def healthy_hosts_alarm(*, load_balancer: pulumi.Input[str], target_group: pulumi.Input[str], evaluation_periods: int) -> dict:
    """ALARM when no target has been healthy for `evaluation_periods` minutes, or no data came."""
    return {
        "namespace": "AWS/ApplicationELB",
        "metric_name": "HealthyHostCount",
        "dimensions": {"LoadBalancer": load_balancer, "TargetGroup": target_group},
        "statistic": "Minimum",
        "period": ALARM_PERIOD_SECONDS,
        "evaluation_periods": evaluation_periods,
        "threshold": 1,
        "comparison_operator": "LessThanThreshold",
        "treat_missing_data": "breaching",
    }


@dataclass(frozen=True, kw_only=True)
class PrivateEndpoint:
    """One region's internal balancer, by its CloudWatch dimensions (the ARN suffixes
    `app/<name>/<id>` and `targetgroup/<name>/<id>`)."""

    region: str
    load_balancer: pulumi.Input[str]
    target_group: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class PrivateEndpointHealthArgs:
    """Arguments of `PrivateEndpointHealth`.

    Attributes:
        endpoints: the internal balancers, keyed by tier ("primary"/"standby", and "fallback" with a fallback tier).
        evaluation_periods: minutes without a healthy target before the check fails. Default 2.
        alarm_topic_arns: SNS topics notified on ALARM and OK (those in each alarm's region).
        tags: tags on alarms and health checks. Default none.
    """

    endpoints: Mapping[str, PrivateEndpoint]
    evaluation_periods: int = DEFAULT_EVALUATION_PERIODS
    alarm_topic_arns: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class PrivateEndpointHealth(pulumi.ComponentResource):
    """Per role: a `HealthyHostCount` alarm in the endpoint's region and a CLOUDWATCH_METRIC
    Route 53 health check on it (`health_checks[role].id` steers the failover records)."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    health_checks: dict[str, aws.route53.HealthCheck]

    def __init__(self, name: str, args: PrivateEndpointHealthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not 1 <= args.evaluation_periods <= 10:
            raise ValueError(f"`evaluation_periods` must be an integer from 1 to 10 minutes. Received: {args.evaluation_periods!r}")
        super().__init__("recsys-dr:components:PrivateEndpointHealth", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alarms, self.health_checks = {}, {}
        for role, endpoint in sorted(args.endpoints.items()):
            actions = [arn for arn in args.alarm_topic_arns if arn.split(":")[3] == endpoint.region]
            alarm = aws.cloudwatch.MetricAlarm(
                # An explicit name: the health check refers to the alarm by name.
                f"{name}-{role}", name=f"{name}-{role}-healthy-targets", region=endpoint.region,
                alarm_description=f"The {role} tier's internal balancer has no healthy serving target",
                alarm_actions=actions, ok_actions=actions, tags=dict(args.tags),
                **healthy_hosts_alarm(load_balancer=endpoint.load_balancer, target_group=endpoint.target_group,
                                      evaluation_periods=args.evaluation_periods),
                opts=child,
            )
            self.alarms[role] = alarm
            self.health_checks[role] = aws.route53.HealthCheck(
                f"{name}-{role}", type="CLOUDWATCH_METRIC", cloudwatch_alarm_name=alarm.name,
                cloudwatch_alarm_region=endpoint.region,
                # No alarm data (for example, no load balancer yet) must not look healthy.
                insufficient_data_health_status="Unhealthy",
                tags={**args.tags, "Name": f"{name}-{role}"}, opts=child,
            )
        self.register_outputs({
            "alarmNames": {role: alarm.name for role, alarm in self.alarms.items()},
            "healthCheckIds": {role: check.id for role, check in self.health_checks.items()},
        })
