"""`gpu`: the NVIDIA GPU node group of each region."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from recsys_dr.components.cluster.instances import GPU_FAMILIES, GPU_INSTANCES, GpuInstance, gpu_family
from recsys_dr.components.settings.aws_limits import MAX_NODES_PER_NODE_GROUP
from recsys_dr.components.settings.base import Settings, problem, setting

FAMILIES = ", ".join(GPU_FAMILIES)
NODE_LIMIT = f"EKS quota 'Nodes per managed node group', default {MAX_NODES_PER_NODE_GROUP}"
ZONE_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d+[a-z]$"
# EC2 API reference: CapacityReservation.CapacityReservationId "cr-" + hex; Snapshot.SnapshotId "snap-" + hex.
RESERVATION_ID_PATTERN = r"^cr-[0-9a-f]{8,17}$"
SNAPSHOT_ID_PATTERN = r"^snap-[0-9a-f]{8,17}$"
RESERVATION_TYPES = ("on-demand", "capacity-block")


class CapacityReservation(Settings):
    """EC2 capacity the region's GPU pool launches into, targeted: the pool's nodes run in this
    reservation and nowhere else (EC2 API reference, CapacityReservationSpecification: with a target
    "the instance will only run in a Capacity Reservation ... If capacity isn't available, the
    instance will fail to launch"). A reservation is zonal, so the pool uses the subnets of its zone only."""

    type: Literal["on-demand", "capacity-block"] = setting(
        "on-demand", description="on-demand: an On-Demand Capacity Reservation (billed at the On-Demand rate whether "
        "used or not, no end date); capacity-block: a Capacity Block for ML bought for a fixed window (EC2 ends its "
        "instances when the block ends).", allowed="one of: on-demand, capacity-block",
    )
    availability_zone: str = setting(description="Zone of the reservation; the GPU pool of this region launches there only.",
                                     allowed="an availability zone of the region such as us-west-2a", pattern=ZONE_PATTERN)
    reservation_id: str | None = setting(
        None, description="An existing reservation (cr-...). Required for a Capacity Block (bought with PurchaseCapacityBlock). "
        "Default for on-demand: the stack creates a targeted On-Demand Capacity Reservation.",
        allowed="a capacity reservation id such as cr-0123456789abcdef0", pattern=RESERVATION_ID_PATTERN,
    )
    instance_count: int | None = setting(
        None, description="Instances the reservation holds; at least `gpu.maxSize` (a launch beyond a targeted reservation "
        "fails). Required with `reservationId`; default for a created one: `gpu.maxSize`.",
        allowed="an integer >= 1", ge=1, le=MAX_NODES_PER_NODE_GROUP, limit=NODE_LIMIT,
    )

    @model_validator(mode="after")
    def _known_shape(self) -> CapacityReservation:
        problems = []
        if self.type == "capacity-block" and self.reservation_id is None:
            problems.append("`{key}.reservationId` is required for a capacity-block: Capacity Blocks are bought "
                            "(EC2 PurchaseCapacityBlock), not created by the stack. Received: none")
        if self.reservation_id is not None and self.instance_count is None:
            problems.append("`{key}.instanceCount` is required with `{key}.reservationId`: the plan prices and checks "
                            f"the reservation without calling AWS. Received: reservationId={self.reservation_id}")
        if problems:
            raise problem("\n".join(problems))
        return self

    def count(self, pool_max_size: int) -> int:
        """Instances reserved: as declared, or the pool's maximum for a reservation the stack creates."""
        return self.instance_count if self.instance_count is not None else pool_max_size


class CapacityReservations(Settings):
    """A capacity reservation per region (both optional)."""

    primary: CapacityReservation | None = setting(None, description="Reservation of the primary's GPU pool.", allowed="an object")
    standby: CapacityReservation | None = setting(
        None, description="Reservation of the standby's GPU pool: what a pilot light needs to be sure of its nodes.",
        allowed="an object",
    )

    def of(self, role: str) -> CapacityReservation | None:
        return getattr(self, role)


class ImageCacheSnapshots(Settings):
    """Per region, an EBS snapshot of a Bottlerocket data volume that already holds the serving images
    (aws-samples/bottlerocket-images-cache `snapshot.sh` builds one); new GPU nodes start with it as
    their data volume (/dev/xvdb), so pods start without pulling the TF Serving image."""

    primary: str | None = setting(None, description="Snapshot in the primary region.", allowed="a snapshot id such as "
                                  "snap-0123456789abcdef0", pattern=SNAPSHOT_ID_PATTERN)
    standby: str | None = setting(None, description="Snapshot in the standby region (snapshots are regional: copy it).",
                                  allowed="a snapshot id such as snap-0123456789abcdef0", pattern=SNAPSHOT_ID_PATTERN)

    def of(self, role: str) -> str | None:
        return getattr(self, role)


class GpuPoolSettings(Settings):
    """GPU pool bounds of the primary and of a warm standby (a pilot-light standby runs 0 / 0 / maxSize)."""

    instance_types: list[str] = setting(
        default_factory=lambda: ["g5.xlarge"], description="NVIDIA GPU instance types of one architecture, cheapest first.",
        allowed="a non-empty list of NVIDIA GPU instance types, for example [g5.xlarge]", min_length=1,
    )
    min_size: int = setting(1, description="Fewest GPU nodes (the primary always serves, so at least 1).",
                            allowed="a non-negative integer", ge=0, le=MAX_NODES_PER_NODE_GROUP, limit=NODE_LIMIT)
    desired_size: int = setting(1, description="GPU nodes at creation; the Cluster Autoscaler owns it afterwards.",
                                allowed="a non-negative integer", ge=0, le=MAX_NODES_PER_NODE_GROUP, limit=NODE_LIMIT)
    max_size: int = setting(2, description="Most GPU nodes the autoscaler may add (rollouts and failover top-ups need room here).",
                            allowed="an integer >= 1", ge=1, le=MAX_NODES_PER_NODE_GROUP, limit=NODE_LIMIT)
    os_family: Literal["al2023", "bottlerocket"] = setting(
        "al2023", description="Node OS: al2023 (the NVIDIA device plugin is installed) or bottlerocket (ships it).",
        allowed="one of: al2023, bottlerocket",
    )
    capacity_type: Literal["ON_DEMAND", "SPOT"] = setting("ON_DEMAND", description="EC2 purchase option of the GPU nodes.",
                                                          allowed="one of: ON_DEMAND, SPOT")
    disk_size_gib: int = setting(100, description="Root volume of GPU nodes in GiB (serving images are large).",
                                 allowed="an integer from 20 to 16384 GiB", ge=20, le=16384, limit="EBS gp3 volume size")
    capacity_reservations: CapacityReservations = setting(
        default_factory=CapacityReservations, description="EC2 capacity each region's GPU pool launches into "
        "(docs: Fallback tier and capacity, \"Standby capacity\"). A pilot-light standby without one is reported as capacity not guaranteed.",
        allowed="an object with keys primary, standby",
    )
    image_cache: ImageCacheSnapshots = setting(
        default_factory=ImageCacheSnapshots, description="Bottlerocket data-volume snapshots holding the serving images, "
        "per region (docs: Fallback tier and capacity, \"Cold start\"); needs `osFamily: bottlerocket`.", allowed="an object with keys primary, standby",
    )

    @field_validator("instance_types")
    @classmethod
    def _gpu_types(cls, value: list[str]) -> list[str]:
        problems = []
        for instance_type in value:
            if gpu_family(instance_type) is None:
                problems.append(f"`{{key}}` must contain only NVIDIA GPU instance types (families {FAMILIES}). Received: {instance_type!r}")
            elif instance_type not in GPU_INSTANCES:
                family = instance_type.partition(".")[0]
                sizes = ", ".join(n for n in GPU_INSTANCES if n.startswith(family + "."))
                problems.append(f"`{{key}}` must name existing instance sizes; {family} has: {sizes}. Received: {instance_type!r}")
        if not problems and len({gpu_family(t).architecture for t in value}) > 1:
            problems.append(f"`{{key}}` mixes x86_64 and arm64 GPU instance types; one node group has one AMI. Received: {value}")
        if problems:
            raise problem("\n".join(problems))
        return value

    @model_validator(mode="after")
    def _reserved_and_cached(self) -> GpuPoolSettings:
        problems = []
        for role in ("primary", "standby"):
            reservation = self.capacity_reservations.of(role)
            if reservation is None:
                continue
            key = f"{{key}}.capacityReservations.{role}"
            if len(self.instance_types) != 1:
                problems.append(f"`{{key}}.instanceTypes` must name one type when `{key}` is set: a reservation holds one "
                                f"instance type and a targeted launch of another fails. Received: {self.instance_types}")
            if self.capacity_type != "ON_DEMAND":
                problems.append(f"`{{key}}.capacityType` must be ON_DEMAND when `{key}` is set: reserved capacity is not "
                                f"Spot. Received: {self.capacity_type}")
            if reservation.count(self.max_size) < self.max_size:
                problems.append(f"`{key}.instanceCount` must be >= `{{key}}.maxSize`: the pool may launch up to maxSize "
                                f"nodes and a launch beyond a targeted reservation fails. Received: "
                                f"instanceCount={reservation.instance_count}, maxSize={self.max_size}")
        cached = [role for role in ("primary", "standby") if self.image_cache.of(role)]
        if cached and self.os_family != "bottlerocket":
            problems.append(f"`{{key}}.imageCache` needs `{{key}}.osFamily: bottlerocket`: the snapshot becomes Bottlerocket's "
                            f"data volume (/dev/xvdb), where its container images live. Received: osFamily={self.os_family}")
        if problems:
            raise problem("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _bounds(self) -> GpuPoolSettings:
        if self.min_size < 1:
            raise problem("`{key}.minSize` must be >= 1: the primary always serves (only a pilot-light standby scales to 0). Received: 0")
        if self.min_size > self.max_size:
            raise problem(f"`{{key}}.minSize` must be <= `{{key}}.maxSize`. Received: minSize={self.min_size}, maxSize={self.max_size}")
        if not self.min_size <= self.desired_size <= self.max_size:
            raise problem(
                "`{key}.desiredSize` must be between minSize and maxSize. "
                f"Received: minSize={self.min_size}, desiredSize={self.desired_size}, maxSize={self.max_size}"
            )
        return self

    @property
    def instances(self) -> list[GpuInstance]:
        return [GPU_INSTANCES[t] for t in self.instance_types]

    def pilot_light(self) -> GpuPoolSettings:
        """The standby's pool of a pilot light: no node until a failover raises it."""
        return self.model_copy(update={"min_size": 0, "desired_size": 0})
