"""The README and the docs pages name only commands, flags and settings that exist, and speak to
their readers without first-person or process remarks.

Commands and flags come from the argparse parsers themselves (`recsys-dr`, `python -m
recsys_dr.model`, `python -m benchmarks.model_benchmark`, `python -m recsys_dr.stacks.reference`);
setting keys from the settings declaration (`TwoRegionRecommenderArgs`, camelCase as stack files
spell them, snake_case as Python callers do); stack-output keys from the outputs the shipped
stacks export.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from recsys_dr.components.settings import TwoRegionRecommenderArgs
from recsys_dr.components.settings.base import _model_of

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
# User-facing text that is history rather than reference: checked for first-person remarks only.
HISTORY = [ROOT / "CHANGELOG.md"]

# Flags of other tools that the pages quote (`pulumi`, the AWS CLI, pip, TF Serving, Cluster
# Autoscaler, zizmor, mkdocs, ...), each with its owner so a reader of this list can check it.
FOREIGN_FLAGS = {
    "--path": "pulumi config set", "--policy-pack": "pulumi preview", "--local": "pulumi login",
    "--inverted": "aws route53 update-health-check", "--no-inverted": "aws route53 update-health-check",
    "--health-check-id": "aws route53 update-health-check", "--region": "aws CLI",
    "--cluster-name": "aws eks", "--nodegroup-name": "aws eks", "--scaling-config": "aws eks",
    "--require-hashes": "pip install", "--no-deps": "pip install", "--no-build-isolation": "pip install",
    "--config-settings": "pip install", "--universal": "uv pip compile",
    "--port": "tensorflow_model_server", "--enable_batching": "tensorflow_model_server",
    "--batching_parameters_file": "tensorflow_model_server", "--rest_api_num_threads": "tensorflow_model_server",
    "--tensorflow_intra_op_parallelism": "tensorflow_model_server",
    "--tensorflow_inter_op_parallelism": "tensorflow_model_server", "--model_name": "tensorflow_model_server",
    "--max-node-provision-time": "cluster-autoscaler",
    "--offline": "zizmor", "--persona": "zizmor", "--no-config": "zizmor",
    "--strict": "mkdocs build", "--tags": "git ls-remote", "--json": "pulumi stack output",
    "--all": "pulumi state unprotect", "--refresh": "pulumi up",
    # Benchmarks that build their parser inside main(); test_benchmark_flags_exist reads their source.
    "--in-memory": "python -m benchmarks.stream_benchmark",
}
# Flags the pages name because the tools refuse them, with the reason the page gives.
REFUSED_FLAGS = {
    "--pseudonym-key": "a key on the command line shows in process lists; options are not abbreviated",
}


# ---------------------------------------------------------------------------------------- commands


@dataclass
class Command:
    """One parser: its flags and its sub-commands."""

    flags: set[str]
    children: dict[str, Command] = field(default_factory=dict)


def _command(parser: argparse.ArgumentParser, inherited: frozenset[str] = frozenset()) -> Command:
    flags = set(inherited)
    children: dict[str, Command] = {}
    for action in parser._actions:
        flags.update(o for o in action.option_strings if o.startswith("-"))
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                children[name] = sub
    # A sub-command inherits nothing but -h: argparse parses a parent's options before the sub-command.
    return Command(flags, {name: _command(sub, frozenset({"-h", "--help"})) for name, sub in children.items()})


@cache
def tools() -> dict[str, Command]:
    from benchmarks.model_benchmark import build_parser as benchmark_parser
    from recsys_dr.cli.main import build_parser as recsys_dr_parser
    from recsys_dr.model.cli import build_parser as model_parser
    from recsys_dr.stacks.reference import build_parser as reference_parser

    return {
        "recsys-dr": _command(recsys_dr_parser()),
        "python -m recsys_dr.model": _command(model_parser()),
        "python -m benchmarks.model_benchmark": _command(benchmark_parser()),
        "python -m recsys_dr.stacks.reference": _command(reference_parser()),
    }


def all_flags() -> set[str]:
    def walk(command: Command) -> set[str]:
        return command.flags.union(*(walk(c) for c in command.children.values()))

    return set().union(*(walk(c) for c in tools().values()))


CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
FENCE = re.compile(r"^(`{3,})(\w*)\n(.*?)^\1\s*$", re.S | re.M)
TOOL = re.compile(r"(?<![\w/.-])(?:\.venv/bin/)?(?:python3? -m recsys_dr\.model|python3? -m benchmarks\.model_benchmark"
                  r"|python3? -m recsys_dr\.stacks\.reference|recsys-dr)(?![\w.:/-])")
# Where a command starts: the line's (or code span's) beginning, after a prompt, environment
# assignments or a pipe; elsewhere the tool's name is prose ("so recsys-dr cannot move traffic").
COMMAND_START = re.compile(r"(?:^|&&|\|\||[|;])\s*(?:\$\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?=" + TOOL.pattern + ")")


def command_lines(text: str) -> list[str]:
    """Every command line that starts one of the tools: inline code spans, and the lines of code blocks
    (continuation lines joined)."""
    found = [span for span in CODE_SPAN.findall(FENCE.sub("", text)) if COMMAND_START.search(span)]
    for block in FENCE.finditer(text):
        if block.group(2) in ("json", "mermaid", "python", "yaml", "toml", "markdown"):
            continue
        for line in block.group(3).replace("\\\n", " ").splitlines():
            if COMMAND_START.search(line):
                found.append(line)
    return found


def _tokens(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in prose: words are enough
        return line.split()


def command_problems(line: str) -> list[str]:
    """What in one command line names a sub-command or flag its parser does not have."""
    start = COMMAND_START.search(line)
    assert start is not None
    match = TOOL.match(line, start.end())
    assert match is not None
    name = re.sub(r"^\.venv/bin/|^python3 ", lambda m: "python " if m.group(0) == "python3 " else "", match.group(0))
    command = tools()[name]
    words = _tokens(line[match.end():])
    problems: list[str] = []
    at_start = True
    for word in words:
        if word in ("|", "&&", ";", "||") or word.startswith((">", "<(")):
            break
        word = word.strip("[](),")
        if at_start and command.children and word and not word.startswith("-"):
            if word in command.children:
                command = command.children[word]
                continue
            alternatives = word.split("|")
            if all(a in command.children for a in alternatives):
                continue
            if not re.fullmatch(r"[a-z][a-z-]*", word):  # a placeholder (<command>, COMMAND, ...)
                at_start = False
                continue
            problems.append(f"`{line.strip()}`: no sub-command {word!r} (has: {', '.join(sorted(command.children))})")
            break
        at_start = False
        if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", word):
            flag = word.split("=", 1)[0]
            # A sub-command group's shared option (`recsys-dr release --tier fallback`): every sub-command has it.
            shared = set.intersection(*(c.flags for c in command.children.values())) if command.children else set()
            if flag not in command.flags | shared:
                problems.append(f"`{line.strip()}`: no flag {flag}")
    return problems


# ---------------------------------------------------------------------------------------- settings


def _paths(model: type[BaseModel], prefix: tuple[str, ...], python: bool) -> dict[tuple[str, ...], Any]:
    """`{path: annotation}` of every setting, by stack-file alias (or by Python name)."""
    paths: dict[tuple[str, ...], Any] = {}
    for name, info in model.model_fields.items():
        key = prefix + ((name if python else (info.alias or name)),)
        paths[key] = info.annotation
        sub = _model_of(info.annotation)
        if sub is not None:
            paths.update(_paths(sub, key, python))
    return paths


@cache
def setting_paths(python: bool) -> dict[tuple[str, ...], Any]:
    return _paths(TwoRegionRecommenderArgs, (), python)


TOP = {path[0] for path in setting_paths(False)} | {path[0] for path in setting_paths(True)}
SETTING_SPAN = re.compile(r"(?:recsys-dr:)?([a-z][A-Za-z0-9_]*(?:\.(?:[A-Za-z0-9_-]+|<[a-z-]+>))*)(?::\s.*)?")
FILE_SUFFIX = re.compile(r"\.(py|md|json|ya?ml|sh|txt|toml|lock|in|gz|pb|js|mmd)$")


def _walk(path: tuple[str, ...], tree: dict[Any, Any]) -> bool:
    node: Any = tree
    for segment in path:
        if not isinstance(node, dict):
            return False
        if segment.startswith("<"):  # a placeholder such as <role>: any key of this object
            if not node:
                return False
            candidates = list(node.values())
            return any(_walk(path[path.index(segment) + 1:], c) if isinstance(c, dict) else
                       path.index(segment) + 1 == len(path) for c in candidates)
        if segment not in node:
            return False
        node = node[segment]
    return True


def _tree(paths: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, annotation in paths.items():
        node = tree
        for segment in path[:-1]:
            node = node.setdefault(segment, {})
        node.setdefault(path[-1], {} if _model_of(annotation) is not None else "leaf")
    return tree


def _variants() -> list[tuple[str, dict[str, Any] | None]]:
    """The shipped stacks, prod under each other failover control (which exports its own keys;
    both refuse a fallback tier, so the variants have none), and prod with candidates pinned and training on."""
    variants: list[tuple[str, dict[str, Any] | None]] = [("dev", None), ("prod", None)]
    for control in ("arc", "region-switch"):
        document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
        document["config"]["recsys-dr:failoverControl"] = control
        document["config"].pop("recsys-dr:fallback", None)
        variants.append(("prod", document))
    # A release in progress: candidates pinned beside the stable versions (their keys are exported only then),
    # with the pools raised to hold maxReplicas + minReplicas + 1 pods as the stack requires.
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    config = document["config"]
    config["recsys-dr:model"]["candidate"] = {"version": 2, "manifestSha256": "c" * 64}
    config["recsys-dr:gpu"]["maxSize"] = 11
    config["recsys-dr:fallback"]["candidate"] = {"version": 2, "manifestSha256": "d" * 64}
    config["recsys-dr:fallback"]["maxSize"] = 6
    # ... and the opt-in training Job (its `training` output is exported only with it).
    config["recsys-dr:training"] = {"enabled": True, "image": "registry.example.com/recsys-train@sha256:" + "e" * 64,
                                    "interactions": "s3://shop-data/interactions/", "catalog": "s3://shop-data/catalog.csv",
                                    "pseudonymKeySecret": "pseudonym-key"}
    variants.append(("prod", document))
    return variants


@cache
def shipped(stack: str) -> dict[str, Any]:
    """The offline plan of a shipped stack (`recsys-dr plan <stack>`)."""
    from recsys_dr.review.plan import render

    return render(stack).document


@cache
def output_tree() -> dict[str, Any]:
    """The stack outputs of the shipped stacks, merged (what `pulumi stack output --json` prints)."""
    from recsys_dr.review.plan import render

    merged: dict[str, Any] = {}

    def merge(into: dict[str, Any], value: Any) -> None:
        for key, sub in value.items():
            if isinstance(sub, dict):
                if not isinstance(into.get(key), dict):  # null in one variant (no candidate), an object in another
                    into[key] = {}
                merge(into[key], sub)
            else:
                into.setdefault(key, "leaf")

    for stack, document in _variants():
        if document is None:
            merge(merged, shipped(stack)["outputs"])
            continue
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
            merge(merged, render(stack, config_dir=Path(folder)).document["outputs"])
    return merged


@cache
def manifest_serving_keys() -> set[str]:
    """The `serving` facts an exported version's manifest records (`serving.max_batch`, ...): the keys of the
    dict each exporter's `_serving_metadata` returns (the main version's and the fallback version's)."""
    keys: set[str] = set()
    for exporter in ("export.py", "fallback.py"):
        tree = ast.parse((ROOT / "model" / exporter).read_text(encoding="utf-8"))
        functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "_serving_metadata"]
        returned = [node.value for f in functions for node in ast.walk(f) if isinstance(node, ast.Return)]
        assert len(returned) == 1 and isinstance(returned[0], ast.Dict), \
            f"model/{exporter} no longer returns its `serving` block from _serving_metadata: update this test"
        keys |= {f"serving.{key.value}" for key in returned[0].keys if isinstance(key, ast.Constant)}
    return keys


@cache
def status_check_names() -> set[str]:
    """The names `recsys-dr status` gives its checks (`model.parity`, `dns.records`, ...), from its source."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "operations").rglob("*.py"))
    return set(re.findall(r"\bname\s*=\s*\"([a-z]+(?:\.[a-z]+)+)\"", source))


def _is_python_name(dotted: str) -> bool:
    """`model.verify.verify_remote` and the like: a module or attribute under `recsys_dr`."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module("recsys_dr." + ".".join(parts[:cut]))
        except ImportError:
            continue
        target: Any = module
        for attr in parts[cut:]:
            if not hasattr(target, attr):
                return False
            target = getattr(target, attr)
        return True
    return False


def setting_problem(span: str) -> str | None:
    """Why a backticked `section.key` names no setting (None when it names one, or is not a key)."""
    match = SETTING_SPAN.fullmatch(span)
    if match is None or FILE_SUFFIX.search(match.group(1)):
        return None
    path = tuple(match.group(1).split("."))
    if path[0] not in TOP or (len(path) == 1 and not span.startswith("recsys-dr:")):
        return None
    if _walk(path, _tree(setting_paths(False))) or _walk(path, _tree(setting_paths(True))):
        return None
    if _walk(path, output_tree()) or _is_python_name(match.group(1)):
        return None
    if match.group(1) in status_check_names() | manifest_serving_keys():
        return None
    return f"`{span}` is neither a setting, a stack output, a status check, a manifest field nor a recsys_dr name"


# ---------------------------------------------------------------------------------------- the checks


def _spans(text: str) -> list[str]:
    return CODE_SPAN.findall(FENCE.sub("", text))


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_relative)
def test_every_command_and_flag_a_page_names_exists(page):
    problems = [p for line in command_lines(page.read_text(encoding="utf-8")) for p in command_problems(line)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=_relative)
def test_every_flag_named_on_its_own_exists(page):
    known = all_flags() | set(FOREIGN_FLAGS) | set(REFUSED_FLAGS)
    flags = {m.group(1) for span in _spans(page.read_text(encoding="utf-8")) if not TOOL.search(span)
             for m in re.finditer(r"(?<![\w-])(--[A-Za-z][\w-]*)", span)}
    assert sorted(flags - known) == []


@pytest.mark.parametrize("page", PAGES, ids=_relative)
def test_every_setting_a_page_names_exists(page):
    problems = [p for span in _spans(page.read_text(encoding="utf-8")) if (p := setting_problem(span))]
    assert problems == [], "\n".join(problems)


# Words a page says to its reader about the writer, or about how the work was done.
FIRST_PERSON = re.compile(r"(?<![\w'-])(I|I'm|I've|I'd|[Ww]e|[Ww]e're|[Ww]e've|[Oo]ur|[Oo]urs|[Mm]y|[Uu]s)(?![\w'-])")
PROCESS = re.compile(r"\b(this|previous|last|earlier) session\b|\bsessions? ago\b|\b[Ii]ssue \d+\b|\bthe brief\b"
                     r"|\bcould not fetch\b|\bno AWS account was available\b|\bas I remember\b", re.I)


@pytest.mark.parametrize("page", PAGES + HISTORY, ids=_relative)
def test_no_first_person_or_process_remarks(page):
    found = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        for match in (*FIRST_PERSON.finditer(line), *PROCESS.finditer(line)):
            found.append(f"{_relative(page)}:{number}: {match.group(0)!r} in {line.strip()[:100]!r}")
    assert found == [], "\n".join(found)


def _dollars(value: float) -> str:
    return f"${value:,.2f}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_readme_cost_table_is_what_the_plan_estimates(stack):
    from recsys_dr.review.prices import PRICES_AS_OF

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    estimate = shipped(stack)["estimate"]
    cost, rto = estimate["monthlyCostUsd"], estimate["rtoSeconds"]
    row = next((line for line in readme.splitlines() if line.startswith(f"| `{stack}` |")), None)
    assert row is not None, f"the README's cost table has no `{stack}` row"
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:5] == [_dollars(cost["primary"]), _dollars(cost["standby"]), _dollars(cost["global"]),
                          f"**{_dollars(cost['total'])}**"]
    assert cells[5].startswith(f"{rto['total']:,} s")
    assert f"{stack} {_dollars(cost['fallback'])}" in readme  # the fallback tier's share of the standby figure
    assert f"list prices of {PRICES_AS_OF}" in readme


def _anchors(page: Path) -> set[str]:
    """The heading anchors MkDocs gives a page (Python-Markdown's toc slugs)."""
    from markdown.extensions.toc import slugify

    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slugify(re.sub(r"[`*]", "", m.group(1)), "-") for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def test_every_link_of_the_readme_leads_somewhere():
    # MkDocs checks the links between pages (`mkdocs build --strict`); the README is not a page.
    readme = ROOT / "README.md"
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", readme.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (ROOT / path) if path else readme
        if not file.exists():
            problems.append(f"{target}: no file {path}")
        elif anchor and anchor not in _anchors(file):
            problems.append(f"{target}: no heading #{anchor} in {path or 'README.md'}")
    assert problems == []


def _key_paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for key, value in tree.items():
        found.add(prefix + (key,))
        if isinstance(value, dict):
            found |= _key_paths(value, prefix + (key,))
    return found


def test_the_documented_stack_outputs_are_the_exported_ones():
    import json

    page = (DOCS / "reference" / "outputs.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", page, re.S)
    assert block is not None
    sample = json.loads(block.group(1))
    sample["regions"]["standby"] = sample["regions"]["primary"]  # {"…": "the same keys"}
    documented = _key_paths(sample)
    exported = _key_paths(output_tree())
    # modelArtifact and modelEvaluations are exported only with model.artifactDir, a directory `model build` wrote.
    only_with_an_artifact = {p for p in documented if p[0] in ("modelArtifact", "modelEvaluations")}
    assert sorted(exported - documented) == [], "exported but not documented"
    assert sorted(documented - exported - only_with_an_artifact) == [], "documented but not exported"


# ---------------------------------------------------------------------------------------- the checker itself


def test_the_checks_catch_a_wrong_command_flag_or_setting():
    assert command_problems("recsys-dr failover --to standby --dry-run") == []
    assert command_problems("recsys-dr sandbox up --stack prod") == []
    assert command_problems("python -m recsys_dr.model build --out artifacts --version 1") == []
    assert command_problems("recsys-dr rollback --to standby")  # no such sub-command
    assert command_problems("recsys-dr status --dry-run")  # a flag of another sub-command
    assert command_problems("recsys-dr release --tier fallback") == []  # every release sub-command has it
    assert command_problems("recsys-dr release --one-step")  # only start and advance have it
    assert command_problems("python -m recsys_dr.model build --pseudonym-key x")  # refused on purpose
    assert not set(REFUSED_FLAGS) & all_flags()  # still refused
    assert setting_problem("gpu.capacityReservations.standby") is None
    assert setting_problem("gpu.capacityReservations.<role>") is None
    assert setting_problem("gpu.max_size") is None  # as Python callers spell it
    assert setting_problem("regions.standby.serving") is None  # a stack output
    assert setting_problem("gpu.maxSzie") is not None
    assert setting_problem("recsys-dr:serving.allowedCidr") is not None
    assert setting_problem("dns.ttl: 30") is None
    assert setting_problem("regionSwitch.planArn") is None  # exported with failoverControl: region-switch
    assert setting_problem("model.parity") is None  # a status check
    assert setting_problem("serving.max_batch") is None  # a manifest field
    assert setting_problem("serving.max_batches") is not None
    assert FIRST_PERSON.search("then we scale") and FIRST_PERSON.search("I could not") and not FIRST_PERSON.search("us-east-1")


def test_the_component_api_page_documents_every_component_and_settings_class():
    import importlib
    import inspect
    import pkgutil

    import pulumi

    import recsys_dr.components as components
    from recsys_dr.components.settings.base import Settings

    page = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: (\S+)$", page, re.M))
    public = set()
    for module in pkgutil.walk_packages(components.__path__, "recsys_dr.components."):
        for name, value in vars(importlib.import_module(module.name)).items():
            if (inspect.isclass(value) and value.__module__ == module.name and not name.startswith("_")
                    and issubclass(value, (pulumi.ComponentResource, Settings)) and value is not Settings):
                public.add(f"{module.name}.{name}")
    assert sorted(public - documented) == []


def test_benchmark_flags_exist():
    for flag, owner in FOREIGN_FLAGS.items():
        if owner.startswith("python -m benchmarks."):
            module = owner.removeprefix("python -m ").replace(".", "/") + ".py"
            assert f'"{flag}"' in (ROOT / module).read_text(encoding="utf-8"), f"{module} has no {flag}"
