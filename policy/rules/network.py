"""VPC security groups (rules `ec2-*`): what reaches a load balancer or a node from outside."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .cidrs import MAX_PUBLIC_SHARE_TEXT, coverage
from .core import MANDATORY, Rule, StackRule, get, items

__all__ = [
    "SECURITY_GROUP",
    "SECURITY_GROUP_RULE",
    "SECURITY_GROUP_INGRESS_RULE",
    "check_no_world_ingress",
]

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def _ports(rule: Any) -> str:
    low, high = get(rule, "fromPort"), get(rule, "toPort")
    protocol = str(get(rule, "protocol") or get(rule, "ipProtocol") or "?")
    if protocol == "-1":
        return "every port"
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def check_no_world_ingress(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == SECURITY_GROUP:
        rules = items(get(props, "ingress"))
        ranges = [(r, [*items(get(r, "cidrBlocks")), *items(get(r, "ipv6CidrBlocks"))]) for r in rules]
    elif resource_type == SECURITY_GROUP_RULE:
        if get(props, "type") != "ingress":
            return []
        ranges = [(props, [*items(get(props, "cidrBlocks")), *items(get(props, "ipv6CidrBlocks"))])]
    else:
        ranges = [(props, [c for c in (get(props, "cidrIpv4"), get(props, "cidrIpv6")) if c])]
    # A group's rules are judged together: splitting a range over several rules opens it as much.
    covered = coverage(cidr for _, cidrs in ranges for cidr in cidrs)
    if not covered.too_open:
        return []
    ports = ", ".join(sorted({_ports(rule) for rule, cidrs in ranges if cidrs}))
    return [f"ingress on {ports} admits {covered.describe()}, more than {MAX_PUBLIC_SHARE_TEXT}: open to the internet; "
            f"list the allowed ranges (serving.allowedCidrs) and Route 53's health checkers"]


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("ec2-sg-no-world-ingress", "No security group admits ingress from more than "
         f"{MAX_PUBLIC_SHARE_TEXT} of the public IP space (its ranges merged).",
         MANDATORY, (SECURITY_GROUP, SECURITY_GROUP_RULE, SECURITY_GROUP_INGRESS_RULE), check_no_world_ingress),
)

STACK_RULES: tuple[StackRule, ...] = ()
