"""Route 53 ARC data-plane calls: read and flip routing controls, trying each cluster endpoint.

An ARC cluster exposes several regional data-plane endpoints; AWS asks clients to try them
in turn, because any one may be unavailable (possibly the one in the failed region). Each
call here goes to one endpoint with the client configured for *that endpoint's region*
(SigV4 signs for it) and a single attempt; on a connection error, a timeout, a throttle or
a 5xx answer the next endpoint is tried. Definitive answers (access denied, validation,
conflict with a safety rule, unknown control) stop at once: another endpoint would say the
same.

Flipping is always "target On, other Off" in one `UpdateRoutingControlStates` call, so ARC
evaluates the safety rule ("at least one On") on the final state and the change is atomic:
there is no moment where both controls are Off. Should the batched call be rejected as
invalid, the fallback is two calls in the safe order (target On, read back, then other Off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from recsys_dr.operations.errors import error_text
from recsys_dr.operations.outputs import ArcOutputs

RETRYABLE_CODES = {
    "InternalServerException",
    "EndpointTemporarilyUnavailableException",
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
}


class ArcError(RuntimeError):
    """An ARC data-plane call failed on every endpoint, or was refused definitively.

    Attributes:
        attempts: list[dict], one per endpoint tried: endpoint, region, error.
        definitive: bool, an endpoint answered with a non-retryable error.
    """

    def __init__(self, message: str, attempts: list[dict], *, definitive: bool = False):
        super().__init__(message)
        self.attempts = attempts
        self.definitive = definitive


def _retryable(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in RETRYABLE_CODES or status >= 500 or status == 429
    # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, SSL errors, ...
    return isinstance(exc, BotoCoreError)


@dataclass(kw_only=True)
class ArcController:
    """Routing-control reads and flips for one environment.

    Args:
        arc: ArcOutputs from the stack outputs (cluster endpoints, routing control ARNs).
        client_for: callable(region, endpoint_url) -> boto3 `route53-recovery-cluster`
            client; normally `ClientFactory.arc_cluster`. Tests pass Stubber-backed clients.
        log: callable(str) -> None for progress lines. Default: no output.
    """

    arc: ArcOutputs
    client_for: Callable[[str, str], Any]
    log: Callable[[str], None] = field(default=lambda _msg: None)
    attempts: list[dict] = field(default_factory=list)

    _preferred: int = 0

    def _rotation(self) -> list[int]:
        n = len(self.arc.cluster_endpoints)
        return [(self._preferred + i) % n for i in range(n)]

    def call(self, operation: str, **kwargs) -> dict:
        """Run `operation` on the first cluster endpoint that answers.

        Starts with the endpoint that answered last (so a dead endpoint costs one
        failure per command, not one per call), then tries the others in listed order.
        """
        tried: list[dict] = []
        for index in self._rotation():
            ep = self.arc.cluster_endpoints[index]
            client = self.client_for(ep.region, ep.endpoint)
            try:
                result = getattr(client, operation)(**kwargs)
            except Exception as exc:
                entry = {"operation": operation, "endpoint": ep.endpoint, "region": ep.region,
                         "error": error_text(exc)}
                tried.append(entry)
                self.attempts.append(entry)
                if not _retryable(exc):
                    raise ArcError(f"{operation} refused by {ep.endpoint}: {error_text(exc)}",
                                   tried, definitive=True) from exc
                self.log(f"ARC endpoint {ep.endpoint} ({ep.region}) failed: {error_text(exc)}; trying next")
                continue
            entry = {"operation": operation, "endpoint": ep.endpoint, "region": ep.region, "error": None}
            self.attempts.append(entry)
            self._preferred = index
            return result
        raise ArcError(
            f"{operation} failed on all {len(tried)} ARC cluster endpoints: "
            + "; ".join(f"{t['endpoint']}: {t['error']}" for t in tried),
            tried,
        )

    def states(self) -> dict[str, str]:
        """Current state ("On"/"Off") of the primary and standby routing controls."""
        return {
            role: self.call("get_routing_control_state", RoutingControlArn=arn)["RoutingControlState"]
            for role, arn in self.arc.routing_controls.items()
        }

    def activate(self, target: str) -> dict[str, str]:
        """Send traffic to `target`: its control On and the other Off, atomically.

        Returns:
            the states read back after the change.
        """
        from botocore.exceptions import ClientError

        other = "standby" if target == "primary" else "primary"
        entries = [
            {"RoutingControlArn": self.arc.routing_controls[target], "RoutingControlState": "On"},
            {"RoutingControlArn": self.arc.routing_controls[other], "RoutingControlState": "Off"},
        ]
        try:
            self.call("update_routing_control_states", UpdateRoutingControlStateEntries=entries)
        except ArcError as exc:
            cause = exc.__cause__
            if not (exc.definitive and isinstance(cause, ClientError)
                    and cause.response.get("Error", {}).get("Code") == "ValidationException"):
                raise
            self.log(f"batched update rejected ({error_text(cause)}); falling back to target On, then other Off")
            self.call("update_routing_control_state", RoutingControlArn=self.arc.routing_controls[target],
                      RoutingControlState="On")
            if self.states()[target] != "On":
                raise ArcError(f"{target} routing control did not turn On; {other} left as it was",
                               self.attempts) from None
            self.call("update_routing_control_state", RoutingControlArn=self.arc.routing_controls[other],
                      RoutingControlState="Off")
        return self.states()

    def undo_commands(self) -> list[str]:
        """What to run by hand to send traffic back to the primary (header line, then one command per endpoint)."""
        entries = (f"RoutingControlArn={self.arc.routing_controls['primary']},RoutingControlState=On "
                   f"RoutingControlArn={self.arc.routing_controls['standby']},RoutingControlState=Off")
        lines = ["Set primary On and standby Off with one call, trying each cluster endpoint in turn until one "
                 "answers:"]
        for ep in self.arc.cluster_endpoints:
            lines.append(f"  aws route53-recovery-cluster update-routing-control-states --region {ep.region} "
                         f"--endpoint-url {ep.endpoint} --update-routing-control-state-entries {entries}")
        return lines
