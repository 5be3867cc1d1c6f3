"""KeyAlarms: an alarm per region when someone disables, schedules for deletion or rewrites
the policy of a model key.

KMS reports those calls as CloudTrail management events, which CloudTrail hands to the
region's default EventBridge bus (EventBridge reference, "AWS Key Management Service events":
source `aws.kms`, detail-type "AWS API Call via CloudTrail"). A rule per region matches them
for the deployment's keys, keeps each event in a log group (the who and when, for the
incident) and a CloudWatch alarm on the rule's `MatchedEvents` metric goes to ALARM, so the
alarm topics hear of it like any other DR alarm. EventBridge receives CloudTrail API events
only while a trail logs in the account; `ModelAuditTrail` provides one where none exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# What makes a key unusable (disable, delete) or can re-open it (a new key policy).
WATCHED_KEY_CALLS = ("DeleteImportedKeyMaterial", "DisableKey", "PutKeyPolicy", "ScheduleKeyDeletion")
KEY_EVENT_LOG_RETENTION_DAYS = 365


def key_event_pattern(key_arns: Sequence[str]) -> dict:
    """EventBridge pattern: the watched KMS calls on these keys (CloudTrail lists the key in
    `detail.resources[].ARN`; a pattern on an array matches when any element does)."""
    return {
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": list(WATCHED_KEY_CALLS),
            "resources": {"ARN": sorted(set(key_arns))},
        },
    }


def matched_events_alarm(rule_name: pulumi.Input[str]) -> dict:
    """ALARM as soon as the rule matched one event in a minute; quiet when nothing happens."""
    return {
        "namespace": "AWS/Events",
        "metric_name": "MatchedEvents",
        "dimensions": {"RuleName": rule_name},
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 1,
        "threshold": 1,
        "comparison_operator": "GreaterThanOrEqualToThreshold",
        "treat_missing_data": "notBreaching",
    }


def events_log_policy(log_group_arn: str, rule_arn: str) -> dict:
    """Resource policy letting EventBridge (for this rule only) write into the log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EventBridgeWritesKeyEvents",
            "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }],
    }


@dataclass(frozen=True, kw_only=True)
class KeyAlarmsArgs:
    """Arguments of `KeyAlarms`.

    Attributes:
        key_arns: the keys to watch, by region (a key's events arrive in its own region).
        alarm_topic_arns: SNS topics notified on ALARM and OK; each alarm uses those of its
            region. Default none (the alarms still show in the console).
        tags: tags on every taggable resource. Default none.
    """

    key_arns: Mapping[str, Sequence[pulumi.Input[str]]]
    alarm_topic_arns: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class KeyAlarms(pulumi.ComponentResource):
    """Per region: an EventBridge rule on the watched KMS calls, a log group that keeps the
    matched events, and a CloudWatch alarm on the rule's matches."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: KeyAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("recsys-dr:components:KeyAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.alarms = {}
        for region, arns in sorted(args.key_arns.items()):
            prefix = f"{name}-{region}"
            # Explicit names: the alarm's dimension and the stack outputs refer to them
            # (EventBridge rule names are at most 64 characters).
            rule = aws.cloudwatch.EventRule(
                prefix, name=prefix[:64], region=region, description="Model key disabled, scheduled for deletion or re-policied",
                event_pattern=pulumi.Output.all(*arns).apply(lambda values: json.dumps(key_event_pattern(values))),
                tags=tags, opts=child,
            )
            log_group = aws.cloudwatch.LogGroup(
                prefix, region=region, name=f"/aws/events/{prefix}", retention_in_days=KEY_EVENT_LOG_RETENTION_DAYS,
                tags=tags, opts=child,
            )
            log_policy = aws.cloudwatch.LogResourcePolicy(
                prefix, region=region, policy_name=f"{prefix}-events",
                policy_document=pulumi.Output.all(log_group.arn, rule.arn).apply(
                    lambda values: json.dumps(events_log_policy(values[0], values[1]))
                ),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                prefix, region=region, rule=rule.name, arn=log_group.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[log_policy]),
            )
            actions = [arn for arn in args.alarm_topic_arns if arn.split(":")[3] == region]
            self.alarms[region] = aws.cloudwatch.MetricAlarm(
                prefix, name=f"{prefix}-key-calls", region=region, alarm_description=f"A model key in {region} was disabled, scheduled for deletion or given a new policy",
                alarm_actions=actions, ok_actions=actions, tags=tags, **matched_events_alarm(rule.name), opts=child,
            )
        self.register_outputs({"alarmNames": {region: alarm.name for region, alarm in self.alarms.items()}})
