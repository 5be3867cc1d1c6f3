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

import functools
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROLES = ("primary", "standby")
STANDBY_MODES = ("warm", "pilot-light")
FAILOVER_CONTROLS = ("health-check", "arc", "region-switch")
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
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
MAX_NESTING = 32
"""Deepest object/array nesting accepted; real outputs are about 5 levels deep."""
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
"""The Region shape the Region switch API accepts (botocore arc-region-switch `Region` pattern)."""
PLAN_ARN_PATTERN = re.compile(
    r"arn:aws[a-zA-Z-]*:arc-region-switch::[0-9]{12}:plan/([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?):([a-z0-9]{6})")
"""botocore's arc-region-switch `PlanArn` pattern (service-2.json); a plan ARN has no Region."""


class OutputsError(ValueError):
    """The stack outputs are missing, not JSON, or lack/mistype keys the commands need.

    Attributes:
        problems: list[str], one line per problem.
        source: str, where the outputs came from ("<stdin>" or the path).
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        if len(self.problems) == 1:  # one mistake, one line
            super().__init__(f"stack outputs ({source}) are not usable: {self.problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"stack outputs ({source}) are not usable:\n{lines}")


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every Region botocore knows, across partitions (its bundled endpoints.json)."""
    import botocore.session

    data = botocore.session.get_session().get_component("data_loader").load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def region_problem(path: str, value: str) -> str | None:
    """Why `value` is not a usable AWS Region, or None."""
    if not REGION_PATTERN.fullmatch(value):
        return f"`{path}` must be an AWS Region such as us-east-1. Received: {value!r}"
    if value not in known_regions():
        return f"`{path}` is not a Region botocore knows (unknown or mistyped). Received: {value!r}"
    return None


def endpoint_problem(path: str, value: str) -> str | None:
    """Why `value` is not a serving endpoint `host[:port]` (no scheme, no path), or None."""
    if "://" in value or "/" in value:
        return f"`{path}` must be host[:port] without a scheme or path. Received: {value!r}"
    host, _, port = value.partition(":")
    if not host.strip(". "):
        return f"`{path}` has an empty host. Received: {value!r}"
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"`{path}` port must be 1-65535. Received: {value!r}"
    return None


def endpoint_host(endpoint: str) -> str:
    """The DNS name of a serving endpoint (`host[:port]`), as Route 53 records hold it: no port, no
    trailing dot, lower case."""
    return endpoint.split(":")[0].rstrip(".").lower()


@dataclass(frozen=True, kw_only=True)
class FrontDoorOutputs:
    """One region's balancer (`regions.<role>.frontDoor`): how clients reach it, what it routes to.

    `canary_target_group_arn`, `rule_arns` (the weighted routes) and `candidate_header` are what
    `recsys-dr release` moves and sends; outputs of a stack without them have none.
    """

    scheme: str  # "https" (443) or "http" (80)
    port: int
    load_balancer_arn: str
    target_group_arn: str
    canary_target_group_arn: str | None = None
    rule_arns: tuple[str, ...] = ()
    candidate_header: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelPin:
    """A version a region's pods run: its manifest digest (the init container checks it), and the image."""

    version: int
    manifest_sha256: str
    image: str | None = None


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
    hpa_name: str | None = None
    serving: dict[str, int] | None = None
    active_gpu_scaling: dict[str, int] | None = None
    pods_per_gpu_node: int | None = None
    scaled_object_name: str | None = None
    front_door: FrontDoorOutputs | None = None
    pin: ModelPin | None = None
    candidate: ModelPin | None = None
    candidate_deployment_name: str | None = None
    cold_start: dict[str, int] | None = None

    @property
    def hpa(self) -> str:
        """The HPA's name; the components name it after the Deployment when the output is absent."""
        return self.hpa_name or self.deployment_name


@dataclass(frozen=True, kw_only=True)
class FallbackOutputs:
    """The CPU fallback tier (`fallback`): in the standby region, last in the DNS cascade.

    Attributes:
        model_name: the fallback's name in the bucket and its manifest (`<model>-fallback`).
        served_as: the name TF Serving serves it under (the main model's).
        history_length: history ids per request row (a prediction probe sends one row).
        budget_seconds: until DNS answers the fallback when both GPU tiers fail (two detections + TTL).
    """

    region: str
    endpoint: str
    bucket: str
    health_check_id: str
    namespace: str
    deployment_name: str
    model_name: str
    served_as: str
    version: int
    manifest_sha256: str
    history_length: int
    budget_seconds: float
    cascade_record_name: str
    front_door: FrontDoorOutputs | None = None
    image: str | None = None
    candidate: ModelPin | None = None  # `fallback.model.candidate`: what `recsys-dr release --tier fallback` proves
    candidate_deployment_name: str | None = None
    role: str = "fallback"  # what the checks call it (never a failover target)

    @property
    def pin(self) -> ModelPin:
        return ModelPin(version=self.version, manifest_sha256=self.manifest_sha256, image=self.image)


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
class RegionSwitchOutputs:
    """The Route 53 ARC Region switch plan (`regionSwitch`, failoverControl `region-switch`)."""

    plan_arn: str
    execution_role_arn: str | None = None
    approval_step_name: str | None = None
    recovery_time_objective_minutes: int | None = None


@dataclass(frozen=True, kw_only=True)
class StackOutputs:
    """Typed view of the stack outputs (`pulumi stack output --json`, produced by stacks/__main__.py)."""

    environment: str
    model_name: str
    model_version: int
    manifest_sha256: str
    standby_mode: str
    failover_control: str
    failover_budget_seconds: float
    failover_budget_target_seconds: float
    dns: DnsOutputs
    regions: dict[str, RegionOutputs]
    arc: ArcOutputs | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    region_switch: RegionSwitchOutputs | None = None
    release: dict[str, Any] | None = None
    model_evaluations: dict[str, Any] = field(default_factory=dict)
    fallback: FallbackOutputs | None = None

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

    def positive(self, obj: Any, path: str, kind=(int, float), *, zero_ok: bool = False, optional: bool = False):
        value = self.get(obj, path, kind, optional=optional)
        if isinstance(value, float) and not math.isfinite(value):
            self.problems.append(f"`{path}` must be a finite number. Received: {value!r}")
            return None
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
    manifest_sha256 = r.get(data, "model.manifestSha256", str)
    if manifest_sha256 is not None and not SHA256_PATTERN.fullmatch(manifest_sha256):
        r.problems.append(f"`model.manifestSha256` must be 64 lower-case hex digits. Received: {manifest_sha256!r}")
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
    model_pin = (ModelPin(version=model_version, manifest_sha256=manifest_sha256)
                 if model_version is not None and manifest_sha256 is not None else None)
    regions = _regions(r, data, model_pin)
    arc, region_switch = _failover_control(r, data, failover_control)
    release, evaluations, fallback = _release_and_fallback(r, data, regions)
    if r.problems:
        raise OutputsError(source, r.problems)
    return StackOutputs(
        environment=environment,
        model_name=model_name,
        model_version=model_version,
        manifest_sha256=manifest_sha256,
        standby_mode=standby_mode,
        failover_control=failover_control,
        failover_budget_seconds=budget,
        failover_budget_target_seconds=target,
        dns=DnsOutputs(**dns_values),
        regions=regions,
        arc=arc,
        raw=data,
        region_switch=region_switch,
        release=release,
        model_evaluations=evaluations,
        fallback=fallback,
    )


def _release_and_fallback(r: _Reader, data: dict, regions: dict[str, RegionOutputs]):
    """`release` and `modelEvaluations` (objects), and `fallback`, which runs in the standby's region."""
    release = data.get("release")
    if release is not None and not isinstance(release, dict):
        r.problems.append(f"`release` must be an object. Received: {release!r}")
    evaluations = data.get("modelEvaluations") or {}
    if not isinstance(evaluations, dict):
        r.problems.append(f"`modelEvaluations` must be an object. Received: {evaluations!r}")
    fallback = _fallback(r, data) if data.get("fallback") is not None else None
    if fallback is not None and regions.get("standby") and fallback.region != regions["standby"].region:
        r.problems.append(f"`fallback.region` must be the standby's region ({regions['standby'].region}). "
                          f"Received: {fallback.region!r}")
    return release, evaluations, fallback


def _regions(r: _Reader, data: dict, model_pin: ModelPin | None) -> dict[str, RegionOutputs]:
    """`regions.<role>` for both roles, in two different regions; a region with a problem is left out."""
    regions: dict[str, RegionOutputs] = {}
    for role in ROLES:
        region = _region(r, data, role, model_pin)
        if region is not None:
            regions[role] = region
    if len(regions) == 2 and regions["primary"].region == regions["standby"].region:
        r.problems.append(
            "`regions.primary.region` and `regions.standby.region` must differ. "
            f"Received: both {regions['primary'].region!r}"
        )
    return regions


def _region(r: _Reader, data: dict, role: str, model_pin: ModelPin | None) -> RegionOutputs | None:
    """`regions.<role>`; its pin defaults to the top-level model's (`model_pin`)."""
    base = f"regions.{role}"
    values = {key: r.get(data, f"{base}.{key}", str) for key in REGION_STRING_KEYS}
    for key, check in (("region", region_problem), ("endpoint", endpoint_problem)):
        problem = values[key] and check(f"{base}.{key}", values[key])
        if problem:
            r.problems.append(problem)
            values[key] = None
    scaling = _scaling(r, data, f"{base}.gpuScaling")
    active = _scaling(r, data, f"{base}.activeGpuScaling", optional=True)
    serving = _serving_sizes(r, data, f"{base}.serving")
    hpa_name = r.get(data, f"{base}.hpaName", str, optional=True)
    scaled_object = r.get(data, f"{base}.scaledObjectName", str, optional=True)
    front_door = _front_door(r, data, f"{base}.frontDoor")
    pods_per_node = r.positive(data, f"{base}.podsPerGpuNode", int, optional=True)
    pin, candidate = _region_pins(r, data, base)
    candidate_deployment = r.get(data, f"{base}.candidateDeploymentName", str, optional=True)
    cold_start = _cold_start(r, data, f"{base}.coldStart")
    if None in values.values() or scaling is None:
        return None
    return RegionOutputs(
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
        hpa_name=hpa_name,
        serving=serving,
        active_gpu_scaling=active,
        pods_per_gpu_node=pods_per_node,
        scaled_object_name=scaled_object,
        front_door=front_door,
        pin=pin or model_pin,
        candidate=candidate,
        candidate_deployment_name=candidate_deployment,
        cold_start=cold_start,
    )


def _failover_control(r: _Reader, data: dict, failover_control: str | None):
    """`arc` and `regionSwitch`, each required, allowed or refused by `failoverControl`."""
    arc = None
    if failover_control == "arc":
        arc = _parse_arc(r, data)
    elif failover_control == "region-switch" and data.get("arc") is not None:
        arc = _parse_arc(r, data)  # the plan's traffic step may flip ARC routing controls
    elif failover_control == "health-check" and "arc" in data and data["arc"] is not None:
        r.problems.append("`arc` is present but `failoverControl` is 'health-check'")
    region_switch = None
    if failover_control == "region-switch":
        region_switch = _parse_region_switch(r, data)
    elif data.get("regionSwitch") is not None and failover_control is not None:
        r.problems.append(f"`regionSwitch` is present but `failoverControl` is {failover_control!r}")
    return arc, region_switch


def _scaling(r: _Reader, data: dict, path: str, *, optional: bool = False) -> dict[str, int] | None:
    """A `{minSize, desiredSize, maxSize}` object as EKS accepts it: min <= desired <= max, max >= 1."""
    node = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if optional and node is None:
        return None
    sizes = {key: r.positive(data, f"{path}.{key}", int, zero_ok=True) for key in ("minSize", "desiredSize", "maxSize")}
    if None in sizes.values():
        return None
    # EKS NodegroupScalingConfig: maxSize >= 1, 0 <= minSize <= desiredSize <= maxSize.
    if not sizes["minSize"] <= sizes["desiredSize"] <= sizes["maxSize"] or sizes["maxSize"] < 1:
        r.problems.append(f"`{path}` must have minSize <= desiredSize <= maxSize and maxSize >= 1. Received: "
                          + ", ".join(f"{k}={v}" for k, v in sizes.items()))
        return None
    return sizes


def _pin(r: _Reader, data: dict, path: str) -> ModelPin | None:
    version = r.positive(data, f"{path}.version", int)
    digest = r.get(data, f"{path}.manifestSha256", str)
    if digest is not None and not SHA256_PATTERN.fullmatch(digest):
        r.problems.append(f"`{path}.manifestSha256` must be 64 lower-case hex digits. Received: {digest!r}")
        digest = None
    image = r.get(data, f"{path}.image", str, optional=True)
    return None if version is None or digest is None else ModelPin(version=version, manifest_sha256=digest, image=image)


def _region_pins(r: _Reader, data: dict, base: str) -> tuple[ModelPin | None, ModelPin | None]:
    """`regions.<role>.model`: the region's stable pin and its candidate (absent in older outputs)."""
    node = (data.get("regions") or {}).get(base.split(".")[-1]) if isinstance(data.get("regions"), dict) else None
    model = node.get("model") if isinstance(node, dict) else None
    if model is None:
        return None, None
    stable = _pin(r, data, f"{base}.model")
    candidate = _pin(r, data, f"{base}.model.candidate") if isinstance(model, dict) and model.get("candidate") else None
    return stable, candidate


def _front_door(r: _Reader, data: dict, path: str) -> FrontDoorOutputs | None:
    """`{scheme, port, loadBalancerArn, targetGroupArn}`, absent in outputs of stacks without a front door."""
    node = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return None
    scheme = r.choice(data, f"{path}.scheme", ("https", "http"))
    port = r.positive(data, f"{path}.port", int)
    arns = {key: r.get(data, f"{path}.{key}", str) for key in ("loadBalancerArn", "targetGroupArn")}
    canary = r.get(data, f"{path}.canaryTargetGroupArn", str, optional=True)
    header = r.get(data, f"{path}.candidateHeader", str, optional=True)
    rules = r.get(data, f"{path}.ruleArns", list, optional=True) or []
    if not all(isinstance(rule, str) and rule for rule in rules):
        r.problems.append(f"`{path}.ruleArns` must be a list of listener rule ARNs. Received: {rules!r}")
        rules = []
    if None in (scheme, port, *arns.values()):
        return None
    return FrontDoorOutputs(scheme=scheme, port=port, load_balancer_arn=arns["loadBalancerArn"],
                            target_group_arn=arns["targetGroupArn"], canary_target_group_arn=canary,
                            rule_arns=tuple(rules), candidate_header=header)


def _fallback(r: _Reader, data: dict) -> FallbackOutputs | None:
    """`fallback`, present only in stacks with a fallback tier."""
    strings = {key: r.get(data, f"fallback.{key}", str) for key in
               ("region", "endpoint", "bucket", "healthCheckId", "namespace", "deploymentName", "cascadeRecordName")}
    model = {key: r.get(data, f"fallback.model.{key}", str) for key in ("name", "servedAs", "manifestSha256")}
    version = r.positive(data, "fallback.model.version", int)
    history = r.positive(data, "fallback.model.historyLength", int)
    budget = r.positive(data, "fallback.budgetSeconds")
    if model["manifestSha256"] is not None and not SHA256_PATTERN.fullmatch(model["manifestSha256"]):
        r.problems.append(f"`fallback.model.manifestSha256` must be 64 lower-case hex digits. Received: {model['manifestSha256']!r}")
        model["manifestSha256"] = None
    for key, check in (("region", region_problem), ("endpoint", endpoint_problem)):
        problem = strings[key] and check(f"fallback.{key}", strings[key])
        if problem:
            r.problems.append(problem)
            strings[key] = None
    front_door = _front_door(r, data, "fallback.frontDoor")
    fallback_model = (data.get("fallback") or {}).get("model")
    candidate = _pin(r, data, "fallback.model.candidate") if isinstance(fallback_model, dict) and fallback_model.get("candidate") \
        else None
    if None in (*strings.values(), *model.values(), version, history, budget):
        return None
    return FallbackOutputs(
        region=strings["region"], endpoint=strings["endpoint"], bucket=strings["bucket"], health_check_id=strings["healthCheckId"],
        namespace=strings["namespace"], deployment_name=strings["deploymentName"], model_name=model["name"],
        served_as=model["servedAs"], version=version, manifest_sha256=model["manifestSha256"], history_length=history,
        budget_seconds=budget, cascade_record_name=strings["cascadeRecordName"], front_door=front_door,
        image=r.get(data, "fallback.model.image", str, optional=True), candidate=candidate,
        candidate_deployment_name=r.get(data, "fallback.candidateDeploymentName", str, optional=True),
    )


def _cold_start(r: _Reader, data: dict, path: str) -> dict[str, int] | None:
    """`regions.<role>.coldStart`: the phase budgets in seconds (absent in older outputs)."""
    node = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return None
    phases = {key: r.positive(data, f"{path}.{key}", int, zero_ok=True)
              for key in ("capacityWaitSeconds", "nodeSeconds", "imagePullSeconds", "modelLoadSeconds")}
    return None if None in phases.values() else phases


def _serving_sizes(r: _Reader, data: dict, path: str) -> dict[str, int] | None:
    node = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return None
    sizes = {"replicas": r.positive(data, f"{path}.replicas", int, zero_ok=True),
             "minReplicas": r.positive(data, f"{path}.minReplicas", int),
             "maxReplicas": r.positive(data, f"{path}.maxReplicas", int)}
    if None in sizes.values():
        return None
    if sizes["minReplicas"] > sizes["maxReplicas"]:
        r.problems.append(f"`{path}.minReplicas` must be <= `{path}.maxReplicas`. Received: "
                          f"minReplicas={sizes['minReplicas']}, maxReplicas={sizes['maxReplicas']}")
        return None
    return sizes


def _parse_region_switch(r: _Reader, data: dict) -> RegionSwitchOutputs | None:
    if data.get("regionSwitch") is None:
        r.problems.append("`regionSwitch` is missing but `failoverControl` is 'region-switch'")
        return None
    plan_arn = r.get(data, "regionSwitch.planArn", str)
    if plan_arn is not None and not PLAN_ARN_PATTERN.fullmatch(plan_arn):
        r.problems.append("`regionSwitch.planArn` must be a Region switch plan ARN "
                          f"(arn:aws:arc-region-switch::<account>:plan/<name>:<id>). Received: {plan_arn!r}")
        plan_arn = None
    role = r.get(data, "regionSwitch.executionRoleArn", str, optional=True)
    approval = data["regionSwitch"].get("approvalStepName") if isinstance(data["regionSwitch"], dict) else None
    if approval is not None:
        approval = r.get(data, "regionSwitch.approvalStepName", str)
    rto = None
    if isinstance(data["regionSwitch"], dict) and data["regionSwitch"].get("recoveryTimeObjectiveMinutes") is not None:
        rto = r.positive(data, "regionSwitch.recoveryTimeObjectiveMinutes", int)
    if plan_arn is None:
        return None
    return RegionSwitchOutputs(plan_arn=plan_arn, execution_role_arn=role, approval_step_name=approval,
                               recovery_time_objective_minutes=rto)


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
            if region and region_problem(f"arc.clusterEndpoints.{i}.region", region):
                r.problems.append(region_problem(f"arc.clusterEndpoints.{i}.region", region))
                region = None
            if region and endpoint:
                if not endpoint.startswith(("https://", "http://")) or not endpoint.split("://", 1)[1].split("/")[0]:
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
        raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    else:
        source = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise OutputsError(source, [f"cannot read file: {exc.strerror or exc}"]) from exc
    text = _decode(source, raw)
    if not text.strip():
        raise OutputsError(source, ["input is empty (did `pulumi stack output --json` fail?)"])
    return parse_outputs(decode_json(source, text), source=source)


_BOMS = ((b"\xef\xbb\xbf", "UTF-8 with a byte-order mark"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
_RESAVE = ("re-create it as plain UTF-8, e.g. `pulumi stack output --json -s prod > prod.json` in bash, or "
           "`... | Out-File -Encoding utf8NoBOM prod.json` in PowerShell 7")


def _decode(source: str, raw: bytes | str) -> str:
    """Plain UTF-8 text; a BOM or UTF-16 (PowerShell 5's `>`) gets one line saying how to re-save."""
    if isinstance(raw, str):
        if raw.startswith("\ufeff"):
            raise OutputsError(source, [f"input starts with a byte-order mark; {_RESAVE}"])
        return raw
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise OutputsError(source, [f"input is {name}; {_RESAVE}"])
    if len(raw) >= 2 and (raw[0] == 0) != (raw[1] == 0):  # UTF-16 without a BOM: every other byte is 0
        raise OutputsError(source, [f"input looks like UTF-16; {_RESAVE}"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OutputsError(source, [f"input is not UTF-8 (byte {exc.start}); {_RESAVE}"]) from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows to {value}")
    return value


def _depth(node: Any) -> int:
    """Nesting depth of decoded JSON, iteratively (no recursion limit to hit)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_NESTING:
                return depth
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def decode_json(source: str, text: str) -> Any:
    """`json.loads` for operator input: NaN/Infinity and overflowing numbers refused (RFC 8259 has no such
    numbers, Python's json accepts them), nesting bounded, every failure one `OutputsError` line."""
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise OutputsError(source, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    except RecursionError:
        raise OutputsError(source, [f"JSON nested too deeply (more than {MAX_NESTING} levels)"]) from None
    except ValueError as exc:
        raise OutputsError(source, [f"not valid JSON: {exc}"]) from None
    if _depth(data) > MAX_NESTING:
        raise OutputsError(source, [f"JSON nested too deeply (more than {MAX_NESTING} levels)"])
    return data
