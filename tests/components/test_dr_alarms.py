"""DR alarms: health checks (in us-east-1, where Route 53 publishes) and replication (primary)."""

from __future__ import annotations

import pytest

from recsys_dr.components.monitoring.dr_alarms import health_check_alarm, replication_alarms, topics_in_region
from recsys_dr.components.settings import (
    AlarmSettings,
    DnsSettings,
    ModelSettings,
    RegionPair,
    ServingSettings,
    SettingsError,
    TwoRegionRecommenderArgs,
)

TOPIC_EAST = "arn:aws:sns:us-east-1:123456789012:oncall"
TOPIC_WEST = "arn:aws:sns:eu-west-1:123456789012:oncall"


def test_health_check_alarm_fires_when_the_check_reports_unhealthy():
    alarm = health_check_alarm("hc-1")
    assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Route53", "HealthCheckStatus")
    assert alarm["dimensions"] == {"HealthCheckId": "hc-1"}
    assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == ("Minimum", "LessThanThreshold", 1)
    assert alarm["treat_missing_data"] == "breaching"


def test_replication_alarms_watch_the_rule_against_the_rtc_sla():
    alarms = replication_alarms(source_bucket="src", destination_bucket="dst", rule_id="models-to-standby", latency_seconds=900)
    assert set(alarms) == {"replication-latency", "replication-failed"}
    for alarm in alarms.values():
        assert alarm["dimensions"] == {"SourceBucket": "src", "DestinationBucket": "dst", "RuleId": "models-to-standby"}
        assert alarm["treat_missing_data"] == "notBreaching"
    assert alarms["replication-latency"]["threshold"] == 900
    assert alarms["replication-failed"]["metric_name"] == "OperationsFailedReplication"


def test_each_alarm_notifies_only_topics_of_its_region():
    assert topics_in_region([TOPIC_EAST, TOPIC_WEST], "eu-west-1") == [TOPIC_WEST]


@pytest.mark.parametrize("topics", [["not-an-arn"], ["arn:aws:sqs:us-east-1:123456789012:queue"]])
def test_topics_must_be_sns(topics):
    with pytest.raises(SettingsError, match="`topic_arns` must be a list of SNS topic ARNs"):
        AlarmSettings(topic_arns=topics)


def recommender_args(**sections) -> TwoRegionRecommenderArgs:
    return TwoRegionRecommenderArgs(
        regions=RegionPair(primary="eu-west-1", standby="eu-central-1"), model=ModelSettings(name="recs", version=1, manifest_sha256="0" * 64),
        dns=DnsSettings(record_name="recs.example.com", zone_id="Z0TEST"),
        serving=ServingSettings(allowed_cidrs=["203.0.113.0/24"]), **sections,
    )


def test_topics_must_cover_every_alarm_region():
    # CloudWatch notifies only topics in the alarm's own region.
    with pytest.raises(SettingsError, match=r"`alarms.topic_arns` needs a topic in each alarm region .* Missing: eu-west-1"):
        recommender_args(alarms=AlarmSettings(topic_arns=[TOPIC_EAST]))


def test_no_topics_is_allowed():
    assert recommender_args(alarms=AlarmSettings(topic_arns=[])).alarms.topic_arns == []


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_shipped_environments_alarm_on_the_health_checks_that_matter(rendered_stacks, env):
    run = rendered_stacks[env]
    alarms = {r.name: r.inputs for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    health = {name: inputs for name, inputs in alarms.items() if inputs["namespace"] == "AWS/Route53"}
    # dev's pilot-light standby is unhealthy by design, so only its primary is watched; the fallback
    # tier always is (a fallback that fails unnoticed is no fallback).
    expected_roles = {"dev": ["fallback", "primary"], "prod": ["fallback", "primary", "standby"]}[env]
    assert sorted(health) == [f"recsys-{env}-alarms-{role}-unhealthy" for role in expected_roles]
    for role in expected_roles:
        inputs = health[f"recsys-{env}-alarms-{role}-unhealthy"]
        assert inputs["region"] == "us-east-1"
        tier = run.outputs["fallback"] if role == "fallback" else run.outputs["regions"][role]
        assert inputs["dimensions"] == {"HealthCheckId": tier["healthCheckId"]}
    latency = alarms[f"recsys-{env}-alarms-replication-latency"]
    assert latency["region"] == run.outputs["regions"]["primary"]["region"]
    assert latency["dimensions"]["SourceBucket"] == run.outputs["regions"]["primary"]["bucket"]
    assert latency["dimensions"]["DestinationBucket"] == run.outputs["regions"]["standby"]["bucket"]
