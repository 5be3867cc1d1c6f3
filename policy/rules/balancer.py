"""The serving front door: Application Load Balancers, their listeners and web ACLs (rules `elb-*`)."""

from __future__ import annotations

from collections.abc import Sequence

from .core import MANDATORY, Resource, Rule, StackRule, get, items, linked, of, is_production, stack_of

__all__ = [
    "LOAD_BALANCER",
    "LISTENER",
    "WEB_ACL_ASSOCIATION",
    "is_application_balancer",
    "check_https_only_in_production",
    "check_balancers_have_a_web_acl",
    "LISTENER_RULE",
    "MAX_FORWARD_TARGET_GROUPS",
    "MAX_TARGET_GROUP_WEIGHT",
    "forward_weight_problems",
    "check_forward_weights",
]

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
# A forward action of an Application Load Balancer spreads requests over at most 5 target groups,
# each with a weight from 0 to 999, in proportion to the weights (Elastic Load Balancing User
# Guide, "Listener rules for your Application Load Balancer", forward actions; ELB API reference,
# TargetGroupTuple `Weight`: "The range is 0 to 999"). ELB refuses anything else; moto does not.
MAX_FORWARD_TARGET_GROUPS = 5
MAX_TARGET_GROUP_WEIGHT = 999
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


def forward_weight_problems(groups: Sequence[tuple[str, int | None]]) -> list[str]:
    """Why a weighted forward action over `groups` ((target group, weight or None)) would be refused
    or would send nothing anywhere: at most 5 groups, weights 0 to 999, at least one above 0."""
    problems = []
    if not 1 <= len(groups) <= MAX_FORWARD_TARGET_GROUPS:
        problems.append(f"a forward action takes 1 to {MAX_FORWARD_TARGET_GROUPS} target groups. Received: {len(groups)}")
    weights = [1 if weight is None else weight for _group, weight in groups]  # ELB's default weight is 1
    # The engine passes numbers as protobuf doubles: a whole float is an integer weight.
    bad = [w for w in weights if isinstance(w, bool) or not isinstance(w, (int, float)) or w != int(w)
           or not 0 <= w <= MAX_TARGET_GROUP_WEIGHT]
    if bad:
        problems.append(f"target group weights must be integers from 0 to {MAX_TARGET_GROUP_WEIGHT}. Received: {bad}")
    elif weights and not any(weights):
        problems.append("every target group of the forward action has weight 0: the rule would send requests nowhere")
    return problems


def check_forward_weights(resource_type: str, props) -> list[str]:
    """A listener rule's weighted forward actions stay within what ELB accepts and send somewhere."""
    problems = []
    for action in items(get(props, "actions")):
        groups = items(get(action, "forward", "targetGroups"))
        if get(action, "type") != "forward" or not groups:
            continue
        problems += forward_weight_problems([(get(group, "arn"), get(group, "weight")) for group in groups])
    return problems


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("elb-forward-weights", f"Weighted forward actions list 1 to {MAX_FORWARD_TARGET_GROUPS} target groups, weights 0 "
         f"to {MAX_TARGET_GROUP_WEIGHT}, at least one above 0.", MANDATORY, (LISTENER_RULE,), check_forward_weights),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("elb-https-only-prod", "Production load balancers have no plain-text client listener (HTTP, TCP or UDP).",
              MANDATORY, (LISTENER, LOAD_BALANCER), check_https_only_in_production),
    StackRule("elb-web-acl", "Every Application Load Balancer has a WAF web ACL associated.",
              MANDATORY, (LOAD_BALANCER, WEB_ACL_ASSOCIATION), check_balancers_have_a_web_acl),
)
