"""Reserved GPU capacity and the image cache in the rendered node group and launch template, and the
settings that would make them wrong (EKS user guide "Manage compute for AI/ML workloads ... with node
groups", "Customize managed nodes with launch templates"; EC2 API reference CapacityReservationSpecification)."""

from __future__ import annotations

import re

import pulumi
import pytest

from recsys_dr.components.cluster import capacity
from recsys_dr.components.cluster.cold_start import CAPACITY_WAIT, IMAGE_PULL, MODEL_LOAD, NODE, cold_start_outputs
from recsys_dr.review.mock_runtime import ProgramRun
from tests.components.test_variants import render_recommender
from tests.support import registrations_before_failure

PILOT = dict(standby_mode="pilot-light")
ODCR = {"availability_zone": "us-west-2b"}
BLOCK = {"type": "capacity-block", "availability_zone": "us-west-2a", "reservation_id": "cr-0123456789abcdef0", "instance_count": 2}


@pytest.fixture(scope="module")
def reserved() -> ProgramRun:
    return render_recommender(**PILOT, gpu={"capacity_reservations": {"standby": ODCR}})


@pytest.fixture(scope="module")
def capacity_block() -> ProgramRun:
    return render_recommender(**PILOT, gpu={"instance_types": ["p5.48xlarge"], "capacity_reservations": {"standby": BLOCK}},
                              serving={"cpu": "8", "memory": "64Gi"})


@pytest.fixture(scope="module")
def cached() -> ProgramRun:
    return render_recommender(**PILOT, gpu={"os_family": "bottlerocket", "image_cache": {"standby": "snap-0123456789abcdef0"}})


def gpu_group(run: ProgramRun, role: str = "standby") -> dict:
    return run.one("aws:eks/nodeGroup:NodeGroup", f"recs-{role}-gpu").inputs


def template(run: ProgramRun, role: str = "standby") -> dict:
    return run.one("aws:ec2/launchTemplate:LaunchTemplate", f"recs-{role}-gpu").inputs


def test_stack_creates_a_targeted_reservation_for_the_pools_maximum(reserved):
    (reservation,) = reserved.of_type("aws:ec2/capacityReservation:CapacityReservation")
    inputs = reservation.inputs
    assert inputs["region"] == "us-west-2" and inputs["availabilityZone"] == "us-west-2b"
    assert inputs["instanceType"] == "g5.xlarge" and inputs["instanceCount"] == 2  # gpu.maxSize
    # Only launches that name it may use it; it lasts until the stack removes it.
    assert inputs["instanceMatchCriteria"] == "targeted" and inputs["endDateType"] == "unlimited"
    target = template(reserved)["capacityReservationSpecification"]["capacityReservationTarget"]
    assert target == {"capacityReservationId": reservation.id}


def test_reserved_pool_launches_from_its_template_in_the_reservations_zone_only(reserved):
    group = gpu_group(reserved)
    assert group["launchTemplate"] == {"id": reserved.one("aws:ec2/launchTemplate:LaunchTemplate", "recs-standby-gpu").id,
                                       "version": "1"}
    # EKS refuses diskSize beside a launch template: the template's volume sizes the disk.
    assert "diskSize" not in group
    assert template(reserved)["blockDeviceMappings"] == [{"deviceName": "/dev/xvda", "ebs": {
        "volumeSize": 100, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}}]
    # The mock network puts private subnet i in zone "abc"[i]: only zone b's subnet.
    network = [s for s in reserved.of_type("aws:ec2/subnet:Subnet") if s.name.startswith("recs-standby-net-private-")]
    zone_b = [s.id for s in network if s.inputs["availabilityZone"] == "us-west-2b"]
    assert group["subnetIds"] == zone_b and len(network) == 2
    assert group["capacityType"] == "ON_DEMAND" and group["instanceTypes"] == ["g5.xlarge"]
    # The primary keeps its plain, multi-zone pool.
    assert "launchTemplate" not in gpu_group(reserved, "primary") and len(gpu_group(reserved, "primary")["subnetIds"]) == 2


def test_launch_template_keeps_pods_off_the_node_role(reserved):
    assert template(reserved)["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}


def test_capacity_block_is_a_capacity_block_market_on_a_capacity_block_node_group(capacity_block):
    lt, group = template(capacity_block), gpu_group(capacity_block)
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"} and lt["instanceType"] == "p5.48xlarge"
    assert lt["capacityReservationSpecification"]["capacityReservationTarget"] == {"capacityReservationId": "cr-0123456789abcdef0"}
    # The block's type is in the template, so the node group names none.
    assert group["capacityType"] == "CAPACITY_BLOCK" and "instanceTypes" not in group
    # Bought, not created: no reservation resource.
    assert capacity_block.of_type("aws:ec2/capacityReservation:CapacityReservation") == []


def test_image_cache_becomes_the_bottlerocket_data_volume(cached):
    lt = template(cached)
    assert lt["blockDeviceMappings"] == [{"deviceName": "/dev/xvdb", "ebs": {
        "volumeSize": 100, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true",
        "snapshotId": "snap-0123456789abcdef0"}}]
    assert "capacityReservationSpecification" not in lt
    assert len(gpu_group(cached)["subnetIds"]) == 2  # no reservation: every zone


def test_outputs_say_what_the_standby_can_count_on(reserved, cached):
    standby = reserved.outputs["regions"]["standby"]
    assert standby["capacityReservation"]["instanceCount"] == 2 and standby["capacityReservation"]["type"] == "on-demand"
    assert standby["coldStart"] == {"capacityWaitSeconds": 0, "nodeSeconds": NODE.seconds, "imagePullSeconds": IMAGE_PULL.seconds,
                                    "modelLoadSeconds": MODEL_LOAD.seconds, "capacityGuaranteed": True, "imageCache": False}
    assert reserved.outputs["regions"]["primary"]["coldStart"]["capacityWaitSeconds"] == CAPACITY_WAIT.seconds
    assert cached.outputs["regions"]["standby"]["coldStart"]["imagePullSeconds"] == 0


def test_cold_start_phases_drop_the_wait_with_a_reservation_and_the_pull_with_a_cache():
    assert cold_start_outputs(reserved=False, image_cache=False) == {
        "capacityWaitSeconds": 900, "nodeSeconds": 300, "imagePullSeconds": 120, "modelLoadSeconds": 60,
        "capacityGuaranteed": False, "imageCache": False}
    assert cold_start_outputs(reserved=True, image_cache=True)["capacityWaitSeconds"] == 0
    assert cold_start_outputs(reserved=True, image_cache=True)["imagePullSeconds"] == 0


def test_subnets_in_zone_refuses_a_zone_the_cluster_does_not_use():
    assert capacity.subnets_in_zone(["s-a", "s-b"], ["us-west-2a", "us-west-2b"], "us-west-2b") == ["s-b"]
    with pytest.raises(ValueError, match="the capacity reservation is in us-west-2c, but the cluster's private subnets are in us-west-2a, us-west-2b"):
        capacity.subnets_in_zone(["s-a", "s-b"], ["us-west-2a", "us-west-2b"], "us-west-2c")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gpu": {"instance_types": ["g5.xlarge", "g6.xlarge"], "capacity_reservations": {"standby": ODCR}}},
         r"`gpu.instance_types` must name one type when `gpu.capacity_reservations.standby` is set"),
        ({"gpu": {"capacity_type": "SPOT", "capacity_reservations": {"standby": ODCR}}}, r"`gpu.capacity_type` must be ON_DEMAND"),
        ({"gpu": {"max_size": 3, "capacity_reservations": {"standby": {**ODCR, "instance_count": 2}}}},
         r"`gpu.capacity_reservations.standby.instance_count` must be >= `gpu.max_size`.*instance_count=2, max_size=3"),
        ({"gpu": {"capacity_reservations": {"standby": {**ODCR, "reservation_id": "cr-0123456789abcdef0"}}}},
         r"`gpu.capacity_reservations.standby.instance_count` is required with `gpu.capacity_reservations.standby.reservation_id`"),
        ({"gpu": {"capacity_reservations": {"standby": {**ODCR, "type": "capacity-block"}}}},
         r"`gpu.capacity_reservations.standby.reservation_id` is required for a capacity-block"),
        ({"gpu": {"capacity_reservations": {"standby": {"availability_zone": "us-east-1a"}}}},
         r"`gpu.capacity_reservations.standby.availability_zone` must be a zone of us-west-2"),
        ({"gpu": {"capacity_reservations": {"standby": {"availability_zone": "west"}}}},
         r"`gpu.capacity_reservations.standby.availability_zone` must be an availability zone"),
        ({"gpu": {"image_cache": {"standby": "snap-0123456789abcdef0"}}}, r"`gpu.image_cache` needs `gpu.os_family: bottlerocket`"),
        ({"gpu": {"os_family": "bottlerocket", "image_cache": {"standby": "ami-0123"}}}, r"`gpu.image_cache.standby` must be a snapshot id"),
    ],
)
def test_capacity_settings_that_aws_would_refuse_fail_before_any_resource(monkeypatch, overrides, message):
    error, registered = registrations_before_failure(
        monkeypatch, lambda: render_recommender(**PILOT, **overrides), pulumi.InputPropertiesError)
    assert re.search(message, str(error)), str(error)
    assert registered == []
