"""`recsys-dr plan` and `recsys-dr diff`.

Exit codes:
    plan: 0 rendered and no mandatory policy violation; 1 mandatory violation(s);
          2 configuration error (bad/missing stack file, rejected config); 3 the program failed.
          `--stack-file PATH` plans any stack file (a wheel install has no checkout to look in).
    check: 0 no mandatory violation by this installation's rules; 1 mandatory violation(s);
          2 the file is missing or not a plan.
    diff: 0 diff written; 1 with `--fail-on-stateful` when a stateful or expensive resource
          would be replaced or deleted, or with `--fail-on-hazard LEVEL` when a DR hazard of that
          severity or worse exists; 2 a plan file is missing or not a plan.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_POLICY = 1
EXIT_CONFIG = 2
EXIT_PROGRAM = 3
GRAPHS = ("dr-flow", "rto", "resources")


def register(subparsers: Any) -> None:
    """Add `plan` and `diff` to the `recsys-dr` sub-parsers."""
    plan = subparsers.add_parser(
        "plan",
        help="render an environment offline (no credentials, no backend) and check the policies",
        description="Run the Pulumi program (default: the installed recsys_dr.stacks) for Pulumi.<env>.yaml (or "
        "--stack-file) under Pulumi's mock runtime, write a deterministic JSON plan with its DR estimate (monthly "
        "cost, RTO, RPO, standby capacity) and print a summary with the policy results. Exit 0 ok, 1 mandatory "
        "policy violation, 2 configuration error, 3 program error.",
    )
    plan.add_argument("env", nargs="?", default=None,
                      help="environment: the <env> of Pulumi.<env>.yaml (e.g. dev, prod); "
                      "optional with --stack-file, whose name gives it")
    plan.add_argument("--out", default=None, metavar="PATH",
                      help="where to write the plan JSON (default: plan-<env>.json; '-' for stdout)")
    plan.add_argument("--program-dir", type=Path, default=None, metavar="DIR",
                      help="folder holding the program's __main__.py (default: the installed recsys_dr.stacks)")
    plan.add_argument("--config-dir", type=Path, default=None, metavar="DIR",
                      help="folder holding Pulumi.<env>.yaml (default: the program dir)")
    plan.add_argument("--stack-file", type=Path, default=None, metavar="PATH",
                      help="the stack file to plan (e.g. ./Pulumi.prod.yaml; the environment comes from its name "
                      "unless given); overrides --config-dir")
    plan.add_argument("--graph", choices=GRAPHS, default=None,
                      help="also draw the plan as Mermaid: dr-flow (clients, DNS, front doors, GPU/CPU pools, "
                      "replication), rto (the RTO budget's phases as a Gantt) or resources (components and "
                      "resources by region, with their dependencies); printed after the summary, or written to "
                      "--graph-out")
    plan.add_argument("--graph-out", default=None, metavar="PATH", help="write the --graph source here")
    plan.add_argument("--quiet", action="store_true", help="print no summary, only problems")
    plan.set_defaults(handler=handle_plan)

    check = subparsers.add_parser(
        "check",
        help="judge a plan file with this installation's policy rules (a plan another commit's code wrote)",
        description="Recompute the policy violations and the DR estimate of a plan file from its resources with "
        "this installation's rules, replacing what the plan says about itself: the pull-request workflows judge "
        "the head commit's plan with the base commit's code. Exit 0 no mandatory violation, 1 mandatory "
        "violation(s), 2 not a plan.",
    )
    check.add_argument("plan", type=Path, help="plan JSON to judge")
    check.add_argument("--out", default=None, metavar="PATH",
                       help="write the plan with the recomputed policy and estimate here")
    check.set_defaults(handler=handle_check)

    diff = subparsers.add_parser(
        "diff",
        help="compare two plans (added, removed, changed, replaced resources; DR hazards; cost and RTO change)",
        description="List resources added, removed and changed between two plan files as `pulumi preview` would "
        "(ignoreChanges honoured, values computed at deploy time shown as known after deploy, replacement order), "
        "led by the change's DR hazards and its cost/RTO effect. The markdown form is meant for a pull-request "
        "comment; json carries summary, changes, hazards and estimate.",
    )
    diff.add_argument("base", type=Path, help="plan JSON of the base commit")
    diff.add_argument("head", type=Path, help="plan JSON of the head commit")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                      help="text, markdown (a pull-request comment) or json (summary, changes, hazards, estimate)")
    diff.add_argument("--graph", action="store_true",
                      help="markdown: also append the head plan's resource graph (components, resources and their "
                      "dependencies), collapsed; the comment always shows the RTO budget and the DR flow")
    diff.add_argument("--out", default=None, metavar="PATH", help="write the diff here instead of stdout")
    diff.add_argument("--title", default=None, help="heading of the markdown form (default: 'recsys-dr plan')")
    diff.add_argument("--fail-on-hazard", choices=("high", "medium"), default=None, metavar="LEVEL",
                      help="exit 1 when the change has a DR hazard of this severity or worse (high, medium)")
    diff.add_argument("--fail-on-stateful", action="store_true",
                      help="exit 1 when a bucket, cluster, node group, KMS key or hosted zone would be replaced or deleted")
    diff.set_defaults(handler=handle_diff)


def _error(message: str) -> None:
    for line in message.splitlines() or [message]:
        print(f"recsys-dr: error: {line}", file=sys.stderr)


def handle_plan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from recsys_dr.review.plan import PlanError, render
    from recsys_dr.review.stackconfig import ConfigurationError

    from recsys_dr.review.stackconfig import env_from_stack_file

    try:
        if args.env is None:
            if args.stack_file is None:
                _error("give an environment (recsys-dr plan <env>) or a stack file (--stack-file Pulumi.<env>.yaml)")
                return EXIT_CONFIG
            args.env = env_from_stack_file(args.stack_file)
        plan = render(args.env, program_dir=args.program_dir, config_dir=args.config_dir, stack_file=args.stack_file)
    except ConfigurationError as error:
        if args.env is None:
            _error(error.problems[0])
            return EXIT_CONFIG
        _error(f"configuration of {args.env!r} is invalid ({len(error.problems)} problem"
               f"{'s' if len(error.problems) != 1 else ''}):")
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        for warning in getattr(error, "warnings", []):
            print(f"recsys-dr: warning: {warning}", file=sys.stderr)
        return EXIT_CONFIG
    except PlanError as error:
        _error(str(error))
        return EXIT_PROGRAM

    text = plan.to_json()
    out = args.out if args.out is not None else f"plan-{args.env}.json"
    to_stdout = out == "-"
    # rich sizes to the terminal (80 columns when redirected, or $COLUMNS) and drops colour when the
    # stream is not a terminal or NO_COLOR is set.
    console = Console(stderr=to_stdout)
    if to_stdout:
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")
    if not args.quiet:
        from recsys_dr.review.summary import print_summary

        print_summary(plan.document, console, warnings=plan.warnings)
        if not to_stdout:
            console.print(f"plan written to {out}")
    if args.graph:
        graph = _graph(plan.document, args.graph)
        if args.graph_out:
            Path(args.graph_out).write_text(graph, encoding="utf-8")
        elif to_stdout:
            sys.stderr.write(graph)
        else:
            sys.stdout.write(graph)
    mandatory = plan.mandatory_violations
    if mandatory:
        if args.quiet:
            for v in mandatory:
                _error(f"policy {v['rule']} on {(v['urn'] or '(stack)').split('::')[-1]}: {v['message']}")
        _error(f"{len(mandatory)} mandatory policy violation{'s' if len(mandatory) != 1 else ''}")
        return EXIT_POLICY
    return EXIT_OK


def _graph(document: dict[str, Any], kind: str) -> str:
    from recsys_dr.review.graph import mermaid
    from recsys_dr.review.pictures import plan_pictures

    return mermaid(document) if kind == "resources" else plan_pictures(document)[kind]


def _print_text(result: Any) -> None:
    """The text diff on stdout, wrapped to the terminal and coloured there (plain when redirected)."""
    from rich.console import Console
    from rich.text import Text

    from recsys_dr.review.diff_text import styled_lines

    console = Console(highlight=False)
    for line, style in styled_lines(result, width=console.width):
        console.print(Text(line, style=style or ""), soft_wrap=True)


def _load_plan(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read: {error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise ValueError(f"{path}: not a recsys-dr plan (no `resources` list)")
    return document


def handle_check(args: argparse.Namespace) -> int:
    from recsys_dr.review.plan import recheck, to_json

    try:
        document = recheck(_load_plan(args.plan))
    except ValueError as error:
        _error(str(error))
        return EXIT_CONFIG
    except (KeyError, TypeError, AttributeError) as error:  # a plan written by untrusted code may be any shape
        _error(f"{args.plan}: not a recsys-dr plan ({type(error).__name__}: {error})")
        return EXIT_CONFIG
    if args.out:
        Path(args.out).write_text(to_json(document), encoding="utf-8")
    policy = document["policy"]
    for v in policy["violations"]:
        print(f"{v['enforcement']}: policy {v['rule']} on {(v['urn'] or '(stack)').split('::')[-1]}: {v['message']}")
    print(f"{policy['mandatoryViolations']} mandatory and {policy['advisoryViolations']} advisory violations "
          f"({policy['pack']}, {len(policy['rules'])} rules)")
    return EXIT_POLICY if policy["mandatoryViolations"] else EXIT_OK


def handle_diff(args: argparse.Namespace) -> int:
    from recsys_dr.review.diff import diff_plans
    from recsys_dr.review.diff_json import render_json
    from recsys_dr.review.diff_markdown import render_markdown
    from recsys_dr.review.diff_text import render_text
    from recsys_dr.review.graph import mermaid
    from recsys_dr.review.pictures import plan_pictures

    try:
        base, head = _load_plan(args.base), _load_plan(args.head)
        result = diff_plans(base, head)
    except ValueError as error:
        _error(str(error))
        return EXIT_CONFIG
    if args.format == "markdown":
        # The pictures show the head as Pulumi would deploy it (the estimate the diff computed).
        pictures = plan_pictures({**head, "estimate": result.head_estimate})
        text = render_markdown(result, title=args.title, graph=mermaid(head) if args.graph else None,
                               rto=pictures["rto"], dr_flow=pictures["dr-flow"])
    elif args.format == "json":
        text = render_json(result)
    elif args.out:
        text = render_text(result)
    else:
        _print_text(result)
        text = None
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    elif text is not None:
        sys.stdout.write(text)
    failed = False
    if args.fail_on_stateful and result.dangerous:
        _error(f"{len(result.dangerous)} stateful or expensive resource(s) would be replaced or deleted")
        failed = True
    levels = {"high": ("high",), "medium": ("high", "medium")}.get(args.fail_on_hazard or "", ())
    hazards = [h for h in result.hazards if h["severity"] in levels]
    if hazards:
        _error(f"{len(hazards)} DR hazard(s) at {args.fail_on_hazard} or above: " + "; ".join(h["kind"] for h in hazards))
        failed = True
    return EXIT_POLICY if failed else EXIT_OK
