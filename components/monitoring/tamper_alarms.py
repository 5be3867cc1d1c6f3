"""TamperAlarms: an alarm per region when someone touches what keeps published models safe.

Watched: the keys (disable, schedule deletion, delete imported material, new key policy), the
model buckets' guards (bucket policy, versioning, Object Lock, lifecycle, replication,
encryption, public access block, ownership, deletion) and the audit trail (stop, delete,
update, new selectors). The bucket owner can always rewrite a bucket policy and KMS lets the
account statement rewrite a key policy, so these calls cannot all be denied; they are made
visible instead. Each is a CloudTrail management event that CloudTrail hands to the region's
default EventBridge bus (EventBridge reference: "AWS API Call via CloudTrail" from `aws.kms`,
`aws.s3`, `aws.cloudtrail`). A rule per region and concern matches them, keeps each event in a
log group (the who and when) and a CloudWatch alarm on the rule's `MatchedEvents` metric goes
to ALARM. EventBridge receives CloudTrail API events only while a trail logs in the account;
`ModelAuditTrail` provides one where none exists. A `pulumi up` that changes a guard on
purpose trips the alarm too: that is the record of the change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# What makes a key unusable (disable, delete) or can re-open it (a new key policy).
WATCHED_KEY_CALLS = ("DeleteImportedKeyMaterial", "DisableKey", "PutKeyPolicy", "ScheduleKeyDeletion")
# CloudTrail event names of the bucket-level calls that loosen a model bucket's guards.
WATCHED_BUCKET_CALLS = (
    "DeleteBucket", "DeleteBucketEncryption", "DeleteBucketLifecycle", "DeleteBucketOwnershipControls", "DeleteBucketPolicy",
    "DeleteBucketPublicAccessBlock", "DeleteBucketReplication", "PutBucketEncryption", "PutBucketLifecycle",
    "PutBucketOwnershipControls", "PutBucketPolicy", "PutBucketPublicAccessBlock", "PutBucketReplication",
    "PutBucketVersioning", "PutObjectLockConfiguration",
)
WATCHED_TRAIL_CALLS = ("DeleteTrail", "PutEventSelectors", "StopLogging", "UpdateTrail")
EVENT_LOG_RETENTION_DAYS = 365


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


def bucket_event_pattern(bucket_names: Sequence[str]) -> dict:
    """The watched S3 bucket calls on these buckets (`requestParameters.bucketName`)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": list(WATCHED_BUCKET_CALLS),
            "requestParameters": {"bucketName": sorted(set(bucket_names))},
        },
    }


def trail_event_pattern(trail_names_and_arns: Sequence[str]) -> dict:
    """The watched CloudTrail calls on these trails (`requestParameters.name` holds the name
    or the ARN, whichever the caller gave)."""
    return {
        "source": ["aws.cloudtrail"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["cloudtrail.amazonaws.com"],
            "eventName": list(WATCHED_TRAIL_CALLS),
            "requestParameters": {"name": sorted(set(trail_names_and_arns))},
        },
    }


PATTERNS = {"keys": key_event_pattern, "buckets": bucket_event_pattern, "trail": trail_event_pattern}
DESCRIPTIONS = {
    "keys": "A model, Secrets or audit key in {region} was disabled, scheduled for deletion or given a new policy",
    "buckets": "A guard of a model bucket in {region} changed (policy, versioning, Object Lock, lifecycle, replication, ...)",
    "trail": "The model audit trail in {region} was stopped, deleted or changed",
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


def events_log_policy(log_group_arns: Sequence[str], rule_arns: Sequence[str]) -> dict:
    """One resource policy per region letting EventBridge, for these rules only, write into
    these log groups. One, not one per group: CloudWatch Logs keeps at most 10 resource
    policies per account and region (CloudWatch Logs quotas, PutResourcePolicy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EventBridgeWritesTamperEvents",
            "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{arn}:*" for arn in sorted(log_group_arns)],
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
        }],
    }


@dataclass(frozen=True, kw_only=True)
class TamperAlarmsArgs:
    """Arguments of `TamperAlarms`. Every mapping is keyed by region (events arrive in the
    region of the resource).

    Attributes:
        key_arns: keys to watch.
        bucket_names: buckets whose guards to watch. Default none.
        trails: trail names and ARNs to watch. Default none.
        alarm_topic_arns: SNS topics notified on ALARM and OK; each alarm uses those of its
            region. Default none (the alarms still show in the console).
        tags: tags on every taggable resource. Default none.
    """

    key_arns: Mapping[str, Sequence[pulumi.Input[str]]]
    bucket_names: Mapping[str, Sequence[pulumi.Input[str]]] = field(default_factory=dict)
    trails: Mapping[str, Sequence[pulumi.Input[str]]] = field(default_factory=dict)
    alarm_topic_arns: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class TamperAlarms(pulumi.ComponentResource):
    """Per region and concern: an EventBridge rule on the watched calls, a log group that
    keeps the matched events, and a CloudWatch alarm on the rule's matches."""

    alarms: dict[str, dict[str, aws.cloudwatch.MetricAlarm]]

    def __init__(self, name: str, args: TamperAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("recsys-dr:components:TamperAlarms", name, None, opts)
        self.alarms = {}
        watched = {"keys": args.key_arns, "buckets": args.bucket_names, "trail": args.trails}
        regions = sorted({region for by_region in watched.values() for region, values in by_region.items() if values})
        for region in regions:
            kinds = {kind: by_region[region] for kind, by_region in watched.items() if by_region.get(region)}
            self.alarms[region] = self._watch_region(name, region, kinds, args)
        self.register_outputs({
            "alarmNames": {region: {kind: alarm.name for kind, alarm in kinds.items()} for region, kinds in self.alarms.items()},
        })

    def _watch_region(
        self, name: str, region: str, kinds: Mapping[str, Sequence[pulumi.Input[str]]], args: TamperAlarmsArgs,
    ) -> dict[str, aws.cloudwatch.MetricAlarm]:
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        rules, groups = {}, {}
        for kind, values in kinds.items():
            prefix = f"{name}-{region}-{kind}"
            # Explicit names: the alarm's dimension and the stack outputs refer to them
            # (EventBridge rule names are at most 64 characters).
            rules[kind] = aws.cloudwatch.EventRule(
                prefix, name=prefix[:64], region=region, description=DESCRIPTIONS[kind].format(region=region),
                event_pattern=pulumi.Output.all(*values).apply(lambda resolved, kind=kind: json.dumps(PATTERNS[kind](resolved))),
                tags=tags, opts=child,
            )
            groups[kind] = aws.cloudwatch.LogGroup(
                prefix, region=region, name=f"/aws/events/{prefix}", retention_in_days=EVENT_LOG_RETENTION_DAYS, tags=tags, opts=child,
            )
        log_policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-{region}", region=region, policy_name=f"{name}-{region}-events",
            policy_document=pulumi.Output.all(
                pulumi.Output.all(*[g.arn for g in groups.values()]), pulumi.Output.all(*[r.arn for r in rules.values()])
            ).apply(lambda arns: json.dumps(events_log_policy(arns[0], arns[1]))),
            opts=child,
        )
        actions = [arn for arn in args.alarm_topic_arns if arn.split(":")[3] == region]
        alarms = {}
        for kind, rule in rules.items():
            prefix = f"{name}-{region}-{kind}"
            aws.cloudwatch.EventTarget(
                prefix, region=region, rule=rule.name, arn=groups[kind].arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[log_policy]),
            )
            alarms[kind] = aws.cloudwatch.MetricAlarm(
                prefix, name=f"{prefix}-calls", region=region, alarm_description=DESCRIPTIONS[kind].format(region=region),
                alarm_actions=actions, ok_actions=actions, tags=tags, **matched_events_alarm(rule.name), opts=child,
            )
        return alarms
