"""Per-region GPU serving cluster: network, EKS, CPU and GPU node groups, add-ons, autoscaling."""

from recsys_dr.components.lazy_exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "GpuCluster": "gpu_cluster",
    "GpuClusterArgs": "gpu_cluster",
    "Network": "network",
    "NetworkArgs": "network",
})
