"""The README's component example ("Use the components in your own Pulumi project"), taken from the
README as it is and planned offline: it must pass every guardrail, as a user's program would
after pasting it."""

from __future__ import annotations

import re

import pytest

from recsys_dr.review.plan import render

from .readme_samples import README


def component_example() -> str:
    """The first Python block under the README heading "Use the components in your own Pulumi project"."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Use the components in your own Pulumi project"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_example_is_the_top_level_component():
    assert "TwoRegionRecommender(" in component_example()


# A production stack name turns on the `*-prod` rules (policy/rules/core.py is_production).
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_readme_component_example_plans_with_no_violation(tmp_path, stack):
    program = tmp_path / "program"
    program.mkdir()
    (program / "__main__.py").write_text(component_example())
    (program / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    plan = render(stack, program_dir=program)
    assert plan.document["policy"]["violations"] == []
    # Only what is not pinned by content is reported (README "Images and charts"); no rollout or exposure warning.
    assert all(" is pinned by tag only " in w or w.startswith("Helm chart ") for w in plan.warnings), plan.warnings
    assert plan.of_type("aws:eks/cluster:Cluster") and plan.of_type("kubernetes:apps/v1:Deployment")
