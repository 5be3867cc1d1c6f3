"""ArcControl: Route 53 Application Recovery Controller routing controls for manual failover.

ARC's data plane lives in five regions, so operators can flip traffic even when the
primary region's control plane is impaired. Costs extra (a cluster is billed per hour);
the default failover stays health-check driven.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.dns.failover_records import ROLES
from recsys_dr.components.settings.base import raise_if_problems


@dataclass(frozen=True, kw_only=True)
class ArcControlArgs:
    """Arguments of `ArcControl`.

    Attributes:
        safety_wait_ms: how long the safety rule's evaluation waits after a change. Default 5000.
        tags: tags on the cluster, control panel, safety rule and health checks. Default none.
    """

    safety_wait_ms: int = 5000
    tags: Mapping[str, str] = field(default_factory=dict)


def arc_control_problems(args: ArcControlArgs) -> list[str]:
    if isinstance(args.safety_wait_ms, bool) or not isinstance(args.safety_wait_ms, int) or args.safety_wait_ms <= 0:
        return [f"`safety_wait_ms` must be a positive integer of milliseconds. Received: {args.safety_wait_ms!r}"]
    return []


class ArcControl(pulumi.ComponentResource):
    """A recovery cluster, a control panel, one routing control per region, a safety rule
    that keeps at least one region on, and RECOVERY_CONTROL health checks for the records.

    New routing controls start OFF: turn the primary on once after the first deployment
    (`recsys-dr failover --to primary`). While both are off Route 53 treats both records as
    healthy and answers PRIMARY.
    """

    routing_controls: dict[str, aws.route53recoverycontrol.RoutingControl]
    health_checks: dict[str, aws.route53.HealthCheck]

    def __init__(self, name: str, args: ArcControlArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems("ArcControlArgs", arc_control_problems(args))
        super().__init__("recsys-dr:components:ArcControl", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.cluster = aws.route53recoverycontrol.Cluster(f"{name}-cluster", name=f"{name}-cluster", tags=tags, opts=child)
        self.control_panel = aws.route53recoverycontrol.ControlPanel(
            f"{name}-panel", name=f"{name}-panel", cluster_arn=self.cluster.arn, tags=tags, opts=child
        )
        self.routing_controls = {
            role: aws.route53recoverycontrol.RoutingControl(
                f"{name}-{role}", name=f"{name}-{role}", cluster_arn=self.cluster.arn,
                control_panel_arn=self.control_panel.arn, opts=child,
            )
            for role in ROLES
        }
        aws.route53recoverycontrol.SafetyRule(
            f"{name}-at-least-one-on",
            name=f"{name}-at-least-one-on",
            control_panel_arn=self.control_panel.arn,
            asserted_controls=[control.arn for control in self.routing_controls.values()],
            rule_config={"inverted": False, "threshold": 1, "type": "ATLEAST"},
            wait_period_ms=args.safety_wait_ms,
            tags=tags,
            opts=child,
        )
        self.health_checks = {
            role: aws.route53.HealthCheck(
                f"{name}-{role}-control",
                type="RECOVERY_CONTROL",
                routing_control_arn=control.arn,
                tags={**tags, "Name": f"{name}-{role}-control"},
                opts=child,
            )
            for role, control in self.routing_controls.items()
        }
        self.cluster_endpoints = self.cluster.cluster_endpoints.apply(
            lambda endpoints: [{"region": e.region, "endpoint": e.endpoint} for e in endpoints]
        )
        self.register_outputs({
            "clusterArn": self.cluster.arn,
            "clusterEndpoints": self.cluster_endpoints,
            "controlPanelArn": self.control_panel.arn,
            "routingControls": {role: control.arn for role, control in self.routing_controls.items()},
            "healthCheckIds": {role: check.id for role, check in self.health_checks.items()},
        })
