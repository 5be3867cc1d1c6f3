"""Tamper alarms (key, bucket-guard and trail calls) and CloudWatch-based health checks for internal balancers."""

from __future__ import annotations

import json

import pulumi
import pytest

from recsys_dr.components.monitoring.tamper_alarms import (
    TamperAlarms,
    TamperAlarmsArgs,
    bucket_event_pattern,
    key_event_pattern,
    trail_event_pattern,
)
from recsys_dr.components.monitoring.private_health import (
    PrivateEndpoint,
    PrivateEndpointHealth,
    PrivateEndpointHealthArgs,
)
from tests.support import render

EAST_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111"
WEST_KEY = "arn:aws:kms:us-west-2:123456789012:key/2222"
TOPIC_EAST = "arn:aws:sns:us-east-1:123456789012:oncall"


@pytest.fixture(scope="module")
def key_run():
    return render(lambda: TamperAlarms("tamper", TamperAlarmsArgs(
        key_arns={"us-east-1": [EAST_KEY], "us-west-2": [pulumi.Output.from_input(WEST_KEY)]},
        bucket_names={"us-east-1": ["models-primary"]}, trails={"us-east-1": ["audit", "arn:aws:cloudtrail:us-east-1:1:trail/audit"]},
        alarm_topic_arns=[TOPIC_EAST],
    )))


def test_key_events_are_matched_as_cloudtrail_kms_calls_on_these_keys():
    pattern = key_event_pattern([WEST_KEY, EAST_KEY, EAST_KEY])
    assert pattern["source"] == ["aws.kms"] and pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert {"DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"} <= set(pattern["detail"]["eventName"])
    assert pattern["detail"]["resources"] == {"ARN": [EAST_KEY, WEST_KEY]}


def test_each_region_watches_its_own_keys(key_run):
    rules = {r.inputs["name"]: json.loads(r.inputs["eventPattern"]) for r in key_run.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert rules["tamper-us-east-1-keys"]["detail"]["resources"]["ARN"] == [EAST_KEY]
    assert rules["tamper-us-west-2-keys"]["detail"]["resources"]["ARN"] == [WEST_KEY]
    # Nothing else to watch in us-west-2: no empty rule (an empty list would match nothing anyway).
    assert set(rules) == {"tamper-us-east-1-keys", "tamper-us-west-2-keys", "tamper-us-east-1-buckets", "tamper-us-east-1-trail"}


def test_bucket_guard_changes_are_matched_per_bucket():
    pattern = bucket_event_pattern(["models-primary"])
    assert pattern["source"] == ["aws.s3"] and pattern["detail"]["requestParameters"] == {"bucketName": ["models-primary"]}
    # The calls that would undo the bucket policy, versioning, Object Lock or replication.
    assert {"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketVersioning", "PutObjectLockConfiguration",
            "PutBucketLifecycle", "DeleteBucketReplication"} <= set(pattern["detail"]["eventName"])


def test_trail_changes_are_matched_by_name_or_arn():
    pattern = trail_event_pattern(["audit", "arn:aws:cloudtrail:us-east-1:1:trail/audit"])
    assert {"StopLogging", "DeleteTrail", "PutEventSelectors"} <= set(pattern["detail"]["eventName"])
    assert pattern["detail"]["requestParameters"]["name"] == ["arn:aws:cloudtrail:us-east-1:1:trail/audit", "audit"]


def test_matched_key_events_are_kept_and_alarm(key_run):
    targets = key_run.of_type("aws:cloudwatch/eventTarget:EventTarget")
    groups = {g.outputs["arn"] for g in key_run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert {t.inputs["arn"] for t in targets} == groups
    alarms = {a.inputs["name"]: a.inputs for a in key_run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    east = alarms["tamper-us-east-1-keys-calls"]
    assert east["metricName"] == "MatchedEvents" and east["alarmActions"] == [TOPIC_EAST]
    assert east["dimensions"] == {"RuleName": "tamper-us-east-1-keys"}
    assert alarms["tamper-us-west-2-keys-calls"]["alarmActions"] == []


def test_one_log_policy_per_region_lets_only_its_rules_write(key_run):
    # CloudWatch Logs allows 10 resource policies per account and region: one per region here.
    policies = {p.inputs["region"]: json.loads(p.inputs["policyDocument"])["Statement"][0]
                for p in key_run.of_type("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")}
    assert len(policies) == len(key_run.of_type("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")) == 2
    for region, statement in policies.items():
        rules = sorted(r.outputs["arn"] for r in key_run.of_type("aws:cloudwatch/eventRule:EventRule") if r.inputs["region"] == region)
        groups = sorted(f"{g.outputs['arn']}:*" for g in key_run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["region"] == region)
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rules
        assert statement["Resource"] == groups


@pytest.fixture(scope="module")
def health_run():
    return render(lambda: PrivateEndpointHealth("private", PrivateEndpointHealthArgs(endpoints={
        "primary": PrivateEndpoint(region="us-east-1", load_balancer="app/aprimary/1", target_group="targetgroup/tprimary/1"),
        "standby": PrivateEndpoint(region="us-west-2", load_balancer="app/astandby/2", target_group="targetgroup/tstandby/2"),
    }, alarm_topic_arns=(TOPIC_EAST,))))


def test_private_endpoints_alarm_on_healthy_targets_of_their_balancer(health_run):
    # ALB metrics: namespace AWS/ApplicationELB, HealthyHostCount per TargetGroup and LoadBalancer
    # (Elastic Load Balancing User Guide, "CloudWatch metrics for your Application Load Balancer").
    alarms = {a.inputs["region"]: a.inputs for a in health_run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    east = alarms["us-east-1"]
    assert (east["namespace"], east["metricName"], east["statistic"]) == ("AWS/ApplicationELB", "HealthyHostCount", "Minimum")
    assert east["dimensions"] == {"LoadBalancer": "app/aprimary/1", "TargetGroup": "targetgroup/tprimary/1"}
    assert east["treatMissingData"] == "breaching"


def test_route53_follows_the_alarms_because_it_cannot_probe_private_endpoints(health_run):
    alarms = {a.outputs["name"]: a.inputs["region"] for a in health_run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    checks = health_run.of_type("aws:route53/healthCheck:HealthCheck")
    assert {c.inputs["type"] for c in checks} == {"CLOUDWATCH_METRIC"}
    for check in checks:
        assert alarms[check.inputs["cloudwatchAlarmName"]] == check.inputs["cloudwatchAlarmRegion"]
        assert check.inputs["insufficientDataHealthStatus"] == "Unhealthy"


def test_evaluation_periods_are_bounded():
    with pytest.raises(ValueError, match="`evaluation_periods` must be an integer from 1 to 10"):
        render(lambda: PrivateEndpointHealth("bad", PrivateEndpointHealthArgs(endpoints={}, evaluation_periods=0)))
