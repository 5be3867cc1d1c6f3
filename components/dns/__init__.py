"""DNS failover between the regions: Route 53 health checks, failover records, optional ARC."""

from recsys_dr.components.lazy_exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "ArcControl": "arc_control",
    "ArcControlArgs": "arc_control",
    "FailoverBudget": "budget",
    "failover_budget": "budget",
    "DnsFailover": "failover_records",
    "DnsFailoverArgs": "failover_records",
})
