"""The failover budget: how long clients may keep reaching a dead primary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FailoverBudget:
    """Detection (interval x failure threshold) plus the record TTL, in seconds.

    Route 53 marks the primary unhealthy after `failure_threshold` consecutive failed
    checks at `interval` seconds each; resolvers may then serve the old answer for up to
    `ttl` seconds more. (Checker-quorum propagation adds a few seconds in practice.)
    """

    interval: int
    failure_threshold: int
    ttl: int

    @property
    def detection_seconds(self) -> int:
        return self.interval * self.failure_threshold

    @property
    def total_seconds(self) -> int:
        return self.detection_seconds + self.ttl

    def explain(self) -> str:
        return (
            f"{self.interval} s x {self.failure_threshold} failed checks + TTL {self.ttl} s "
            f"= {self.total_seconds} s"
        )


def failover_budget(*, interval: int, failure_threshold: int, ttl: int) -> FailoverBudget:
    """Example: `failover_budget(interval=10, failure_threshold=3, ttl=30).total_seconds == 60`."""
    return FailoverBudget(interval=interval, failure_threshold=failure_threshold, ttl=ttl)
