"""Reusable Pulumi components of recsys-dr. No config reads: everything arrives as typed args.

    from components import TwoRegionRecommender, TwoRegionRecommenderArgs
"""

from components.cluster import GpuCluster, GpuClusterArgs, Network, NetworkArgs
from components.dns import ArcControl, ArcControlArgs, DnsFailover, DnsFailoverArgs, FailoverBudget, failover_budget
from components.monitoring import DrAlarms, DrAlarmsArgs
from components.recommender_dr import TwoRegionRecommender, TwoRegionRecommenderArgs
from components.serving import ModelServing, ModelServingArgs
from components.storage import ModelBucketArgs, ReplicatedModelBucket

__all__ = [
    "ArcControl", "ArcControlArgs", "DnsFailover", "DnsFailoverArgs", "DrAlarms", "DrAlarmsArgs", "FailoverBudget", "GpuCluster",
    "GpuClusterArgs", "ModelBucketArgs", "ModelServing", "ModelServingArgs", "Network", "NetworkArgs",
    "ReplicatedModelBucket", "TwoRegionRecommender", "TwoRegionRecommenderArgs", "failover_budget",
]
