"""DnsFailover: Route 53 health checks and PRIMARY/SECONDARY failover alias records for two balancers.

The records are aliases (type A) of the regions' load balancers: Route 53 answers with the
balancer's current addresses and no charge per query, and an alias takes the balancer's TTL, a
fixed 60 s (`aws_limits.ALIAS_RECORD_TTL`). With `evaluate_target_health` a record also counts as
unhealthy while its balancer has no healthy target (Route 53 API reference, AliasTarget
`EvaluateTargetHealth`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.settings.base import raise_if_problems
from recsys_dr.components.settings.dns import DnsSettings

ROLES = ("primary", "standby")
FAILOVER_TYPES = {"primary": "PRIMARY", "standby": "SECONDARY"}


@dataclass(frozen=True, kw_only=True)
class DnsFailoverArgs:
    """Arguments of `DnsFailover`.

    Attributes:
        dns: the `dns` settings (record, zone, health-check timing, checker regions).
        model_name: checked at `/v1/models/<model_name>` for the string "AVAILABLE".
        https: the balancers listen on HTTPS 443 only: the checks are HTTPS string matches (Route 53
            does not validate the certificate, so it needs no other port). Default False: HTTP on 80.
        tags: tags on health checks and a created zone. Default none.
    """

    dns: DnsSettings
    model_name: str
    https: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DnsWiring:
    """Outputs of sibling resources the records point at.

    Attributes:
        endpoints: load-balancer DNS name per role ("primary"/"standby").
        alias_zone_ids: the balancers' own hosted zone ids (`aws.lb.LoadBalancer.zone_id`), per role.
        routing_health_check_ids: health checks that steer the records instead of the HTTP
            checks (ARC routing-control, Region switch or CloudWatch-alarm checks), per role.
            The HTTP checks still exist and report. Default none.
        probe_endpoints: create the HTTP checks. False for internal endpoints: Route 53's
            checkers probe from the internet and cannot reach a private address ("Route 53
            health checkers are outside the VPC", Route 53 Developer Guide, health checks of
            private resources), so such checks would fail forever and steer nothing; the
            records then need `routing_health_check_ids`. Default True.
        evaluate_target_health: the records also follow their balancer's target health. False
            where an operator's switch (ARC routing controls, a Region switch plan) must decide
            alone. Default True.
    """

    endpoints: Mapping[str, pulumi.Input[str]]
    alias_zone_ids: Mapping[str, pulumi.Input[str]]
    routing_health_check_ids: Mapping[str, pulumi.Input[str]] | None = None
    probe_endpoints: bool = True
    evaluate_target_health: bool = True


def dns_wiring_problems(wiring: DnsWiring) -> list[str]:
    problems = []
    if set(wiring.endpoints) != set(ROLES):
        problems.append(f"`endpoints` must have exactly the keys primary, standby. Received: {sorted(wiring.endpoints)}")
    if set(wiring.alias_zone_ids) != set(ROLES):
        problems.append(f"`alias_zone_ids` must have exactly the keys primary, standby. Received: {sorted(wiring.alias_zone_ids)}")
    if wiring.routing_health_check_ids is not None and set(wiring.routing_health_check_ids) != set(ROLES):
        problems.append(f"`routing_health_check_ids` must have exactly the keys primary, standby. Received: {sorted(wiring.routing_health_check_ids)}")
    if not wiring.probe_endpoints and wiring.routing_health_check_ids is None:
        problems.append("`probe_endpoints=False` needs `routing_health_check_ids`: without HTTP checks nothing else steers the records")
    return problems


class DnsFailover(pulumi.ComponentResource):
    """An HTTP(S) string-match health check per region (public endpoints) and a failover alias record pair.

    Route 53 answers the PRIMARY record while its health check passes, else the
    SECONDARY. The worst-case switch time is `budget_seconds` (see `failover_budget`).
    """

    health_checks: dict[str, aws.route53.HealthCheck]
    records: dict[str, aws.route53.Record]
    zone_id: pulumi.Output[str]

    def __init__(self, name: str, args: DnsFailoverArgs, wiring: DnsWiring, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems("DnsWiring", dns_wiring_problems(wiring))
        super().__init__("recsys-dr:components:DnsFailover", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        dns = args.dns
        if dns.zone_name is not None:
            zone = aws.route53.Zone(f"{name}-zone", name=dns.zone_name, tags=dict(args.tags), opts=child)
            self.zone_id = zone.zone_id
        else:
            self.zone_id = pulumi.Output.from_input(dns.zone_id)

        endpoints = wiring.endpoints
        self.health_checks = {
            role: aws.route53.HealthCheck(
                f"{name}-{role}",
                type="HTTPS_STR_MATCH" if args.https else "HTTP_STR_MATCH",
                fqdn=endpoints[role],
                port=443 if args.https else 80,
                enable_sni=True if args.https else None,
                resource_path=f"/v1/models/{args.model_name}",
                search_string="AVAILABLE",
                request_interval=dns.health_check_interval,
                failure_threshold=dns.failure_threshold,
                regions=list(dns.checker_regions) if dns.checker_regions else None,
                measure_latency=True,
                tags={**args.tags, "Name": f"{name}-{role}"},
                opts=child,
            )
            for role in ROLES
        } if wiring.probe_endpoints else {}
        steering = wiring.routing_health_check_ids or {role: check.id for role, check in self.health_checks.items()}
        self.records = {
            role: aws.route53.Record(
                f"{name}-{role}",
                zone_id=self.zone_id,
                name=dns.record_name,
                type="A",
                aliases=[{"name": endpoints[role], "zone_id": wiring.alias_zone_ids[role],
                          "evaluate_target_health": wiring.evaluate_target_health}],
                set_identifier=role,
                failover_routing_policies=[{"type": FAILOVER_TYPES[role]}],
                health_check_id=steering[role],
                opts=child,
            )
            for role in ROLES
        }
        self.budget = dns.budget
        reported = {role: check.id for role, check in self.health_checks.items()} or steering
        self.register_outputs({
            "zoneId": self.zone_id,
            "recordName": dns.record_name,
            "primaryHealthCheckId": reported["primary"],
            "standbyHealthCheckId": reported["standby"],
            "failoverBudgetSeconds": self.budget.total_seconds,
        })
