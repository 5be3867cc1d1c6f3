"""The plan engine against the fixture program (tests/review/fixtures/program)."""

import json
import re

import pytest

from recsys_dr.review.plan import PlanError, jsonable, render, to_json
from recsys_dr.review.stackconfig import ConfigurationError

from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM, by_name, render_fixture

BUCKET = "aws:s3/bucket:Bucket"


def test_two_renders_are_byte_identical(fixture_plan):
    again = render_fixture("fixture")
    assert again.to_json() == fixture_plan.to_json()


def test_render_of_another_stack_in_between_does_not_leak(fixture_plan, insecure_plan):
    again = render_fixture("fixture")
    assert again.to_json() == fixture_plan.to_json()
    assert again.document["environment"] == "fixture"


def test_json_is_sorted_indented_and_ends_with_newline(fixture_plan):
    text = fixture_plan.to_json()
    assert text.endswith("}\n")
    assert text == to_json(json.loads(text))
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_plan_has_no_absolute_paths_or_timestamps(fixture_plan):
    text = fixture_plan.to_json()
    assert str(FIXTURE_PROGRAM.resolve().parent) not in text
    assert not re.search(r'"/(work|tmp|home|root)/', text)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text)
    assert fixture_plan.document["program"] == "tests/review/fixtures/program"
    assert fixture_plan.document["stackConfig"] == "tests/review/fixtures/config/Pulumi.fixture.yaml"


def test_every_resource_has_the_documented_fields(fixture_plan):
    for resource in fixture_plan.resources:
        required = {"urn", "type", "name", "parent", "provider", "region", "custom", "inputs"}
        assert required <= set(resource) <= required | {"options", "dependencies", "computed"}


def test_resources_are_listed_depth_first_with_sorted_siblings(fixture_plan):
    urns = [r["urn"] for r in fixture_plan.resources]
    position = {urn: i for i, urn in enumerate(urns)}
    stack_urn = "urn:pulumi:fixture::recsys-dr::pulumi:pulumi:Stack::recsys-dr-fixture"
    top = [r["urn"] for r in fixture_plan.resources if r["parent"] == stack_urn]
    assert top == sorted(top)
    for resource in fixture_plan.resources:
        if resource["parent"] != stack_urn:
            assert position[resource["parent"]] < position[resource["urn"]]


def test_urns_follow_the_engine_not_the_mock(fixture_plan):
    bucket = by_name(fixture_plan, BUCKET, "primary-models")
    assert bucket["urn"] == "urn:pulumi:fixture::recsys-dr::fixture:index:Region$aws:s3/bucket:Bucket::primary-models"
    assert bucket["parent"] == "urn:pulumi:fixture::recsys-dr::fixture:index:Region::primary"
    assert not any("pulumi:pulumi:Stack$" in r["urn"] for r in fixture_plan.resources)


def test_providers_explicit_and_default(fixture_plan):
    deployment = by_name(fixture_plan, "kubernetes:apps/v1:Deployment", "standby-serving")
    assert deployment["provider"] == "urn:pulumi:fixture::recsys-dr::fixture:index:Region$pulumi:providers:kubernetes::standby-k8s"
    bucket = by_name(fixture_plan, BUCKET, "primary-models")
    assert bucket["provider"] == "urn:pulumi:fixture::recsys-dr::pulumi:providers:aws::default"
    component = by_name(fixture_plan, "fixture:index:Region", "primary")
    assert component["provider"] is None and component["custom"] is False


@pytest.mark.parametrize(
    ("type_token", "name", "region"),
    [
        (BUCKET, "primary-models", "us-east-1"),
        (BUCKET, "standby-models", "us-west-2"),
        ("aws:eks/nodeGroup:NodeGroup", "standby-gpu", "us-west-2"),
        ("kubernetes:apps/v1:Deployment", "primary-serving", "us-east-1"),  # from the provider's kubeconfig
        ("kubernetes:apps/v1:Deployment", "standby-serving", "us-west-2"),
        ("aws:iam/role:Role", "replication", "global"),
        ("aws:route53/record:Record", "primary-record", "global"),
        ("aws:route53/zone:Zone", "zone", "global"),
        ("pulumi:providers:kubernetes", "primary-k8s", "global"),
        ("fixture:index:Region", "standby", "global"),  # children: us-west-2 and its (global) provider
    ],
)
def test_regions(fixture_plan, type_token, name, region):
    assert by_name(fixture_plan, type_token, name)["region"] == region


def test_component_region_is_its_childrens_when_they_agree(tmp_path):
    program = tmp_path / "prog"
    program.mkdir()
    (program / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "class C(pulumi.ComponentResource):\n"
        "    def __init__(self, name):\n"
        "        super().__init__('t:index:C', name, None)\n"
        "        aws.s3.Bucket(name + '-a', region='eu-west-1', opts=pulumi.ResourceOptions(parent=self))\n"
        "        aws.kms.Key(name + '-k', region='eu-west-1', opts=pulumi.ResourceOptions(parent=self))\n"
        "        self.register_outputs({})\n"
        "C('one')\n"
        "aws.s3.Bucket('no-region')\n"
    )
    (program / "Pulumi.t.yaml").write_text("config:\n  aws:region: ap-south-1\n")
    plan = render("t", program_dir=program)
    assert by_name(plan, "t:index:C", "one")["region"] == "eu-west-1"
    assert by_name(plan, BUCKET, "no-region")["region"] == "ap-south-1"  # default provider's aws:region


def test_secret_config_is_masked_in_config_inputs_and_outputs(fixture_plan):
    text = fixture_plan.to_json()
    assert "plan-secret-1" not in text
    assert fixture_plan.document["config"]["recsys-dr:grafanaToken"] == "[secret]"
    assert fixture_plan.document["outputs"]["grafanaToken"] == "[secret]"
    secret = by_name(fixture_plan, "kubernetes:core/v1:Secret", "primary-grafana")
    assert secret["inputs"]["stringData"] == "[secret]"


def test_numbers_are_ints_when_whole(fixture_plan):
    deployment = by_name(fixture_plan, "kubernetes:apps/v1:Deployment", "primary-serving")
    assert deployment["inputs"]["spec"]["replicas"] == 1
    assert isinstance(deployment["inputs"]["spec"]["replicas"], int)
    assert jsonable(0.5, mask_secrets=True) == 0.5


def test_outputs_and_summary(fixture_plan):
    document = fixture_plan.document
    assert document["outputs"]["model"] == {"name": "recommender", "version": 3}
    summary = document["summary"]
    assert summary["model"] == {"name": "recommender", "version": 3}
    assert summary["standbyMode"] == "warm"
    assert summary["failoverBudgetSeconds"] == 10 * 3 + 30
    assert summary["byRegion"]["us-east-1"]["aws:s3/bucket:Bucket"] == 1
    assert summary["byRegion"]["us-west-2"]["aws:eks/nodeGroup:NodeGroup"] == 1
    assert summary["resourceCount"] == sum(sum(k.values()) for k in summary["byRegion"].values())


def test_policies_quiet_on_the_good_fixture(fixture_plan):
    assert fixture_plan.document["policy"]["violations"] == []
    assert len(fixture_plan.document["policy"]["rules"]) >= 12


def test_policies_report_the_insecure_fixture(insecure_plan):
    fired = {(v["rule"], (v["urn"] or "").split("::")[-1]) for v in insecure_plan.document["policy"]["violations"]}
    assert {
        ("eks-gpu-nvidia-ami", "primary-gpu"),
        ("eks-gpu-tainted", "standby-gpu"),
        ("k8s-readiness-probe", "primary-serving"),
        ("k8s-no-privilege-escalation", "standby-serving"),
        ("k8s-deployment-has-hpa", "primary-serving"),
        ("route53-failover-ttl", "primary-record"),
        ("s3-public-access-blocked", "primary-pab"),
        ("iam-no-wildcard-s3-kms", "replication"),
    } <= fired
    assert insecure_plan.document["policy"]["mandatoryViolations"] == len(insecure_plan.mandatory_violations) > 0


def test_configuration_error_lists_every_problem_with_the_stack_file():
    with pytest.raises(ConfigurationError) as caught:
        render_fixture("badconfig")
    assert caught.value.problems == [
        "tests/review/fixtures/config/Pulumi.badconfig.yaml: `recsys-dr:standbyMode` must be one of: warm, pilot-light. Received: 'cold'",
        "tests/review/fixtures/config/Pulumi.badconfig.yaml: `recsys-dr:dns.ttl` must be <= 60. Received: 300",
    ]


def test_missing_required_key_is_a_configuration_error(tmp_path):
    (tmp_path / "Pulumi.empty.yaml").write_text("config: {}\n")
    with pytest.raises(ConfigurationError, match="Missing required configuration variable 'recsys-dr:regions'"):
        render("empty", program_dir=FIXTURE_PROGRAM, config_dir=tmp_path)


def test_program_bug_is_a_plan_error(tmp_path):
    (tmp_path / "__main__.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "Pulumi.x.yaml").write_text("config: {}\n")
    with pytest.raises(PlanError, match="RuntimeError: boom"):
        render("x", program_dir=tmp_path)


def test_missing_program_is_a_plan_error(tmp_path):
    with pytest.raises(PlanError, match="__main__.py not found"):
        render("x", program_dir=tmp_path, config_dir=FIXTURE_CONFIG)
