"""On-demand AWS prices the DR estimate uses (USD), per region, with the assumptions it states.

The table is data: `prices.json` beside this module, with its date (`pricesAsOf`), the page each
rate was read from (`sources`) and notes on what was not re-read. No price API is called at plan
time: the plan must run offline and stay reproducible.

Every region the settings accept (`aws_limits.KNOWN_REGIONS`) is looked up the same way: a rate
AWS publishes once for all regions (`allRegions`), else the region's rate card. `rate()` returns
None where the table has no figure; the estimate then lists the item as unpriced and its total is
a lower bound. No rate is ever zero (a test holds that for every accepted region).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from recsys_dr.components.settings.aws_limits import KNOWN_REGIONS

_TABLE: dict[str, Any] = json.loads(resources.files(__package__).joinpath("prices.json").read_text(encoding="utf-8"))

PRICES_AS_OF: str = _TABLE["pricesAsOf"]
SOURCE = ("AWS public price pages (EC2 On-Demand Linux, EKS, VPC, ELB, WAF, Route 53, ARC, S3 RTC, KMS, "
          "CloudWatch), read on " + PRICES_AS_OF)
SOURCES: dict[str, str] = _TABLE["sources"]
HOURS_PER_MONTH: int = _TABLE["hoursPerMonth"]
ALL_REGIONS: dict[str, float] = _TABLE["allRegions"]
GLOBAL: dict[str, float] = _TABLE["global"]
GPU_COUNT: dict[str, int] = _TABLE["instanceGpus"]
ASSUMPTIONS: dict[str, Any] = _TABLE["assumptions"]

# region -> its rate card (regions without one are absent); `instanceHour` maps instance type -> USD/hour.
REGIONS: dict[str, dict[str, Any]] = {region: _TABLE["rateCards"][card] for region, card in _TABLE["regions"].items()}


def rate(region: str, key: str) -> float | None:
    """USD per unit of `key` in `region`, or None when the table has no figure for it there."""
    if region not in KNOWN_REGIONS:
        return None
    if key in ALL_REGIONS:
        return ALL_REGIONS[key]
    return (REGIONS.get(region) or {}).get(key)


def instance_rate(region: str, instance_type: str) -> float | None:
    """USD per hour of an On-Demand Linux `instance_type` in `region`, or None when not in the table."""
    return ((REGIONS.get(region) or {}).get("instanceHour") or {}).get(instance_type)


def instance_gpus(instance_type: str) -> int | None:
    """NVIDIA GPUs of `instance_type`, or None when the table does not know the type."""
    return GPU_COUNT.get(instance_type)
