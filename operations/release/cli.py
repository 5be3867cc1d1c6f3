"""argparse registration of `recsys-dr release plan|start|status|advance|abort`.

Every command reads the stack outputs (`--outputs FILE` or standard input), like `status`; the
release settings are the outputs' `release`. Exit codes (docs/releases.md): 0 done; 1 the
candidate failed a gate (nothing had traffic, or every share was rolled back and read back); 2
bad input; 3 refused, nothing changed; 4 held (too little traffic to judge, the stable pods still
rolling, or an AWS call failed), nothing rolled back; 5 a rollback NOT confirmed: act now; 6
waiting for the printed stack-file change; 130 interrupted (the release stays where it was).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from recsys_dr.operations.cli import EXIT_BAD_INPUT, endpoint_url, guarded, positive_seconds

COMMANDS = {
    "plan": "the steps and gates a release would run, and whether it could start now (changes nothing)",
    "start": "preflight, then standby golden requests, the primary's canary shares, promotion",
    "status": "the active or last release and the live shares (exit 1 when they disagree)",
    "advance": "resume the active release from its record (after an interrupt, a hold or a stack change)",
    "abort": "every share back to 0 (read back), the release ended, the pin-back change printed",
}


def register(subparsers: Any) -> None:
    release = subparsers.add_parser(
        "release", help="move a candidate version through the regions one at a time, gated, with rollback",
        description="Exit codes: 0 done, 1 the candidate failed a gate (rolled back), 2 bad input, 3 refused (nothing "
                    "changed), 4 held (nothing rolled back; advance later), 5 rollback NOT confirmed (act now), 6 waiting "
                    "for the printed stack-file change, 130 interrupted.")
    actions = release.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in COMMANDS.items():
        parser = actions.add_parser(name, help=text, description=text)
        _common(parser)
        if name == "start":
            parser.add_argument("--accept-quality-drop", action="store_true",
                                help="release although the offline metric dropped beyond release.quality.maxRelativeDrop "
                                     "(or cannot be compared)")
        if name in ("start", "advance"):
            parser.add_argument("--one-step", action="store_true", help="run one step, then stop (exit 0 'advanced')")
        parser.set_defaults(handler=handle_release, command="release")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--outputs", metavar="FILE", default=None,
                        help="stack outputs JSON from `pulumi stack output --json -s <env>`; default: standard input")
    parser.add_argument("--json", action="store_true", help="print the release report as JSON on stdout")
    parser.add_argument("--tier", default="gpu", help="serving tier to release: gpu (the two regions) or fallback (default gpu)")
    parser.add_argument("--stack-file", type=Path, default=None, metavar="FILE",
                        help="the stack's Pulumi.<env>.yaml: the printed stack changes name the keys it uses")
    parser.add_argument("--patch-out", type=Path, default=None, metavar="FILE",
                        help="also write the stack change the release asks for as a shell script")
    parser.add_argument("--endpoint-url", default=None, type=endpoint_url,
                        help="send ELB/CloudWatch/S3/EKS/Route 53 calls to this endpoint (moto_server in tests)")
    parser.add_argument("--profile", default=None, help="AWS profile for boto3")
    parser.add_argument("--http-timeout", type=positive_seconds, default=5.0, metavar="S",
                        help="seconds per serving-endpoint request (default 5)")
    parser.add_argument("--aws-timeout", type=positive_seconds, default=10.0, metavar="S",
                        help="read timeout per AWS call (default 10)")


def build_environment(args: argparse.Namespace, outputs, clients, *, clock=None, request=None):
    """The flow's Environment from the outputs and the clients (tests pass fakes for the clock and HTTP)."""
    from recsys_dr.operations.checks import CheckContext
    from recsys_dr.operations.failover import ACTIVATION_FIXES, dns_answer
    from recsys_dr.operations.release.flow import Clock, Environment
    from recsys_dr.operations.release.tier import read_tier
    from recsys_dr.operations.status import build_report

    tier = read_tier(outputs, args.tier)

    def green() -> tuple[bool, list[str]]:
        """The standby could take traffic (a pilot light: once activated) and the primary serves."""
        report = build_report(CheckContext(outputs=outputs, clients=clients, target="standby",
                                           http_timeout=args.http_timeout))
        pilot = outputs.standby_mode == "pilot-light"
        blocking = [r for r in report.results if r.blocks and not (pilot and r.role == "standby" and r.name in ACTIVATION_FIXES)]
        primary = [r for r in report.results if r.role == "primary" and r.name in ("serving", "targets", "health") and not r.ok]
        return not blocking and not primary, [f"{r.label}: {r.detail}" for r in blocking + primary]

    def log(message: str) -> None:
        if not args.json:
            print(message, file=sys.stderr)

    return Environment(tier=tier, settings=outputs.release, clients=clients,
                       dns_role=lambda: dns_answer(outputs, clients.route53())["role"], green=green,
                       kube=lambda region: clients.kube(region.region, region.cluster_name),
                       clock=clock or Clock(), request=request, http_timeout=args.http_timeout,
                       stack_file=args.stack_file, log=log)


@guarded
def handle_release(args: argparse.Namespace, *, clients=None, clock=None, request=None) -> int:
    from recsys_dr.operations.cli import _clients, _load
    from recsys_dr.operations.release import commands
    from recsys_dr.operations.release.patch import write_script
    from recsys_dr.operations.release.report import render
    from recsys_dr.operations.release.tier import TierError
    from recsys_dr.operations.shield import sigterm_as_interrupt

    outputs = _load(args)
    if outputs is None:
        return EXIT_BAD_INPUT
    if outputs.release is None:
        print("recsys-dr release: the stack outputs lack `release`: re-export them from the current stack "
              "(`pulumi stack output --json`)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.stack_file is not None and not args.stack_file.is_file():
        print(f"recsys-dr release: --stack-file {str(args.stack_file)!r} is not a file", file=sys.stderr)
        return EXIT_BAD_INPUT
    clients = clients or _clients(args)
    if clients is None:
        return EXIT_BAD_INPUT
    try:
        env = build_environment(args, outputs, clients, clock=clock, request=request)
    except TierError as exc:
        print(f"recsys-dr release: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    with sigterm_as_interrupt():
        options = {"start": {"accept_quality_drop": args.accept_quality_drop, "one_step": args.one_step},
                   "advance": {"one_step": getattr(args, "one_step", False)}}.get(args.action, {})
        report = getattr(commands, args.action)(env, **options)
    if report.patch and args.patch_out:
        write_script(report.patch, args.patch_out)
        report.messages.append(f"the stack change is in {args.patch_out}")
    if args.json:
        print(report.to_json())
    else:
        render(report)
    return report.exit_code
