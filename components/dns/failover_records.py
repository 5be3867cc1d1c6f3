"""DnsFailover: Route 53 health checks and PRIMARY/SECONDARY failover alias records for two balancers,
and with a fallback tier the cascade primary GPU -> standby GPU -> fallback.

The records are aliases (type A) of the regions' load balancers: Route 53 answers with the
balancer's current addresses and no charge per query, and an alias takes the balancer's TTL, a
fixed 60 s (`aws_limits.ALIAS_RECORD_TTL`). The balancers' records follow their health checks, which
probe the model's status path through the balancer's own listener, and not the balancer's target
health: with `EvaluateTargetHealth` Route 53 counts an Application Load Balancer unhealthy when any
of its target groups that has targets has no healthy one (Route 53 API reference, AliasTarget
`EvaluateTargetHealth`), so a release's failing canary group, holding a few candidate pods beside
healthy stable ones, would fail over the whole region.

A failover group has one PRIMARY and one SECONDARY, so the third tier is a nested group (Route 53
Developer Guide, "How health checks work in complex Amazon Route 53 configurations"): the SECONDARY
of the client-facing pair is an alias, with Evaluate Target Health, of a second failover pair at
`standby-cascade.<recordName>` (standby GPU PRIMARY, fallback SECONDARY), each of those with its
own health check. An alias with Evaluate Target Health is healthy while at least one record of the
group it names is healthy ("How Amazon Route 53 chooses records when health checking is configured",
Alias records), so the fallback is answered only while both GPU tiers are unhealthy, and when all
three are, Route 53 answers the PRIMARY ("If no record is healthy, all records are healthy").
The client-facing SECONDARY carries no health check of its own: one that failed would hide a healthy
fallback ("What happens when you associate a health check with an alias record?").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.settings.base import raise_if_problems
from recsys_dr.components.settings.dns import DnsSettings

ROLES = ("primary", "standby")
TIERS = ("primary", "standby", "fallback")
FAILOVER_TYPES = {"primary": "PRIMARY", "standby": "SECONDARY"}
CASCADE_LABEL = "standby-cascade"
CASCADE = "cascade"  # a record whose target is the nested pair, not a tier


def cascade_record_name(record_name: str) -> str:
    """Name of the nested pair (standby GPU, then fallback): a label under the record clients use, so
    it lies in the same hosted zone, as an alias of another record must."""
    return f"{CASCADE_LABEL}.{record_name}"


@dataclass(frozen=True)
class RecordSpec:
    """One failover record: its resource-name suffix, DNS name, set identifier, failover type, and
    target (a tier, whose balancer it aliases, or `CASCADE`, the nested pair)."""

    key: str
    name: str
    set_identifier: str
    failover: str
    target: str


def record_layout(record_name: str, *, fallback: bool) -> list[RecordSpec]:
    """The failover records, nested pair first (an alias target must exist before the alias)."""
    if not fallback:
        return [RecordSpec(role, record_name, role, FAILOVER_TYPES[role], role) for role in ROLES]
    nested = cascade_record_name(record_name)
    return [
        RecordSpec("cascade-standby", nested, "standby", "PRIMARY", "standby"),
        RecordSpec("cascade-fallback", nested, "fallback", "SECONDARY", "fallback"),
        RecordSpec("primary", record_name, "primary", "PRIMARY", "primary"),
        RecordSpec("standby", record_name, "standby", "SECONDARY", CASCADE),
    ]


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
        endpoints: load-balancer DNS name per tier ("primary"/"standby", and "fallback" for the
            cascade to a fallback tier).
        alias_zone_ids: the balancers' own hosted zone ids (`aws.lb.LoadBalancer.zone_id`), per tier.
        routing_health_check_ids: health checks that steer the records instead of the HTTP
            checks (ARC routing-control, Region switch or CloudWatch-alarm checks), per tier.
            The HTTP checks still exist and report. Default none.
        probe_endpoints: create the HTTP checks. False for internal endpoints: Route 53's
            checkers probe from the internet and cannot reach a private address ("Route 53
            health checkers are outside the VPC", Route 53 Developer Guide, health checks of
            private resources), so such checks would fail forever and steer nothing; the
            records then need `routing_health_check_ids`. Default True.
        evaluate_target_health: the balancers' records also follow their balancer's target health:
            then a balancer with one target group whose targets are all unhealthy (a release's
            canary group) counts as down, whatever its other groups serve. Default False (the
            health checks alone decide).
    """

    endpoints: Mapping[str, pulumi.Input[str]]
    alias_zone_ids: Mapping[str, pulumi.Input[str]]
    routing_health_check_ids: Mapping[str, pulumi.Input[str]] | None = None
    probe_endpoints: bool = True
    evaluate_target_health: bool = False


def dns_wiring_problems(wiring: DnsWiring) -> list[str]:
    tiers = set(TIERS) if "fallback" in wiring.endpoints else set(ROLES)
    keys = ", ".join(t for t in TIERS if t in tiers)
    problems = []
    if set(wiring.endpoints) != tiers:
        problems.append(f"`endpoints` must have exactly the keys {keys}. Received: {sorted(wiring.endpoints)}")
    if set(wiring.alias_zone_ids) != tiers:
        problems.append(f"`alias_zone_ids` must have exactly the keys {keys}. Received: {sorted(wiring.alias_zone_ids)}")
    if wiring.routing_health_check_ids is not None and set(wiring.routing_health_check_ids) != tiers:
        problems.append(f"`routing_health_check_ids` must have exactly the keys {keys}. Received: {sorted(wiring.routing_health_check_ids)}")
    if not wiring.probe_endpoints and wiring.routing_health_check_ids is None:
        problems.append("`probe_endpoints=False` needs `routing_health_check_ids`: without HTTP checks nothing else steers the records")
    return problems


class DnsFailover(pulumi.ComponentResource):
    """An HTTP(S) string-match health check per tier (public endpoints) and a failover alias record
    pair, nested when there is a fallback tier (see the module docstring).

    Route 53 answers the PRIMARY record while its health check passes, else the SECONDARY. The
    worst-case switch time is `budget` (`fallback_budget` down to the fallback tier).
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
        tiers = [tier for tier in TIERS if tier in endpoints]
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
            for role in tiers
        } if wiring.probe_endpoints else {}
        steering = wiring.routing_health_check_ids or {role: check.id for role, check in self.health_checks.items()}
        self.records = self._records(name, dns.record_name, wiring, steering, fallback="fallback" in endpoints)
        self.budget = dns.budget
        self.fallback_budget = dns.fallback_budget if "fallback" in endpoints else None
        self.cascade_record_name = cascade_record_name(dns.record_name) if "fallback" in endpoints else None
        reported = {role: check.id for role, check in self.health_checks.items()} or steering
        self.register_outputs({
            "zoneId": self.zone_id,
            "recordName": dns.record_name,
            "primaryHealthCheckId": reported["primary"],
            "standbyHealthCheckId": reported["standby"],
            "fallbackHealthCheckId": reported.get("fallback"),
            "cascadeRecordName": self.cascade_record_name,
            "failoverBudgetSeconds": self.budget.total_seconds,
        })

    def _records(self, name: str, record_name: str, wiring: DnsWiring, steering: Mapping[str, pulumi.Input[str]], *,
                 fallback: bool) -> dict[str, aws.route53.Record]:
        """The records of `record_layout`, keyed by their `key`."""
        records: dict[str, aws.route53.Record] = {}
        for spec in record_layout(record_name, fallback=fallback):
            if spec.target == CASCADE:
                # An alias of the nested pair (same hosted zone), healthy while one of its records is.
                nested = [records["cascade-standby"], records["cascade-fallback"]]
                alias = {"name": cascade_record_name(record_name), "zone_id": self.zone_id, "evaluate_target_health": True}
                check, opts = None, pulumi.ResourceOptions(parent=self, depends_on=nested)
            else:
                alias = {"name": wiring.endpoints[spec.target], "zone_id": wiring.alias_zone_ids[spec.target],
                         "evaluate_target_health": wiring.evaluate_target_health}
                check, opts = steering[spec.target], pulumi.ResourceOptions(parent=self)
            records[spec.key] = aws.route53.Record(
                f"{name}-{spec.key}",
                zone_id=self.zone_id,
                name=spec.name,
                type="A",
                aliases=[alias],
                set_identifier=spec.set_identifier,
                failover_routing_policies=[{"type": spec.failover}],
                health_check_id=check,
                opts=opts,
            )
        return records
