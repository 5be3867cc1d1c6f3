"""Per-region GPU serving cluster: network, EKS, CPU and GPU node groups, add-ons, autoscaling."""

from components.cluster.gpu_cluster import GpuCluster, GpuClusterArgs
from components.cluster.network import Network, NetworkArgs

__all__ = ["GpuCluster", "GpuClusterArgs", "Network", "NetworkArgs"]
