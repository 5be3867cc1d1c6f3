"""Disaster recovery across the two regions: each serving region is complete and linked, capacity a
recovery depends on is reserved, and a fallback answers when the GPU tiers cannot (rules `dr-*`)."""

from __future__ import annotations

from collections.abc import Sequence

from .core import (
    ADVISORY,
    MANDATORY,
    Resource,
    Rule,
    StackRule,
    depends_on,
    get,
    items,
    num,
    of,
    is_production,
    production_twins,
    stack_of,
)
from .cluster import EKS_CLUSTER, NODE_GROUP, is_gpu_node_group
from .keys import KMS_KEY
from .serving import DEPLOYMENT, GPU_TAINT_KEY, containers, is_tf_serving
from .storage import BUCKET, BUCKET_REPLICATION, bucket_by_arn, bucket_for

__all__ = [
    "LAUNCH_TEMPLATE",
    "check_fallback_tier",
    "check_serving_regions_complete",
    "reserved_capacity_id",
    "scales_from_zero",
]

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def _requests_gpu(container) -> bool:
    return bool(get(container, "resources", "limits", GPU_TAINT_KEY) or get(container, "resources", "requests", GPU_TAINT_KEY))


def check_serving_regions_complete(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    # GPU serving only: a region that runs just the CPU fallback tier does not serve the model.
    deployments = [d for d in of(resources, DEPLOYMENT) if any(_requests_gpu(c) for _, c in containers(d.props, init=False))]
    if not deployments or any(d.region is None for d in deployments):
        return []  # no serving, or a cluster region not known yet (kubeconfig unknown in a first preview)
    serving = sorted({d.region for d in deployments if d.region != "global"})
    problems: list[tuple[str | None, str]] = []
    if len(serving) < 2:
        problems.append((None, f"serving Deployments run in {serving or 'no known region'}; disaster recovery needs two regions"))
    for region in serving:
        here = [r for r in resources if r.region == region]
        missing = []
        if not any(r.type == EKS_CLUSTER for r in here):
            missing.append("EKS cluster")
        if not any(r.type == NODE_GROUP and is_gpu_node_group(r.props) for r in here):
            missing.append("GPU node group")
        if not any(r.type == BUCKET for r in here):
            missing.append("model bucket")
        if not any(r.type == KMS_KEY for r in here):
            missing.append("KMS key")
        if missing:
            problems.append((None, f"region {region} serves the model but has no own {', '.join(missing)}"))
    if len(serving) >= 2:
        buckets = of(resources, BUCKET)
        replicated_across = False
        for config in of(resources, BUCKET_REPLICATION):
            source = bucket_for(config, buckets)
            for rule in items(get(config.props, "rules")):
                destination = bucket_by_arn(get(rule, "destination", "bucket"), buckets)
                if source and destination and source.region in serving and destination.region in serving:
                    replicated_across = replicated_across or source.region != destination.region
        if not replicated_across:
            problems.append((None, f"no S3 replication links the model buckets of the serving regions {serving}"))
    return problems


def scales_from_zero(node_group: Resource) -> bool:
    """A GPU pool at rest with no node (a pilot light): minSize and desiredSize 0."""
    scaling = get(node_group.props, "scalingConfig", default={})
    return is_gpu_node_group(node_group.props) and num(get(scaling, "minSize")) == 0 and num(get(scaling, "desiredSize")) == 0


def reserved_capacity_id(node_group: Resource, resources: Sequence[Resource]) -> str | None:
    """The capacity reservation the node group's launch template targets, or None. The template is
    found by property dependency (its id is unknown in a first preview)."""
    for template in depends_on(node_group, "launchTemplate", of(resources, LAUNCH_TEMPLATE)):
        target = get(template.props, "capacityReservationSpecification", "capacityReservationTarget", default={})
        if get(target, "capacityReservationId") or get(target, "capacityReservationResourceGroupArn"):
            return str(get(target, "capacityReservationId") or get(target, "capacityReservationResourceGroupArn"))
    return None


def _unreserved_pilot_light(resources: Sequence[Resource], *, production: bool) -> list[tuple[str | None, str]]:
    """A GPU pool that must scale from zero to recover, without reserved capacity: the issue AWS states for
    Region switch (scaling during a regional event is not guaranteed; reserve what the recovery needs)."""
    return [
        (group.urn, f"GPU node group {group.name!r} scales from zero (minSize 0, desiredSize 0) without a capacity "
                    "reservation: capacity not guaranteed. During a regional event every tenant of the failed region scales "
                    "at once; target an On-Demand Capacity Reservation or Capacity Block (gpu.capacityReservations) or keep "
                    "the standby warm")
        for group in of(resources, NODE_GROUP)
        if is_production(stack_of(group.urn)) == production and scales_from_zero(group)
        and reserved_capacity_id(group, resources) is None
    ]


def check_fallback_tier(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    """Where serving runs on GPUs, a TF Serving Deployment on CPU answers when every GPU tier is down."""
    by_deployment = {d.urn: [c for _, c in containers(d.props, init=False)] for d in of(resources, DEPLOYMENT)}
    gpu = [urn for urn, found in by_deployment.items() if any(_requests_gpu(c) for c in found)]
    cpu = [urn for urn, found in by_deployment.items()
           if any(is_tf_serving(c) for c in found) and not any(_requests_gpu(c) for c in found)]
    if gpu and not cpu:
        return [(None, "serving runs on GPUs only: no CPU fallback tier (TF Serving on CPU) answers while every GPU tier "
                       "is down, so recommendations go blank (`fallback`)")]
    return []


RESOURCE_RULES: tuple[Rule, ...] = ()

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("dr-serving-regions-complete", "At least two regions serve; each has its own cluster, GPU node group, bucket and key, and replication links their buckets.",
              MANDATORY, (DEPLOYMENT, EKS_CLUSTER, NODE_GROUP, BUCKET, KMS_KEY, BUCKET_REPLICATION), check_serving_regions_complete),
    *production_twins(
        "dr-standby-capacity",
        production="In production stacks, a GPU node group that scales from zero (a pilot-light standby) launches into a "
                   "capacity reservation (its launch template targets an On-Demand Capacity Reservation or Capacity Block).",
        elsewhere="Outside production, a GPU node group that scales from zero without a capacity reservation is reported: "
                  "capacity not guaranteed.",
        resource_types=(NODE_GROUP, LAUNCH_TEMPLATE), check=_unreserved_pilot_light,
    ),
    StackRule("dr-fallback-tier", "Where serving runs on GPUs, a CPU fallback tier (TF Serving on CPU) serves too (recommendations never go blank).",
              ADVISORY, (DEPLOYMENT,), check_fallback_tier),
)
