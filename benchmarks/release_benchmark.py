"""How long a release takes, and a rollback: `recsys-dr release` against the stand-ins, on a virtual clock.

Run from the repository root::

    python -m benchmarks.release_benchmark                 # the shipped release settings
    python -m benchmarks.release_benchmark --bake-seconds 120 --json

It drives the release flow against the same stand-ins the tests use (moto's S3, ELBv2,
CloudWatch, Route 53 and EKS in-process, a front door on 127.0.0.x that routes by moto's rules,
TF Serving and Kubernetes stand-ins; tests/operations/release_fixtures.py). Time is virtual: the
release's sleeps advance a clock, and each minute passed is a minute of client traffic (4,000
requests) reported to CloudWatch as ELB would. So the figures are what the configured bake
windows and check intervals make of a release, plus the tool's own calls measured for real
against the in-process stand-ins (a real AWS API answers in tens of milliseconds per call).

* release: `start` to "both regions at 100 %" (waiting for the promotion's first stack change),
  then the two stack changes applied as `pulumi up` would leave them, `advance` after each, to
  `promoted`. The two `pulumi up` runs themselves are not in the figure: the stable pods roll
  while the candidate carries the traffic (docs/serving.md, "Rollouts and capacity", bounds that roll).
* rollback: a candidate answering 10 % of its requests with 5XX at the first 5 % share: from the
  share's move to the live gate's failure (virtual: the first complete minute of metrics, one
  minute late), and from the failure to every share read back at 0 (real).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _credentials() -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)


REQUESTS_PER_MINUTE = 4000  # the primary's client traffic: 5 % of it is the 200 requests a verdict needs


def _settings(bake_seconds: int) -> dict:
    """The shipped release settings (the declaration's defaults), with windows of `bake_seconds`."""
    from recsys_dr.components.settings.release import ReleaseSettings

    settings = ReleaseSettings().model_dump(by_alias=True, mode="json")
    settings["live"]["bakeSeconds"] = bake_seconds
    return settings


def _run(stack, command: str, outputs: dict, marks: list, **options):
    from recsys_dr.operations.outputs import parse_outputs
    from recsys_dr.operations.release import commands
    from recsys_dr.operations.release.flow import Environment
    from recsys_dr.operations.release.tier import gpu_tier

    parsed = parse_outputs(outputs)
    env = Environment(tier=gpu_tier(parsed), settings=parsed.release, clients=stack.clients(),
                      dns_role=lambda: "primary", green=lambda: (True, []),
                      kube=lambda region: stack.clients().kube(region.region, region.cluster_name), clock=stack.clock,
                      log=lambda message: marks.append((time.perf_counter(), message)))
    return getattr(commands, command)(env, **options)


def measure(bake_seconds: int, *, failing: bool) -> dict:
    from moto import mock_aws

    from tests.operations.release_fixtures import CANDIDATE, ReleaseEnvironment

    with mock_aws(), tempfile.TemporaryDirectory(prefix="release-bench-") as folder:
        stack = ReleaseEnvironment(Path(folder), requests_per_minute=REQUESTS_PER_MINUTE)
        try:
            settings, marks = _settings(bake_seconds), []
            if failing:
                stack.behaviour("primary", "candidate").error_rate = 0.10
            began = time.perf_counter()
            report = _run(stack, "start", stack.outputs(release=settings), marks)
            real = time.perf_counter() - began
            if failing:
                return _rollback_figures(report, marks)
            traffic = report.steps[-1]["atSeconds"]
            stack.kube["primary"].digest = stack.kube["standby"].digest = stack.digests[CANDIDATE]
            for stable, candidate in ((CANDIDATE, CANDIDATE), (CANDIDATE, None)):
                began = time.perf_counter()
                report = _run(stack, "advance", stack.outputs(stable=stable, candidate=candidate, release=settings), marks)
                real += time.perf_counter() - began
            return {"outcome": report.outcome, "virtualSeconds": traffic, "realSeconds": round(real, 2),
                    "shares": len(settings["canaryPercents"]), "bakeSeconds": bake_seconds}
        finally:
            stack.stop()


def _rollback_figures(report, marks: list) -> dict:
    moved = next(r for r in report.steps if r["step"] == "share 5 %")
    failed = next(r for r in report.steps if r["step"] == "gate.live" and r["result"] == "FAIL")
    failure_mark = next(t for t, message in marks if message.startswith("gate.live") and " FAIL " in message)
    last_undo = [t for t, message in marks if message.startswith("rollback")][-1]
    return {"outcome": report.outcome, "detectSeconds": failed["atSeconds"] - moved["atSeconds"],
            "rollbackRealSeconds": round(last_undo - failure_mark, 3),
            "regionsRolledBack": sum(1 for r in report.steps if r["step"] == "rollback")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.release_benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--bake-seconds", type=int, default=None, help="release.live.bakeSeconds (default: the shipped one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    _credentials()
    from recsys_dr.components.settings.release import LiveGateSettings

    args.bake_seconds = args.bake_seconds or LiveGateSettings().bake_seconds
    if args.bake_seconds < 60 or args.bake_seconds % 60:
        parser.error("--bake-seconds must be a multiple of 60")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    figures = {"release": measure(args.bake_seconds, failing=False), "rollback": measure(args.bake_seconds, failing=True)}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    release, rollback = figures["release"], figures["rollback"]
    print(f"release ({release['shares']} shares x {release['bakeSeconds']} s bake, virtual clock): start -> both regions at "
          f"100 %: {release['virtualSeconds']:.0f} s; then {release['outcome']} after the two stack changes; "
          f"{release['realSeconds']:.2f} s real for the tool's calls and the stand-ins behind them")
    print(f"rollback (10 % errors at the 5 % share): detected {rollback['detectSeconds']:.0f} s after the share moved "
          f"(virtual), every share back at 0 and read back {rollback['rollbackRealSeconds'] * 1000:.0f} ms later "
          f"(real, {rollback['regionsRolledBack']} regions, in-process stand-ins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
