"""Session fixtures shared by the whole suite.

Imports happen inside the fixtures: the policy-pack tests run in their own venv, where
`recsys_dr` is not installed (see tests/policy_pack/conftest.py).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def rendered_stacks() -> dict:
    """Both shipped environments, rendered once per test session: `{env: ProgramRun}`."""
    from tests.support import ENVIRONMENTS, render_stack

    return {env: render_stack(env) for env in ENVIRONMENTS}
