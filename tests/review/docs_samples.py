"""The plan/diff samples of docs/reviewing.md, produced by the commands themselves on the fixture program.

The fixture program (tests/review/fixtures/program) is stable, so the samples do not drift
when the real `stacks/` program grows. `test_docs_samples.py` fails when the page differs;
refresh it with `.venv/bin/python -m tests.review.docs_samples` (rewrites only the text between
`<!-- sample:NAME -->` and `<!-- /sample -->`).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
PROGRAM, CONFIG = FIXTURES / "program", FIXTURES / "config"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "reviewing.md"
FIXTURE_ARGS = ["--program-dir", str(PROGRAM), "--config-dir", str(CONFIG)]
# A pull request against the fixture: GPU type g5 -> g6 in both regions, DNS TTL 30 s -> 45 s.
HEAD_CHANGE = {"recsys-dr:gpu": {"instanceType": "g6.xlarge"}}
HEAD_TTL = 45


def _run(argv: list[str], cwd: Path) -> str:
    from recsys_dr.cli.main import main

    out = io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out):
            code = main(argv)
    finally:
        os.chdir(previous)
    if code not in (0, 1):
        raise RuntimeError(f"recsys-dr {' '.join(argv)} exited {code}")
    return out.getvalue()


POLICY_ELIDED = "… (policy results: see “Policy pack” below; its rule count changes with the pack)"


def _without_policy(text: str) -> str:
    """The sample without the policy pack's results, which change whenever a rule is added."""
    lines, out, skipping = text.splitlines(), [], False
    for line in lines:
        if line.startswith(("Policy pack ", "Policy (", "**Policy** (")):
            out.append(POLICY_ELIDED)
            skipping = line.startswith("Policy pack ")
            continue
        if skipping:  # the violations under the policy line are indented
            skipping = line.startswith(" ")
            if skipping:
                continue
        out.append(line)
    return "\n".join(out) + "\n"


def samples() -> dict[str, str]:
    """`{name: text}` of every sample on the page."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        summary = _run(["plan", "fixture", *FIXTURE_ARGS, "--out", "plan-fixture.json"], work)
        head_config = work / "head"
        head_config.mkdir()
        document = yaml.safe_load((CONFIG / "Pulumi.fixture.yaml").read_text())
        document["config"].update(HEAD_CHANGE)
        document["config"]["recsys-dr:dns"]["ttl"] = HEAD_TTL
        (head_config / "Pulumi.fixture.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
        _run(["plan", "fixture", "--program-dir", str(PROGRAM), "--config-dir", str(head_config),
              "--out", "head.json", "--quiet"], work)
        comment = _run(["diff", "plan-fixture.json", "head.json", "--format", "markdown",
                        "--title", "recsys-dr plan (fixture)"], work)
        text = _run(["diff", "plan-fixture.json", "head.json"], work)
        graph = _run(["plan", "fixture", *FIXTURE_ARGS, "--out", "again.json", "--quiet", "--graph", "dr-flow"], work)
    summary = "\n".join(line.rstrip() for line in summary.splitlines())
    return {
        "plan-summary": "```text\n$ recsys-dr plan fixture\n" + _without_policy(summary) + "```",
        "diff-text": "```text\n$ recsys-dr diff plan-fixture.json head.json\n" + _without_policy(text) + "```",
        "pr-comment": "````markdown\n" + _without_policy(comment) + "````",
        "graph": "```mermaid\n" + graph + "```",
    }


_BLOCK = re.compile(r"(<!-- sample:([a-z-]+) -->\n)(.*?)(\n<!-- /sample -->)", re.S)


def page_blocks(text: str) -> dict[str, str]:
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}


def rewrite(text: str, new: dict[str, str]) -> str:
    return _BLOCK.sub(lambda m: m.group(1) + new.get(m.group(2), m.group(3)) + m.group(4), text)


if __name__ == "__main__":
    PAGE.write_text(rewrite(PAGE.read_text(encoding="utf-8"), samples()), encoding="utf-8")
