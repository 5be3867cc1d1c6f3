"""The serving front door: Application Load Balancers, their listeners and web ACLs (rules `elb-*`)."""

from __future__ import annotations

from collections.abc import Sequence

from .core import MANDATORY, Resource, StackRule, get, linked, of, is_production, stack_of

__all__ = [
    "LOAD_BALANCER",
    "LISTENER",
    "WEB_ACL_ASSOCIATION",
    "is_application_balancer",
    "check_https_only_in_production",
    "check_balancers_have_a_web_acl",
]

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
# Listener protocols that carry requests in clear text (ELB API reference, Listener `Protocol`:
# HTTP for an ALB; TCP and UDP for a network load balancer).
PLAINTEXT = ("HTTP", "TCP", "UDP", "TCP_UDP")


def is_application_balancer(resource: Resource) -> bool:
    """`loadBalancerType` defaults to "application" (ELB API reference, CreateLoadBalancer `Type`)."""
    return resource.type == LOAD_BALANCER and (get(resource.props, "loadBalancerType") or "application") == "application"


def check_https_only_in_production(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    """A production balancer has no listener a client could use without TLS (a redirect included:
    the first request, with its query and history, would still cross in clear text)."""
    balancers = of(resources, LOAD_BALANCER)
    problems: list[tuple[str | None, str]] = []
    for listener in of(resources, LISTENER):
        if not is_production(stack_of(listener.urn)) or get(listener.props, "protocol") not in PLAINTEXT:
            continue
        balancer = linked(listener, "loadBalancerArn", balancers, "arn")
        name = balancer.name if balancer else "its load balancer"
        problems.append((listener.urn, f"listener {listener.name!r} of {name!r} accepts {get(listener.props, 'protocol')} on port "
                                       f"{get(listener.props, 'port')!r} in a production stack: clients must use HTTPS only"))
    return problems


def check_balancers_have_a_web_acl(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    """Every Application Load Balancer is associated with a WAF web ACL (body size, rate, managed rules)."""
    associations = of(resources, WEB_ACL_ASSOCIATION)
    problems: list[tuple[str | None, str]] = []
    for balancer in (r for r in resources if is_application_balancer(r)):
        if not any(linked(a, "resourceArn", [balancer], "arn") is balancer for a in associations):
            problems.append((balancer.urn, f"load balancer {balancer.name!r} has no WAF web ACL associated "
                                           "(aws.wafv2.WebAclAssociation): no body-size or rate limit before TF Serving"))
    return problems


RESOURCE_RULES: tuple = ()

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("elb-https-only-prod", "Production load balancers have no plain-text client listener (HTTP, TCP or UDP).",
              MANDATORY, (LISTENER, LOAD_BALANCER), check_https_only_in_production),
    StackRule("elb-web-acl", "Every Application Load Balancer has a WAF web ACL associated.",
              MANDATORY, (LOAD_BALANCER, WEB_ACL_ASSOCIATION), check_balancers_have_a_web_acl),
)
