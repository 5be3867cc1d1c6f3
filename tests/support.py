"""Helpers to render programs under Pulumi's mock runtime and look at what they registered."""

from __future__ import annotations

import contextlib
import json
import runpy
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from recsys_dr.review.mock_runtime import ProgramRun, RegisteredResource, run_program
from recsys_dr.review.stackconfig import load_stack_config

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "stacks"
ENVIRONMENTS = ("dev", "prod")


def stack_config(env: str, **overrides: Any) -> dict[str, str]:
    """The flat config Pulumi would pass for `Pulumi.<env>.yaml`, with top-level keys replaced.

    `overrides` maps a key without namespace to its new value (objects as dicts); None removes it.
    """
    values = dict(load_stack_config(STACKS, env, "recsys-dr").values)
    for key, value in overrides.items():
        full = f"recsys-dr:{key}"
        if value is None:
            values.pop(full, None)
        else:
            values[full] = value if isinstance(value, str) else json.dumps(value)
    return values


def render_stack(env: str, config: dict[str, str] | None = None) -> ProgramRun:
    """Run the real `stacks/__main__.py` for `env` under the mocks."""
    return run_program(
        lambda: runpy.run_path(str(STACKS / "__main__.py"), run_name="__main__"),
        config=config if config is not None else stack_config(env),
        stack=env,
    )


def children_of(run: ProgramRun, component: RegisteredResource) -> list[RegisteredResource]:
    """Every resource below `component` in the parent tree."""
    below, frontier = [], {component.urn}
    while frontier:
        layer = [r for r in run.resources if r.parent in frontier]
        below += layer
        frontier = {r.urn for r in layer}
    return below


def render(program: Callable[[], None], stack: str = "test") -> ProgramRun:
    return run_program(program, stack=stack)


def registrations_before_failure(monkeypatch, run: Callable[[], Any], expected: type[BaseException]) -> tuple[BaseException, list[RegisteredResource]]:
    """Run `run` (which renders a program that must fail) and return the error and what got registered."""
    from recsys_dr.review import mock_runtime

    monitors: list[mock_runtime.RecordingMonitor] = []

    class WatchedMonitor(mock_runtime.RecordingMonitor):
        def __init__(self, mocks) -> None:
            super().__init__(mocks)
            monitors.append(self)

    monkeypatch.setattr(mock_runtime, "RecordingMonitor", WatchedMonitor)
    try:
        run()
    except expected as error:
        return error, [r for m in monitors for r in m.registrations]
    raise AssertionError(f"expected {expected.__name__}, nothing was raised")


def label_selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes LabelSelector against a pod's labels; an empty selector matches every pod
    (apimachinery pkg/apis/meta/v1 LabelSelector: "An empty label selector matches all objects")."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if not {"In": present and labels[key] in values, "NotIn": not present or labels[key] not in values,
                "Exists": present, "DoesNotExist": not present}[operator]:
            return False
    return True


def network_policy_effect(spec: dict[str, Any], labels: dict[str, str]) -> dict[str, list[dict] | None]:
    """What one NetworkPolicy does to a pod of its namespace: per direction, None when the pod is not
    isolated that way, else the rules that admit traffic ([] = nothing gets through).

    k8s.io/api networking/v1 NetworkPolicySpec: policyTypes defaults to Ingress, plus Egress when
    the policy has egress rules; a selected pod is isolated in each listed direction and admits
    only what some rule of that direction allows.
    """
    if not label_selector_matches(spec.get("podSelector") or {}, labels):
        return {"Ingress": None, "Egress": None}
    types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
    return {direction: list(spec.get(direction.lower()) or []) if direction in types else None
            for direction in ("Ingress", "Egress")}


@contextlib.contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """`moto_server` on a free port of 127.0.0.1 in its own process (for code that runs in a subprocess
    and reaches AWS by `AWS_ENDPOINT_URL`); yields its URL once it answers, stops it after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (log_dir / "moto_server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
