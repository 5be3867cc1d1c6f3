"""Route 53 failover records and health checks (rules `route53-*`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .core import MANDATORY, Resource, Rule, StackRule, get, items, num, of

__all__ = [
    "RECORD",
    "HEALTH_CHECK",
    "MAX_FAILOVER_TTL",
    "check_failover_health_check",
    "check_failover_ttl",
    "check_health_check_model_aware",
    "check_failover_pairs",
]


RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
MAX_FAILOVER_TTL = 60


def _is_failover_record(props: Mapping[str, Any]) -> bool:
    return bool(items(get(props, "failoverRoutingPolicies")))


def aliases_record_in_zone(props: Mapping[str, Any]) -> bool:
    """An alias, with Evaluate Target Health, of another record of its own hosted zone (a nested
    failover group): Route 53 judges it by the records it names, which carry the health checks
    (Route 53 Developer Guide, "How health checks work in complex Amazon Route 53 configurations": set
    Evaluate Target Health to Yes on the alias records of a tree, health checks on the others)."""
    for alias in items(get(props, "aliases")):
        if get(alias, "evaluateTargetHealth") is True and get(alias, "zoneId") and \
                get(alias, "zoneId") == get(props, "zoneId"):
            return True
    return False


def check_failover_health_check(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not _is_failover_record(props):
        return []
    problems = []
    if not get(props, "healthCheckId") and not aliases_record_in_zone(props):
        problems.append("failover record has no healthCheckId (nor is it an alias, evaluating target health, of a "
                        "record in its zone); Route 53 could not fail over on its own")
    if not get(props, "setIdentifier"):
        problems.append("failover record has no setIdentifier")
    return problems


def check_failover_ttl(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not _is_failover_record(props) or items(get(props, "aliases")):
        return []
    ttl = num(get(props, "ttl"))
    if ttl is None or ttl > MAX_FAILOVER_TTL:
        return [f"failover record TTL is {get(props, 'ttl')!r}; must be <= {MAX_FAILOVER_TTL} s (resolvers cache the dead region that long)"]
    return []


def check_health_check_model_aware(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    kind = get(props, "type")
    if kind in ("RECOVERY_CONTROL", "CALCULATED", "CLOUDWATCH_METRIC"):
        return []
    if kind not in ("HTTP_STR_MATCH", "HTTPS_STR_MATCH"):
        return [f"health check type {kind!r} only proves the load balancer answers; use HTTP_STR_MATCH on /v1/models/<model>"]
    problems = []
    if not str(get(props, "resourcePath") or "").startswith("/v1/models/"):
        problems.append(f"health check path {get(props, 'resourcePath')!r} does not probe the model (/v1/models/<model>)")
    if not get(props, "searchString"):
        problems.append("health check has no searchString (expect 'AVAILABLE')")
    return problems


def check_failover_pairs(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    groups: dict[tuple[str, str, str], list[tuple[Resource, str]]] = {}
    for record in of(resources, RECORD):
        policies = items(get(record.props, "failoverRoutingPolicies"))
        if not policies:
            continue
        key = (str(get(record.props, "zoneId")), str(get(record.props, "name")), str(get(record.props, "type")))
        groups.setdefault(key, []).append((record, str(get(policies[0], "type"))))
    problems: list[tuple[str | None, str]] = []
    for (_, name, kind), members in sorted(groups.items()):
        roles = sorted(role for _, role in members)
        if roles != ["PRIMARY", "SECONDARY"]:
            problems.append((members[0][0].urn, f"failover records for {name} {kind} are {roles}; need exactly one PRIMARY and one SECONDARY"))
    return problems


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("route53-failover-health-check", "Failover records carry a health check (or alias a nested failover group, "
         "evaluating its health) and a set identifier.",
         MANDATORY, (RECORD,), check_failover_health_check),
    Rule("route53-failover-ttl", f"Failover records have TTL <= {MAX_FAILOVER_TTL} s.",
         MANDATORY, (RECORD,), check_failover_ttl),
    Rule("route53-health-check-model", "HTTP health checks probe /v1/models/<model> for a search string.",
         MANDATORY, (HEALTH_CHECK,), check_health_check_model_aware),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("route53-failover-pair", "Failover records come as exactly one PRIMARY and one SECONDARY per name.",
              MANDATORY, (RECORD,), check_failover_pairs),
)
