"""`dns`: the failover record, its health checks and the failover budget."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from recsys_dr.components.dns.budget import failover_budget
from recsys_dr.components.settings.aws_limits import (
    ALIAS_RECORD_TTL,
    DNS_NAME_PATTERN,
    HEALTH_CHECK_INTERVALS,
    HEALTH_CHECKER_REGIONS,
    MAX_FAILURE_THRESHOLD,
    closed_set,
)
from recsys_dr.components.settings.base import Settings, problem, setting

DNS_NAME_ALLOWED = "a lower-case DNS name such as recs.shop.example.com"


def _dns_name(value: str | None) -> str | None:
    if value is not None and not DNS_NAME_PATTERN.match(value):
        raise problem(f"`{{key}}` must be {DNS_NAME_ALLOWED}. Received: {value!r}")
    return value


class DnsSettings(Settings):
    """Route 53 failover records and the health checks that steer them."""

    record_name: str = setting(description="The DNS name clients use, e.g. recs.shop.example.com.", allowed=DNS_NAME_ALLOWED)
    zone_id: str | None = setting(None, description="Existing Route 53 hosted zone holding the record. Exactly one of zoneId and zoneName.",
                                  allowed="a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ", pattern=r"^Z[A-Z0-9]{1,31}$")
    zone_name: str | None = setting(None, description="Hosted zone to create instead (delegate it to use it).", allowed=DNS_NAME_ALLOWED)
    health_check_interval: int = setting(10, description="Seconds between Route 53 checks.",
                                         allowed=f"one of: {closed_set(HEALTH_CHECK_INTERVALS)}")
    failure_threshold: int = setting(3, description="Consecutive failed checks before a region is unhealthy.",
                                     allowed=f"an integer from 1 to {MAX_FAILURE_THRESHOLD}", ge=1, le=MAX_FAILURE_THRESHOLD)
    checker_regions: list[str] | None = setting(
        None, description="Route 53 checker regions (at least 3). Default: Route 53's set.",
        allowed=f"a list of at least 3 distinct Route 53 checker regions among: {closed_set(HEALTH_CHECKER_REGIONS)}",
    )
    failover_budget_target: int | None = setting(
        None, description=f"Refuse the config when interval x threshold + TTL ({ALIAS_RECORD_TTL} s, the alias records' "
        "fixed TTL) exceeds this many seconds.",
        allowed="a positive number of seconds", ge=1, le=3600, limit="an hour is no failover budget",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_ttl(cls, data):
        if isinstance(data, dict) and "ttl" in data:
            raise problem(
                f"`{{key}}.ttl` is not a setting: the failover records are aliases of the load balancers, whose TTL Route 53 "
                f"fixes at {ALIAS_RECORD_TTL} s. Remove the key. Received: ttl={data['ttl']!r}"
            )
        return data

    @field_validator("record_name", "zone_name")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return _dns_name(value)

    @field_validator("health_check_interval")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in HEALTH_CHECK_INTERVALS:
            raise problem(f"`{{key}}` must be one of: {closed_set(HEALTH_CHECK_INTERVALS)}. Received: {value!r}")
        return value

    @field_validator("checker_regions")
    @classmethod
    def _checkers(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if len(set(value)) < 3:
            raise problem(f"`{{key}}` must list at least 3 distinct Route 53 checker regions. Received: {value!r}")
        unknown = [r for r in value if r not in HEALTH_CHECKER_REGIONS]
        if unknown:
            raise problem(f"`{{key}}` must be among: {closed_set(HEALTH_CHECKER_REGIONS)}. Received: {unknown}")
        return value

    @model_validator(mode="after")
    def _zone_and_budget(self) -> DnsSettings:
        problems = []
        if (self.zone_id is None) == (self.zone_name is None):
            problems.append(
                "exactly one of `{key}.zoneId` (existing hosted zone) and `{key}.zoneName` (zone to create) must be set. "
                f"Received: zoneId={self.zone_id!r}, zoneName={self.zone_name!r}"
            )
        elif self.zone_name is not None and not self.record_name.rstrip(".").endswith("." + self.zone_name.rstrip(".")):
            problems.append(f"`{{key}}.recordName` must lie inside `{{key}}.zoneName`. Received: {self.record_name} in {self.zone_name}")
        if self.failover_budget_target is not None and self.budget.total_seconds > self.failover_budget_target:
            problems.append(
                f"`{{key}}` gives a failover budget of {self.budget.explain()}, above "
                f"`{{key}}.failoverBudgetTarget`={self.failover_budget_target}. Lower the interval or threshold"
            )
        if problems:
            raise problem("\n".join(problems))
        return self

    @property
    def budget(self):
        return failover_budget(interval=self.health_check_interval, failure_threshold=self.failure_threshold, ttl=ALIAS_RECORD_TTL)

    @property
    def fallback_budget(self):
        """Until the fallback tier answers, when the primary and then the standby GPU tier fail (two detections)."""
        return failover_budget(interval=self.health_check_interval, failure_threshold=self.failure_threshold,
                               ttl=ALIAS_RECORD_TTL, hops=2)
