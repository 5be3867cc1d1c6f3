"""DNS failover between the regions: Route 53 health checks, failover records, optional ARC."""

# Exports load on first use (PEP 562), so that the settings can import this package's
# pure tables without importing the components, which import the settings.
from importlib import import_module

_EXPORTS = {
    "ArcControl": "arc_control",
    "ArcControlArgs": "arc_control",
    "FailoverBudget": "budget",
    "failover_budget": "budget",
    "DnsFailover": "failover_records",
    "DnsFailoverArgs": "failover_records",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
