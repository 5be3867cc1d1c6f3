"""Every install the Makefile and CI do is checked against hashed lock files (requirements/,
policy/requirements.lock), and the locks satisfy the ranges the project declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}")


def locked(path: Path) -> dict[str, tuple[Version, int]]:
    """`{name: (version, number of hashes)}` of a lock file written by `uv pip compile --generate-hashes`."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        if (match := PIN.match(line)) is not None:
            current = canonicalize_name(match.group(1))
            pins[current] = (Version(match.group(2)), 0)
        elif current is not None and HASH.match(line):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    return [Requirement(r) for r in project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]]


def lines_of(path: Path) -> list[Requirement]:
    return [Requirement(line) for line in path.read_text().splitlines() if line.strip() and not line.startswith(("#", "-r"))]


LOCKS = {
    "requirements/plan.lock": declared() + lines_of(ROOT / "requirements/tools.in"),
    "requirements/dev.lock": declared("model", "dev") + lines_of(ROOT / "requirements/tools.in") + lines_of(ROOT / "requirements/docs.in"),
    "requirements/data.lock": lines_of(ROOT / "requirements/data.in"),
    "policy/requirements.lock": lines_of(ROOT / "policy/requirements.txt"),
    "requirements/policy-test.lock": lines_of(ROOT / "policy/requirements.txt") + lines_of(ROOT / "requirements/policy-test.in"),
}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_declared_requirement_is_locked_within_its_range(lock):
    pins = locked(ROOT / lock)
    for requirement in LOCKS[lock]:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} lacks {requirement}: run `make lock`"
        assert pins[name][0] in requirement.specifier, f"{lock} pins {name}=={pins[name][0]}, outside {requirement}"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_hashes(lock):
    pins = locked(ROOT / lock)
    assert pins and all(hashes >= 1 for _, hashes in pins.values()), {n: h for n, (_, h) in pins.items() if h < 1}


def pip_installs() -> list[tuple[str, str]]:
    """(where, arguments) of every `pip install` in the Makefile and the workflows."""
    found = [("Makefile", line.split("pip install", 1)[1]) for line in (ROOT / "Makefile").read_text().splitlines()
             if "pip install" in line]
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                script = str(step.get("run", "")).replace("\\\n", " ")
                found += [(path.name, part.split("pip install", 1)[1]) for part in re.split(r"&&|\|\||;|\n", script)
                          if "pip install" in part]
    return found


def test_every_install_is_hashed_or_the_project_itself_without_dependencies():
    installs = pip_installs()
    assert len(installs) == 15  # every install was found (Makefile 4, workflows 11)
    for where, arguments in installs:
        words = arguments.split()
        hashed = "--require-hashes" in words and words[words.index("-r") + 1].endswith(".lock")
        project = {"--no-deps", "--no-build-isolation", "-e"} <= set(words)
        assert hashed or project, f"{where}: pip install{arguments}"
