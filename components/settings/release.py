"""`release`: how `recsys-dr release` moves a candidate version through the regions, and its gates.

The stack file pins a candidate beside the stable version (`model.candidate`, `model.pins`); the
release tool then proves it region by region (docs/releases.md). These settings are exported as
the stack output `release`, which is what the tool reads: declared once, here.
"""

from __future__ import annotations

from pydantic import field_validator

from recsys_dr.components.settings.base import Settings, problem, setting

# ALB metrics are published per minute ("Elastic Load Balancing reports metrics to CloudWatch ...
# in 60-second intervals", Elastic Load Balancing User Guide, "CloudWatch metrics for your
# Application Load Balancer"); a CloudWatch period for such metrics is a multiple of 60 s
# (CloudWatch API reference, GetMetricData / MetricStat `Period`). Windows are whole minutes.
METRIC_MINUTE = 60
QUALITY_METRIC_PATTERN = r"^(ndcg@[1-9][0-9]{0,3}|hit_rate@[1-9][0-9]{0,3}|mrr)$"
DEFAULT_CANARY_PERCENTS = (5, 25, 50, 100)


class GoldenGateSettings(Settings):
    """Golden requests: the version's own requests and expected answers, replayed through the region's live endpoint."""

    score_tolerance: float = setting(
        0.001, description="Largest relative difference between a served score and the exported one; ids must be the "
        "same (items whose scores are within this of each other may swap places).",
        allowed="a number from 0 to 0.5", ge=0, le=0.5,
    )


class LiveGateSettings(Settings):
    """Live signals: the canary target group against the stable one, from the balancer's CloudWatch metrics."""

    bake_seconds: int = setting(
        300, description="How long each canary share runs before the next one (a whole number of minutes: ALB metrics are per minute).",
        allowed="a multiple of 60 from 60 to 86400 seconds", ge=60, le=86_400,
    )
    check_interval_seconds: int = setting(
        60, description="How often the gate reads the metrics during a bake; a clear failure rolls back before the bake ends.",
        allowed="a multiple of 60 from 60 to 3600 seconds", ge=60, le=3600,
    )
    min_requests: int = setting(
        200, description="Requests the canary must have served in the window for a verdict; fewer holds the release "
        "(nothing is rolled back) until `release advance` runs again. 0: judge whatever arrived.",
        allowed="an integer from 0 to 10000000", ge=0, le=10_000_000,
    )
    max_error_rate_increase: float = setting(
        0.005, description="Largest rise of the canary's error rate (target 5XX and connection errors per request) over "
        "the stable target group's, as a fraction (0.005 = half a percentage point).",
        allowed="a number from 0 to 1", ge=0, le=1,
    )
    max_p99_ratio: float = setting(
        1.25, description="Largest canary p99 TargetResponseTime as a multiple of the stable target group's (plus "
        "`p99SlackMs`).", allowed="a number from 1 to 100", ge=1, le=100,
    )
    p99_slack_ms: int = setting(
        10, description="Milliseconds the canary's p99 may exceed the ratio by (noise at low latencies).",
        allowed="an integer from 0 to 60000", ge=0, le=60_000,
    )

    @field_validator("bake_seconds", "check_interval_seconds")
    @classmethod
    def _whole_minutes(cls, value: int) -> int:
        if value % METRIC_MINUTE:
            raise problem(f"`{{key}}` must be a multiple of {METRIC_MINUTE} seconds (ALB metrics are per minute). Received: {value!r}")
        return value


class QualityGateSettings(Settings):
    """Offline quality: the candidate manifest's evaluation against the stable one's, same protocol."""

    metric: str = setting(
        "ndcg@10", description="Metric of the manifests' `metrics.model.all` compared (the model's, all held-out users).",
        allowed="ndcg@K, hit_rate@K or mrr", pattern=QUALITY_METRIC_PATTERN,
    )
    max_relative_drop: float = setting(
        0.02, description="Largest relative drop of the metric (0.02 = 2 %); a larger one, or metrics from another "
        "protocol, refuses the release unless `--accept-quality-drop` is given.",
        allowed="a number from 0 to 1", ge=0, le=1,
    )


class ReleaseSettings(Settings):
    """How `recsys-dr release` moves a candidate: standby first (golden requests), then the primary's canary shares."""

    canary_percents: list[int] = setting(
        default_factory=lambda: list(DEFAULT_CANARY_PERCENTS),
        description="Shares of the primary's traffic the candidate gets, one bake window each, ending at 100.",
        allowed="a strictly increasing list of 1 to 10 integers from 1 to 100 ending with 100",
    )
    golden: GoldenGateSettings = setting(default_factory=GoldenGateSettings, description="The golden-request gate.",
                                         allowed="an object")
    live: LiveGateSettings = setting(default_factory=LiveGateSettings, description="The live-signal gate.", allowed="an object")
    quality: QualityGateSettings = setting(default_factory=QualityGateSettings, description="The offline-quality gate.",
                                           allowed="an object")

    @field_validator("canary_percents")
    @classmethod
    def _steps(cls, value: list[int]) -> list[int]:
        increasing = all(a < b for a, b in zip(value, value[1:]))
        if not 1 <= len(value) <= 10 or not increasing or value[-1] != 100 or value[0] < 1:
            raise problem("`{key}` must be a strictly increasing list of 1 to 10 integers from 1 to 100 ending with 100. "
                          f"Received: {value!r}")
        return value

    @property
    def bake_total_seconds(self) -> int:
        """The primary's bake windows end to end: the least a release takes once it starts."""
        return self.live.bake_seconds * len(self.canary_percents)
