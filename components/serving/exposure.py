"""Who may reach the serving NLB: source ranges and what they cost in security-group rules.

The NLB is made by the in-tree AWS cloud provider (a `type: LoadBalancer` Service). NLBs of
that controller have no security group of their own: it opens the *node* security group
instead (cloud-provider-aws, pkg/providers/v1/aws_loadbalancer.go,
`updateInstanceSecurityGroupsForNLB`), one ingress rule per node port and source range, one
ICMP (path-MTU) rule per source range, and one rule per node port and NLB subnet for the NLB's
own health checks. Everything here is plain data, tested without the Pulumi runtime.
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
# Default quota "Inbound or outbound rules per security group" (Amazon VPC quotas).
SECURITY_GROUP_RULE_QUOTA = 60
# The EKS cluster security group (the managed nodes' group) starts with one inbound rule,
# itself as source; leave it room.
BASELINE_INBOUND_RULES = 1


def checker_range_regions(checker_regions: Sequence[str]) -> list[str]:
    """`regions` for `aws.get_ip_ranges`: the checker regions in use plus the global block."""
    return sorted(set(checker_regions)) + [GLOBAL_RANGES]


def expected_checker_ranges(checker_regions: Sequence[str]) -> int:
    return CHECKER_RANGES_PER_REGION * len(set(checker_regions)) + 1


def node_security_group_rules(*, node_ports: int, source_ranges: int, nlb_subnets: int) -> int:
    """Inbound rules the in-tree controller keeps on the node security group for one NLB.

    Per `updateInstanceSecurityGroupsForNLB`: client rules (every node port x every source
    range), one ICMP 3-4 rule per source range (`updateInstanceSecurityGroupForNLBMTU`) and
    health-check rules (every health-check port - the node ports here - x every NLB subnet).
    """
    return node_ports * source_ranges + source_ranges + node_ports * nlb_subnets


def source_range_problems(
    key: str, *, allowed_cidrs: Sequence[str], checker_ranges: int, node_ports: int, nlb_subnets: int,
) -> list[str]:
    """The ranges must be IPv4 (the controller writes them as `CidrIp`) and fit the rule quota."""
    problems = []
    for cidr in allowed_cidrs:
        try:
            network = ipaddress.ip_network(cidr)
        except (TypeError, ValueError):
            problems.append(f"`{key}` must hold IPv4 CIDRs such as 203.0.113.0/24. Received: {cidr!r}")
            continue
        if network.version != 4:
            problems.append(f"`{key}` must hold IPv4 CIDRs (the in-tree NLB controller writes IPv4 rules only). Received: {cidr!r}")
    covered = coverage(allowed_cidrs)
    if covered.too_open:
        problems.append(f"`{key}` covers {covered.describe()}; at most {MAX_PUBLIC_SHARE_TEXT} is allowed: list the networks "
                        f"that may call the endpoint. Received: {list(allowed_cidrs)!r}")
    ranges = len(set(allowed_cidrs)) + checker_ranges
    rules = node_security_group_rules(node_ports=node_ports, source_ranges=ranges, nlb_subnets=nlb_subnets)
    room = SECURITY_GROUP_RULE_QUOTA - BASELINE_INBOUND_RULES
    if rules > room:
        problems.append(
            f"`{key}` needs {rules} node security-group rules ({len(set(allowed_cidrs))} CIDRs + {checker_ranges} Route 53 "
            f"checker ranges, {node_ports} port(s), {nlb_subnets} subnets); a security group holds {SECURITY_GROUP_RULE_QUOTA} "
            f"inbound rules by default and {BASELINE_INBOUND_RULES} is taken. Merge CIDRs, use fewer checker regions, or raise the quota"
        )
    return problems


def in_tree_load_balancer_name(service_uid: str) -> str:
    """The name the in-tree controller gives a Service's load balancer: "a" + the Service UID
    without dashes, cut to 32 characters (k8s.io/cloud-provider `DefaultLoadBalancerName`,
    which cloud-provider-aws' `GetLoadBalancerName` returns)."""
    return ("a" + service_uid.replace("-", ""))[:32]
