"""argparse registration of `recsys-dr status`, `failover`, `drill` (and `release`, in `operations.release.cli`).

Every command reads the stack outputs from `--outputs FILE` or standard input:

    pulumi stack output --json -s prod > prod-outputs.json      # keep a copy for outages
    recsys-dr status --outputs prod-outputs.json
    pulumi stack output --json -s prod | recsys-dr status --json

boto3 and rich are imported inside the handlers so `recsys-dr --help` stays instant.

Every handler ends in a report or one line on stderr and an exit code, never a traceback
(`guarded`): what the checks cannot answer they report as findings; anything else that escapes
(a bug, an answer no check expected) is one line and exit 1; Ctrl-C is one line and exit 130.
`RECSYS_DR_DEBUG=1` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Any, Callable

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
DEBUG_VARIABLE = "RECSYS_DR_DEBUG"
_AFTER_INTERRUPT = {
    "failover": "; what it changed before the interrupt stays changed: see `recsys-dr status`",
    "drill": " before traffic moved; if the standby was being activated, `recsys-dr failover --to primary` "
             "puts it back at rest",
}


def guarded(handler: Callable[..., int]) -> Callable[..., int]:
    """Run a command handler so it ends in one line and an exit code (see the module docstring)."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, **kwargs: Any) -> int:
        from recsys_dr.operations.errors import error_text

        try:
            return handler(args, **kwargs)
        except KeyboardInterrupt:
            print(f"recsys-dr {args.command}: interrupted{_AFTER_INTERRUPT.get(args.command, '')}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # stdout closed early (`| head`): nobody is reading the rest
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_FAILED
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            print(f"recsys-dr {args.command}: stopped by an unexpected error: {error_text(exc)} "
                  f"({DEBUG_VARIABLE}=1 shows where)", file=sys.stderr)
            return EXIT_FAILED

    return run


def positive_seconds(text: str) -> float:
    """argparse type: a finite number > 0 (float() alone takes 'nan' and 'inf')."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds. Received: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0. Received: {text!r}")
    return value


def non_negative_seconds(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0.0") else positive_seconds(text)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1. Received: {text!r}")
    return int(text)


def endpoint_url(text: str) -> str:
    """argparse type: http(s)://host[:port] with a host (an empty host would send calls nowhere useful)."""
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be http(s)://host[:port]. Received: {text!r}")
    try:
        parts.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"has an invalid port. Received: {text!r}") from None
    return text


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--outputs", metavar="FILE", default=None,
                        help="stack outputs JSON from `pulumi stack output --json -s <env>`; "
                             "default: standard input")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--require-warm", action="store_true",
                        help="fail when the standby is pilot-light (GPU pool not running)")
    parser.add_argument("--endpoint-url", default=None, type=endpoint_url,
                        help="send S3/EKS/CloudWatch/Route 53 calls to this endpoint (moto_server in "
                             "tests); ARC calls always use the cluster endpoints")
    parser.add_argument("--profile", default=None, help="AWS profile for boto3")
    parser.add_argument("--http-timeout", type=positive_seconds, default=5.0, metavar="S",
                        help="seconds per serving-endpoint request (default 5)")
    parser.add_argument("--aws-timeout", type=positive_seconds, default=10.0, metavar="S",
                        help="read timeout per AWS call (default 10; connect timeout 3, 3 attempts)")


def _activation(parser: argparse.ArgumentParser, *, drain_help: str) -> None:
    """The standby activation and restore options `failover` and `drill` share."""
    parser.add_argument("--replicas", type=positive_int, default=None, metavar="N",
                        help="pods the standby must run (default: the primary's current count)")
    parser.add_argument("--activation-timeout", type=positive_seconds, default=900.0, metavar="S",
                        help="max seconds for GPU nodes, pods and the health check (default 900)")
    parser.add_argument("--drain-seconds", type=non_negative_seconds, default=None, metavar="S", help=drain_help)


def register(subparsers: Any) -> None:
    """Add `status`, `failover`, `drill` and `train` to the `recsys-dr` sub-parsers."""
    status = subparsers.add_parser(
        "status", help="can the standby take traffic now? (exit 0 only if yes)",
        description="One report: model parity, replication, health checks, serving, capacity, budget. "
                    "Exit 0 only when the standby could take traffic now; 1 with the reasons otherwise; "
                    "2 on bad input.")
    _common(status)
    status.add_argument("--target", choices=("standby", "primary"), default="standby",
                        help="region whose readiness decides the exit code (default standby; "
                             "`primary` before a fail-back)")
    status.set_defaults(handler=handle_status)

    failover = subparsers.add_parser(
        "failover", help="activate the standby and move traffic to it, or back to the primary",
        description="--to standby: scale the standby to the primary's replica count (GPU node group, ScaledObject, "
                    "Deployment), wait until it is ready, then move traffic (ARC routing controls, a Region "
                    "switch plan, or Route 53 on its own). --to primary: move traffic back, then put the standby "
                    "back at rest. Exit codes: 0 switched/already/dry-run ok, 1 refused (target fails checks or "
                    "did not become ready; --force), 2 bad input, 3 traffic cannot be moved by this tool in a "
                    "health-check environment (prints the manual steps), 4 ARC / Region switch refused or "
                    "unreachable.")
    _common(failover)
    failover.add_argument("--to", required=True, choices=("standby", "primary"), dest="to")
    failover.add_argument("--force", action="store_true", help="fail over although the target fails its checks")
    failover.add_argument("--dry-run", action="store_true", help="check and show the change, change nothing")
    failover.add_argument("--execution-timeout", type=positive_seconds, default=3600.0, metavar="S",
                          help="region-switch: max seconds to follow the plan execution (default 3600)")
    failover.add_argument("--ungraceful", action="store_true",
                          help="region-switch: the Region being left is impaired; run the plan ungracefully")
    failover.add_argument("--poll-interval", type=positive_seconds, default=10.0, metavar="S",
                          help="seconds between progress polls (default 10)")
    _activation(failover, drain_help="--to primary: keep the standby serving this long after traffic left it, before "
                                     "scaling it down (default: the record TTL)")
    failover.set_defaults(handler=handle_failover)

    drill = subparsers.add_parser(
        "drill", help="bounded game day: fail over to the standby, measure, fail back",
        description="Exit codes: 0 passed, 1 failed/aborted (failed back), 2 bad input, 3 no way to move "
                    "traffic (health-check environment without --via-health-check-inversion), "
                    "5 fail-back NOT confirmed (act now), 130 interrupted (after failing back).")
    _common(drill)
    drill.add_argument("--confirm", required=True, metavar="ENV",
                       help="the environment name from the outputs, to confirm the drill target")
    drill.add_argument("--timeout", type=positive_seconds, default=300.0, metavar="S",
                       help="max seconds for the standby to answer after the flip (default 300)")
    drill.add_argument("--failback-timeout", type=positive_seconds, default=300.0, metavar="S",
                       help="max seconds for the fail-back (default 300)")
    drill.add_argument("--poll-interval", type=positive_seconds, default=5.0, metavar="S", help="default 5")
    drill.add_argument("--hold", type=non_negative_seconds, default=0.0, metavar="S",
                       help="seconds to keep traffic on the standby once it answers (default 0)")
    _activation(drill, drain_help="keep the standby serving this long after the fail-back before scaling it down "
                                  "(default: the record TTL)")
    drill.add_argument("--via-health-check-inversion", action="store_true",
                       help="health-check environments only: move traffic by inverting the primary's Route 53 "
                            "health check for the drill (restored on fail-back); measures the automatic path")
    drill.add_argument("--scenario", choices=("standby", "gpu-tiers-down"), default="standby",
                       help="standby (default): fail over to the standby GPU tier; gpu-tiers-down: take both GPU tiers "
                            "out of DNS (with --via-health-check-inversion) and measure until the fallback tier answers")
    drill.set_defaults(handler=handle_drill)

    from recsys_dr.operations.release import cli as release_cli

    release_cli.register(subparsers)
    train = subparsers.add_parser(
        "train", help="run a training Job on the primary cluster and print the version to pin",
        description="Start a training run from the stack's run template (`training.enabled`) for the next free "
                    "model version in the primary bucket, follow the Job to the end, verify the published version "
                    "against its manifest and print `model.version` and `model.manifestSha256` to pin. "
                    "Exit codes: 0 published, 1 the run failed or did not verify, 2 bad input.")
    _common(train)
    train.add_argument("--version", type=positive_int, default=None, metavar="N",
                       help="the version to publish (default: one above the highest in the primary bucket)")
    train.add_argument("--timeout", type=positive_seconds, default=86_400.0, metavar="S",
                       help="max seconds to follow the Job (default 86400; the Job keeps running after it)")
    train.add_argument("--poll-interval", type=positive_seconds, default=30.0, metavar="S", help="default 30")
    train.set_defaults(handler=handle_train)


# --------------------------------------------------------------------------- plumbing


def _load(args: argparse.Namespace):
    from recsys_dr.operations.outputs import OutputsError, load_outputs

    try:
        return load_outputs(args.outputs)
    except OutputsError as exc:
        print(f"recsys-dr {args.command}: {exc}", file=sys.stderr)
        return None


def _clients(args: argparse.Namespace):
    """The ClientFactory, or None after printing one line (unknown --profile)."""
    from recsys_dr.operations.clients import ClientFactory

    factory = ClientFactory(endpoint_url=args.endpoint_url, profile=args.profile, read_timeout=args.aws_timeout)
    try:
        factory.check_profile()
    except ValueError as exc:
        print(f"recsys-dr {args.command}: {exc}", file=sys.stderr)
        return None
    return factory


def build_activator(args: argparse.Namespace, outputs, clients, *, log):
    """The standby's Activator, or None when the outputs predate `regions.standby.serving`."""
    from recsys_dr.operations.activation import Activator
    from recsys_dr.operations.checks import CheckContext, check_health, probe_region

    standby = outputs.standby
    if standby.serving is None:
        log("the stack outputs lack `regions.standby.serving`: the standby is not scaled by this command "
            "(re-export the outputs from the current stack)")
        return None
    ctx = CheckContext(outputs=outputs, clients=clients, target="standby", http_timeout=args.http_timeout)

    def health() -> tuple[bool, str]:
        result = check_health(ctx, standby)
        if result.data.get("type") == "RECOVERY_CONTROL" or result.data.get("advisory"):
            # No endpoint check to read: ask the endpoint itself, as Route 53's checkers would.
            ok, detail, _ = probe_region(outputs, standby, timeout=args.http_timeout)
            return ok, f"serving: {detail}"
        return result.ok, result.detail

    return Activator(
        outputs=outputs, eks=clients.eks(standby.region),
        kube=lambda: clients.kube(standby.region, standby.cluster_name),
        primary_kube=lambda: clients.kube(outputs.primary.region, outputs.primary.cluster_name),
        health=health, replicas=getattr(args, "replicas", None),
        drain_seconds=outputs.dns.ttl if getattr(args, "drain_seconds", None) is None else args.drain_seconds,
        timeout=getattr(args, "activation_timeout", 900.0), poll_interval=args.poll_interval, log=log)


def build_region_switch(outputs, clients, *, log):
    from recsys_dr.operations.region_switch import RegionSwitch

    if outputs.region_switch is None:
        return None
    return RegionSwitch(plan=outputs.region_switch, regions={r: o.region for r, o in outputs.regions.items()},
                        client_for=clients.arc_region_switch, log=log)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def build_tools(args: argparse.Namespace, outputs, clients, *, log=None):
    """(status builder, arc controller or None) for a command; shared by the three handlers."""
    from recsys_dr.operations.arc import ArcController
    from recsys_dr.operations.checks import CheckContext
    from recsys_dr.operations.status import build_report

    arc = None
    if outputs.arc is not None:
        arc = ArcController(arc=outputs.arc, client_for=clients.arc_cluster, log=log or (lambda _m: None))
    plan = build_region_switch(outputs, clients, log=log or (lambda _m: None))

    def build_status(target: str, *, target_only: bool = False):
        ctx = CheckContext(outputs=outputs, clients=clients, target=target, require_warm=args.require_warm,
                           http_timeout=args.http_timeout)
        return build_report(ctx, arc_controller=arc, target_only=target_only, region_switch=plan)

    return build_status, arc


@guarded
def handle_status(args: argparse.Namespace, *, clients=None) -> int:
    from recsys_dr.operations.status import EXIT_NOT_READY, EXIT_READY, render_table

    outputs = _load(args)
    if outputs is None:
        return EXIT_BAD_INPUT
    clients = clients or _clients(args)
    if clients is None:
        return EXIT_BAD_INPUT
    build_status, _arc = build_tools(args, outputs, clients)
    report = build_status(getattr(args, "target", "standby"))
    if args.json:
        print(report.to_json())
    else:
        render_table(report)
    return EXIT_READY if report.ready else EXIT_NOT_READY


@guarded
def handle_failover(args: argparse.Namespace, *, clients=None) -> int:
    from rich.console import Console

    from recsys_dr.operations.failover import render, run_failover

    outputs = _load(args)
    if outputs is None:
        return EXIT_BAD_INPUT
    clients = clients or _clients(args)
    if clients is None:
        return EXIT_BAD_INPUT
    err = _stderr_console()
    log = (lambda m: err.print(m, markup=False, highlight=False))
    build_status, arc = build_tools(args, outputs, clients, log=log)
    result = run_failover(outputs, target=args.to, force=args.force, dry_run=args.dry_run,
                          build_status=lambda target: build_status(target, target_only=True),
                          arc_controller=arc, route53=clients.route53(), log=log,
                          activator=build_activator(args, outputs, clients, log=log),
                          region_switch=build_region_switch(outputs, clients, log=log),
                          ungraceful=args.ungraceful, execution_timeout=args.execution_timeout,
                          poll_interval=args.poll_interval)
    if args.json:
        print(result.to_json())
    else:
        console = Console()
        if result.status is not None:
            console.print(f"target {args.to}: {'READY' if result.status['ready'] else 'NOT READY'}")
            for reason in result.status["reasons"]:
                console.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
        render(result, console=console)
    return result.exit_code


@guarded
def handle_drill(args: argparse.Namespace, *, clients=None, clock=None, sleep=None) -> int:
    import time

    from recsys_dr.operations.checks import probe_region
    from recsys_dr.operations.drill import DrillSettings, render, run_drill
    from recsys_dr.operations.shield import sigterm_as_interrupt

    outputs = _load(args)
    if outputs is None:
        return EXIT_BAD_INPUT
    problem = _drill_input_problem(args, outputs)
    if problem is not None:
        print(f"recsys-dr drill: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    clients = clients or _clients(args)
    if clients is None:
        return EXIT_BAD_INPUT
    err = _stderr_console()
    log = (lambda m: err.print(m, markup=False, highlight=False))
    if getattr(args, "scenario", "standby") == "gpu-tiers-down":
        with sigterm_as_interrupt():  # a cancelled job still puts both GPU tiers back
            return _fallback_drill(args, outputs, clients, log=log, clock=clock, sleep=sleep)
    build_status, switcher = _drill_tools(args, outputs, clients, log=log)

    def probe(role: str):
        # Through the front door, as clients reach it (HTTPS with the record name where it has a certificate).
        ok, detail, _ = probe_region(outputs, outputs.regions[role], timeout=args.http_timeout)
        return ok, detail

    with sigterm_as_interrupt():
        result = run_drill(
            outputs, build_status=build_status, switcher=switcher, route53=clients.route53(),
            probe_standby=lambda: probe("standby"), probe_primary=lambda: probe("primary"),
            settings=DrillSettings(timeout=args.timeout, failback_timeout=args.failback_timeout,
                                   poll_interval=args.poll_interval, hold=args.hold),
            clock=clock or time.monotonic, sleep=sleep or time.sleep, log=log,
            activator=build_activator(args, outputs, clients, log=log),
        )
    if args.json:
        print(result.to_json())
    else:
        render(result)
    return result.exit_code


def _drill_input_problem(args: argparse.Namespace, outputs) -> str | None:
    """Why these arguments cannot drill this environment, or None."""
    if args.confirm != outputs.environment:
        return f"--confirm {args.confirm!r} does not match the outputs' environment {outputs.environment!r}"
    if args.via_health_check_inversion and outputs.failover_control != "health-check":
        return ("--via-health-check-inversion is for failoverControl 'health-check'; "
                f"{outputs.environment} uses "
                + {"arc": "ARC routing controls"}.get(outputs.failover_control, "a Region switch plan"))
    if getattr(args, "scenario", "standby") == "gpu-tiers-down" and outputs.fallback is None:
        return (f"--scenario gpu-tiers-down needs a fallback tier; {outputs.environment}'s outputs "
                "have no `fallback`")
    return None


def _drill_tools(args: argparse.Namespace, outputs, clients, *, log):
    """(build_status, switcher) of a standby drill: routing controls, a Region switch plan, or the
    inversion of the primary's health check."""
    build_status, switcher = build_tools(args, outputs, clients, log=log)
    if outputs.failover_control == "region-switch":
        from recsys_dr.operations.region_switch import PlanSwitcher

        switcher = PlanSwitcher(switch=build_region_switch(outputs, clients, log=log),
                                regions={r: o.region for r, o in outputs.regions.items()},
                                timeout=args.timeout, poll_interval=args.poll_interval)
    if args.via_health_check_inversion:
        from recsys_dr.operations.inversion import HealthCheckInversion

        switcher = HealthCheckInversion(route53=clients.route53(), health_check_id=outputs.primary.health_check_id)
    return build_status, switcher


def _fallback_drill(args: argparse.Namespace, outputs, clients, *, log, clock=None, sleep=None) -> int:
    """`drill --scenario gpu-tiers-down`: both GPU tiers out of DNS until the fallback answers, then back."""
    import time

    from recsys_dr.operations.checks import probe_fallback, probe_region
    from recsys_dr.operations.drill import DrillSettings, render
    from recsys_dr.operations.fallback_drill import run_fallback_drill
    from recsys_dr.operations.inversion import GpuTiersInversion

    route53 = clients.route53()
    switcher = GpuTiersInversion(route53=route53, health_check_ids={role: region.health_check_id
                                                                    for role, region in outputs.regions.items()}) \
        if args.via_health_check_inversion else None

    def fallback_answers() -> tuple[bool, str]:
        ok, detail, _ = probe_fallback(outputs, timeout=args.http_timeout)
        return ok, detail

    def primary_serves() -> tuple[bool, str]:
        ok, detail, _ = probe_region(outputs, outputs.primary, timeout=args.http_timeout)
        return ok, detail

    result = run_fallback_drill(
        outputs, switcher=switcher, route53=route53, probe_fallback=fallback_answers, probe_primary=primary_serves,
        settings=DrillSettings(timeout=args.timeout, failback_timeout=args.failback_timeout,
                               poll_interval=args.poll_interval, hold=args.hold),
        clock=clock or time.monotonic, sleep=sleep or time.sleep, log=log)
    if args.json:
        print(result.to_json())
    else:
        render(result)
    return result.exit_code


@guarded
def handle_train(args: argparse.Namespace, *, clients=None, clock=None, sleep=None) -> int:
    from recsys_dr.operations.training import TrainingError, run_training, training_outputs

    outputs = _load(args)
    if outputs is None:
        return EXIT_BAD_INPUT
    clients = clients or _clients(args)
    if clients is None:
        return EXIT_BAD_INPUT
    try:
        namespace, template = training_outputs(outputs.raw)
    except TrainingError as exc:
        print(f"recsys-dr train: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    primary = outputs.primary

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        result = run_training(
            kube=clients.kube(primary.region, primary.cluster_name), s3=clients.s3(primary.region), namespace=namespace,
            template=template, version=args.version, timeout=args.timeout, poll_interval=args.poll_interval, log=log,
            **({"clock": clock} if clock else {}), **({"sleep": sleep} if sleep else {}))
    except TrainingError as exc:
        print(f"recsys-dr train: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        import dataclasses
        import json

        print(json.dumps(dataclasses.asdict(result), sort_keys=True))
    else:
        print(f"published {result.model_name} version {result.version} (Job {result.job}, {result.seconds:.0f} s)")
        print(f"pin in Pulumi.{outputs.environment}.yaml: model.version: {result.version}, "
              f"model.manifestSha256: {result.manifest_sha256}")
    return 0
