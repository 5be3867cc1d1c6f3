"""Per-region GPU serving cluster: network, EKS, CPU and GPU node groups, add-ons, autoscaling."""

# Exports load on first use (PEP 562), so that the settings can import this package's
# pure tables without importing the components, which import the settings.
from importlib import import_module

_EXPORTS = {
    "GpuCluster": "gpu_cluster",
    "GpuClusterArgs": "gpu_cluster",
    "Network": "network",
    "NetworkArgs": "network",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
