"""The real Pulumi program, run for each shipped environment and with broken config."""

from __future__ import annotations

import pulumi
import pytest

from recsys_dr.components.settings.model import DEFAULT_HISTORY_LENGTH
from recsys_dr.stacks.settings import ConfigError
from tests.support import ENVIRONMENTS, registrations_before_failure, render_stack, stack_config


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_shipped_environment_renders_both_regions(rendered_stacks, env):
    run = rendered_stacks[env]
    assert len(run.of_type("aws:eks/cluster:Cluster")) == 2
    # Each region's GPU serving, and the fallback tier in the standby's cluster.
    assert len(run.of_type("kubernetes:apps/v1:Deployment")) == 3
    assert {r.inputs["region"] for r in run.of_type("aws:s3/bucket:Bucket")} == {"us-east-1", "us-west-2"}
    assert run.outputs["environment"] == env
    assert set(run.outputs["regions"]) == {"primary", "standby"}
    assert run.outputs["model"] == {"name": "recommender", "version": 1,
                                    "manifestSha256": "558081bec74fd277d04ac8895064fa2fede6f23cfd591156d380473c9eb7dc14"}


def test_stack_exports_what_operators_need(rendered_stacks):
    outputs = rendered_stacks["prod"].outputs
    for role in ("primary", "standby"):
        region = outputs["regions"][role]
        assert {"region", "endpoint", "bucket", "kmsKeyArn", "clusterName", "gpuNodeGroupName", "healthCheckId",
                "namespace", "deploymentName", "gpuScaling", "activeGpuScaling", "podsPerGpuNode", "hpaName",
                "scaledObjectName", "frontDoor", "serving", "model", "capacityReservation", "coldStart"} == set(region)
        # prod's warm standby runs its GPUs: no reservation (null), every other value set.
        assert region["capacityReservation"] is None
        assert all(value not in (None, "") for key, value in region.items() if key != "capacityReservation")
        assert region["frontDoor"]["scheme"] == "https" and region["frontDoor"]["port"] == 443
    assert outputs["failoverBudget"] == "10 s x 3 failed checks + TTL 60 s = 90 s"
    assert outputs["failoverBudgetTargetSeconds"] == 90
    fallback = outputs["fallback"]
    assert fallback["region"] == outputs["regions"]["standby"]["region"] and fallback["namespace"] == "recsys-fallback"
    assert fallback["model"] == {"name": "recommender-fallback", "servedAs": "recommender", "version": 1,
                                 "manifestSha256": "4aaf554acd0b37bfa2afa44a867e313053809e05de05909c7605f3201419d3e7",
                                 "historyLength": DEFAULT_HISTORY_LENGTH, "image": "tensorflow/serving:2.21.0",
                                 "candidate": None}
    assert fallback["frontDoor"]["scheme"] == "https" and fallback["endpoint"] not in (
        outputs["regions"]["primary"]["endpoint"], outputs["regions"]["standby"]["endpoint"])
    assert fallback["budgetSeconds"] == 120 and fallback["cascadeRecordName"] == "standby-cascade.recs.shop.example.com"


def test_arc_is_chosen_by_config():
    # ARC steers by the operator's switch alone, which the fallback cascade cannot follow (settings refuse both).
    run = render_stack("prod", stack_config("prod", failoverControl="arc", fallback=None))
    assert len(run.of_type("aws:route53recoverycontrol/routingControl:RoutingControl")) == 2
    assert set(run.outputs["arc"]["routingControls"]) == {"primary", "standby"}


def test_bad_config_stops_the_program_before_any_resource(monkeypatch):
    config = stack_config("dev", regions={"primary": "us-east-1", "standby": "us-east-1"}, gpu={"instanceTypes": ["c5.xlarge"]})
    # The plan tool reloads `stacks` between renders, so match the base class and check the name.
    error, registered = registrations_before_failure(monkeypatch, lambda: render_stack("dev", config), pulumi.InputPropertiesError)
    assert type(error).__name__ == ConfigError.__name__
    assert registered == []
    assert "`recsys-dr:regions.standby` must differ from `recsys-dr:regions.primary`" in str(error)
    assert "`recsys-dr:gpu.instanceTypes` must contain only NVIDIA GPU instance types" in str(error)


def test_first_deployment_can_skip_waiting_for_the_model():
    serving = {"awaitRollout": False, "allowedCidrs": ["203.0.113.0/24"]}
    deployments = render_stack("dev", stack_config("dev", serving=serving)).of_type("kubernetes:apps/v1:Deployment")
    assert [d.inputs["metadata"]["annotations"] for d in deployments] == [{"pulumi.com/skipAwait": "true"}] * 3


def test_rollouts_are_awaited_by_default(rendered_stacks):
    deployments = rendered_stacks["dev"].of_type("kubernetes:apps/v1:Deployment")
    assert all("pulumi.com/skipAwait" not in d.inputs["metadata"].get("annotations", {}) for d in deployments)
