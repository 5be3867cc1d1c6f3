"""Plans of the shipped environments with small mutations of their stack files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from recsys_dr.review.plan import Plan, render

from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM, REPO

STACKS = REPO / "stacks"


def mutated(env: str, folder: Path, change: Callable[[dict], None], *, source: Path = STACKS,
            program: Path | None = None) -> Plan:
    """Render `env` after `change(document)` edits its stack file (a copy in `folder`)."""
    document = yaml.safe_load((source / f"Pulumi.{env}.yaml").read_text())
    change(document)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"Pulumi.{env}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return render(env, program_dir=program, config_dir=folder)


def fixture_mutated(folder: Path, change: Callable[[dict], None]) -> Plan:
    return mutated("fixture", folder, change, source=FIXTURE_CONFIG, program=FIXTURE_PROGRAM)


def setting(document: dict, section: str) -> dict:
    """The `recsys-dr:<section>` mapping of a stack file (created when absent)."""
    return document["config"].setdefault(f"recsys-dr:{section}", {})
