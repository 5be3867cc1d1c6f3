"""Load and validate a stack's outputs as written by `pulumi stack output --json -s <env>`.

The operator commands never re-run the Pulumi program: they read this JSON (from a file or
standard input), so they work for any environment, also while the primary region (and the
machine that normally runs `pulumi`) is gone. Keep a copy of each environment's outputs
where on-call can reach it during an outage.

Every problem is collected and reported at once, each naming the key, the value and what
is allowed, e.g.::

    stack outputs (prod.json) are not usable:
      - `standbyMode` must be one of: warm, pilot-light. Received: 'cold'
      - `regions.standby.bucket` is missing
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROLES = ("primary", "standby")
STANDBY_MODES = ("warm", "pilot-light")
FAILOVER_CONTROLS = ("health-check", "arc")
REGION_STRING_KEYS = (
    "region",
    "endpoint",
    "bucket",
    "kmsKeyArn",
    "clusterName",
    "gpuNodeGroupName",
    "healthCheckId",
    "namespace",
    "deploymentName",
)
SECRET_PLACEHOLDER = "[secret]"


class OutputsError(ValueError):
    """The stack outputs are missing, not JSON, or lack/mistype keys the commands need.

    Attributes:
        problems: list[str], one line per problem.
        source: str, where the outputs came from ("<stdin>" or the path).
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"stack outputs ({source}) are not usable:\n{lines}")


def endpoint_host(endpoint: str) -> str:
    """The DNS name of a serving endpoint (`host[:port]`), as Route 53 records hold it: no port, no
    trailing dot, lower case."""
    return endpoint.split(":")[0].rstrip(".").lower()


@dataclass(frozen=True, kw_only=True)
class RegionOutputs:
    """One region's outputs (`regions.primary` / `regions.standby`)."""

    role: str
    region: str
    endpoint: str
    bucket: str
    kms_key_arn: str
    cluster_name: str
    gpu_node_group_name: str
    health_check_id: str
    namespace: str
    deployment_name: str
    gpu_scaling: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class DnsOutputs:
    zone_id: str
    record_name: str
    ttl: int
    health_check_interval_seconds: int
    failure_threshold: int


@dataclass(frozen=True, kw_only=True)
class ArcEndpoint:
    region: str
    endpoint: str


@dataclass(frozen=True, kw_only=True)
class ArcOutputs:
    cluster_arn: str
    cluster_endpoints: tuple[ArcEndpoint, ...]
    control_panel_arn: str
    routing_controls: dict[str, str]  # role -> routing control ARN


@dataclass(frozen=True, kw_only=True)
class StackOutputs:
    """Typed view of the stack outputs (`pulumi stack output --json`, produced by stacks/__main__.py)."""

    environment: str
    model_name: str
    model_version: int
    standby_mode: str
    failover_control: str
    failover_budget_seconds: float
    failover_budget_target_seconds: float
    dns: DnsOutputs
    regions: dict[str, RegionOutputs]
    arc: ArcOutputs | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def primary(self) -> RegionOutputs:
        return self.regions["primary"]

    @property
    def standby(self) -> RegionOutputs:
        return self.regions["standby"]

    def other(self, role: str) -> RegionOutputs:
        return self.regions["standby" if role == "primary" else "primary"]


class _Reader:
    """Collects problems while picking typed values out of nested dicts."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.missing: set[str] = set()

    def get(self, obj: Any, path: str, kind: type | tuple[type, ...], *, optional: bool = False):
        node = obj
        parts = path.split(".")
        for i, part in enumerate(parts):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            if not isinstance(node, dict) or part not in node:
                missing = ".".join(parts[: i + 1])  # report a missing object once, not each key
                if not optional and missing not in self.missing:
                    self.missing.add(missing)
                    self.problems.append(f"`{missing}` is missing")
                return None
            node = node[part]
        if node == SECRET_PLACEHOLDER:
            self.problems.append(
                f"`{path}` is shown as {SECRET_PLACEHOLDER!r}; re-run "
                "`pulumi stack output --json --show-secrets`"
            )
            return None
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int subclass; never accept it for numbers.
        if isinstance(node, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(node, kinds)
        if not ok:
            names = " or ".join(k.__name__ for k in kinds)
            self.problems.append(f"`{path}` must be {names}. Received: {node!r}")
            return None
        if isinstance(node, str) and not node.strip():
            self.problems.append(f"`{path}` must be a non-empty string. Received: {node!r}")
            return None
        return node

    def choice(self, obj: Any, path: str, allowed: tuple[str, ...]):
        value = self.get(obj, path, str)
        if value is not None and value not in allowed:
            self.problems.append(
                f"`{path}` must be one of: {', '.join(allowed)}. Received: {value!r}"
            )
            return None
        return value

    def positive(self, obj: Any, path: str, kind=(int, float), *, zero_ok: bool = False):
        value = self.get(obj, path, kind)
        if value is not None and (value < 0 or (value == 0 and not zero_ok)):
            bound = ">= 0" if zero_ok else "> 0"
            self.problems.append(f"`{path}` must be {bound}. Received: {value!r}")
            return None
        return value


def parse_outputs(data: Any, *, source: str = "<outputs>") -> StackOutputs:
    """Validate decoded stack outputs and return a `StackOutputs`.

    Args:
        data: the decoded JSON object.
        source: str, shown in error messages. Default "<outputs>".

    Raises:
        OutputsError: listing every problem found.
    """
    if not isinstance(data, dict):
        raise OutputsError(source, [f"top level must be a JSON object. Received: {type(data).__name__}"])
    r = _Reader()
    environment = r.get(data, "environment", str)
    model_name = r.get(data, "model.name", str)
    model_version = r.positive(data, "model.version", int)
    standby_mode = r.choice(data, "standbyMode", STANDBY_MODES)
    failover_control = r.choice(data, "failoverControl", FAILOVER_CONTROLS)
    budget = r.positive(data, "failoverBudgetSeconds")
    target = r.positive(data, "failoverBudgetTargetSeconds")
    dns_values = {
        "zone_id": r.get(data, "dns.zoneId", str),
        "record_name": r.get(data, "dns.recordName", str),
        "ttl": r.positive(data, "dns.ttl", int, zero_ok=True),
        "health_check_interval_seconds": r.positive(data, "dns.healthCheckIntervalSeconds", int),
        "failure_threshold": r.positive(data, "dns.failureThreshold", int),
    }
    regions: dict[str, RegionOutputs] = {}
    for role in ROLES:
        base = f"regions.{role}"
        values = {key: r.get(data, f"{base}.{key}", str) for key in REGION_STRING_KEYS}
        scaling = {}
        for key in ("minSize", "desiredSize", "maxSize"):
            scaling[key] = r.positive(data, f"{base}.gpuScaling.{key}", int, zero_ok=True)
        if None in values.values() or None in scaling.values():
            continue
        regions[role] = RegionOutputs(
            role=role,
            region=values["region"],
            endpoint=values["endpoint"],
            bucket=values["bucket"],
            kms_key_arn=values["kmsKeyArn"],
            cluster_name=values["clusterName"],
            gpu_node_group_name=values["gpuNodeGroupName"],
            health_check_id=values["healthCheckId"],
            namespace=values["namespace"],
            deployment_name=values["deploymentName"],
            gpu_scaling=scaling,
        )
    if len(regions) == 2 and regions["primary"].region == regions["standby"].region:
        r.problems.append(
            "`regions.primary.region` and `regions.standby.region` must differ. "
            f"Received: both {regions['primary'].region!r}"
        )

    arc = None
    if failover_control == "arc":
        arc = _parse_arc(r, data)
    elif failover_control == "health-check" and "arc" in data and data["arc"] is not None:
        r.problems.append("`arc` is present but `failoverControl` is 'health-check'")

    if r.problems:
        raise OutputsError(source, r.problems)
    return StackOutputs(
        environment=environment,
        model_name=model_name,
        model_version=model_version,
        standby_mode=standby_mode,
        failover_control=failover_control,
        failover_budget_seconds=budget,
        failover_budget_target_seconds=target,
        dns=DnsOutputs(**dns_values),
        regions=regions,
        arc=arc,
        raw=data,
    )


def _parse_arc(r: _Reader, data: dict) -> ArcOutputs | None:
    if "arc" not in data or data["arc"] is None:
        r.problems.append("`arc` is missing but `failoverControl` is 'arc'")
        return None
    cluster_arn = r.get(data, "arc.clusterArn", str)
    panel = r.get(data, "arc.controlPanelArn", str)
    controls = {role: r.get(data, f"arc.routingControls.{role}", str) for role in ROLES}
    raw_endpoints = r.get(data, "arc.clusterEndpoints", list)
    endpoints: list[ArcEndpoint] = []
    if raw_endpoints is not None:
        if not raw_endpoints:
            r.problems.append("`arc.clusterEndpoints` must list at least one endpoint. Received: []")
        for i, item in enumerate(raw_endpoints):
            if not isinstance(item, dict):
                r.problems.append(f"`arc.clusterEndpoints.{i}` must be an object. Received: {item!r}")
                continue
            region = r.get(data, f"arc.clusterEndpoints.{i}.region", str)
            endpoint = r.get(data, f"arc.clusterEndpoints.{i}.endpoint", str)
            if region and endpoint:
                if not endpoint.startswith(("https://", "http://")):
                    r.problems.append(
                        f"`arc.clusterEndpoints.{i}.endpoint` must be a URL. Received: {endpoint!r}"
                    )
                endpoints.append(ArcEndpoint(region=region, endpoint=endpoint))
    if controls["primary"] and controls["primary"] == controls["standby"]:
        r.problems.append("`arc.routingControls.primary` and `.standby` must differ")
    if None in (cluster_arn, panel, raw_endpoints) or None in controls.values():
        return None
    return ArcOutputs(
        cluster_arn=cluster_arn,
        cluster_endpoints=tuple(endpoints),
        control_panel_arn=panel,
        routing_controls=controls,
    )


def load_outputs(path: str | None, *, stdin: TextIO | None = None) -> StackOutputs:
    """Read and validate stack outputs from `path`, or standard input when `path` is None or "-".

    Args:
        path: str | None, a file written by `pulumi stack output --json -s <env> > file`;
            None or "-" reads standard input.
        stdin: TextIO | None, stream used instead of `sys.stdin` (tests). Default None.

    Raises:
        OutputsError: no input, unreadable file, invalid JSON, or invalid content.
    """
    if path in (None, "-"):
        stream = stdin if stdin is not None else sys.stdin
        source = "<stdin>"
        if stream.isatty():
            raise OutputsError(
                source,
                [
                    "no stack outputs given: pass `--outputs FILE` or pipe them in, e.g. "
                    "`pulumi stack output --json -s prod | recsys-dr status`"
                ],
            )
        text = stream.read()
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise OutputsError(source, [f"cannot read file: {exc.strerror or exc}"]) from exc
    if not text.strip():
        raise OutputsError(source, ["input is empty (did `pulumi stack output --json` fail?)"])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputsError(
            source, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from exc
    return parse_outputs(data, source=source)
