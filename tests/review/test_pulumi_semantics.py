"""The diff says what `pulumi preview` would: ignoreChanges, unknown outputs, replacement order."""

from __future__ import annotations

import copy
import json

import pytest

from recsys_dr.review.diff import UNKNOWN, diff_plans
from recsys_dr.review.diff_markdown import render_markdown
from recsys_dr.review.diff_text import render_text
from recsys_dr.review.unknowns import (
    CREATE_BEFORE_DELETE,
    DELETE_FIRST,
    ignore_pattern,
    is_ignored,
    replacement_order,
    stand_ins,
)

from .shipped import fixture_mutated, mutated, setting

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
KEY = "aws:kms/key:Key"


def res(type_token, name, region="us-east-1", *, inputs=None, computed=None, dependencies=None, options=None,
        provider=None):
    out = {"urn": f"urn:pulumi:dev::p::{type_token}::{name}", "type": type_token, "name": name,
           "parent": "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev", "provider": provider, "region": region,
           "custom": True, "inputs": inputs or {}, "dependencies": dependencies or {}}
    if computed:
        out["computed"] = computed
    if options:
        out["options"] = options
    return out


def plan(*resources, outputs=None):
    return {"environment": "dev", "resources": list(resources), "outputs": outputs or {}, "policy": {}}


# ------------------------------------------------------------------ ignoreChanges (unit)

@pytest.mark.parametrize(("ignore", "path", "ignored"), [
    ("scalingConfig.desiredSize", "scalingConfig.desiredSize", True),
    ("scalingConfig.desiredSize", "scalingConfig.desiredSizeX", False),
    ("scalingConfig", "scalingConfig.maxSize", True),
    ("spec.replicas", "spec.replicasMax", False),
    ("tags[\"team.name\"]", "tags.team.name", True),
    ("containers[0].image", "containers[0].image", True),
    ("containers[0].image", "containers[1].image", False),
    ("containers[*].image", "containers[3].image", True),
    ("metadata.*", "metadata.labels.app", True),
    ("policy", "policy{}.Statement[0].Action", True),
])
def test_ignore_changes_paths_follow_pulumi_property_path_syntax(ignore, path, ignored):
    # pulumi pkg/resource/properties_path.go: dotted keys, [index], ["quoted.key"], * wildcards.
    assert is_ignored(path, [ignore_pattern(ignore)]) is ignored


def test_a_change_under_ignore_changes_is_not_a_change():
    base = plan(res(NODE_GROUP, "gpu", inputs={"scalingConfig": {"desiredSize": 2, "maxSize": 4}},
                    options={"ignoreChanges": ["scalingConfig.desiredSize"]}))
    head = copy.deepcopy(base)
    head["resources"][0]["inputs"]["scalingConfig"]["desiredSize"] = 4
    result = diff_plans(base, head)
    assert result.resources == []
    (ignored,) = result.ignored
    assert [(p.path, p.old, p.new) for p in ignored.ignored] == [("scalingConfig.desiredSize", 2, 4)]
    assert "Ignored (ignoreChanges; Pulumi changes nothing):" in render_text(result)
    assert "0 to create, 0 to update, 0 to replace, 0 to delete" in render_markdown(result)


def test_ignore_changes_do_not_hide_other_changes_of_the_resource():
    base = plan(res(NODE_GROUP, "gpu", inputs={"scalingConfig": {"desiredSize": 2, "maxSize": 4}},
                    options={"ignoreChanges": ["scalingConfig.desiredSize"]}))
    head = copy.deepcopy(base)
    head["resources"][0]["inputs"]["scalingConfig"].update(desiredSize=4, maxSize=8)
    (change,) = diff_plans(base, head).resources
    assert [p.path for p in change.properties] == ["scalingConfig.maxSize"]
    assert [p.path for p in change.ignored] == ["scalingConfig.desiredSize"]


# ------------------------------------------------------------------ unknowns (unit)

def test_stand_ins_are_computed_values_and_their_tails():
    key = res(KEY, "k", computed={"arn": "arn:aws:kms:us-east-1:1:key/abcd-1234-ef", "keyId": "abcd-1234-ef",
                                  "status": "ACTIVE"})
    assert stand_ins(key) == {"arn:aws:kms:us-east-1:1:key/abcd-1234-ef", "abcd-1234-ef"}


def test_input_built_from_a_replaced_resource_is_known_after_deploy():
    key = res(KEY, "key", "us-west-2", inputs={"region": "us-west-2"},
              computed={"arn": "arn:aws:kms:us-west-2:1:key/1111-2222"})
    bucket_sse = res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "sse",
                     "us-west-2", inputs={"rules": [{"kmsMasterKeyId": "arn:aws:kms:us-west-2:1:key/1111-2222"}],
                                          "bucket": "b"}, dependencies={"rules": [key["urn"]]})
    moved_key = copy.deepcopy(key)
    moved_key["inputs"]["region"] = "us-east-2"
    # The mocks keep the key id: only the region part of the stand-in ARN moves.
    moved_key["computed"]["arn"] = "arn:aws:kms:us-east-2:1:key/1111-2222"
    moved_sse = copy.deepcopy(bucket_sse)
    moved_sse["inputs"]["rules"][0]["kmsMasterKeyId"] = "arn:aws:kms:us-east-2:1:key/1111-2222"
    result = diff_plans(plan(key, bucket_sse), plan(moved_key, moved_sse))
    sse = next(c for c in result.resources if c.name == "sse")
    assert [(p.path, p.old, p.new) for p in sse.properties] == [("rules[0].kmsMasterKeyId", "(deployed value)", UNKNOWN)]
    assert "arn:aws:kms:us-east-2" not in render_text(result)
    assert "arn:aws:kms:us-west-2" not in render_text(result)  # the old stand-in is no real value either


def test_unchanged_stand_in_of_a_replaced_resource_still_becomes_unknown():
    # The mock names a replaced bucket as before; the real one gets a new name.
    bucket = res("aws:s3/bucket:Bucket", "models", inputs={"bucketPrefix": "m-", "region": "us-east-1"},
                 computed={"bucket": "m-0123456789ab"})
    versioning = res("aws:s3/bucketVersioning:BucketVersioning", "v", inputs={"bucket": "m-0123456789ab"},
                     dependencies={"bucket": [bucket["urn"]]})
    moved = copy.deepcopy(bucket)
    moved["inputs"]["region"] = "us-east-2"
    result = diff_plans(plan(bucket, versioning), plan(moved, versioning))
    change = next(c for c in result.resources if c.name == "v")
    assert [(p.path, p.new) for p in change.properties] == [("bucket", UNKNOWN)]


def test_unknown_input_that_forces_replacement_cascades():
    cluster = res("aws:eks/cluster:Cluster", "c", inputs={"region": "us-east-1"}, computed={"name": "c-12345678"})
    group = res(NODE_GROUP, "g", inputs={"clusterName": "c-12345678"}, dependencies={"clusterName": [cluster["urn"]]})
    moved = copy.deepcopy(cluster)
    moved["inputs"]["region"] = "us-east-2"
    actions = {c.name: c.action for c in diff_plans(plan(cluster, group), plan(moved, group)).resources}
    assert actions == {"c": "replace", "g": "replace"}  # clusterName forces a node group's replacement


def test_dependency_on_an_unchanged_resource_stays_known():
    key = res(KEY, "key", computed={"arn": "arn:aws:kms:us-east-1:1:key/1111-2222"})
    user = res("aws:eks/cluster:Cluster", "c", inputs={"encryptionConfig": {"keyArn": "arn:aws:kms:us-east-1:1:key/1111-2222"},
                                                        "version": "1.32"}, dependencies={"encryptionConfig": [key["urn"]]})
    newer = copy.deepcopy(user)
    newer["inputs"]["version"] = "1.33"
    (change,) = diff_plans(plan(key, user), plan(key, newer)).resources
    assert [(p.path, p.new) for p in change.properties] == [("version", "1.33")]


def test_kubernetes_provider_with_unknown_kubeconfig_replaces_its_resources():
    # pulumi-kubernetes DiffConfig: an unknown kubeconfig forces the provider's replacement.
    cluster = res("aws:eks/cluster:Cluster", "c", inputs={"region": "us-east-1"},
                  computed={"endpoint": "https://ABCDEF012345.gr7.us-east-1.eks.amazonaws.com"})
    provider = res("pulumi:providers:kubernetes", "k8s", "global",
                   inputs={"kubeconfig": json.dumps({"clusters": [{"server": "https://ABCDEF012345.gr7.us-east-1.eks.amazonaws.com"}]})},
                   dependencies={"kubeconfig": [cluster["urn"]]})
    deployment = res("kubernetes:apps/v1:Deployment", "serving", inputs={"metadata": {"name": "tf", "namespace": "r"}},
                     provider=provider["urn"])
    moved = copy.deepcopy(cluster)
    moved["inputs"]["region"] = "us-east-2"
    changes = {c.name: c for c in diff_plans(plan(cluster, provider, deployment), plan(moved, provider, deployment)).resources}
    assert changes["k8s"].action == "replace"
    assert changes["serving"].action == "replace"
    assert changes["serving"].replacement == DELETE_FIRST  # same fixed name and namespace
    assert [(p.path, p.new) for p in changes["serving"].properties] == [("(provider)", "(replaced)")]


def test_stack_output_from_a_replaced_resource_is_known_after_deploy():
    key = res(KEY, "key", inputs={"region": "us-west-2"}, computed={"arn": "arn:aws:kms:us-west-2:1:key/1111-2222"})
    moved = copy.deepcopy(key)
    moved["inputs"]["region"] = "us-east-2"
    moved["computed"]["arn"] = "arn:aws:kms:us-east-2:1:key/1111-2222"
    result = diff_plans(plan(key, outputs={"keyArn": key["computed"]["arn"]}),
                        plan(moved, outputs={"keyArn": moved["computed"]["arn"]}))
    assert [(p.path, p.new) for p in result.outputs] == [("keyArn", UNKNOWN)]


# ------------------------------------------------------------------ replacement order (unit)

@pytest.mark.parametrize(("type_token", "old", "new", "order"), [
    # pulumi-kubernetes: a user-given name kept in the same namespace -> delete first
    ("kubernetes:apps/v1:Deployment", {"metadata": {"name": "a", "namespace": "n"}},
     {"metadata": {"name": "a", "namespace": "n"}}, DELETE_FIRST),
    ("kubernetes:apps/v1:Deployment", {"metadata": {"name": "a", "namespace": "n"}},
     {"metadata": {"name": "a", "namespace": "m"}}, CREATE_BEFORE_DELETE),
    ("kubernetes:apps/v1:Deployment", {"metadata": {}}, {"metadata": {}}, CREATE_BEFORE_DELETE),  # auto-named
    # Terraform bridge: an auto-nameable field given by the program -> delete first
    (NODE_GROUP, {"nodeGroupName": "gpu"}, {"nodeGroupName": "gpu"}, DELETE_FIRST),
    (NODE_GROUP, {}, {}, CREATE_BEFORE_DELETE),
    ("aws:s3/bucket:Bucket", {"bucketPrefix": "m-"}, {"bucketPrefix": "m-"}, CREATE_BEFORE_DELETE),
    ("aws:eks/cluster:Cluster", {"name": "c"}, {"name": "c"}, DELETE_FIRST),
])
def test_replacement_order(type_token, old, new, order):
    assert replacement_order(type_token, {"inputs": old}, {"inputs": new}) == order


def test_delete_before_replace_option_deletes_first():
    assert replacement_order(KEY, {"inputs": {}}, {"inputs": {}, "options": {"deleteBeforeReplace": True}}) == DELETE_FIRST


# ------------------------------------------------------------------ the fixture program and shipped environments

def test_plan_records_ignore_changes_the_program_sets(fixture_plan):
    groups = fixture_plan.of_type(NODE_GROUP)
    assert groups and all(g["options"] == {"ignoreChanges": ["scalingConfig.desiredSize"]} for g in groups)


def test_plan_records_where_inputs_come_from(fixture_plan):
    (replication,) = fixture_plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    sources = {urn.split("::")[-1] for urn in replication["dependencies"]["bucket"]}
    assert sources == {"primary-models"}


def test_desired_size_change_of_shipped_prod_changes_nothing(tmp_path):
    base = mutated("prod", tmp_path / "base", lambda d: None)
    head = mutated("prod", tmp_path / "head", lambda d: setting(d, "gpu").update(desiredSize=4))
    result = diff_plans(base.document, head.document)
    assert result.resources == []
    assert {p.path for c in result.ignored for p in c.ignored} == {"scalingConfig.desiredSize"}
    assert result.head_estimate["monthlyCostUsd"]["total"] == result.base_estimate["monthlyCostUsd"]["total"]


def test_moving_the_standby_shows_no_mock_arn_in_the_new_region(tmp_path):
    def moved(document):
        setting(document, "regions").update(standby="us-east-2")
        certificates = setting(document, "serving").get("tlsCertificateArns") or {}
        if "standby" in certificates:  # ACM certificates are regional: the standby needs one in its region
            certificates["standby"] = certificates["standby"].replace(":us-west-2:", ":us-east-2:")

    base = mutated("prod", tmp_path / "base", lambda d: None)
    head = mutated("prod", tmp_path / "head", moved)
    result = diff_plans(base.document, head.document)
    text = render_text(result) + render_markdown(result)
    standby_keys = [k for k in base.of_type(KEY) + head.of_type(KEY) if k["region"] in ("us-west-2", "us-east-2")]
    assert standby_keys
    for key in standby_keys:  # neither the old nor the new mock ARN is shown
        assert key["computed"]["arn"] not in text
    replica_key = [p for c in result.resources for p in c.properties if p.path.endswith("replicaKmsKeyId")]
    assert replica_key and all((p.old, p.new) == ("(deployed value)", UNKNOWN) for p in replica_key)
    assert all(c.replacement for c in result.resources if c.action == "replace")


def test_fixture_gpu_type_change_replaces_both_groups_deleting_first(tmp_path):
    head = fixture_mutated(tmp_path, lambda d: d["config"].update({"recsys-dr:gpu": {"instanceType": "g6.xlarge"}}))
    from recsys_dr.review.plan import render

    from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM

    base = render("fixture", program_dir=FIXTURE_PROGRAM, config_dir=FIXTURE_CONFIG)
    result = diff_plans(base.document, head.document)
    groups = [c for c in result.resources if c.type == NODE_GROUP]
    assert {c.region for c in groups} == {"us-east-1", "us-west-2"}
    assert {(c.action, c.replacement) for c in groups} == {("replace", DELETE_FIRST)}  # nodeGroupName is fixed


def test_plan_records_the_resource_options_the_engine_diffs_with(tmp_path):
    from recsys_dr.review.plan import render

    (tmp_path / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "aws.kms.Key('k', region='us-east-1', opts=pulumi.ResourceOptions(delete_before_replace=True, protect=True,\n"
        "    retain_on_delete=True, replace_on_changes=['description'], ignore_changes=['tags']))\n"
        "aws.kms.Key('plain', region='us-east-1')\n"
    )
    (tmp_path / "Pulumi.t.yaml").write_text("config: {}\n")
    plan = render("t", program_dir=tmp_path)
    keys = {r["name"]: r for r in plan.of_type(KEY)}
    assert keys["k"]["options"] == {"deleteBeforeReplace": True, "ignoreChanges": ["tags"], "protect": True,
                                    "replaceOnChanges": ["description"], "retainOnDelete": True}
    assert "options" not in keys["plain"]
    assert keys["plain"]["dependencies"] == {}


def test_a_plan_of_the_older_format_diffs_cleanly_against_the_new(fixture_plan):
    # CI renders the base commit with the base commit's code: format 1 had no options,
    # dependencies, computed values, warnings or estimate.
    old = copy.deepcopy(fixture_plan.document)
    old["format"] = 1
    for key in ("warnings", "estimate", "configSecretDigests"):
        old.pop(key)
    for resource in old["resources"]:
        for key in ("options", "dependencies", "computed"):
            resource.pop(key, None)
    result = diff_plans(old, fixture_plan.document)
    assert result.empty and result.hazards == []
    assert result.base_estimate["monthlyCostUsd"] == fixture_plan.document["estimate"]["monthlyCostUsd"]
