"""Per-region GPU serving cluster: network, EKS, CPU and GPU node groups, add-ons, autoscaling."""

from recsys_dr.components.cluster.gpu_cluster import GpuCluster, GpuClusterArgs
from recsys_dr.components.cluster.network import Network, NetworkArgs

__all__ = ["GpuCluster", "GpuClusterArgs", "Network", "NetworkArgs"]
