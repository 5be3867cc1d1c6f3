"""Session fixtures shared by the whole suite.

Imports happen inside the fixtures: the policy-pack tests run in their own venv, where
`recsys_dr` is not installed (see tests/policy_pack/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def unlinked_modules() -> list[Path]:
    """Modules of the checkout that the strict editable install (`make install`) has not linked.

    That install links each file once (setuptools "Development Mode", strict): a module added
    since is not importable until the next `make install`.
    """
    try:
        import recsys_dr
    except ImportError:  # the policy pack's venv
        return []
    missing = []
    for tree in (Path(p) for p in recsys_dr.__path__ if "__editable__." in p):
        for linked in (tree, *(d for d in tree.rglob("*") if d.is_dir())):
            if (linked / "__init__.py").is_symlink():
                source = (linked / "__init__.py").resolve().parent
                missing += [p for p in source.glob("*.py") if not (linked / p.name).exists()]
                missing += [d for d in source.iterdir() if (d / "__init__.py").is_file() and not (linked / d.name).is_dir()]
    return missing


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = unlinked_modules()
    if missing:
        pytest.exit(f"the editable install lacks {', '.join(map(str, missing))}: run `make install`", returncode=2)


@pytest.fixture(scope="session")
def rendered_stacks() -> dict:
    """Both shipped environments, rendered once per test session: `{env: ProgramRun}`."""
    from tests.support import ENVIRONMENTS, render_stack

    return {env: render_stack(env) for env in ENVIRONMENTS}
