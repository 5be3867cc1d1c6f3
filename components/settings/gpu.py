"""`gpu`: the NVIDIA GPU node group of each region."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from recsys_dr.components.cluster.instances import GPU_FAMILIES, GPU_INSTANCES, GpuInstance, gpu_family
from recsys_dr.components.settings.aws_limits import MAX_NODES_PER_NODE_GROUP
from recsys_dr.components.settings.base import Settings, problem, setting

FAMILIES = ", ".join(GPU_FAMILIES)
NODE_LIMIT = f"EKS quota 'Nodes per managed node group', default {MAX_NODES_PER_NODE_GROUP}"


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
