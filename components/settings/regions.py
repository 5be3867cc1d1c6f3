"""`regions`: the primary/standby region pair."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from recsys_dr.components.settings.aws_limits import KNOWN_REGIONS, closed_set
from recsys_dr.components.settings.base import Settings, problem, setting

ROLES = ("primary", "standby")


def region_field(description: str):
    # The full list is in the validation message; the reference names the table.
    return setting(description=description, allowed="an AWS region with EKS (`aws_limits.KNOWN_REGIONS`), e.g. us-east-1")


class RegionPair(Settings):
    """The two regions; the standby must differ from the primary."""

    primary: str = region_field("Region that serves while healthy.")
    standby: str = region_field("Region that takes over when the primary fails; must differ from the primary.")

    @field_validator("primary", "standby")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in KNOWN_REGIONS:
            raise problem(f"`{{key}}` must be an AWS region with EKS, one of: {closed_set(KNOWN_REGIONS)}. Received: {value!r}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> RegionPair:
        if self.primary == self.standby:
            raise problem(
                "`{key}.standby` must differ from `{key}.primary`: a standby in the same region does not survive a "
                f"regional outage. Received: {{key}}.primary={self.primary}, {{key}}.standby={self.standby}"
            )
        return self

    def of(self, role: str) -> str:
        return self.primary if role == "primary" else self.standby
