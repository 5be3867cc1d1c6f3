"""Reserved capacity and the GPU node group's launch template, as plain data (no resources).

A managed node group launches into a reservation only through its own launch template
(EKS user guide, "Manage compute for AI/ML workloads ... with node groups": "You create a separate
managed or self-managed node group per capacity type, each with its own launch template"):

* On-Demand Capacity Reservation: `CapacityReservationSpecification.CapacityReservationTarget`
  names the reservation; a targeted launch runs in it or fails (EC2 API reference,
  CapacityReservationSpecification).
* Capacity Block for ML: the same target plus `InstanceMarketOptions.MarketType: capacity-block` and
  the block's `InstanceType` in the template, and the node group's capacity type `CAPACITY_BLOCK`
  (EKS user guide, "Create node groups with Capacity Blocks for ML"); instance types are then not
  given to the node group (EKS user guide, "Customize managed nodes with launch templates": an instance
  type in the template excludes any in the node group).

Both are zonal ("Capacity Blocks are zonal ... use the subnet in the same Availability Zone"), so the
pool gets the subnets of the reservation's zone only. With a launch template the node group takes no
`diskSize`: the volumes are the template's block device mappings (same page, prohibited settings).
"""

from __future__ import annotations

from collections.abc import Sequence

# Root volume of AL2023 nodes; Bottlerocket keeps the OS on /dev/xvda and containers (images
# included) on the data volume /dev/xvdb (aws-samples/bottlerocket-images-cache README: "specify
# snapshot ID on volume with device name /dev/xvdb only").
AL2023_ROOT_DEVICE = "/dev/xvda"
BOTTLEROCKET_DATA_DEVICE = "/dev/xvdb"
CAPACITY_BLOCK_MARKET = "capacity-block"
CAPACITY_BLOCK_NODE_GROUP_TYPE = "CAPACITY_BLOCK"


def data_volume(*, os_family: str, size_gib: int, snapshot_id: str | None) -> dict:
    """The block device mapping of the volume that holds container images."""
    device = BOTTLEROCKET_DATA_DEVICE if os_family == "bottlerocket" else AL2023_ROOT_DEVICE
    ebs = {"volume_size": size_gib, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}
    if snapshot_id:
        ebs["snapshot_id"] = snapshot_id
    return {"device_name": device, "ebs": ebs}


def launch_template_data(*, os_family: str, disk_size_gib: int, reservation_type: str | None,
                         reservation_id: str | None, instance_type: str, snapshot_id: str | None) -> dict:
    """Arguments of the GPU pool's `aws.ec2.LaunchTemplate` (pulumi-aws names).

    Args:
        os_family: "al2023" or "bottlerocket" (which device holds the images).
        disk_size_gib: size of that volume.
        reservation_type: "on-demand", "capacity-block" or None (no reservation).
        reservation_id: the reservation the pool launches into (an Output is fine).
        instance_type: the pool's one instance type (written into the template for a Capacity Block).
        snapshot_id: a data-volume snapshot holding the serving images, or None.
    """
    data: dict = {
        "block_device_mappings": [data_volume(os_family=os_family, size_gib=disk_size_gib, snapshot_id=snapshot_id)],
        # IMDSv2 only, one hop: pods (on the pod network) cannot reach the node role's credentials; the
        # serving pods use Pod Identity (EKS best practices guide, security, "Restrict access to the
        # instance profile assigned to the worker node").
        "metadata_options": {"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
    }
    if reservation_type is not None:
        data["capacity_reservation_specification"] = {"capacity_reservation_target": {"capacity_reservation_id": reservation_id}}
    if reservation_type == "capacity-block":
        data["instance_market_options"] = {"market_type": CAPACITY_BLOCK_MARKET}
        data["instance_type"] = instance_type
    return data


def node_group_capacity(*, reservation_type: str | None, capacity_type: str, instance_types: Sequence[str]) -> dict:
    """`capacity_type` and `instance_types` of the GPU node group for a reservation type."""
    if reservation_type == "capacity-block":
        return {"capacity_type": CAPACITY_BLOCK_NODE_GROUP_TYPE}
    return {"capacity_type": capacity_type, "instance_types": list(instance_types)}


def subnets_in_zone(subnet_ids: Sequence[str], zones: Sequence[str], zone: str) -> list[str]:
    """The subnets of `zone` (parallel lists of ids and their zones).

    Raises:
        ValueError: none of the subnets is in `zone` (the reservation's zone is not the cluster's).
    """
    chosen = [subnet for subnet, subnet_zone in zip(subnet_ids, zones) if subnet_zone == zone]
    if not chosen:
        raise ValueError(f"the capacity reservation is in {zone}, but the cluster's private subnets are in "
                         f"{', '.join(sorted(set(zones)))}: put the reservation in one of those zones")
    return chosen
