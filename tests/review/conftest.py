"""Shared fixtures: plans rendered once per session (rendering runs a whole program)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_dr.review.plan import Plan, render

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PROGRAM = FIXTURES / "program"
FIXTURE_CONFIG = FIXTURES / "config"
REPO = Path(__file__).resolve().parents[2]


def render_fixture(env: str) -> Plan:
    return render(env, program_dir=FIXTURE_PROGRAM, config_dir=FIXTURE_CONFIG)


@pytest.fixture(scope="session")
def fixture_plan() -> Plan:
    return render_fixture("fixture")


@pytest.fixture(scope="session")
def insecure_plan() -> Plan:
    return render_fixture("insecure")


@pytest.fixture(scope="session", params=["dev", "prod"])
def shipped_plan(request) -> Plan:
    return render(request.param)


def by_name(plan: Plan, type_token: str, name: str) -> dict:
    matches = [r for r in plan.of_type(type_token) if r["name"] == name]
    assert len(matches) == 1, f"expected one {type_token} named {name}, found {len(matches)}"
    return matches[0]
