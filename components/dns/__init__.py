"""DNS failover between the regions: Route 53 health checks, failover records, optional ARC."""

from components.dns.arc_control import ArcControl, ArcControlArgs
from components.dns.budget import FailoverBudget, failover_budget
from components.dns.failover_records import DnsFailover, DnsFailoverArgs

__all__ = ["ArcControl", "ArcControlArgs", "DnsFailover", "DnsFailoverArgs", "FailoverBudget", "failover_budget"]
