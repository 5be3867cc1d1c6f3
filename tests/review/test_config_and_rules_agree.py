"""Configuration and mandatory rules tell one story: a stack file the configuration accepts plans
with no mandatory violation (so a value is never only warned about while the plan blocks on it),
and whatever the rules block is refused up front, naming the key."""

from __future__ import annotations

import pytest

from recsys_dr.review.plan import ConfigurationError

from .shipped import mutated, setting

OPEN_HALVES = ["0.0.0.0/1", "128.0.0.0/1"]

# (env, section, key, value, refused): each exposure-related value a user might write; None removes the key.
VARIANTS = [
    ("dev", "serving", "allowedCidrs", None, True),  # internet-facing with no ranges
    ("dev", "serving", "allowedCidrs", OPEN_HALVES, True),
    ("dev", "serving", "allowedCidrs", ["1.0.0.0/10"], True),
    ("dev", "serving", "allowedCidrs", ["1.0.0.0/11"], False),
    ("dev", "serving", "exposure", "internal", False),
    ("dev", "cluster", "publicAccessCidrs", None, False),  # no public API endpoint
    ("dev", "cluster", "publicAccessCidrs", ["0.0.0.0/0"], True),
    ("dev", "cluster", "publicAccessCidrs", OPEN_HALVES, True),
    ("dev", "cluster", "publicAccessCidrs", ["8.8.8.8/32"], False),
    ("prod", "serving", "allowedCidrs", OPEN_HALVES, True),
    ("prod", "cluster", "publicAccessCidrs", ["8.8.8.8/32"], True),
    ("prod", "cluster", "publicAccessCidrs", ["203.0.113.0/24"], False),  # documentation range: no public address
]


@pytest.mark.parametrize(("env", "section", "key", "value", "refused"), VARIANTS)
def test_accepted_configuration_plans_without_a_mandatory_violation(tmp_path, env, section, key, value, refused):
    def change(document: dict) -> None:
        values = setting(document, section)
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        if (section, key) == ("serving", "exposure"):
            setting(document, "dns").pop("failoverBudgetTarget", None)  # the alarm-based budget is longer

    try:
        plan = mutated(env, tmp_path, change)
    except ConfigurationError as error:
        assert refused, error.problems
        assert any(f"`recsys-dr:{section}." in problem for problem in error.problems), error.problems
        return
    assert not refused
    assert plan.mandatory_violations == [], plan.warnings
