"""Drill without ARC: invert the primary's Route 53 health check, then restore it.

With `failoverControl: health-check` there are no routing controls. Inverting the
primary's health check makes Route 53 treat the primary as unhealthy, so the failover
records answer the SECONDARY (standby) - the same path a real regional failure takes,
detection delay included (interval x failure threshold). Restoring `Inverted=false` fails
back. Documented by AWS: "If you invert a health check, Route 53 considers the health
check to be unhealthy when the status is healthy and vice versa"
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-invert.html).

Only `recsys-dr drill --via-health-check-inversion` uses this, because the drill restores
the flag itself within its time bound. The inversion is drift from the Pulumi state while
it lasts; the drill prints the `--no-inverted` undo command before it inverts the check, so
if the drill process is killed (`kill -9`), run that command.
The standby's check is never touched, so both regions are never "off".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(kw_only=True)
class HealthCheckInversion:
    """A drill switcher over the primary's health check.

    Args:
        route53: boto3 Route 53 client (us-east-1).
        health_check_id: str, the primary region's health check (`regions.primary.healthCheckId`).
    """

    route53: Any
    health_check_id: str
    kind: str = "health-check inversion"

    def states(self) -> dict[str, str]:
        """{"primary": "On" unless its check is inverted, "standby": "On"} (eligibility for traffic)."""
        config = self.route53.get_health_check(HealthCheckId=self.health_check_id)["HealthCheck"]["HealthCheckConfig"]
        return {"primary": "Off" if config.get("Inverted") else "On", "standby": "On"}

    def activate(self, target: str) -> dict[str, str]:
        """Standby: invert the primary's check. Primary: restore it."""
        self.route53.update_health_check(HealthCheckId=self.health_check_id, Inverted=(target == "standby"))
        return self.states()

    def is_normal(self, states: dict[str, str]) -> bool:
        return states.get("primary") == "On"

    def undo_commands(self) -> list[str]:
        """What to run by hand to fail back (header line, then the command)."""
        return ["The primary's health check may still be inverted (traffic on the standby). Restore it:",
                f"  aws route53 update-health-check --health-check-id {self.health_check_id} --no-inverted"]


def check_passes(route53: Any, health_check_id: str) -> bool:
    """Whether Route 53's checkers report the endpoint healthy now (more than 18 % of them, as Route 53 decides)."""
    from recsys_dr.operations.checks.base import ROUTE53_HEALTHY_FRACTION

    observations = route53.get_health_check_status(HealthCheckId=health_check_id).get("HealthCheckObservations", [])
    healthy = sum(1 for ob in observations if str(ob.get("StatusReport", {}).get("Status", "")).startswith("Success"))
    return bool(observations) and healthy / len(observations) > ROUTE53_HEALTHY_FRACTION


@dataclass(kw_only=True)
class GpuTiersInversion:
    """A drill switcher that takes both GPU tiers out of DNS, so the cascade answers the fallback tier.

    `activate("fallback")` inverts the health check of every GPU tier whose check passes now; one that
    already fails (a pilot-light standby at rest) is left alone, since inverting it would make Route 53
    count a dead endpoint healthy. `activate("primary")` restores the checks it inverted.

    Args:
        route53: boto3 Route 53 client (us-east-1).
        health_check_ids: {"primary": id, "standby": id}, the GPU tiers' checks (`regions.<role>.healthCheckId`).
    """

    route53: Any
    health_check_ids: dict[str, str]
    kind: str = "health-check inversion (both GPU tiers)"

    def _inverted(self, role: str) -> bool:
        config = self.route53.get_health_check(HealthCheckId=self.health_check_ids[role])["HealthCheck"]["HealthCheckConfig"]
        return bool(config.get("Inverted"))

    def states(self) -> dict[str, str]:
        """Per GPU tier, "Off" while its check is inverted (out of DNS), else "On"."""
        return {role: "Off" if self._inverted(role) else "On" for role in self.health_check_ids}

    def activate(self, target: str) -> dict[str, str]:
        """"fallback": invert the passing GPU tiers' checks; "primary": restore every inverted one."""
        for role, check_id in self.health_check_ids.items():
            if target == "fallback" and not self._inverted(role) and check_passes(self.route53, check_id):
                self.route53.update_health_check(HealthCheckId=check_id, Inverted=True)
            elif target != "fallback" and self._inverted(role):
                self.route53.update_health_check(HealthCheckId=check_id, Inverted=False)
        return self.states()

    def is_normal(self, states: dict[str, str]) -> bool:
        return all(state == "On" for state in states.values())

    def undo_commands(self) -> list[str]:
        return ["The GPU tiers' health checks may still be inverted (traffic on the fallback). Restore them:"] + [
            f"  aws route53 update-health-check --health-check-id {check_id} --no-inverted"
            for check_id in self.health_check_ids.values()]
