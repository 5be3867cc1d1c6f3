"""DnsFailover: Route 53 health checks and PRIMARY/SECONDARY failover records for two endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.dns.budget import failover_budget
from recsys_dr.components.validation import dns_name_problems, health_check_problems, model_problems, raise_if_problems

ROLES = ("primary", "standby")
FAILOVER_TYPES = {"primary": "PRIMARY", "standby": "SECONDARY"}


@dataclass(frozen=True, kw_only=True)
class DnsFailoverArgs:
    """Arguments of `DnsFailover`.

    Attributes:
        record_name: the name clients resolve, e.g. "recs.shop.example.com".
        zone_id: existing hosted zone holding `record_name`. Conflicts with `zone_name`.
        zone_name: create this hosted zone instead (delegate it to use it).
            Exactly one of `zone_id` / `zone_name` is required.
        primary_endpoint / standby_endpoint: load-balancer hostnames of the two regions.
        model_name: checked at `/v1/models/<model_name>` for the string "AVAILABLE".
        health_check_interval: 10 (fast, default) or 30 seconds.
        failure_threshold: consecutive failures before unhealthy, 1-10. Default 3.
        ttl: record TTL in seconds, at most 60. Default 30.
        checker_regions: Route 53 checker regions (at least 3). Default: Route 53's set.
        port: HTTP port of the endpoints. Default 80.
        routing_health_check_ids: health checks that steer the records instead of the
            HTTP checks (ARC routing-control checks), keyed "primary"/"standby". The HTTP
            checks still exist and report. Default none.
        tags: tags on health checks and a created zone. Default none.
    """

    record_name: str
    primary_endpoint: pulumi.Input[str]
    standby_endpoint: pulumi.Input[str]
    model_name: str
    zone_id: pulumi.Input[str] | None = None
    zone_name: str | None = None
    health_check_interval: int = 10
    failure_threshold: int = 3
    ttl: int = 30
    checker_regions: Sequence[str] | None = None
    port: int = 80
    routing_health_check_ids: Mapping[str, pulumi.Input[str]] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def dns_failover_problems(args: DnsFailoverArgs) -> list[str]:
    problems = dns_name_problems("record_name", args.record_name)
    problems += health_check_problems("dns", args.health_check_interval, args.failure_threshold, args.ttl, args.checker_regions)
    problems += model_problems("model", args.model_name, 1)
    if (args.zone_id is None) == (args.zone_name is None):
        problems.append("exactly one of `zone_id` (existing hosted zone) and `zone_name` (new zone) must be set. "
                        f"Received: zone_id={args.zone_id!r}, zone_name={args.zone_name!r}")
    elif args.zone_name is not None:
        problems += dns_name_problems("zone_name", args.zone_name)
        if not args.record_name.rstrip(".").endswith("." + args.zone_name.rstrip(".")):
            problems.append(f"`record_name` must lie inside `zone_name`. Received: record_name={args.record_name}, zone_name={args.zone_name}")
    if args.routing_health_check_ids is not None and set(args.routing_health_check_ids) != set(ROLES):
        problems.append(f"`routing_health_check_ids` must have exactly the keys primary, standby. Received: {sorted(args.routing_health_check_ids)}")
    return problems


class DnsFailover(pulumi.ComponentResource):
    """An HTTP string-match health check per region and a failover record pair.

    Route 53 answers the PRIMARY record while its health check passes, else the
    SECONDARY. The worst-case switch time is `budget_seconds` (see `failover_budget`).
    """

    health_checks: dict[str, aws.route53.HealthCheck]
    records: dict[str, aws.route53.Record]
    zone_id: pulumi.Output[str]

    def __init__(self, name: str, args: DnsFailoverArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems("DnsFailoverArgs", dns_failover_problems(args))
        super().__init__("recsys-dr:components:DnsFailover", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.zone_name is not None:
            zone = aws.route53.Zone(f"{name}-zone", name=args.zone_name, tags=dict(args.tags), opts=child)
            self.zone_id = zone.zone_id
        else:
            self.zone_id = pulumi.Output.from_input(args.zone_id)

        endpoints = {"primary": args.primary_endpoint, "standby": args.standby_endpoint}
        self.health_checks = {
            role: aws.route53.HealthCheck(
                f"{name}-{role}",
                type="HTTP_STR_MATCH",
                fqdn=endpoints[role],
                port=args.port,
                resource_path=f"/v1/models/{args.model_name}",
                search_string="AVAILABLE",
                request_interval=args.health_check_interval,
                failure_threshold=args.failure_threshold,
                regions=list(args.checker_regions) if args.checker_regions else None,
                measure_latency=True,
                tags={**args.tags, "Name": f"{name}-{role}"},
                opts=child,
            )
            for role in ROLES
        }
        steering = args.routing_health_check_ids or {role: check.id for role, check in self.health_checks.items()}
        self.records = {
            role: aws.route53.Record(
                f"{name}-{role}",
                zone_id=self.zone_id,
                name=args.record_name,
                type="CNAME",
                ttl=args.ttl,
                records=[endpoints[role]],
                set_identifier=role,
                failover_routing_policies=[{"type": FAILOVER_TYPES[role]}],
                health_check_id=steering[role],
                opts=child,
            )
            for role in ROLES
        }
        self.budget = failover_budget(interval=args.health_check_interval, failure_threshold=args.failure_threshold, ttl=args.ttl)
        self.register_outputs({
            "zoneId": self.zone_id,
            "recordName": args.record_name,
            "primaryHealthCheckId": self.health_checks["primary"].id,
            "standbyHealthCheckId": self.health_checks["standby"].id,
            "failoverBudgetSeconds": self.budget.total_seconds,
        })
