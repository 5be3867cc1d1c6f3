"""DNS failover between the regions: Route 53 health checks, failover records, optional ARC."""

from typing import TYPE_CHECKING

from recsys_dr.components.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from recsys_dr.components.dns.arc_control import ArcControl as ArcControl, ArcControlArgs as ArcControlArgs
    from recsys_dr.components.dns.budget import FailoverBudget as FailoverBudget, failover_budget as failover_budget
    from recsys_dr.components.dns.failover_records import DnsFailover as DnsFailover, DnsFailoverArgs as DnsFailoverArgs

__all__, __getattr__ = lazy_exports(__name__, {
    "ArcControl": "arc_control",
    "ArcControlArgs": "arc_control",
    "FailoverBudget": "budget",
    "failover_budget": "budget",
    "DnsFailover": "failover_records",
    "DnsFailoverArgs": "failover_records",
})
