"""The plan of each shipped environment (stacks/Pulumi.dev.yaml, stacks/Pulumi.prod.yaml)."""

import json

from recsys_dr.review.plan import render

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
BUCKET = "aws:s3/bucket:Bucket"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
RECORD = "aws:route53/record:Record"


def regions_of(plan):
    regions = plan.document["outputs"]["regions"]
    return regions["primary"]["region"], regions["standby"]["region"]


def test_plan_is_deterministic_on_the_real_program(shipped_plan):
    again = render(shipped_plan.document["environment"])
    assert again.to_json() == shipped_plan.to_json()


def test_both_regions_have_gpu_node_groups_on_nvidia_amis(shipped_plan):
    primary, standby = regions_of(shipped_plan)
    gpu = [r for r in shipped_plan.of_type(NODE_GROUP) if "NVIDIA" in r["inputs"].get("amiType", "")]
    assert sorted(r["region"] for r in gpu) == sorted([primary, standby])
    for group in gpu:
        assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"} in group["inputs"]["taints"]


def test_both_regions_serve(shipped_plan):
    primary, standby = regions_of(shipped_plan)
    deployments = shipped_plan.of_type(DEPLOYMENT)
    # Each region's GPU serving, and the CPU fallback tier in the standby region.
    assert sorted(d["region"] for d in deployments) == sorted([primary, standby, standby])


def test_buckets_are_replicated_from_primary_to_standby(shipped_plan):
    primary, standby = regions_of(shipped_plan)
    buckets = {b["region"]: b for b in shipped_plan.of_type(BUCKET)}
    assert set(buckets) == {primary, standby}
    outputs = shipped_plan.document["outputs"]["regions"]
    (replication,) = shipped_plan.of_type(REPLICATION)
    assert replication["region"] == primary
    assert replication["inputs"]["bucket"] == outputs["primary"]["bucket"]
    (rule,) = replication["inputs"]["rules"]
    assert rule["id"] == "models-to-standby"
    assert rule["destination"]["bucket"] == f"arn:aws:s3:::{outputs['standby']['bucket']}"
    assert rule["destination"]["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}


def test_primary_and_secondary_records(shipped_plan):
    # The client-facing pair, and the nested pair of the cascade (standby GPU, then the fallback).
    pairs: dict[str, dict] = {}
    for record in shipped_plan.of_type(RECORD):
        pairs.setdefault(record["inputs"]["name"], {})[record["inputs"]["failoverRoutingPolicies"][0]["type"]] = record
    record_name = shipped_plan.document["outputs"]["dns"]["recordName"]
    assert set(pairs) == {record_name, f"standby-cascade.{record_name}"}
    top, nested = pairs[record_name], pairs[f"standby-cascade.{record_name}"]
    assert {k: r["inputs"]["setIdentifier"] for k, r in top.items()} == {"PRIMARY": "primary", "SECONDARY": "standby"}
    assert {k: r["inputs"]["setIdentifier"] for k, r in nested.items()} == {"PRIMARY": "standby", "SECONDARY": "fallback"}
    # Every record aliasing a balancer is steered by its tier's check; the client-facing SECONDARY aliases the nested pair.
    assert top["SECONDARY"]["inputs"]["aliases"][0]["name"] == f"standby-cascade.{record_name}"
    for record in [top["PRIMARY"], *nested.values()]:
        assert record["inputs"]["healthCheckId"]
    for record in [*top.values(), *nested.values()]:
        # Aliases: no TTL of their own (a balancer's fixed 60 s).
        assert record["inputs"]["type"] == "A" and "ttl" not in record["inputs"] and record["inputs"]["aliases"]
        assert record["region"] == "global"


def test_policies_are_quiet(shipped_plan):
    # Every rule, advisory ones included, on both shipped stacks; but dev's pilot-light standby runs without a
    # capacity reservation (dev is cheap on purpose), which the advisory rule reports (docs/fallback-and-capacity.md, "Standby capacity").
    violations = [(v["rule"], v["enforcement"], (v["urn"] or "").split("::")[-1]) for v in shipped_plan.document["policy"]["violations"]]
    expected = {"dev": [("dr-standby-capacity", "advisory", "recsys-dev-standby-gpu")], "prod": []}
    assert violations == expected[shipped_plan.document["environment"]]


def test_summary_shows_model_standby_mode_and_budget(shipped_plan):
    summary = shipped_plan.document["summary"]
    env = shipped_plan.document["environment"]
    assert summary["model"]["name"] == "recommender"
    assert summary["standbyMode"] == {"dev": "pilot-light", "prod": "warm"}[env]
    assert summary["failoverBudgetSeconds"] <= summary["failoverBudgetTargetSeconds"]
    dns = summary["dns"]
    assert dns["ttl"] == 60  # the alias records' TTL
    assert summary["failoverBudgetSeconds"] == dns["healthCheckIntervalSeconds"] * dns["failureThreshold"] + dns["ttl"]


def test_plan_records_only_relative_paths(shipped_plan):
    assert shipped_plan.document["program"] == "stacks"
    assert shipped_plan.document["stackConfig"] == f"stacks/Pulumi.{shipped_plan.document['environment']}.yaml"
    assert "/work/" not in json.dumps(shipped_plan.document)
