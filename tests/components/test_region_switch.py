"""RegionSwitch: the ARC Region switch plan, its execution role and the clusters' access entries.

The plan document is checked against botocore's arc-region-switch service model (the API's own
shapes and patterns) after the translation pulumi-aws' provider applies (terraform-provider-aws
internal/service/arcregionswitch/expand.go), so a shape ARC would refuse fails here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

import botocore.session
import pulumi
import pytest
from botocore.validate import ParamValidator

from recsys_dr.components.dns import region_switch as rs
from recsys_dr.review import mock_runtime
from tests.support import render

ACCOUNT = mock_runtime.ACCOUNT_ID
CLUSTER_ARNS = {
    "primary": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/recs-primary",
    "standby": f"arn:aws:eks:us-west-2:{ACCOUNT}:cluster/recs-standby",
}
TARGETS = {
    "primary": rs.RegionSwitchTarget(region="us-east-1", cluster_name="recs-primary", cluster_arn=CLUSTER_ARNS["primary"],
                                     namespace="recsys", deployment_name="recommender-tf-serving", hpa_name="recommender-tf-serving"),
    "standby": rs.RegionSwitchTarget(region="us-west-2", cluster_name="recs-standby", cluster_arn=CLUSTER_ARNS["standby"],
                                     namespace="recsys", deployment_name="recommender-tf-serving", hpa_name="recommender-tf-serving"),
}
ARGS = rs.RegionSwitchArgs(plan_name="recsys-prod", targets=TARGETS, zone_id="Z0PROD123456789EXAMPLE", record_name="recs.shop.example.com")
APPROVER = f"arn:aws:iam::{ACCOUNT}:role/oncall-approver"


def api_step(step: dict) -> dict:
    """One pulumi-aws step as the CreatePlan API receives it (expand.go `expandSteps`)."""
    out = {"name": step["name"], "executionBlockType": step["execution_block_type"]}
    if "description" in step:
        out["description"] = step["description"]
    if step["execution_block_type"] == "ManualApproval":
        [c] = step["execution_approval_configs"]
        config = {"executionApprovalConfig": {"approvalRole": c["approval_role"], "timeoutMinutes": c["timeout_minutes"]}}
    elif step["execution_block_type"] == "EKSResourceScaling":
        [c] = step["eks_resource_scaling_configs"]
        [kind] = c["kubernetes_resource_types"]
        config = {"eksResourceScalingConfig": {
            "kubernetesResourceType": {"apiVersion": kind["api_version"], "kind": kind["kind"]},
            "eksClusters": [{"clusterArn": e["cluster_arn"]} for e in c["eks_clusters"]],
            "capacityMonitoringApproach": c["capacity_monitoring_approach"],
            "targetPercent": c["target_percent"],
            "timeoutMinutes": c["timeout_minutes"],
            # `namespace` -> outer map key, `resource_name` -> inner map key (expand.go).
            "scalingResources": [
                {app["namespace"]: {r["resource_name"]: {"name": r["name"], "namespace": r["namespace"], "hpaName": r["hpa_name"]}
                                    for r in app["resources"]}}
                for app in c["scaling_resources"]
            ],
        }}
    elif step["execution_block_type"] == "Route53HealthCheck":
        [c] = step["route53_health_check_configs"]
        config = {"route53HealthCheckConfig": {
            "hostedZoneId": c["hosted_zone_id"], "recordName": c["record_name"],
            "recordSets": [{"recordSetIdentifier": r["record_set_identifier"], "region": r["region"]} for r in c["record_sets"]],
        }}
    else:
        raise AssertionError(step["execution_block_type"])
    return {**out, "executionBlockConfiguration": config}


def create_plan_request(args: rs.RegionSwitchArgs) -> dict:
    workflows = rs.plan_workflows(args, cluster_arns=CLUSTER_ARNS, zone_id=args.zone_id)
    return {
        "name": args.plan_name,
        "executionRole": f"arn:aws:iam::{ACCOUNT}:role/exec",
        "recoveryApproach": "activePassive",
        "regions": ["us-east-1", "us-west-2"],
        "primaryRegion": "us-east-1",
        "workflows": [
            {"workflowTargetAction": w["workflow_target_action"], "workflowDescription": w["workflow_description"],
             "steps": [api_step(s) for s in w["steps"]]}
            for w in workflows
        ],
    }


def pattern_errors(value, shape, path: str = "") -> list[str]:
    """String patterns (map keys included), which botocore's ParamValidator does not check."""
    errors = []
    if shape.type_name == "string" and "pattern" in shape.metadata and isinstance(value, str):
        if not re.fullmatch(shape.metadata["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {shape.metadata['pattern']}")
    elif shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                errors += pattern_errors(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        errors += [e for i, item in enumerate(value) for e in pattern_errors(item, shape.member, f"{path}[{i}]")]
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            errors += pattern_errors(key, shape.key, f"{path} key") + pattern_errors(item, shape.value, f"{path}[{key}]")
    return errors


def validate(request: dict) -> str:
    model = botocore.session.get_session().get_service_model("arc-region-switch")
    shape = model.operation_model("CreatePlan").input_shape
    report = ParamValidator().validate(request, shape)
    return "\n".join(filter(None, [report.generate_report(), *pattern_errors(request, shape)]))


def steps(args: rs.RegionSwitchArgs = ARGS) -> list[dict]:
    [workflow] = rs.plan_workflows(args, cluster_arns=CLUSTER_ARNS, zone_id=args.zone_id)
    return workflow["steps"]


@pytest.mark.parametrize("approval", [None, APPROVER])
def test_plan_is_a_valid_create_plan_request(approval):
    assert validate(create_plan_request(replace(ARGS, approval_role_arn=approval))) == ""


def test_scaling_resources_keyed_by_cluster_would_be_refused():
    # The validator does catch a wrong key: a cluster ARN where the API wants a Region.
    request = create_plan_request(ARGS)
    block = request["workflows"][0]["steps"][0]["executionBlockConfiguration"]["eksResourceScalingConfig"]
    block["scalingResources"] = [{"app": {CLUSTER_ARNS["primary"]: {"name": "d", "namespace": "recsys"}}}]
    assert "does not match [a-z]{2}-[a-z-]+-\\d+" in validate(request)


def test_one_activate_workflow_serves_both_directions():
    [workflow] = rs.plan_workflows(ARGS, cluster_arns=CLUSTER_ARNS, zone_id=ARGS.zone_id)
    assert workflow["workflow_target_action"] == "activate"
    assert "workflow_target_region" not in workflow


def test_serving_scales_before_traffic_moves():
    assert [s["name"] for s in steps()] == [rs.SCALING_STEP, rs.TRAFFIC_STEP]


def test_approval_comes_first_when_an_approver_is_named():
    named = steps(replace(ARGS, approval_role_arn=APPROVER))
    assert [s["name"] for s in named] == [rs.APPROVAL_STEP, rs.SCALING_STEP, rs.TRAFFIC_STEP]
    assert named[0]["execution_approval_configs"] == [{"approval_role": APPROVER, "timeout_minutes": 60}]


def test_scaling_block_targets_full_primary_capacity_in_both_regions():
    [config] = steps()[0]["eks_resource_scaling_configs"]
    assert config["target_percent"] == 100
    assert config["capacity_monitoring_approach"] == "sampledMaxInLast24Hours"
    assert config["kubernetes_resource_types"] == [{"api_version": "apps/v1", "kind": "Deployment"}]
    assert [c["cluster_arn"] for c in config["eks_clusters"]] == [CLUSTER_ARNS["primary"], CLUSTER_ARNS["standby"]]
    [app] = config["scaling_resources"]
    assert {r["resource_name"]: (r["name"], r["namespace"], r["hpa_name"]) for r in app["resources"]} == {
        "us-east-1": ("recommender-tf-serving", "recsys", "recommender-tf-serving"),
        "us-west-2": ("recommender-tf-serving", "recsys", "recommender-tf-serving"),
    }


def test_traffic_block_names_each_record_set_and_its_region():
    # Set identifiers "primary"/"standby" hold no Region name, so ARC cannot map them itself.
    [config] = steps()[1]["route53_health_check_configs"]
    assert config["hosted_zone_id"] == "Z0PROD123456789EXAMPLE"
    assert config["record_name"] == "recs.shop.example.com"
    assert config["record_sets"] == [
        {"record_set_identifier": "primary", "region": "us-east-1"},
        {"record_set_identifier": "standby", "region": "us-west-2"},
    ]


def test_execution_role_policy_is_scoped_to_this_plan_role_clusters_and_zone():
    plan_arn = f"arn:aws:arc-region-switch::{ACCOUNT}:plan/recsys-prod:abc123"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/exec"
    policy = rs.execution_role_policy(plan_arn=plan_arn, role_arn=role_arn, cluster_arns=CLUSTER_ARNS, zone_id="Z0PROD")
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert "*" not in json.dumps([s["Resource"] for s in statements.values()]).replace("/*", "")
    assert statements["ReadOwnPlan"]["Resource"] == plan_arn
    assert statements["PlanEvaluation"] == {"Sid": "PlanEvaluation", "Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": role_arn}
    assert statements["DescribeClusters"]["Resource"] == list(CLUSTER_ARNS.values())
    assert statements["CheckAccessEntries"]["Resource"] == [
        f"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/recs-primary/*",
        f"arn:aws:eks:us-west-2:{ACCOUNT}:access-entry/recs-standby/*",
    ]
    assert statements["ReadFailoverRecords"]["Resource"] == "arn:aws:route53:::hostedzone/Z0PROD"
    actions = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not any(a.endswith("*") or a.startswith(("iam:Pass", "iam:Create", "iam:Put")) for a in actions)


@dataclass(frozen=True)
class Check:
    region: str
    health_check_id: str


def test_health_checks_are_mapped_to_roles_by_region():
    checks = [Check(region="us-west-2", health_check_id="hc-w"), Check(region="us-east-1", health_check_id="hc-e")]
    assert rs.health_checks_by_role(checks, {"primary": "us-east-1", "standby": "us-west-2"}) == {"primary": "hc-e", "standby": "hc-w"}


def test_missing_health_check_is_an_error_not_an_unsteered_record():
    with pytest.raises(ValueError, match="no Route 53 health check for us-west-2 yet"):
        rs.health_checks_by_role([Check(region="us-east-1", health_check_id="hc-e")], {"primary": "us-east-1", "standby": "us-west-2"})


@pytest.mark.parametrize("name", ["recsys-dev", "recsys-dev.eu_1", "x" * 40 + "-tail", "recsys--a", "--"])
def test_plan_name_for_any_component_name_is_valid(name):
    assert rs.PLAN_NAME_PATTERN.fullmatch(rs.plan_name_for(name))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plan_name": "-bad"}, "`plan_name` must be 1-32 letters"),
        ({"plan_name": "x" * 33}, "`plan_name` must be 1-32 letters"),
        ({"approval_role_arn": "oncall"}, "`approval_role_arn` must be an IAM role ARN. Received: 'oncall'"),
        ({"scaling_timeout_minutes": 0}, "`scaling_timeout_minutes` must be a whole number of minutes >= 1. Received: 0"),
        ({"targets": {"primary": TARGETS["primary"]}}, "`targets` must have exactly the keys primary, standby"),
        ({"targets": {"primary": TARGETS["primary"], "standby": replace(TARGETS["standby"], region="us-east-1")}},
         "must differ from `targets.primary.region`"),
    ],
)
def test_invalid_args_are_refused(change, message):
    assert any(message in p for p in rs.region_switch_problems(replace(ARGS, **change)))


class PlanMocks(mock_runtime.CloudMocks):
    """Region switch creates one health check per Region of the plan (ARC developer guide)."""

    def call(self, args):
        if args.token == "aws:arcregionswitch/getRoute53HealthChecks:getRoute53HealthChecks":
            return {"planArn": args.args["planArn"], "healthChecks": [
                {"region": region, "healthCheckId": f"hc-{region}", "hostedZoneId": "Z", "recordName": "r", "status": "healthy"}
                for region in ("us-east-1", "us-west-2")
            ]}
        return super().call(args)


@pytest.fixture
def rendered(monkeypatch):
    monkeypatch.setattr(mock_runtime, "CloudMocks", PlanMocks)

    def program():
        switch = rs.RegionSwitch("recs", replace(ARGS, approval_role_arn=APPROVER))
        pulumi.export("planArn", switch.plan.arn)
        pulumi.export("healthCheckIds", switch.health_check_ids)
        pulumi.export("approvalStepName", switch.approval_step_name)

    return render(program)


def test_execution_role_trusts_only_region_switch(rendered):
    role = rendered.one("aws:iam/role:Role", "recs-execution")
    assert json.loads(role.inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "arc-region-switch.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }


@pytest.mark.parametrize(("role", "region"), [("primary", "us-east-1"), ("standby", "us-west-2")])
def test_each_cluster_gives_the_execution_role_the_scaling_policy_in_the_serving_namespace(rendered, role, region):
    entry = rendered.one("aws:eks/accessEntry:AccessEntry", f"recs-{role}-access")
    association = rendered.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", f"recs-{role}-scaling")
    assert entry.inputs["region"] == association.inputs["region"] == region
    assert entry.inputs["clusterName"] == association.inputs["clusterName"] == f"recs-{role}"
    assert entry.inputs["principalArn"].endswith(":role/" + rendered.one("aws:iam/role:Role", "recs-execution").outputs["name"])
    assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonARCRegionSwitchScalingPolicy"
    assert association.inputs["accessScope"] == {"type": "namespace", "namespaces": ["recsys"]}


def test_plan_is_created_after_the_access_entries(rendered):
    plan = rendered.one("aws:arcregionswitch/plan:Plan", "recs")
    associations = {r.urn for r in rendered.resources if r.type == "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"}
    assert associations <= set(plan.dependencies)
    assert plan.inputs["recoveryApproach"] == "activePassive"
    assert plan.inputs["regions"] == ["us-east-1", "us-west-2"] and plan.inputs["primaryRegion"] == "us-east-1"


def test_component_exports_the_plan_and_its_health_checks(rendered):
    outputs = rendered.outputs
    assert outputs["approvalStepName"] == rs.APPROVAL_STEP
    assert outputs["healthCheckIds"] == {"primary": "hc-us-east-1", "standby": "hc-us-west-2"}
    assert outputs["planArn"].startswith("arn:aws:arc-region-switch::")  # botocore PlanArn: global, no region
