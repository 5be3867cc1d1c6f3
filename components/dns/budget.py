"""The failover budget: how long clients may keep reaching a dead tier."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FailoverBudget:
    """Detection (interval x failure threshold) per hop, plus the record TTL, in seconds.

    Route 53 marks a tier unhealthy after `failure_threshold` consecutive failed checks at
    `interval` seconds each; resolvers may then serve the old answer for up to `ttl` seconds more.
    (Checker-quorum propagation adds a few seconds in practice.) In the cascade primary GPU ->
    standby GPU -> fallback, the second hop has its own detection: in the worst case the standby
    fails just before Route 53 stops answering the dead primary, and the fallback's record is chosen
    only once the standby's check has failed too, so `hops=2` counts detection twice and the TTL once.
    """

    interval: int
    failure_threshold: int
    ttl: int
    hops: int = 1

    @property
    def detection_seconds(self) -> int:
        return self.interval * self.failure_threshold * self.hops

    @property
    def total_seconds(self) -> int:
        return self.detection_seconds + self.ttl

    def explain(self) -> str:
        hops = f"{self.hops} hops x " if self.hops > 1 else ""
        brackets = ("(", ")") if self.hops > 1 else ("", "")
        return (
            f"{hops}{brackets[0]}{self.interval} s x {self.failure_threshold} failed checks{brackets[1]} + TTL {self.ttl} s "
            f"= {self.total_seconds} s"
        )


def failover_budget(*, interval: int, failure_threshold: int, ttl: int, hops: int = 1) -> FailoverBudget:
    """Example: `failover_budget(interval=10, failure_threshold=3, ttl=30).total_seconds == 60`;
    with `hops=2` (down to the fallback tier) 90."""
    return FailoverBudget(interval=interval, failure_threshold=failure_threshold, ttl=ttl, hops=hops)
