"""The shipped program with issue-9 settings: first deployment in one pass, awaits that can
finish, operator access, the accelerator label and the ARC Region switch plan."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pytest

from recsys_dr.components.settings.model import ModelSettings
from recsys_dr.model.manifest import write_manifest
from recsys_dr.review import mock_runtime
from tests.support import registrations_before_failure, render_stack, stack_config

ONCALL = "arn:aws:iam::123456789012:role/oncall"
SRE = "arn:aws:iam::123456789012:role/platform/sre"


def built_version(root: Path, version: int = 1) -> Path:
    directory = root / "artifacts" / "recommender" / str(version)
    (directory / "variables").mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(b"graph")
    (directory / "variables" / "variables.index").write_bytes(b"index")
    write_manifest(directory, model_name="recommender", version=version, metadata={})
    return directory


def digest(directory: Path) -> str:
    return hashlib.sha256((directory / "manifest.json").read_bytes()).hexdigest()


def model_config(env: str, **changes) -> dict:
    model = json.loads(stack_config(env)["recsys-dr:model"])
    model.update(changes)
    return model


@pytest.fixture(scope="module")
def with_artifact(tmp_path_factory):
    directory = built_version(tmp_path_factory.mktemp("project"))
    run = render_stack("dev", stack_config("dev", model=model_config("dev", artifactDir=str(directory), manifestSha256=digest(directory))))
    return run, directory


def deployment(run, role: str):
    [found] = [d for d in run.of_type("kubernetes:apps/v1:Deployment") if f"-{role}-serving" in d.urn]
    return found


def upload(run):
    [found] = run.of_type("pulumi-python:dynamic:Resource")
    return found


def test_artifact_dir_uploads_the_version_into_the_primary_bucket_as_the_release_role(with_artifact):
    run, directory = with_artifact
    primary_bucket = run.one("aws:s3/bucket:Bucket", "recsys-dev-models-primary").outputs["bucket"]
    inputs = upload(run).inputs
    assert (inputs["bucket"], inputs["region"], inputs["versionDir"]) == (primary_bucket, "us-east-1", str(directory.resolve()))
    assert inputs["roleArn"] == json.loads(stack_config("dev")["recsys-dr:storage"])["releaseRoleArn"]
    assert run.outputs["modelArtifact"] == {"manifestKey": "models/recommender/1/manifest.json", "manifestSha256": digest(directory)}


def test_primary_pods_start_only_after_the_version_is_uploaded(with_artifact):
    run, _ = with_artifact
    assert upload(run).urn in deployment(run, "primary").dependencies
    # The standby gets the version by replication, which no resource can wait for.
    assert upload(run).urn not in deployment(run, "standby").dependencies


def test_upload_waits_for_the_bucket_policy_encryption_lock_and_replication(with_artifact):
    run, _ = with_artifact
    # The upload itself must wait: a parent's depends_on does not reach its children.
    needed = [
        run.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "recsys-dev-models-replication"),
        run.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "recsys-dev-models-primary"),
        run.one("aws:s3/bucketPolicy:BucketPolicy", "recsys-dev-models-primary"),
    ]
    assert {r.urn for r in needed} <= set(upload(run).dependencies)


def test_upload_is_never_deleted_by_pulumi(with_artifact):
    run, _ = with_artifact
    assert upload(run).options.get("retainOnDelete") is True


def test_without_artifact_dir_nothing_is_uploaded(rendered_stacks):
    assert rendered_stacks["dev"].of_type("pulumi-python:dynamic:Resource") == []
    assert "modelArtifact" not in rendered_stacks["dev"].outputs


def test_artifact_dir_of_another_build_is_refused_before_any_resource(monkeypatch, tmp_path):
    directory = built_version(tmp_path, version=2)
    config = stack_config("dev", model=model_config("dev", artifactDir=str(directory)))
    error, registered = registrations_before_failure(monkeypatch, lambda: render_stack("dev", config), pulumi.InputPropertiesError)
    assert registered == []
    assert "`recsys-dr:model.artifactDir` must hold the pinned model recommender version 1" in str(error)


def test_artifact_whose_manifest_is_not_the_pinned_one_is_refused(monkeypatch, tmp_path):
    directory = built_version(tmp_path)
    config = stack_config("dev", model=model_config("dev", artifactDir=str(directory), manifestSha256="0" * 64))
    error, registered = registrations_before_failure(monkeypatch, lambda: render_stack("dev", config), pulumi.InputPropertiesError)
    assert registered == []
    assert "`recsys-dr:model.artifactDir` must hold the manifest `recsys-dr:model.manifestSha256` pins" in str(error)


def test_relative_artifact_dir_starts_at_the_project_root_not_the_program_dir(monkeypatch, tmp_path):
    # Pulumi runs a `main: stacks/` program inside stacks/ (pkg/engine/project.go getPwdMain).
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\nmain: stacks/\n")
    (tmp_path / "stacks").mkdir()
    directory = built_version(tmp_path)
    monkeypatch.chdir(tmp_path / "stacks")
    model = ModelSettings(name="recommender", version=1, manifest_sha256=digest(directory), artifact_dir="artifacts/recommender/1")
    assert model.artifact_path == directory


def test_no_service_makes_a_load_balancer_of_its_own(rendered_stacks):
    # The balancers are Pulumi's (aws:lb); a LoadBalancer Service would add an unmanaged NLB.
    for env in ("dev", "prod"):
        services = rendered_stacks[env].of_type("kubernetes:core/v1:Service")
        # One per serving tier: the two GPU regions and the fallback.
        assert len(services) == 3 and {s.inputs["spec"]["type"] for s in services} == {"ClusterIP"}
        assert len(rendered_stacks[env].of_type("aws:lb/loadBalancer:LoadBalancer")) == 3


def test_rollout_await_is_bounded_and_longer_where_replication_feeds_the_region(rendered_stacks):
    run = rendered_stacks["prod"]
    timeouts = {role: int(deployment(run, role).inputs["metadata"]["annotations"]["pulumi.com/timeoutSeconds"]) for role in ("primary", "standby")}
    # prod: 8 pods one at a time, 910 s each plus 20 s to turn healthy in the target group (its
    # readiness gate); the standby first waits up to RTC's 15 min + back-off.
    assert timeouts == {"primary": 8 * 930, "standby": 8 * 930 + 900 + 300}


def test_admin_roles_get_access_entries_in_both_clusters(rendered_stacks):
    cluster = json.loads(stack_config("prod")["recsys-dr:cluster"])
    run = render_stack("prod", stack_config("prod", cluster={**cluster, "adminRoleArns": [ONCALL, SRE]}))
    entries = run.of_type("aws:eks/accessEntry:AccessEntry")
    assert sorted((e.inputs["region"], e.inputs["principalArn"]) for e in entries) == sorted(
        (region, arn) for region in ("us-east-1", "us-west-2") for arn in (ONCALL, SRE)
    )
    associations = run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert {a.inputs["policyArn"] for a in associations} == {"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}
    assert len(associations) == 4
    # Without the setting only the cluster creator has access.
    run = render_stack("prod", stack_config("prod", cluster={**cluster, "adminRoleArns": []}))
    assert run.of_type("aws:eks/accessEntry:AccessEntry") == []


def test_shipped_environments_give_on_call_access_to_both_clusters(rendered_stacks):
    # DESIGN.md: "On-call roles have access to both clusters."
    for env, run in rendered_stacks.items():
        entries = run.of_type("aws:eks/accessEntry:AccessEntry")
        assert {e.inputs["region"] for e in entries} == {"us-east-1", "us-west-2"}, env


def test_admin_role_that_is_a_session_is_refused(monkeypatch):
    cluster = json.loads(stack_config("prod")["recsys-dr:cluster"])
    session = "arn:aws:sts::123456789012:assumed-role/oncall/alice"
    config = stack_config("prod", cluster={**cluster, "adminRoleArns": [session]})
    error, registered = registrations_before_failure(monkeypatch, lambda: render_stack("prod", config), pulumi.InputPropertiesError)
    assert registered == []
    assert "`recsys-dr:cluster.adminRoleArns` must hold IAM role ARNs" in str(error) and "assumed-role session" in str(error)


@pytest.mark.parametrize(("env", "value"), [("dev", "nvidia-a10g"), ("prod", "nvidia-a10g-l4")])
def test_gpu_node_groups_carry_the_accelerator_label(rendered_stacks, env, value):
    for role in ("primary", "standby"):
        labels = rendered_stacks[env].one("aws:eks/nodeGroup:NodeGroup", f"recsys-{env}-{role}-gpu").inputs["labels"]
        assert labels["k8s.amazonaws.com/accelerator"] == value
    system = rendered_stacks[env].one("aws:eks/nodeGroup:NodeGroup", f"recsys-{env}-primary-system").inputs["labels"]
    assert "k8s.amazonaws.com/accelerator" not in system


class PlanMocks(mock_runtime.CloudMocks):
    """The plan's health checks, one per Region (ARC creates them with the Route 53 block)."""

    def call(self, args):
        if args.token == "aws:arcregionswitch/getRoute53HealthChecks:getRoute53HealthChecks":
            return {"planArn": args.args["planArn"], "healthChecks": [
                {"region": r, "healthCheckId": f"plan-{r}", "hostedZoneId": "Z", "recordName": "n", "status": "healthy"}
                for r in ("us-east-1", "us-west-2")
            ]}
        return super().call(args)


@pytest.fixture(scope="module")
def region_switch():
    patch = pytest.MonkeyPatch()
    patch.setattr(mock_runtime, "CloudMocks", PlanMocks)
    try:
        # A Region switch plan moves traffic by the operator's decision alone: no fallback cascade with it.
        yield render_stack("prod", stack_config("prod", failoverControl="region-switch", fallback=None,
                                                regionSwitch={"approvalRoleArn": ONCALL, "recoveryTimeObjectiveMinutes": 20}))
    finally:
        patch.undo()


def test_region_switch_plan_scales_the_serving_deployments_of_both_clusters(region_switch):
    [plan] = region_switch.of_type("aws:arcregionswitch/plan:Plan")
    [workflow] = plan.inputs["workflows"]
    [approve, scale, traffic] = workflow["steps"]
    assert approve["executionBlockType"] == "ManualApproval"
    [config] = scale["eksResourceScalingConfigs"]
    clusters = {c.inputs["region"]: c.outputs["arn"] for c in region_switch.of_type("aws:eks/cluster:Cluster")}
    assert [c["clusterArn"] for c in config["eksClusters"]] == [clusters["us-east-1"], clusters["us-west-2"]]
    [app] = config["scalingResources"]
    assert {r["resourceName"]: (r["name"], r["namespace"], r["hpaName"]) for r in app["resources"]} == {
        region: ("recommender-tf-serving", "recsys", "recommender-tf-serving") for region in ("us-east-1", "us-west-2")
    }
    assert config["targetPercent"] == 100
    [route53] = traffic["route53HealthCheckConfigs"]
    assert route53["hostedZoneId"] == "Z0PROD123456789EXAMPLE" and route53["recordName"] == "recs.shop.example.com"


def test_region_switch_health_checks_steer_the_failover_records(region_switch):
    records = {r.inputs["setIdentifier"]: r.inputs["healthCheckId"] for r in region_switch.of_type("aws:route53/record:Record")}
    assert records == {"primary": "plan-us-east-1", "standby": "plan-us-west-2"}


def test_region_switch_outputs_what_the_cli_needs(region_switch):
    outputs = region_switch.outputs
    assert outputs["failoverControl"] == "region-switch"
    assert set(outputs["regionSwitch"]) == {"planArn", "executionRoleArn", "approvalStepName", "recoveryTimeObjectiveMinutes"}
    assert outputs["regionSwitch"]["approvalStepName"] == "approve-failover"
    assert outputs["regionSwitch"]["recoveryTimeObjectiveMinutes"] == 20
    assert "arc" not in outputs


def test_region_switch_plan_follows_the_deployments_it_scales(region_switch):
    [plan] = region_switch.of_type("aws:arcregionswitch/plan:Plan")
    deployments = {d.urn for d in region_switch.of_type("kubernetes:apps/v1:Deployment")}
    assert deployments <= set(plan.dependencies)


def test_region_switch_role_can_scale_in_both_clusters(region_switch):
    associations = [a for a in region_switch.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
                    if a.inputs["policyArn"].endswith("AmazonARCRegionSwitchScalingPolicy")]
    assert sorted(a.inputs["region"] for a in associations) == ["us-east-1", "us-west-2"]


def test_region_switch_needs_an_existing_zone(monkeypatch):
    dns = json.loads(stack_config("prod")["recsys-dr:dns"])
    dns.pop("zoneId")
    config = stack_config("prod", failoverControl="region-switch", fallback=None, dns={**dns, "zoneName": "shop.example.com"})
    error, registered = registrations_before_failure(monkeypatch, lambda: render_stack("prod", config), pulumi.InputPropertiesError)
    assert registered == []
    assert "`recsys-dr:failoverControl` region-switch needs `recsys-dr:dns.zoneId`" in str(error)


def test_operator_outputs_per_region(rendered_stacks):
    dev = rendered_stacks["dev"].outputs["regions"]
    assert dev["standby"]["serving"] == {"replicas": 0, "minReplicas": 1, "maxReplicas": 1}
    assert dev["standby"]["activeGpuScaling"] == {"minSize": 1, "desiredSize": 1, "maxSize": 2}
    assert dev["standby"]["gpuScaling"] == {"minSize": 0, "desiredSize": 0, "maxSize": 2}
    assert dev["primary"]["hpaName"] == "recommender-tf-serving"
    prod = rendered_stacks["prod"].outputs["regions"]
    assert prod["standby"]["serving"] == {"replicas": 2, "minReplicas": 2, "maxReplicas": 8}
    assert {prod[role]["podsPerGpuNode"] for role in ("primary", "standby")} == {1}
