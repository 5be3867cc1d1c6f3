"""The process behind `recsys-dr sandbox up`: stand-ins for one stack until SIGTERM/SIGINT or `--lifetime`.

    python -m recsys_dr.sandbox --stack dev --dir .sandbox

Runs in the foreground too (Ctrl-C stops it). Writes `<dir>/outputs.json`, `<dir>/env` and, once
everything answers, `<dir>/sandbox.json`; removes `sandbox.json` when it stops. Errors are one line
on stderr: exit 2 for a stack that cannot be rendered, 1 when a stand-in fails to start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from recsys_dr.sandbox.cli import DEFAULT_DIR, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, STATE


def render_stack(stack: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The outputs the stack's program exports and the resources it registers, rendered under
    Pulumi's mocks (as `recsys-dr plan`)."""
    from recsys_dr.review.plan import render

    document = render(stack).document
    return document["outputs"], document["resources"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys_dr.sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--dir", default=DEFAULT_DIR, type=Path)
    parser.add_argument("--lifetime", type=int, default=240, help="minutes before stopping on its own")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_a: stop.set())

    from recsys_dr.review.plan import PlanError
    from recsys_dr.review.stackconfig import ConfigurationError

    try:
        template, resources = render_stack(args.stack)
    except (ConfigurationError, PlanError) as exc:
        print(f"cannot render stack {args.stack!r}: {'; '.join(str(exc).splitlines())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from recsys_dr.sandbox.environment import Sandbox

    folder: Path = args.dir
    sandbox = Sandbox(template=template, workdir=folder / "work", resources=resources)
    try:
        sandbox.start()
    except Exception as exc:  # noqa: BLE001 - one line for `up` to show
        print(f"a stand-in failed to start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        sandbox.write(folder)
        state = {"pid": os.getpid(), "stack": args.stack, "endpointUrl": sandbox.endpoint_url,
                 "failoverControl": template.get("failoverControl"), "fallback": bool(template.get("fallback")),
                 "startedSeconds": sandbox.started_seconds}
        partial = folder / f".{STATE}.tmp"
        partial.write_text(json.dumps(state, indent=2) + "\n")
        partial.replace(folder / STATE)  # `up` waits for this file: it appears whole or not at all
        print(f"stand-ins for {args.stack} up in {sandbox.started_seconds:.1f} s (AWS at {sandbox.endpoint_url})",
              flush=True)
        stop.wait(args.lifetime * 60)
    finally:
        sandbox.stop()
        (folder / STATE).unlink(missing_ok=True)
    print("stand-ins stopped", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
