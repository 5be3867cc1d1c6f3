"""`alarms`: where the DR alarms go and how late replication may be."""

from __future__ import annotations

from pydantic import field_validator

from recsys_dr.components.settings.aws_limits import SNS_ARN_PATTERN
from recsys_dr.components.settings.base import Settings, problem, setting
from recsys_dr.components.storage.defaults import REPLICATION_TIME_MINUTES


class AlarmSettings(Settings):
    """CloudWatch alarms on the failover health checks and on replication."""

    topic_arns: list[str] = setting(
        default_factory=list, description="SNS topics, one per alarm region: us-east-1 (health checks) and the primary (replication).",
        allowed="a list of SNS topic ARNs",
    )
    replication_latency_seconds: int = setting(
        REPLICATION_TIME_MINUTES * 60, description="Alarm when replication lags longer than this.",
        allowed="an integer from 60 to 86400 seconds", ge=60, le=86400,
    )

    @field_validator("topic_arns")
    @classmethod
    def _sns(cls, value: list[str]) -> list[str]:
        bad = [arn for arn in value if not SNS_ARN_PATTERN.match(arn)]
        if bad:
            raise problem(f"`{{key}}` must be a list of SNS topic ARNs (arn:aws:sns:<region>:<account>:<name>). Received: {bad}")
        return value

    def topic_regions(self) -> dict[str, str]:
        return {SNS_ARN_PATTERN.match(arn).group("region"): arn for arn in self.topic_arns}
