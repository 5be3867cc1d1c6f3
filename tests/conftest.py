"""Session fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from review.mock_runtime import ProgramRun
from tests.support import ENVIRONMENTS, render_stack


@pytest.fixture(scope="session")
def rendered_stacks() -> dict[str, ProgramRun]:
    """Both shipped environments, rendered once per test session."""
    return {env: render_stack(env) for env in ENVIRONMENTS}
