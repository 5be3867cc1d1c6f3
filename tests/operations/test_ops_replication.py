"""`replication.rule`: the rule must be the one the stacks create, not just "a rule that exists".

moto 5 answers GetBucketReplication with `Filter: {Prefix: ""}` for every rule and drops
`SourceSelectionCriteria`, so it cannot show a wrong prefix or a missing SSE-KMS selection.
These tests therefore run `check_replication_rule` on crafted GetBucketReplication answers
served by a real boto3 S3 client under botocore's `Stubber` (response shapes are validated
against the S3 model). The moto-based status tests cover the Enabled/RTC/removed cases.
"""

from __future__ import annotations

import copy

import boto3
import pytest
from botocore.stub import Stubber

from recsys_dr.operations.checks import CheckContext, check_replication_rule
from recsys_dr.operations.clients import ClientFactory
from recsys_dr.operations.outputs import parse_outputs
from tests.operations.ops_fixtures import outputs_doc

STANDBY_KEY = "arn:aws:kms:us-west-2:123456789012:key/standby"
RULE = {
    "ID": "models-to-standby", "Priority": 1, "Status": "Enabled",
    "Filter": {"Prefix": "models/"},
    "DeleteMarkerReplication": {"Status": "Disabled"},
    "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
    "Destination": {
        "Bucket": "arn:aws:s3:::b-standby", "StorageClass": "STANDARD",
        "EncryptionConfiguration": {"ReplicaKmsKeyID": STANDBY_KEY},
        "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
        "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
    },
}


def check(rule: dict, *, standby_key: str = STANDBY_KEY, target: str = "standby"):
    doc = outputs_doc("arc")
    doc["regions"]["standby"]["kmsKeyArn"] = standby_key
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stubber:
        stubber.add_response("get_bucket_replication",
                             {"ReplicationConfiguration": {"Role": "arn:aws:iam::123456789012:role/r",
                                                           "Rules": [rule]}},
                             {"Bucket": "b-primary"})
        factory = ClientFactory()
        factory.set_client("s3", "us-east-1", s3)
        result = check_replication_rule(CheckContext(outputs=parse_outputs(doc), clients=factory, target=target))
        stubber.assert_no_pending_responses()
    return result


def mutated(path: str, value) -> dict:
    """RULE with the dotted `path` set to `value` (None deletes the key)."""
    rule = copy.deepcopy(RULE)
    *parents, leaf = path.split(".")
    node = rule
    for key in parents:
        node = node[key]
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value
    return rule


def test_the_rule_the_stacks_create_passes():
    result = check(RULE)
    assert result.ok, result.detail
    assert result.detail == ("'models-to-standby' Enabled, models/ -> b-standby, RTC 15 min, metrics on, "
                             "SSE-KMS replicated with the standby key")
    assert result.data["prefix"] == "models/" and result.data["replicaKmsKeyId"] == STANDBY_KEY


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("Filter", {"Prefix": "logs/"}, "does not cover 'models/'"),
    ("Filter", {"Tag": {"Key": "k", "Value": "v"}}, "does not cover 'models/'"),
    ("Filter", {"And": {"Prefix": "models/", "Tags": [{"Key": "k", "Value": "v"}]}}, "does not cover 'models/'"),
    ("Destination.Bucket", "arn:aws:s3:::elsewhere", "destination is arn:aws:s3:::elsewhere"),
    ("Destination.ReplicationTime", {"Status": "Disabled", "Time": {"Minutes": 15}}, "(RTC) is not enabled"),
    ("Destination.ReplicationTime.Time", {"Minutes": 5}, "RTC time is 5 min, expected 15"),
    ("Destination.Metrics", {"Status": "Disabled"}, "replication metrics are not enabled"),
    ("SourceSelectionCriteria", None, "SSE-KMS encrypted objects are not selected"),
    ("SourceSelectionCriteria.SseKmsEncryptedObjects", {"Status": "Disabled"},
     "SSE-KMS encrypted objects are not selected"),
    ("Destination.EncryptionConfiguration", None, "no replica KMS key"),
    ("Destination.EncryptionConfiguration.ReplicaKmsKeyID", "arn:aws:kms:us-west-2:123456789012:key/other",
     f"replica KMS key is arn:aws:kms:us-west-2:123456789012:key/other, expected the standby key {STANDBY_KEY}"),
])
def test_each_difference_from_the_stacks_rule_fails_and_blocks(path, value, expected):
    result = check(mutated(path, value))
    assert not result.ok and result.blocks
    assert expected in result.detail


@pytest.mark.parametrize("flt", [{"Prefix": ""}, {}, {"And": {"Prefix": "models/"}}])
def test_a_filter_covering_models_passes(flt):
    assert check(mutated("Filter", flt)).ok


def test_legacy_rule_prefix_is_read():
    rule = mutated("Filter", None)
    rule["Prefix"] = "logs/"
    del rule["DeleteMarkerReplication"]
    result = check(rule)
    assert not result.ok and "does not cover 'models/'" in result.detail


def test_rule_problems_do_not_block_a_failback_to_the_primary():
    result = check(mutated("Filter", {"Prefix": "logs/"}), target="primary")
    assert not result.ok and not result.blocks
