"""The component example of docs/components.md, taken from the page as it is and planned offline: it
must pass every guardrail, as a user's program would after pasting it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recsys_dr.review.plan import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "components.md"


def component_example() -> str:
    """The first Python block of the page."""
    return re.search(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S).group(1)


def test_the_example_is_the_top_level_component():
    assert "TwoRegionRecommender(" in component_example()


# A production stack name turns on the `*-prod` rules (policy/rules/core.py is_production).
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_docs_component_example_plans_with_no_violation(tmp_path, stack):
    program = tmp_path / "program"
    program.mkdir()
    (program / "__main__.py").write_text(component_example())
    (program / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    plan = render(stack, program_dir=program)
    assert plan.document["policy"]["violations"] == []
    # Only what is not pinned by content is reported (docs/security.md, "Images and charts"); no rollout or exposure warning.
    assert all(" is pinned by tag only " in w or w.startswith("Helm chart ") for w in plan.warnings), plan.warnings
    assert plan.of_type("aws:eks/cluster:Cluster") and plan.of_type("kubernetes:apps/v1:Deployment")
