"""Disaster recovery across the two regions: each serving region is complete and linked (rules `dr-*`)."""

from __future__ import annotations

from collections.abc import Sequence

from .core import MANDATORY, Resource, Rule, StackRule, _get, _items, _of
from .cluster import EKS_CLUSTER, NODE_GROUP, is_gpu_node_group
from .keys import KMS_KEY
from .serving import DEPLOYMENT
from .storage import BUCKET, BUCKET_REPLICATION, _bucket_by_arn, _bucket_for

__all__ = [
    "check_serving_regions_complete",
]


def check_serving_regions_complete(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    deployments = _of(resources, DEPLOYMENT)
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
        buckets = _of(resources, BUCKET)
        linked = False
        for config in _of(resources, BUCKET_REPLICATION):
            source = _bucket_for(config, buckets)
            for rule in _items(_get(config.props, "rules")):
                destination = _bucket_by_arn(_get(rule, "destination", "bucket"), buckets)
                if source and destination and source.region in serving and destination.region in serving:
                    linked = linked or source.region != destination.region
        if not linked:
            problems.append((None, f"no S3 replication links the model buckets of the serving regions {serving}"))
    return problems


RESOURCE_RULES: tuple[Rule, ...] = ()

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("dr-serving-regions-complete", "At least two regions serve; each has its own cluster, GPU node group, bucket and key, and replication links their buckets.",
              MANDATORY, (DEPLOYMENT, EKS_CLUSTER, NODE_GROUP, BUCKET, KMS_KEY, BUCKET_REPLICATION), check_serving_regions_complete),
)
