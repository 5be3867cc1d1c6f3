"""`fallback`: the CPU tier that answers when both GPU tiers are down (docs: Fallback tier and capacity)."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from recsys_dr.components.cluster.instances import CPU_INSTANCES, allocatable
from recsys_dr.components.serving.manifests import DEFAULT_FALLBACK_IMAGE
from recsys_dr.components.settings.aws_limits import MAX_NODES_PER_NODE_GROUP, MEMORY_QUANTITY, cpu_millicores, memory_bytes
from recsys_dr.components.settings.base import INT32_MAX, INT64_MAX, Settings, cpu_quantity, problem, setting
from recsys_dr.components.settings.model import SHA256_ALLOWED, SHA256_PATTERN
from recsys_dr.components.settings.serving import REPLICA_LIMIT, ScalingSettings

# The fallback version is its own model in the buckets (`models/<model.name>-fallback/<version>/`),
# served under the main model's name so clients keep one path.
FALLBACK_SUFFIX = "-fallback"
FALLBACK_NAMESPACE = "recsys-fallback"
CPU_TYPES = ", ".join(CPU_INSTANCES)
NODE_LIMIT = f"EKS quota 'Nodes per managed node group', default {MAX_NODES_PER_NODE_GROUP}"


def fallback_model_name(model_name: str) -> str:
    """The bucket prefix and manifest `model_name` of the fallback versions ("recommender" -> "recommender-fallback")."""
    return model_name + FALLBACK_SUFFIX


class FallbackCandidate(Settings):
    """A fallback version beside the pinned one, proven by `recsys-dr release --tier fallback` through the
    same gates as a GPU candidate (golden requests, offline quality) before it becomes `fallback.version`."""

    version: int = setting(description="Candidate version of `models/<model.name>-fallback/`.", allowed="a positive integer",
                           ge=1, le=INT64_MAX, limit="TF Serving versions are int64")
    manifest_sha256: str = setting(description="sha256 of its manifest.json, as `python -m recsys_dr.model publish` prints "
                                   "it.", allowed=SHA256_ALLOWED, pattern=SHA256_PATTERN)
    image: str | None = setting(None, description="TF Serving CPU image of the candidate's pods. Default: `fallback.image`.",
                                allowed="a container image reference", min_length=1)


class FallbackSettings(Settings):
    """The CPU fallback tier in the standby region: a counts-only model version with the main model's
    signature, on its own CPU node group, behind its own front door and health check. DNS answers it only
    while both GPU tiers are unhealthy."""

    version: int = setting(description="Pinned version of `models/<model.name>-fallback/` (a TF Serving version directory).",
                           allowed="a positive integer", ge=1, le=INT64_MAX, limit="TF Serving versions are int64")
    manifest_sha256: str = setting(
        description="sha256 of that version's manifest.json, as `python -m recsys_dr.model publish` prints it; the init "
        "container refuses any other manifest.", allowed="64 lower-case hexadecimal digits", pattern=r"^[0-9a-f]{64}$",
    )
    instance_types: list[str] = setting(
        default_factory=lambda: ["c6i.large"], description="x86_64 CPU instance types of the fallback node group, cheapest first.",
        allowed=f"a non-empty list among: {CPU_TYPES}", min_length=1,
    )
    min_size: int = setting(2, description="Fallback nodes always running (one per zone survives a zone loss).",
                            allowed="an integer >= 1", ge=1, le=MAX_NODES_PER_NODE_GROUP, limit=NODE_LIMIT)
    max_size: int = setting(3, description="Most fallback nodes the autoscaler may add (rollouts need one pod of room).",
                            allowed="an integer >= 1", ge=1, le=MAX_NODES_PER_NODE_GROUP, limit=NODE_LIMIT)
    min_replicas: int = setting(2, description="Fallback pods KEDA always keeps running.", allowed="an integer >= 1",
                                ge=1, le=INT32_MAX, limit=REPLICA_LIMIT)
    max_replicas: int = setting(2, description="Most fallback pods KEDA may run.", allowed="an integer >= 1",
                                ge=1, le=INT32_MAX, limit=REPLICA_LIMIT)
    image: str = setting(DEFAULT_FALLBACK_IMAGE, description="TF Serving CPU image.", allowed="a container image reference",
                         min_length=1)
    cpu: str = setting("1", description="CPU request and limit of the fallback's serving container.",
                       allowed='a Kubernetes CPU quantity such as "1" or "1500m"')
    memory: str = setting("1536Mi", description="Memory request and limit of the fallback's serving container.",
                          allowed="a Kubernetes memory quantity such as 1536Mi", pattern=MEMORY_QUANTITY.pattern)
    scaling: ScalingSettings = setting(default_factory=ScalingSettings, description="KEDA scaling of the fallback on its "
                                       "balancer's requests.", allowed="an object")
    candidate: FallbackCandidate | None = setting(
        None, description="A fallback version run beside the pinned one at no traffic, for `recsys-dr release --tier "
        "fallback`. Default: none.", allowed="an object with keys version, manifestSha256, image",
    )

    @field_validator("instance_types")
    @classmethod
    def _cpu_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in CPU_INSTANCES]
        if unknown:
            raise problem(f"`{{key}}` must list x86_64 CPU instance types among: {CPU_TYPES}. Received: {unknown}")
        return value

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: object) -> str:
        return cpu_quantity(value, example="1")

    @model_validator(mode="after")
    def _bounds_and_fit(self) -> FallbackSettings:
        problems = []
        if self.min_size > self.max_size:
            problems.append(f"`{{key}}.minSize` must be <= `{{key}}.maxSize`. Received: minSize={self.min_size}, maxSize={self.max_size}")
        if self.min_replicas > self.max_replicas:
            problems.append(f"`{{key}}.minReplicas` must be <= `{{key}}.maxReplicas`. Received: minReplicas={self.min_replicas}, "
                            f"maxReplicas={self.max_replicas}")
        for name in self.instance_types:
            cpu, memory_mib = allocatable(CPU_INSTANCES[name])
            if cpu_millicores(self.cpu) > cpu or memory_bytes(self.memory) > memory_mib * 2**20:
                problems.append(f"`{{key}}.cpu`/`{{key}}.memory` must fit one {name} node ({cpu}m CPU, {memory_mib}Mi after "
                                f"kubelet reservation and node DaemonSets). Received: cpu={self.cpu!r}, memory={self.memory!r}")
        if not problems and self.min_replicas > self.min_size * self.pods_per_node:
            problems.append(f"`{{key}}.minReplicas` must fit `{{key}}.minSize` nodes ({self.pods_per_node} pod(s) each): the "
                            f"fallback must answer without waiting for new nodes. Received: minReplicas={self.min_replicas}, "
                            f"minSize={self.min_size}")
        if not problems and self.candidate is not None:
            problems += self._candidate_room()
        if problems:
            raise problem("\n".join(problems))
        return self

    def _candidate_room(self) -> list[str]:
        """The candidate's pods run beside the stable ones (components.serving.rollout.candidate_pods_needed)."""
        from recsys_dr.components.serving.rollout import candidate_pods_needed

        needed = candidate_pods_needed(min_replicas=self.min_replicas, max_replicas=self.max_replicas)
        room = self.max_size * self.pods_per_node
        if room >= needed:
            return []
        return [f"`{{key}}.candidate` needs a fallback pool that holds {needed} pods (maxReplicas {self.max_replicas} + "
                f"minReplicas {self.min_replicas} + 1 surge) while a candidate runs beside the pinned version; the pool holds "
                f"{room} at `{{key}}.maxSize` {self.max_size}: raise `{{key}}.maxSize`"]

    @property
    def pods_per_node(self) -> int:
        """Fallback pods one node holds, whichever listed type the autoscaler picks."""
        from recsys_dr.components.serving.rollout import pods_per_node

        return pods_per_node(self.instance_types, gpus_per_pod=0, cpu_millicores=cpu_millicores(self.cpu),
                             memory_bytes=memory_bytes(self.memory))
