"""`storage`: the replicated model buckets."""

from __future__ import annotations

from pydantic import field_validator

from recsys_dr.components.cluster.access import ROLE_ARN
from recsys_dr.components.settings.base import Settings, problem, setting

ROLE_ALLOWED = "an IAM role ARN such as arn:aws:iam::123456789012:role/model-release"
# S3 Object Lock default retention takes days (PutObjectLockConfiguration: DefaultRetention.Days).
MAX_LOCK_DAYS = 36500


class StorageSettings(Settings):
    """The model buckets of both regions (versioned, KMS-encrypted, replicated primary -> standby)."""

    force_destroy: bool = setting(False, description="Let `pulumi destroy` delete non-empty buckets (never in prod).",
                                  allowed="true or false")
    release_role_arn: str | None = setting(
        None, description="The only role that may write `models/` in the primary bucket (who publishes). None: nobody may.",
        allowed=ROLE_ALLOWED,
    )
    break_glass_role_arn: str | None = setting(
        None, description="The only role that may delete model versions, bypass their Object Lock, or disable and delete "
        "the model keys. None: nobody may until the policies change.", allowed=ROLE_ALLOWED,
    )
    object_lock_days: int = setting(
        365, description="Days each published object version stays locked (Object Lock, governance mode, both buckets).",
        allowed=f"an integer from 1 to {MAX_LOCK_DAYS}", ge=1, le=MAX_LOCK_DAYS, limit="a century of retention is no longer a lock",
    )
    audit_trail_name: str | None = setting(
        None, description="Create a CloudTrail trail of this name in each region, logging writes under `models/` and write "
        "management events (the key alarms need a trail). None: rely on an existing trail.",
        allowed="3-128 letters, digits, '.', '_', '-', starting with a letter or digit",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$",
    )

    @field_validator("release_role_arn", "break_glass_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_ARN.match(value):
            raise problem(f"`{{key}}` must be {ROLE_ALLOWED} (a role, not a user or session). Received: {value!r}")
        return value
