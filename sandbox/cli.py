"""`recsys-dr sandbox up|down`: the stand-ins in a background process, and its lifecycle.

`up` renders the stack's program under Pulumi's mocks (the outputs `pulumi stack output --json`
would print after `pulumi up`), starts `python -m recsys_dr.sandbox` in its own session, waits
until it has written `<dir>/sandbox.json` (its pid and files), and prints what to run next.
`down` sends that process SIGTERM, waits for it to stop its servers, and removes the files that
point at them. The process also stops on its own after `--lifetime` minutes, so a forgotten
sandbox does not outlive the afternoon.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from recsys_dr.operations.cli import guarded

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_DIR = ".sandbox"
STATE, OUTPUTS, ENV, LOG = "sandbox.json", "outputs.json", "env", "sandbox.log"
START_TIMEOUT = 180.0
"""Seconds `up` waits for the stand-ins (the program's render and moto's EC2 import take most of it)."""
STOP_TIMEOUT = 15.0
PROCESS_MARK = "recsys_dr.sandbox"
"""In the background process's command line: `down` signals no process without it."""


def register(subparsers: Any) -> None:
    """Add `sandbox up` and `sandbox down` to the `recsys-dr` sub-parsers."""
    sandbox = subparsers.add_parser(
        "sandbox", help="local stand-ins (AWS, Kubernetes, TF Serving on loopback addresses) to try status/failover/drill",
        description="Start or stop a local stand-in of a deployed stack: moto for S3, EKS, ELB, WAF, Route 53 and CloudWatch, "
                    "a Kubernetes API per cluster and a TF Serving endpoint per region, all on loopback addresses (the "
                    "standby's endpoint on 127.0.0.2, the fallback tier's on 127.0.0.3). `up` writes "
                    "<dir>/outputs.json (the stack outputs) and <dir>/env (exports that point AWS calls at the "
                    "stand-ins). Exit codes: 0 done, 1 the stand-ins failed to start or stop, 2 bad input.")
    actions = sandbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start the stand-ins in the background and write the outputs file")
    up.add_argument("--stack", default="dev", help="stack whose outputs to stand in for (default dev)")
    up.add_argument("--dir", default=DEFAULT_DIR, type=Path, help=f"folder for its files (default {DEFAULT_DIR})")
    up.add_argument("--lifetime", type=_minutes, default=240, metavar="MIN",
                    help="stop on its own after this many minutes (default 240)")
    up.set_defaults(handler=handle_up)
    down = actions.add_parser("down", help="stop the stand-ins started by `up`")
    down.add_argument("--dir", default=DEFAULT_DIR, type=Path, help=f"folder `up` used (default {DEFAULT_DIR})")
    down.set_defaults(handler=handle_down)


def _minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1. Received: {text!r}")
    return int(text)


def _say(message: str) -> None:
    print(f"recsys-dr sandbox: {message}", file=sys.stderr)


def read_state(folder: Path) -> dict | None:
    """The running sandbox's `sandbox.json`, or None when there is none (or it is unreadable)."""
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("pid"), int) else None


def is_sandbox_process(pid: int) -> bool:
    """The process is alive and is a sandbox (its command line names `recsys_dr.sandbox`)."""
    if not _alive(pid):
        return False
    try:
        return PROCESS_MARK in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:  # no /proc (macOS): alive is all we can tell
        return True


def _next_steps(state: dict, folder: Path) -> str:
    outputs = folder / OUTPUTS
    drill = f"recsys-dr drill --confirm {state['stack']} --outputs {outputs} --poll-interval 1 --drain-seconds 0"
    if state.get("failoverControl") == "health-check":
        drill += " --via-health-check-inversion"
    return "\n".join([
        f"  outputs  {outputs}  (as `pulumi stack output --json -s {state['stack']}` prints them)",
        f"  env      {folder / ENV}  (AWS_ENDPOINT_URL={state['endpointUrl']}, throw-away keys)",
        "next:",
        f"  source {folder / ENV}",
        f"  recsys-dr status --outputs {outputs}",
        f"  recsys-dr failover --to standby --dry-run --outputs {outputs}",
        f"  {drill}",
        *([f"  {drill} --scenario gpu-tiers-down"] if state.get("fallback") else []),
        f"  recsys-dr sandbox down{'' if str(folder) == DEFAULT_DIR else f' --dir {folder}'}",
    ])


@guarded
def handle_up(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("moto") is None:
        _say("needs moto; install it with `pip install 'recsys-dr[sandbox]'`")
        return EXIT_BAD_INPUT
    folder: Path = args.dir
    state = read_state(folder)
    if state and is_sandbox_process(state["pid"]):
        print(f"recsys-dr sandbox: already up for {state['stack']} (pid {state['pid']})\n" + _next_steps(state, folder))
        return EXIT_OK
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in (STATE, OUTPUTS, ENV):
            (folder / name).unlink(missing_ok=True)
        log = (folder / LOG).open("wb")
    except OSError as exc:
        _say(f"cannot use {folder}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    began = time.monotonic()
    with log:
        process = subprocess.Popen(
            [sys.executable, "-m", PROCESS_MARK, "--stack", args.stack, "--dir", str(folder),
             "--lifetime", str(args.lifetime)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while (state := read_state(folder)) is None:
            if process.poll() is not None:
                _say(_last_line(folder / LOG) or f"the stand-ins exited with code {process.returncode}")
                return EXIT_BAD_INPUT if process.returncode == EXIT_BAD_INPUT else EXIT_FAILED
            if time.monotonic() - began > START_TIMEOUT:
                _stop(process.pid)
                _say(f"the stand-ins did not start within {START_TIMEOUT:g}s (see {folder / LOG})")
                return EXIT_FAILED
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(process.pid)  # nothing is left running when `up` is interrupted
        raise
    print(f"recsys-dr sandbox: {state['stack']} stand-ins up on the loopback interface in {time.monotonic() - began:.1f} s "
          f"(pid {state['pid']})\n" + _next_steps(state, folder))
    return EXIT_OK


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _stop(pid: int) -> bool:
    """SIGTERM, wait, then SIGKILL; True when the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    time.sleep(0.2)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)  # our child (tests): reap it
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@guarded
def handle_down(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    state = read_state(folder)
    if state is None or not is_sandbox_process(state["pid"]):
        for name in (STATE, OUTPUTS, ENV):
            (folder / name).unlink(missing_ok=True)
        print(f"recsys-dr sandbox: none running in {folder}")
        return EXIT_OK
    if not _stop(state["pid"]):
        _say(f"pid {state['pid']} did not stop; end it with `kill -9 {state['pid']}`")
        return EXIT_FAILED
    for name in (STATE, OUTPUTS, ENV):
        (folder / name).unlink(missing_ok=True)
    print(f"recsys-dr sandbox: stopped (pid {state['pid']})")
    return EXIT_OK
