"""DrAlarms: CloudWatch alarms on the failover health checks and on S3 replication."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.settings.alarms import AlarmSettings

# Route 53 publishes health-check metrics only in us-east-1, whatever the regions served.
ROUTE53_METRICS_REGION = "us-east-1"


def health_check_alarm(health_check_id: pulumi.Input[str]) -> dict:
    """Alarm while the health check reports unhealthy (status 0) for a minute."""
    return {
        "namespace": "AWS/Route53",
        "metric_name": "HealthCheckStatus",
        "dimensions": {"HealthCheckId": health_check_id},
        "statistic": "Minimum",
        "period": 60,
        "evaluation_periods": 1,
        "threshold": 1,
        "comparison_operator": "LessThanThreshold",
        # No data from the checkers is itself a reason to look.
        "treat_missing_data": "breaching",
    }


def replication_alarms(
    *, source_bucket: pulumi.Input[str], destination_bucket: pulumi.Input[str], rule_id: str, latency_seconds: int
) -> dict[str, dict]:
    """Alarms on the replication rule's RTC metrics, keyed by a short name."""
    dimensions = {"SourceBucket": source_bucket, "DestinationBucket": destination_bucket, "RuleId": rule_id}
    return {
        "replication-latency": {
            "namespace": "AWS/S3",
            "metric_name": "ReplicationLatency",
            "dimensions": dimensions,
            "statistic": "Maximum",
            "period": 300,
            "evaluation_periods": 1,
            "threshold": latency_seconds,
            "comparison_operator": "GreaterThanThreshold",
            # S3 reports nothing while nothing replicates: quiet is healthy.
            "treat_missing_data": "notBreaching",
        },
        "replication-failed": {
            "namespace": "AWS/S3",
            "metric_name": "OperationsFailedReplication",
            "dimensions": dimensions,
            "statistic": "Sum",
            "period": 300,
            "evaluation_periods": 1,
            "threshold": 0,
            "comparison_operator": "GreaterThanThreshold",
            "treat_missing_data": "notBreaching",
        },
    }


@dataclass(frozen=True, kw_only=True)
class DrAlarmsArgs:
    """Arguments of `DrAlarms`.

    Attributes:
        replication_region: region of the replication source bucket (the primary); its
            replication metrics are published there.
        replication_rule_id: the replication rule whose RTC metrics are watched.
        alarms: the `alarms` settings. An alarm can only notify an SNS topic in its own
            region, so each alarm uses the topics of its region: give one in us-east-1
            (health checks) and one in `replication_region`. Default: no topics (the alarms
            still show in the console), latency alarm at 900 s (the RTC SLA).
        tags: tags on every alarm. Default none.
    """

    replication_region: str
    replication_rule_id: str
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AlarmWiring:
    """What the alarms watch.

    Attributes:
        health_check_ids: failover health checks to watch, keyed by tier ("primary", "standby",
            "fallback"). Leave out a pilot-light standby: it is unhealthy by design.
        source_bucket / destination_bucket: the replicated buckets.
    """

    health_check_ids: Mapping[str, pulumi.Input[str]]
    source_bucket: pulumi.Input[str]
    destination_bucket: pulumi.Input[str]


def topics_in_region(topic_arns: Sequence[str], region: str) -> list[str]:
    """The SNS topics an alarm in `region` may notify (arn:aws:sns:<region>:<account>:<name>)."""
    return [arn for arn in topic_arns if arn.split(":")[3] == region]


class DrAlarms(pulumi.ComponentResource):
    """One alarm per watched health check (us-east-1) and two on replication (primary region)."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: DrAlarmsArgs, wiring: AlarmWiring, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("recsys-dr:components:DrAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alarms = {}
        # The specs only place the ids and names in dimensions, so Outputs go in as they are.
        specs = {
            f"{role}-unhealthy": (ROUTE53_METRICS_REGION, f"The {role} tier fails its Route 53 failover health check",
                                  health_check_alarm(check_id))
            for role, check_id in wiring.health_check_ids.items()
        }
        for key, spec in replication_alarms(
            source_bucket=wiring.source_bucket, destination_bucket=wiring.destination_bucket,
            rule_id=args.replication_rule_id, latency_seconds=args.alarms.replication_latency_seconds,
        ).items():
            specs[key] = (args.replication_region, f"S3 replication of models to the standby: {key.replace('-', ' ')}", spec)
        for key, (region, description, spec) in specs.items():
            actions = topics_in_region(args.alarms.topic_arns, region)
            self.alarms[key] = aws.cloudwatch.MetricAlarm(
                f"{name}-{key}", region=region, alarm_description=description, tags=dict(args.tags),
                alarm_actions=actions, ok_actions=actions, **spec, opts=child,
            )
        self.register_outputs({"alarmNames": {key: alarm.name for key, alarm in self.alarms.items()}})
