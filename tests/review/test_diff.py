"""`review.diff`: added, removed, changed and replaced resources, and their rendering."""

import copy

import pytest

from recsys_dr.review.diff import diff_plans, flatten
from recsys_dr.review.diff_markdown import render_markdown
from recsys_dr.review.diff_text import render_text
from recsys_dr.review.replacements import forces_replacement, replace_paths, stateful_label

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def resource(type_token, name, region="us-east-1", **inputs):
    return {
        "urn": f"urn:pulumi:dev::recsys-dr::{type_token}::{name}",
        "type": type_token,
        "name": name,
        "parent": "urn:pulumi:dev::recsys-dr::pulumi:pulumi:Stack::recsys-dr-dev",
        "provider": "urn:pulumi:dev::recsys-dr::pulumi:providers:aws::default",
        "region": region,
        "custom": True,
        "inputs": inputs,
    }


def plan(*resources, outputs=None, violations=()):
    return {
        "environment": "dev",
        "resources": list(resources),
        "outputs": outputs or {},
        "policy": {"pack": "p", "rules": [{"name": "r"}], "violations": list(violations),
                   "mandatoryViolations": sum(v["enforcement"] == "mandatory" for v in violations),
                   "advisoryViolations": 0},
    }


GPU = resource(NODE_GROUP, "gpu", amiType="AL2023_x86_64_NVIDIA", scalingConfig={"minSize": 1, "maxSize": 4})
SERVING = resource("kubernetes:apps/v1:Deployment", "serving", spec={"replicas": 1, "template": {"image": "tf:1"}})
OLD_LOGS = resource("aws:cloudwatch/logGroup:LogGroup", "logs", retentionInDays=7)
BUCKET = resource("aws:s3/bucket:Bucket", "models", bucket="models-a")


@pytest.fixture()
def changed():
    base = plan(GPU, SERVING, OLD_LOGS, BUCKET, outputs={"model": {"version": 1}})
    gpu = copy.deepcopy(GPU)
    gpu["inputs"]["amiType"] = "AL2023_x86_64_STANDARD"  # forces replacement
    gpu["inputs"]["scalingConfig"]["maxSize"] = 8
    serving = copy.deepcopy(SERVING)
    serving["inputs"]["spec"]["replicas"] = 2  # in place
    new_key = resource("aws:kms/key:Key", "key", enableKeyRotation=True)
    violation = {"rule": "eks-gpu-nvidia-ami", "enforcement": "mandatory", "urn": gpu["urn"], "message": "use NVIDIA"}
    head = plan(gpu, serving, new_key, BUCKET, outputs={"model": {"version": 2}}, violations=[violation])
    return diff_plans(base, head)


def test_added_resource(changed):
    (created,) = [c for c in changed.resources if c.action == "create"]
    assert (created.type, created.name) == ("aws:kms/key:Key", "key")


def test_removed_resource(changed):
    (deleted,) = [c for c in changed.resources if c.action == "delete"]
    assert deleted.name == "logs" and not deleted.dangerous


def test_changed_resource_lists_property_changes(changed):
    (updated,) = [c for c in changed.resources if c.action == "update"]
    assert updated.name == "serving"
    assert [(p.path, p.old, p.new, p.forces_replacement) for p in updated.properties] == [("spec.replicas", 1, 2, False)]


def test_replaced_stateful_resource_is_flagged(changed):
    (replaced,) = [c for c in changed.resources if c.action == "replace"]
    assert replaced.name == "gpu" and replaced.dangerous
    forcing = {p.path: p.forces_replacement for p in replaced.properties}
    assert forcing == {"amiType": True, "scalingConfig.maxSize": False}
    assert changed.dangerous == [replaced]
    assert changed.resources[0] is replaced  # dangerous changes come first


def test_unchanged_resource_is_not_listed(changed):
    assert "models" not in [c.name for c in changed.resources]


def test_output_and_policy_changes(changed):
    assert [(p.path, p.old, p.new) for p in changed.outputs] == [("model.version", 1, 2)]
    assert [v["rule"] for v in changed.new_violations] == ["eks-gpu-nvidia-ami"]
    assert changed.resolved_violations == []


def test_deleting_a_bucket_is_dangerous():
    result = diff_plans(plan(BUCKET), plan())
    assert [(c.action, c.dangerous) for c in result.resources] == [("delete", True)]


def test_provider_change_replaces():
    moved = copy.deepcopy(BUCKET)
    moved["provider"] = "urn:pulumi:dev::recsys-dr::pulumi:providers:aws::other"
    (change,) = diff_plans(plan(BUCKET), plan(moved)).resources
    assert change.action == "replace" and change.properties[0].path == "(provider)"


def test_identical_plans_have_an_empty_diff():
    result = diff_plans(plan(GPU, BUCKET), plan(GPU, BUCKET))
    assert result.empty
    assert "No resource changes." in render_text(result)
    assert "No resource changes." in render_markdown(result)


def test_components_are_not_listed():
    component = resource("recsys-dr:components:Thing", "thing")
    component["custom"] = False
    assert diff_plans(plan(), plan(component)).resources == []


def test_text_rendering(changed):
    text = render_text(changed)
    assert text.startswith("Plan diff for dev: 1 to create, 1 to update, 1 to replace, 1 to delete\n")
    assert "WARNING: stateful or expensive resources would be replaced or deleted:" in text
    assert '+- replace aws:eks/nodeGroup:NodeGroup  gpu  (us-east-1)  [STATEFUL]' in text
    assert '      amiType: "AL2023_x86_64_NVIDIA" -> "AL2023_x86_64_STANDARD"  (forces replacement)' in text
    assert "      spec.replicas: 1 -> 2" in text
    assert " - delete  aws:cloudwatch/logGroup:LogGroup  logs  (us-east-1)" in text
    assert " + create  aws:kms/key:Key  key  (us-east-1)" in text
    assert "new: [mandatory] eks-gpu-nvidia-ami on gpu: use NVIDIA" in text


def test_markdown_rendering(changed):
    markdown = render_markdown(changed)
    assert markdown.startswith("<!-- recsys-dr-plan-diff:dev -->\n### recsys-dr plan: `dev`\n")
    assert "**1 to create, 1 to update, 1 to replace, 1 to delete**" in markdown
    assert "> [!CAUTION]" in markdown
    assert "> - **replace** `aws:eks/nodeGroup:NodeGroup` **gpu** (us-east-1): EKS node group" in markdown
    assert "`amiType` forces replacement" in markdown
    assert "| ⚠️ | replace | `aws:eks/nodeGroup:NodeGroup` | gpu | us-east-1 | 2 |" in markdown
    assert '| `amiType` | `"AL2023_x86_64_NVIDIA"` | `"AL2023_x86_64_STANDARD"` | forces replacement |' in markdown
    assert "| `spec.replicas` | `1` | `2` |  |" in markdown
    assert "| `model.version` | `1` | `2` |" in markdown
    assert markdown.count("<details>") == markdown.count("</details>") == 2


def test_markdown_escapes_pipes_and_backticks():
    base = plan(resource("aws:ssm/parameter:Parameter", "p", value="a|b"))
    head = plan(resource("aws:ssm/parameter:Parameter", "p", value="c`d"))
    markdown = render_markdown(diff_plans(base, head))
    assert '`"a\\|b"`' in markdown
    assert '`` "c`d" ``' in markdown


def test_long_values_are_truncated():
    base = plan(resource("aws:ssm/parameter:Parameter", "p", value="x" * 500))
    head = plan(resource("aws:ssm/parameter:Parameter", "p", value="y" * 500))
    line = [l for l in render_text(diff_plans(base, head)).splitlines() if "value:" in l][0]
    assert len(line) < 200 and "…" in line


def test_not_a_plan_is_rejected():
    with pytest.raises(ValueError, match="base is not a recsys-dr plan"):
        diff_plans({"x": 1}, plan())


def test_json_strings_are_diffed_inside():
    base = plan(resource("aws:iam/rolePolicy:RolePolicy", "p", policy='{"Statement": [{"Action": ["s3:GetObject"]}]}'))
    head = plan(resource("aws:iam/rolePolicy:RolePolicy", "p", policy='{"Statement": [{"Action": ["s3:*"]}]}'))
    (change,) = diff_plans(base, head).resources
    assert [(p.path, p.old, p.new) for p in change.properties] == [("policy{}.Statement[0].Action[0]", "s3:GetObject", "s3:*")]


def test_flatten_paths():
    assert flatten({"a": {"b": [1, {"c": 2}]}, "e": {}, "f": []}) == {"a.b[0]": 1, "a.b[1].c": 2, "e": {}, "f": []}


@pytest.mark.parametrize(
    ("type_token", "path", "replaces"),
    [
        ("aws:s3/bucket:Bucket", "bucket", True),
        ("aws:s3/bucket:Bucket", "region", True),
        ("aws:s3/bucket:Bucket", "tags.team", False),
        ("aws:eks/cluster:Cluster", "vpcConfig.subnetIds[1]", True),
        ("aws:eks/cluster:Cluster", "vpcConfig.endpointPublicAccess", False),
        ("aws:eks/cluster:Cluster", "encryptionConfig.provider.keyArn", True),
        ("aws:eks/cluster:Cluster", "version", False),
        (NODE_GROUP, "amiType", True),
        (NODE_GROUP, "instanceTypes[0]", True),
        (NODE_GROUP, "subnetIds[0]", True),
        (NODE_GROUP, "nodeGroupName", True),
        (NODE_GROUP, "scalingConfig.desiredSize", False),
        (NODE_GROUP, "amiTypeX", False),
        ("aws:kms/key:Key", "keyUsage", True),
        ("aws:kms/key:Key", "customerMasterKeySpec", True),
        ("aws:kms/key:Key", "description", False),
        ("aws:route53/zone:Zone", "name", True),
        ("kubernetes:apps/v1:Deployment", "spec.selector.matchLabels.app", True),
        ("kubernetes:apps/v1:Deployment", "metadata.namespace", True),
        ("kubernetes:apps/v1:Deployment", "spec.replicas", False),
        ("aws:ec2/natGateway:NatGateway", "region", True),
    ],
)
def test_replacement_table(type_token, path, replaces):
    assert forces_replacement(type_token, path) is replaces


def test_stateful_types():
    for token in ("aws:s3/bucket:Bucket", "aws:eks/cluster:Cluster", NODE_GROUP, "aws:kms/key:Key", "aws:route53/zone:Zone"):
        assert stateful_label(token)
    assert stateful_label("aws:route53/record:Record") is None
    assert "region" in replace_paths("aws:s3/bucket:Bucket")
