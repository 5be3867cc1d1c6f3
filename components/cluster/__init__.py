"""Per-region GPU serving cluster: network, EKS, CPU and GPU node groups, add-ons, autoscaling."""

from typing import TYPE_CHECKING

from recsys_dr.components.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from recsys_dr.components.cluster.gpu_cluster import GpuCluster as GpuCluster, GpuClusterArgs as GpuClusterArgs
    from recsys_dr.components.cluster.network import Network as Network, NetworkArgs as NetworkArgs

__all__, __getattr__ = lazy_exports(__name__, {
    "GpuCluster": "gpu_cluster",
    "GpuClusterArgs": "gpu_cluster",
    "Network": "network",
    "NetworkArgs": "network",
})
