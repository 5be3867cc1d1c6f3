"""The README is a front page a newcomer reads in ten minutes (issue 24 item 1): at most 300 lines,
with what it does and for whom, one architecture picture, the offline try, the two set-up commands, a
deploy checklist naming every example value of the shipped stack files, a teardown section and links
to every docs page. What it checks against the code (commands, flags, settings, the cost table, its
links) is in test_docs_names.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_LINES = 300
# Values the shipped stack files carry as placeholders: documentation address ranges (RFC 5737),
# the documentation account id, example.com names, ids marked EXAMPLE; the pinned digests are examples
# until a version is published.
EXAMPLE = re.compile(r"EXAMPLE|example\.com|123456789012|203\.0\.113\.|198\.51\.100\.|192\.0\.2\.")


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_the_readme_stays_at_most_300_lines():
    lines = _readme().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; move detail to a docs page"


def test_the_readme_has_what_a_newcomer_needs():
    text = _readme()
    assert text.count("```mermaid") == 1  # one architecture picture
    assert "| you are | you use | start at |" in text  # for whom
    setup = _section(text, "Set-up: two commands")
    assert "make demo" in setup and "make test" in setup
    assert "make demo" in _section(text, "Try it offline")
    checklist = _section(text, "Deploy checklist")
    assert "pulumi up" in checklist and "waits for" in checklist and "total / month" in checklist
    teardown = _section(text, "Teardown")
    for topic in ("protect", "Object Lock", "Break-glass", "pulumi destroy"):
        assert topic in teardown, f"the teardown section does not cover {topic}"


def _leaves(value: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for key, sub in value.items() for leaf in _leaves(sub, path + (key,))]
    if isinstance(value, list):
        return [leaf for sub in value for leaf in _leaves(sub, path)]
    return [(path, value)]


def test_the_deploy_checklist_names_every_example_value_of_the_shipped_stacks():
    checklist = _section(_readme(), "Deploy checklist")
    listed = set(re.findall(r"^\| `([\w.]+)`", checklist, re.M))
    missing = set()
    for stack in ("dev", "prod"):
        config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
        for (namespaced, *rest), value in _leaves(config, ()):
            key = ".".join([namespaced.split(":", 1)[1], *rest])
            if EXAMPLE.search(str(value)) or key.endswith("manifestSha256"):
                if not any(key == name or key.startswith(name + ".") for name in listed):
                    missing.add(f"{stack}: {key} = {value}")
    assert sorted(missing) == []


def test_the_readme_links_every_docs_page():
    nav = yaml.safe_load(re.sub(r"!!python/name:\S+", "''", (ROOT / "mkdocs.yml").read_text(encoding="utf-8")))["nav"]

    def pages(entries: list[Any]) -> list[str]:
        found = []
        for entry in entries:
            for value in entry.values():
                found += pages(value) if isinstance(value, list) else [value]
        return found

    # The home page repeats the README; the changelog page includes CHANGELOG.md, which the README links.
    wanted = {f"docs/{page}" for page in pages(nav)} - {"docs/index.md", "docs/changelog.md"}
    linked = set(re.findall(r"\]\((docs/[^)#\s]+)", _readme()))
    assert sorted(wanted - linked) == []
    assert "](CHANGELOG.md)" in _readme()
