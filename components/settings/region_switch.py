"""`regionSwitch`: the ARC Region switch plan used when `failoverControl` is `region-switch`."""

from __future__ import annotations

from recsys_dr.components.dns.region_switch import ROLE_ARN_PATTERN
from recsys_dr.components.settings.base import Settings, setting


class RegionSwitchSettings(Settings):
    """How the Region switch plan runs (ignored unless `failoverControl: region-switch`)."""

    approval_role_arn: str | None = setting(
        None, description="IAM role a human assumes to approve an execution; adds a ManualApproval step before anything "
        "changes. Default: none, the plan runs unattended once started.",
        allowed="an IAM role ARN such as arn:aws:iam::123456789012:role/oncall-approver", pattern=ROLE_ARN_PATTERN.pattern,
    )
    approval_timeout_minutes: int = setting(60, description="How long an execution waits for approval.",
                                            allowed="an integer from 1 to 1440 minutes", ge=1, le=1440)
    scaling_timeout_minutes: int = setting(
        30, description="Bound of the scaling step: GPU nodes from zero (pilot light) plus model download and load.",
        allowed="an integer from 5 to 240 minutes", ge=5, le=240,
    )
    recovery_time_objective_minutes: int | None = setting(
        None, description="The plan's RTO, shown beside each execution's measured recovery time. Default: none.",
        allowed="an integer from 1 to 1440 minutes", ge=1, le=1440,
    )
