"""What every readiness check shares: `CheckResult`, `CheckContext`, constants, `failed_call`.

Each check returns one or more `CheckResult`s. A result is *blocking* when it concerns the
**target** region's ability to take traffic now (the standby for `status` and `failover
--to standby`, the primary for `failover --to primary`). Facts about the other region are
reported but never block: during a regional outage the primary is expected to be down,
and `status` must still say whether the standby can take over.

A region that does not answer (connection refused, timeout, 5xx) is reported as
"unreachable"; that blocks only when it is the target region, or when the target's own
resource cannot be read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from recsys_dr.operations.clients import ClientFactory
from recsys_dr.operations.errors import error_text, is_unreachable
from recsys_dr.operations.outputs import RegionOutputs, StackOutputs

REPLICATION_RULE_ID = "models-to-standby"
REPLICATION_PREFIX = "models/"
"""The rule's filter prefix (the stacks replicate `models/` only; an empty prefix covers it too)."""
RTC_MINUTES = 15
"""Replication Time Control threshold the stacks set (RTC only offers 15 minutes)."""
RTC_THRESHOLD_SECONDS = RTC_MINUTES * 60
ROUTE53_HEALTHY_FRACTION = 0.18
"""Route 53 deems an endpoint healthy when more than 18% of its checkers report it healthy."""
NODEGROUP_OK_STATES = ("ACTIVE", "UPDATING")


@dataclass
class CheckResult:
    """Outcome of one check.

    Attributes:
        name: str, e.g. "serving" or "replication.rule".
        ok: bool, the check passed.
        detail: str, one line an operator can act on (the reason when not ok).
        region: str | None, AWS region the check looked at (None for global facts).
        role: str | None, "primary" / "standby" / None.
        blocking: bool, a failure means the target region cannot take traffic now.
        data: dict, machine-readable facts (JSON output).
    """

    name: str
    ok: bool
    detail: str
    region: str | None = None
    role: str | None = None
    blocking: bool = True
    data: dict = field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        """True when this result alone makes the target not ready."""
        return self.blocking and not self.ok

    @property
    def label(self) -> str:
        return f"{self.name}[{self.role}]" if self.role else self.name

    @property
    def message(self) -> str:
        """The line an operator reads: `name[role]: detail`."""
        return f"{self.label}: {self.detail}"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["status"] = "ok" if self.ok else ("FAIL" if self.blocking else "warn")
        return out


@dataclass(kw_only=True)
class CheckContext:
    """What every check needs.

    Args:
        outputs: StackOutputs of the environment.
        clients: ClientFactory for boto3 clients.
        target: str, the role that must be able to take traffic ("standby" by default).
        require_warm: bool, a pilot-light standby fails the capacity check. Default False.
        http_timeout: float, seconds per serving-endpoint request. Default 5.
        verify: callable like `model.verify.verify_remote`; default imports it lazily.
        http_get: callable(url, timeout[, connect_to]) -> (status, body bytes); default urllib
            (`connect_to`, the region's endpoint, is given for an https URL).
        now: callable returning an aware UTC datetime (metrics window).
    """

    outputs: StackOutputs
    clients: ClientFactory
    target: str = "standby"
    require_warm: bool = False
    http_timeout: float = 5.0
    verify: Callable[..., Any] | None = None
    http_get: Callable[..., tuple[int, bytes]] | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    def is_target(self, role: str) -> bool:
        return role == self.target


# --------------------------------------------------------------------------- helpers


def failed_call(name: str, region: RegionOutputs | None, ctx: CheckContext, exc: Exception, what: str,
                *, blocking: bool | None = None) -> CheckResult:
    role = region.role if region else None
    reason = "unreachable" if is_unreachable(exc) else "error"
    return CheckResult(
        name=name,
        ok=False,
        detail=f"cannot {what}: {reason}: {error_text(exc)}",
        region=region.region if region else None,
        role=role,
        blocking=ctx.is_target(role) if blocking is None else blocking,
        data={"error": error_text(exc), "unreachable": is_unreachable(exc)},
    )
