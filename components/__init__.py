"""Reusable Pulumi components of recsys-dr. No config reads: everything arrives as typed args.

    from recsys_dr.components import TwoRegionRecommender, TwoRegionRecommenderArgs
    from recsys_dr.components.settings import DnsSettings, GpuPoolSettings, ModelSettings, RegionPair

The settings objects (one per stack-file section) are the components' arguments: the
stack file, `TwoRegionRecommenderArgs` and the children's arguments have one shape.
"""

from recsys_dr.components.cluster import GpuCluster, GpuClusterArgs, Network, NetworkArgs
from recsys_dr.components.dns import ArcControl, ArcControlArgs, DnsFailover, DnsFailoverArgs, FailoverBudget, failover_budget
from recsys_dr.components.monitoring import DrAlarms, DrAlarmsArgs
from recsys_dr.components.recommender_dr import TwoRegionRecommender, TwoRegionRecommenderArgs
from recsys_dr.components.serving import ModelServing, ModelServingArgs
from recsys_dr.components.settings import SettingsError
from recsys_dr.components.storage import ModelBucketArgs, ReplicatedModelBucket

__all__ = [
    "ArcControl", "ArcControlArgs", "DnsFailover", "DnsFailoverArgs", "DrAlarms", "DrAlarmsArgs", "FailoverBudget", "GpuCluster",
    "GpuClusterArgs", "ModelBucketArgs", "ModelServing", "ModelServingArgs", "Network", "NetworkArgs",
    "ReplicatedModelBucket", "SettingsError", "TwoRegionRecommender", "TwoRegionRecommenderArgs", "failover_budget",
]
