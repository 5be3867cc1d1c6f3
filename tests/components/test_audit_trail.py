"""ModelAuditTrail: per-region trails that record model writes and deletes and key calls."""

from __future__ import annotations

import json

import pytest

from recsys_dr.components.monitoring.audit_trail import ModelAuditTrail, ModelAuditTrailArgs, trail_event_selectors
from tests.support import render

BUCKETS = {"us-east-1": "arn:aws:s3:::models-primary", "us-west-2": "arn:aws:s3:::models-standby"}


@pytest.fixture(scope="module")
def run():
    return render(lambda: ModelAuditTrail("audit", ModelAuditTrailArgs(trail_name="recsys-prod-models", model_bucket_arns=BUCKETS)))


def test_data_events_are_model_writes_of_one_bucket_only():
    data = trail_event_selectors(bucket_arn=BUCKETS["us-east-1"])[1]["field_selectors"]
    assert {"field": "eventCategory", "equals": ["Data"]} in data
    assert {"field": "readOnly", "equals": ["false"]} in data
    assert {"field": "resources.ARN", "starts_withs": ["arn:aws:s3:::models-primary/models/"]} in data


def test_write_management_events_are_logged_for_the_key_alarms():
    management = trail_event_selectors(bucket_arn=BUCKETS["us-east-1"])[0]["field_selectors"]
    assert management == [{"field": "eventCategory", "equals": ["Management"]}, {"field": "readOnly", "equals": ["false"]}]


def test_one_single_region_trail_per_bucket_region_with_validated_logs(run):
    trails = {t.inputs["region"]: t.inputs for t in run.of_type("aws:cloudtrail/trail:Trail")}
    assert set(trails) == set(BUCKETS)
    for region, trail in trails.items():
        assert trail["name"] == "recsys-prod-models"
        assert trail["isMultiRegionTrail"] is False and trail["enableLogFileValidation"] is True
        selector = trail["advancedEventSelectors"][1]["fieldSelectors"][-1]
        assert selector["startsWiths"] == [f"{BUCKETS[region]}/models/"]


def test_each_trail_logs_into_a_protected_bucket_of_its_own_region(run):
    buckets = {b.outputs["bucket"]: b for b in run.of_type("aws:s3/bucket:Bucket")}
    for trail in run.of_type("aws:cloudtrail/trail:Trail"):
        bucket = buckets[trail.inputs["s3BucketName"]]
        assert bucket.inputs["region"] == trail.inputs["region"]
        assert bucket.options.get("protect") is True


def test_only_this_trail_may_deliver_into_its_bucket(run):
    for policy in run.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        region = policy.inputs["region"]
        source = statements["CloudTrailWrite"]["Condition"]["StringEquals"]["aws:SourceArn"]
        assert source == f"arn:aws:cloudtrail:{region}:123456789012:trail/recsys-prod-models"
        assert statements["CloudTrailWrite"]["Resource"].endswith("/AWSLogs/123456789012/*")
        assert "DenyInsecureTransport" in statements


def test_logs_are_encrypted_with_a_key_only_this_trail_may_use(run):
    keys = {k.inputs["region"]: k for k in run.of_type("aws:kms/key:Key")}
    for trail in run.of_type("aws:cloudtrail/trail:Trail"):
        key = keys[trail.inputs["region"]]
        assert trail.inputs["kmsKeyId"] == key.outputs["arn"] and key.options.get("protect") is True
        statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
        assert statements["CloudTrailEncryptsThisTrail"]["Condition"]["StringEquals"]["aws:SourceArn"].endswith(
            f":{trail.inputs['region']}:123456789012:trail/recsys-prod-models")
        assert "EnableIamPolicies" in statements and "DenyKeyDestructionButBreakGlass" in statements


def test_log_expiry_stays_inside_cloudtrails_prefix(run):
    for lifecycle in run.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        assert {r["filter"]["prefix"] for r in lifecycle.inputs["rules"]} == {"AWSLogs/"}
