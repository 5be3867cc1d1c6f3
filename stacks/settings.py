"""Read and validate a stack's configuration, once, before any resource exists.

Every problem is collected and reported together; each message names the key (as it is
written in `Pulumi.<env>.yaml`), the value received and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config

from recsys_dr.components import TwoRegionRecommenderArgs
from recsys_dr.components.cluster.network import overlapping_cidr_problems, vpc_cidr_problems
from recsys_dr.components.dns import failover_budget
from recsys_dr.components.monitoring.dr_alarms import ROUTE53_METRICS_REGION, alarm_topic_problems
from recsys_dr.components.validation import (
    FAILOVER_CONTROLS,
    STANDBY_MODES,
    certificate_problems,
    choice_problems,
    dns_name_problems,
    gpu_instance_problems,
    health_check_problems,
    model_problems,
    region_pair_problems,
    scaling_problems,
)

NAMESPACE = "recsys-dr"
# Top-level keys and the keys each structured value may hold.
SCHEMA: dict[str, tuple[str, ...] | None] = {
    "regions": ("primary", "standby"),
    "standbyMode": None,
    "failoverControl": None,
    "model": ("name", "version"),
    "dns": ("zoneId", "zoneName", "recordName", "ttl", "healthCheckInterval", "failureThreshold",
            "checkerRegions", "failoverBudgetTarget"),
    "gpu": ("instanceTypes", "minSize", "desiredSize", "maxSize", "osFamily", "capacityType"),
    "serving": ("minReplicas", "maxReplicas", "image", "fetcherImage", "gpusPerPod", "cpu", "memory",
                "tlsCertificateArns", "awaitRollout"),
    "cluster": ("kubernetesVersion", "systemInstanceType", "systemNodeCount", "availabilityZones",
                "singleNatGateway", "vpcCidrs", "subnetIds", "publicAccessCidrs"),
    "alarms": ("topicArns", "replicationLatencySeconds"),
    "tags": None,
}
REQUIRED = ("regions", "model", "dns")
CPU_QUANTITY = re.compile(r"\d+(\.\d+)?m?")
MEMORY_QUANTITY = re.compile(r"\d+(Ki|Mi|Gi|Ti|K|M|G|T)?")


class ConfigError(pulumi.InputPropertiesError, ValueError):
    """The stack configuration is invalid; `problems` lists every finding."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"Invalid configuration for stack '{stack}' ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            + "\n".join(f"  - {problem}" for problem in problems),
            errors=[pulumi.InputPropertyErrorDetails(property_path=p.split("`")[1] if "`" in p else "", reason=p) for p in problems],
        )


@dataclass(frozen=True)
class StackSettings:
    """The validated configuration: component args plus what only the stack cares about."""

    environment: str
    args: TwoRegionRecommenderArgs
    failover_budget_target: int | None


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_cidr(value: object) -> bool:
    try:
        return isinstance(value, str) and ipaddress.ip_network(value).version == 4
    except ValueError:
        return False


def load_settings(raw: Mapping[str, Any], environment: str) -> StackSettings:
    """Validate raw configuration values and build the component arguments.

    Args:
        raw: top-level config keys without the namespace (`{"gpu": {...}, ...}`), values
            already decoded (objects as dicts).
        environment: the stack name, used in messages and outputs.

    Raises:
        ConfigError: listing every problem found.
    """
    problems: list[str] = []
    for name in raw:
        if name not in SCHEMA:
            problems.append(f"`{_key(name)}` is not a setting of this project. Allowed: {', '.join(sorted(SCHEMA))}")
    for name in REQUIRED:
        if raw.get(name) is None:
            problems.append(f"`{_key(name)}` is required and missing")

    sections: dict[str, dict] = {}
    for name, fields in SCHEMA.items():
        value = raw.get(name)
        if fields is None:
            continue
        if value is None:
            sections[name] = {}
            continue
        if not isinstance(value, Mapping):
            problems.append(f"`{_key(name)}` must be an object with keys {', '.join(fields)}. Received: {value!r}")
            sections[name] = {}
            continue
        for field_name in value:
            if field_name not in fields:
                problems.append(f"`{_key(name)}.{field_name}` is not a known key. Allowed: {', '.join(fields)}")
        sections[name] = dict(value)

    regions, model, dns, gpu, serving, cluster, alarms = (
        sections[s] for s in ("regions", "model", "dns", "gpu", "serving", "cluster", "alarms")
    )
    defaults = TwoRegionRecommenderArgs.__dataclass_fields__

    def default(field_name: str) -> Any:
        spec = defaults[field_name]
        return spec.default_factory() if callable(spec.default_factory) else spec.default

    def typed(section: str, values: dict, name: str, check: Callable[[Any], bool], allowed: str, fallback: str) -> Any:
        value = values.get(name, default(fallback))
        if not check(value):
            problems.append(f"`{_key(section)}.{name}` must be {allowed}. Received: {value!r}")
        return value

    if regions:
        problems += region_pair_problems(
            _key("regions.primary"), regions.get("primary"), _key("regions.standby"), regions.get("standby")
        )
    standby_mode = raw.get("standbyMode", default("standby_mode"))
    problems += choice_problems(_key("standbyMode"), standby_mode, STANDBY_MODES)
    failover_control = raw.get("failoverControl", default("failover_control"))
    problems += choice_problems(_key("failoverControl"), failover_control, FAILOVER_CONTROLS)
    if model:
        problems += model_problems(_key("model"), model.get("name"), model.get("version"))

    interval = dns.get("healthCheckInterval", default("health_check_interval"))
    threshold = dns.get("failureThreshold", default("failure_threshold"))
    ttl = dns.get("ttl", default("ttl"))
    budget_target = dns.get("failoverBudgetTarget")
    if dns:
        timing_problems = health_check_problems(_key("dns"), interval, threshold, ttl, dns.get("checkerRegions"))
        problems += timing_problems
        record = dns.get("recordName")
        if record is None:
            problems.append(f"`{_key('dns.recordName')}` is required: the DNS name clients use, e.g. recs.shop.example.com")
        else:
            problems += dns_name_problems(_key("dns.recordName"), record)
        zone_id, zone_name = dns.get("zoneId"), dns.get("zoneName")
        if (zone_id is None) == (zone_name is None):
            problems.append(
                f"exactly one of `{_key('dns.zoneId')}` (existing hosted zone) and `{_key('dns.zoneName')}` (zone to create) "
                f"must be set. Received: zoneId={zone_id!r}, zoneName={zone_name!r}"
            )
        elif zone_name is not None:
            problems += dns_name_problems(_key("dns.zoneName"), zone_name)
            if isinstance(record, str) and isinstance(zone_name, str) and not record.endswith("." + zone_name.rstrip(".")):
                problems.append(f"`{_key('dns.recordName')}` must lie inside `{_key('dns.zoneName')}`. Received: {record} in {zone_name}")
        elif not isinstance(zone_id, str) or not zone_id.startswith("Z"):
            problems.append(f"`{_key('dns.zoneId')}` must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ. Received: {zone_id!r}")
        if budget_target is not None and not (_is_int(budget_target) and budget_target > 0):
            problems.append(f"`{_key('dns.failoverBudgetTarget')}` must be a positive number of seconds. Received: {budget_target!r}")
        elif budget_target is not None and not timing_problems:
            budget = failover_budget(interval=interval, failure_threshold=threshold, ttl=ttl)
            if budget.total_seconds > budget_target:
                problems.append(
                    f"`{_key('dns')}` gives a failover budget of {budget.explain()}, above "
                    f"`{_key('dns.failoverBudgetTarget')}`={budget_target}. Lower the interval, threshold or TTL"
                )

    instance_types = gpu.get("instanceTypes", list(default("gpu_instance_types")))
    problems += gpu_instance_problems(_key("gpu.instanceTypes"), instance_types)
    gpu_sizes = [gpu.get(k, default(f)) for k, f in (("minSize", "gpu_min_size"), ("desiredSize", "gpu_desired_size"), ("maxSize", "gpu_max_size"))]
    problems += scaling_problems(_key("gpu"), *gpu_sizes)
    if _is_int(gpu_sizes[0]) and gpu_sizes[0] < 1:
        problems.append(f"`{_key('gpu.minSize')}` must be >= 1: the primary always serves (only a pilot-light standby scales to 0). Received: 0")
    os_family = typed("gpu", gpu, "osFamily", lambda v: v in ("al2023", "bottlerocket"), "one of: al2023, bottlerocket", "gpu_os_family")
    capacity = typed("gpu", gpu, "capacityType", lambda v: v in ("ON_DEMAND", "SPOT"), "one of: ON_DEMAND, SPOT", "gpu_capacity_type")

    min_replicas = typed("serving", serving, "minReplicas", lambda v: _is_int(v) and v >= 1, "an integer >= 1", "min_replicas")
    max_replicas = typed("serving", serving, "maxReplicas", lambda v: _is_int(v) and v >= 1, "an integer >= 1", "max_replicas")
    if _is_int(min_replicas) and _is_int(max_replicas) and min_replicas > max_replicas:
        problems.append(f"`{_key('serving.minReplicas')}` must be <= `{_key('serving.maxReplicas')}`. Received: minReplicas={min_replicas}, maxReplicas={max_replicas}")
    gpus_per_pod = typed("serving", serving, "gpusPerPod", lambda v: _is_int(v) and 1 <= v <= 8, "an integer from 1 to 8", "gpus_per_pod")
    non_empty = lambda v: isinstance(v, str) and bool(v.strip())  # noqa: E731
    serving_image = typed("serving", serving, "image", non_empty, "a container image reference", "serving_image")
    fetcher_image = typed("serving", serving, "fetcherImage", non_empty, "a container image reference", "fetcher_image")
    cpu = str(typed("serving", serving, "cpu", lambda v: _is_int(v) or (isinstance(v, str) and CPU_QUANTITY.fullmatch(v) is not None),
                    'a Kubernetes CPU quantity such as "3" or "1500m"', "cpu"))
    memory = typed("serving", serving, "memory", lambda v: isinstance(v, str) and MEMORY_QUANTITY.fullmatch(v) is not None,
                   "a Kubernetes memory quantity such as 12Gi or 16384Mi", "memory")

    await_rollout = typed("serving", serving, "awaitRollout", lambda v: isinstance(v, bool), "true or false", "await_rollout")
    tls_certificates = serving.get("tlsCertificateArns")
    if tls_certificates is not None:
        if not isinstance(tls_certificates, Mapping) or set(tls_certificates) != {"primary", "standby"}:
            problems.append(
                f"`{_key('serving.tlsCertificateArns')}` must map both primary and standby to an ACM certificate ARN "
                f"in that region (clients would lose TLS on failover). Received: {tls_certificates!r}"
            )
        elif regions:
            for role in ("primary", "standby"):
                problems += certificate_problems(_key(f"serving.tlsCertificateArns.{role}"), tls_certificates[role], regions.get(role))

    topic_arns = alarms.get("topicArns", [])
    if regions:
        problems += alarm_topic_problems(_key("alarms.topicArns"), topic_arns, [ROUTE53_METRICS_REGION, regions.get("primary")])
    latency_alarm = typed(
        "alarms", alarms, "replicationLatencySeconds", lambda v: _is_int(v) and 60 <= v <= 86400,
        "an integer from 60 to 86400 seconds", "replication_latency_alarm_seconds",
    )

    kubernetes_version = str(typed("cluster", cluster, "kubernetesVersion", lambda v: isinstance(v, str) and re.fullmatch(r"1\.\d{2}", v) is not None, 'an EKS "major.minor" version string such as "1.33"', "kubernetes_version"))
    system_type = typed("cluster", cluster, "systemInstanceType", lambda v: isinstance(v, str) and "." in v, "an EC2 instance type", "system_instance_type")
    system_nodes = typed("cluster", cluster, "systemNodeCount", lambda v: _is_int(v) and 1 <= v <= 10, "an integer from 1 to 10", "system_node_count")
    zones = typed("cluster", cluster, "availabilityZones", lambda v: v in (2, 3) and _is_int(v), "one of: 2, 3", "availability_zone_count")
    single_nat = typed("cluster", cluster, "singleNatGateway", lambda v: isinstance(v, bool), "true or false", "single_nat_gateway")
    vpc_cidrs = typed("cluster", cluster, "vpcCidrs", lambda v: isinstance(v, Mapping) and set(v) == {"primary", "standby"}, "an object with keys primary, standby", "vpc_cidrs")
    if isinstance(vpc_cidrs, Mapping) and set(vpc_cidrs) == {"primary", "standby"}:
        for role in ("primary", "standby"):
            problems += vpc_cidr_problems(_key(f"cluster.vpcCidrs.{role}"), vpc_cidrs[role])
        problems += overlapping_cidr_problems(_key("cluster.vpcCidrs"), dict(vpc_cidrs))
    public_cidrs = typed(
        "cluster", cluster, "publicAccessCidrs", lambda v: isinstance(v, (list, tuple)) and bool(v) and all(_is_cidr(c) for c in v),
        "a non-empty list of IPv4 CIDRs such as [203.0.113.0/24]", "public_access_cidrs",
    )
    subnet_ids = cluster.get("subnetIds")
    if subnet_ids is not None and not (
        isinstance(subnet_ids, Mapping) and set(subnet_ids) <= {"primary", "standby"}
        and all(isinstance(ids, list) and len(ids) >= 2 for ids in subnet_ids.values())
    ):
        problems.append(f"`{_key('cluster.subnetIds')}` must map primary and/or standby to lists of at least 2 subnet ids. Received: {subnet_ids!r}")
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        problems.append(f"`{_key('tags')}` must be an object of string keys and string values. Received: {tags!r}")

    if problems:
        raise ConfigError(environment, problems)

    args = TwoRegionRecommenderArgs(
        primary_region=regions["primary"], standby_region=regions["standby"],
        model_name=model["name"], model_version=model["version"],
        record_name=dns["recordName"], zone_id=dns.get("zoneId"), zone_name=dns.get("zoneName"),
        standby_mode=standby_mode, failover_control=failover_control,
        health_check_interval=interval, failure_threshold=threshold, ttl=ttl,
        checker_regions=dns.get("checkerRegions"),
        gpu_instance_types=list(instance_types), gpu_os_family=os_family, gpu_capacity_type=capacity,
        gpu_min_size=gpu_sizes[0], gpu_desired_size=gpu_sizes[1], gpu_max_size=gpu_sizes[2],
        min_replicas=min_replicas, max_replicas=max_replicas,
        kubernetes_version=kubernetes_version, system_instance_type=system_type, system_node_count=system_nodes,
        public_access_cidrs=list(public_cidrs),
        vpc_cidrs=dict(vpc_cidrs), availability_zone_count=zones, single_nat_gateway=single_nat,
        subnet_ids={role: list(ids) for role, ids in subnet_ids.items()} if subnet_ids else None,
        tls_certificate_arns=dict(tls_certificates) if tls_certificates else None,
        alarm_topic_arns=list(topic_arns), replication_latency_alarm_seconds=latency_alarm,
        await_rollout=await_rollout,
        serving_image=serving_image, fetcher_image=fetcher_image, gpus_per_pod=gpus_per_pod, cpu=cpu, memory=memory,
        tags={"environment": environment, **tags},
    )
    return StackSettings(environment=environment, args=args, failover_budget_target=budget_target)


def read_config(config: pulumi.Config) -> dict[str, Any]:
    """Raw values of every `recsys-dr:` key the stack sets, objects decoded.

    Unknown keys are read too, so that a typo is reported instead of silently ignored.
    """
    prefix = f"{NAMESPACE}:"
    keys = set(pulumi_config.CONFIG.get()) | set(pulumi_config.get_config_env())
    raw: dict[str, Any] = {}
    for name in sorted(k[len(prefix):] for k in keys if k.startswith(prefix)):
        structured = name == "tags" or SCHEMA.get(name, ()) is not None
        try:
            raw[name] = config.get_object(name) if structured else config.get(name)
        except pulumi.ConfigTypeError:
            raw[name] = config.get(name)  # reported by load_settings as the wrong shape
    return raw
