"""Who may reach the serving balancer: source ranges and what they cost in security-group rules.

The Application Load Balancer has its own security group (Pulumi creates it beside the
balancer): one inbound rule per source range on the one client port, HTTPS 443 with a
certificate, else HTTP 80. The nodes' security group gains one rule only, from that group to
TF Serving's REST port. Everything here is plain data, tested without the Pulumi runtime.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from recsys_dr.policy.rules.cidrs import MAX_PUBLIC_SHARE_TEXT, coverage

# `aws.get_ip_ranges` service name of the Route 53 health checkers (ip-ranges.json
# "ROUTE53_HEALTHCHECKS"); "global" selects the shared 15.177.0.0/18 block.
ROUTE53_HEALTHCHECKS = "route53_healthchecks"
GLOBAL_RANGES = "global"
# ip-ranges.json lists two IPv4 blocks per checker region plus one GLOBAL block; the budget
# below uses this count before the real list is fetched.
CHECKER_RANGES_PER_REGION = 2
# Default quota "Inbound or outbound rules per security group" (Amazon VPC quotas); each CIDR
# of an inline rule counts as one rule.
SECURITY_GROUP_RULE_QUOTA = 60


def checker_range_regions(checker_regions: Sequence[str]) -> list[str]:
    """`regions` for `aws.get_ip_ranges`: the checker regions in use plus the global block."""
    return sorted(set(checker_regions)) + [GLOBAL_RANGES]


def expected_checker_ranges(checker_regions: Sequence[str]) -> int:
    return CHECKER_RANGES_PER_REGION * len(set(checker_regions)) + 1


def source_range_problems(key: str, *, allowed_cidrs: Sequence[str], checker_ranges: int) -> list[str]:
    """The ranges must be IPv4 and fit the balancer security group's inbound rule quota (one
    client port, so one rule per range)."""
    problems = []
    for cidr in allowed_cidrs:
        try:
            network = ipaddress.ip_network(cidr)
        except (TypeError, ValueError):
            problems.append(f"`{key}` must hold IPv4 CIDRs such as 203.0.113.0/24. Received: {cidr!r}")
            continue
        if network.version != 4:
            problems.append(f"`{key}` must hold IPv4 CIDRs (the balancer's rules are written for IPv4). Received: {cidr!r}")
    covered = coverage(allowed_cidrs)
    if covered.too_open:
        problems.append(f"`{key}` covers {covered.describe()}; at most {MAX_PUBLIC_SHARE_TEXT} is allowed: list the networks "
                        f"that may call the endpoint. Received: {list(allowed_cidrs)!r}")
    rules = len(set(allowed_cidrs)) + checker_ranges
    if rules > SECURITY_GROUP_RULE_QUOTA:
        problems.append(
            f"`{key}` needs {rules} inbound rules on the balancer's security group ({len(set(allowed_cidrs))} CIDRs + "
            f"{checker_ranges} Route 53 checker ranges); a security group holds {SECURITY_GROUP_RULE_QUOTA} by default. "
            "Merge CIDRs, use fewer checker regions, or raise the quota"
        )
    return problems
