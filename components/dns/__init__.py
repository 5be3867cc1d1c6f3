"""DNS failover between the regions: Route 53 health checks, failover records, optional ARC."""

from recsys_dr.components.dns.arc_control import ArcControl, ArcControlArgs
from recsys_dr.components.dns.budget import FailoverBudget, failover_budget
from recsys_dr.components.dns.failover_records import DnsFailover, DnsFailoverArgs

__all__ = ["ArcControl", "ArcControlArgs", "DnsFailover", "DnsFailoverArgs", "FailoverBudget", "failover_budget"]
