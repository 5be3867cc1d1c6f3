"""The whole stack file as one typed object: `TwoRegionRecommenderArgs`.

Each section of `Pulumi.<env>.yaml` is a nested settings object, handed to the child
components as it is. Rules that relate two sections (a pod must fit its instance, a
certificate must live in its region) are in `cross_section_problems`, which runs even when
other sections are invalid, so one run reports every problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError, model_validator

from recsys_dr.components.cluster.instances import allocatable
from recsys_dr.components.monitoring.private_health import private_failover_budget
from recsys_dr.components.serving import exposure
from recsys_dr.components.serving.batching import Batching, batching_problems, resolve_batching
from recsys_dr.components.serving.request_size import rows_admitted
from recsys_dr.components.monitoring.dr_alarms import ROUTE53_METRICS_REGION
from recsys_dr.components.settings.alarms import AlarmSettings
from recsys_dr.components.settings.aws_limits import ALIAS_RECORD_TTL, HEALTH_CHECKER_REGIONS, cpu_millicores, memory_bytes, tag_problems
from recsys_dr.components.settings.base import (
    Settings,
    SettingsError,
    across_sections,
    error_messages,
    key_prefix,
    problem,
    setting,
    stack_file_keys,
)
from recsys_dr.components.settings.cluster import ClusterSettings
from recsys_dr.components.settings.dns import DnsSettings
from recsys_dr.components.settings.fallback import FALLBACK_SUFFIX, FallbackSettings, fallback_model_name
from recsys_dr.components.settings.gpu import GpuPoolSettings
from recsys_dr.components.settings.model import ModelSettings
from recsys_dr.components.settings.region_switch import RegionSwitchSettings
from recsys_dr.components.settings.release import ReleaseSettings
from recsys_dr.components.settings.regions import ROLES, RegionPair
from recsys_dr.components.settings.serving import ServingSettings
from recsys_dr.components.settings.storage import StorageSettings
from recsys_dr.components.settings.training import TrainingSettings

# Tags recsys-dr adds itself: environment, recsys-dr:deployment, recsys-dr:role,
# recsys-dr:component, and Name on health checks.
RESERVED_TAGS = 5


class TwoRegionRecommenderArgs(Settings):
    """Arguments of `TwoRegionRecommender`: one field per stack-file section.

    Example:
        TwoRegionRecommenderArgs(
            regions=RegionPair(primary="eu-west-1", standby="eu-central-1"),
            model=ModelSettings(name="search-ranker", version=12),
            dns=DnsSettings(record_name="rank.search.example.eu", zone_id="Z0123456789ABCDEFGHIJ"),
            standby_mode="pilot-light",
            gpu=GpuPoolSettings(instance_types=["g6.xlarge"]),
        )
    """

    regions: RegionPair = setting(description="The primary/standby region pair.", allowed="an object with keys primary, standby")
    standby_mode: Literal["warm", "pilot-light"] = setting(
        "warm", description="warm: GPU nodes and replicas running in the standby (RTO about the DNS budget); "
        "pilot-light: the standby's GPU pool and Deployment at zero until a failover raises them.",
        allowed="one of: warm, pilot-light",
    )
    failover_control: Literal["health-check", "arc", "region-switch"] = setting(
        "health-check", description="health-check: Route 53 fails over on its own; arc: Route 53 ARC routing controls steer the records; "
        "region-switch: an ARC Region switch plan scales the activated region's serving and then moves the records.",
        allowed="one of: health-check, arc, region-switch",
    )
    model: ModelSettings = setting(description="The pinned model version.", allowed="an object with keys name, version")
    dns: DnsSettings = setting(description="Failover records, health checks and budget.", allowed="an object with keys recordName, zoneId, ...")
    gpu: GpuPoolSettings = setting(default_factory=GpuPoolSettings, description="GPU node group of each region.", allowed="an object")
    serving: ServingSettings = setting(default_factory=ServingSettings, description="TF Serving pods and autoscaling.", allowed="an object")
    cluster: ClusterSettings = setting(default_factory=ClusterSettings, description="EKS clusters and networks.", allowed="an object")
    alarms: AlarmSettings = setting(default_factory=AlarmSettings, description="DR alarms.", allowed="an object")
    region_switch: RegionSwitchSettings = setting(
        default_factory=RegionSwitchSettings, description="The ARC Region switch plan (failoverControl: region-switch).", allowed="an object",
    )
    storage: StorageSettings = setting(default_factory=StorageSettings, description="Model buckets.", allowed="an object")
    release: ReleaseSettings = setting(default_factory=ReleaseSettings, description="How `recsys-dr release` moves a "
                                       "candidate through the regions, and its gates.", allowed="an object")
    training: TrainingSettings = setting(default_factory=TrainingSettings, description="The training Job on the primary's GPU pool "
                                         "(`recsys-dr train`).", allowed="an object")
    fallback: FallbackSettings | None = setting(
        None, description="The CPU fallback tier in the standby region, answered when both GPU tiers are unhealthy "
        "(docs: Fallback tier and capacity). Default: none (recommendations go blank when both GPU tiers are down).",
        allowed="an object with keys version, manifestSha256, ...",
    )
    tags: dict[str, str] = setting(default_factory=dict, description="Tags on every taggable resource.",
                                   allowed="an object of string keys and string values")

    @model_validator(mode="after")
    def _across_sections(self) -> TwoRegionRecommenderArgs:
        if across_sections():
            problems = cross_section_problems(lambda name: getattr(self, name), key_prefix=key_prefix())
            if problems:
                raise problem("\n".join(problems))
        return self

    def region(self, role: str) -> str:
        return self.regions.of(role)

    def pilot_light(self, role: str) -> bool:
        return role == "standby" and self.standby_mode == "pilot-light"

    def gpu_pool(self, role: str) -> GpuPoolSettings:
        """The GPU pool of `role`: a pilot-light standby starts with no node."""
        return self.gpu.pilot_light() if self.pilot_light(role) else self.gpu

    def serving_replicas(self, role: str) -> int:
        return 0 if self.pilot_light(role) else self.serving.min_replicas

    def fallback_model(self) -> ModelSettings:
        """What the fallback pods fetch: `models/<name>-fallback/<fallback.version>/`, pinned by its own digest,
        with the main model's name and request shape (TF Serving serves it under that name)."""
        fallback = self._fallback()
        return self.model.model_copy(update={"version": fallback.version, "manifest_sha256": fallback.manifest_sha256,
                                             "artifact_dir": None})

    def fallback_serving(self) -> ServingSettings:
        """The serving settings of the fallback pods: the GPU tiers' exposure, CIDRs, TLS, web ACL and
        batching, with the fallback's own image, pod size, replicas and scaling."""
        fallback = self._fallback()
        return self.serving.model_copy(update={
            "image": fallback.image, "cpu": fallback.cpu, "memory": fallback.memory, "min_replicas": fallback.min_replicas,
            "max_replicas": fallback.max_replicas, "scaling": fallback.scaling,
        })

    def _fallback(self) -> FallbackSettings:
        if self.fallback is None:
            raise ValueError("this deployment has no `fallback` tier")
        return self.fallback


def _fit_problems(gpu: GpuPoolSettings, serving: ServingSettings, key: Callable[[str], str]) -> list[str]:
    """A serving pod must fit one node of every listed GPU instance type (the autoscaler may pick any)."""
    problems = []
    for instance in gpu.instances:
        cpu, memory_mib = allocatable(instance)
        if serving.gpus_per_pod > instance.gpus:
            problems.append(
                f"`{key('serving.gpusPerPod')}` must be <= the GPUs of `{key('gpu.instanceTypes')}` {instance.name} "
                f"({instance.gpus}); the pod would stay Pending. Received: {serving.gpus_per_pod}"
            )
        if cpu_millicores(serving.cpu) > cpu:
            problems.append(
                f"`{key('serving.cpu')}` must be <= {cpu}m, what a {instance.name} node can give a pod "
                f"({instance.vcpus} vCPUs less kubelet reservation and node DaemonSets). Received: {serving.cpu!r}"
            )
        if memory_bytes(serving.memory) > memory_mib * 1024**2:
            problems.append(
                f"`{key('serving.memory')}` must be <= {memory_mib}Mi, what a {instance.name} node can give a pod "
                f"({instance.memory_gib} GiB less kubelet reservation, eviction threshold and node DaemonSets). "
                f"Received: {serving.memory!r}"
            )
    return problems


def _source_range_problems(serving: ServingSettings, dns: DnsSettings, key: Callable[[str], str]) -> list[str]:
    """Allowed CIDRs plus Route 53's checker ranges must fit the balancer's security group
    (without `checkerRegions` Route 53 uses all of its regions)."""
    checker_regions = dns.checker_regions or sorted(HEALTH_CHECKER_REGIONS)
    return exposure.source_range_problems(
        key("serving.allowedCidrs"), allowed_cidrs=serving.allowed_cidrs,
        checker_ranges=exposure.expected_checker_ranges(checker_regions),
    )


def batching_for(model: ModelSettings, serving: ServingSettings) -> Batching:
    """TF Serving's batching parameters for these settings (unset values derived)."""
    settings = serving.batching
    return resolve_batching(
        max_batch_size=settings.max_batch_size, batch_timeout_micros=settings.batch_timeout_micros,
        num_batch_threads=settings.num_batch_threads, max_enqueued_batches=settings.max_enqueued_batches,
        rest_api_num_threads=settings.rest_api_num_threads, model_max_batch=model.max_batch,
        cpu_millicores=cpu_millicores(serving.cpu),
    )


def _candidate_capacity_problems(gpu: GpuPoolSettings, serving: ServingSettings, key: Callable[[str], str]) -> list[str]:
    from recsys_dr.components.serving.rollout import candidate_capacity_problem, pods_per_node

    per_node = pods_per_node(gpu.instance_types, gpus_per_pod=serving.gpus_per_pod,
                             cpu_millicores=cpu_millicores(serving.cpu), memory_bytes=memory_bytes(serving.memory))
    if per_node == 0:  # a pod that fits no node is reported by `_fit_problems`
        return []
    found = candidate_capacity_problem(key("model.candidate"), min_replicas=serving.min_replicas,
                                       max_replicas=serving.max_replicas, pool_max_pods=gpu.max_size * per_node)
    return [found] if found else []


def admitted_rows(model: ModelSettings) -> int:
    """Rows one request may carry through the front door (the web ACL's body limit)."""
    return rows_admitted(max_batch=model.max_batch, history_length=model.history_length,
                         item_id_bytes=model.max_item_id_bytes, query_bytes=model.max_query_bytes)


def _batching_problems(model: ModelSettings, serving: ServingSettings, key: Callable[[str], str]) -> list[str]:
    return batching_problems(key("serving.batching"), batching_for(model, serving), model_max_batch=model.max_batch,
                             rows_admitted=admitted_rows(model))


def _training_capacity_problems(gpu: GpuPoolSettings, serving: ServingSettings, training: TrainingSettings,
                                key: Callable[[str], str]) -> list[str]:
    """The primary's GPU pool at its maximum must hold every worker at once beside the serving pods'
    minimum: the workers meet in one collective, so a worker left Pending holds the others forever."""
    per_node = min(instance.gpus for instance in gpu.instances)
    needed = training.workers * training.gpus_per_worker + serving.min_replicas * serving.gpus_per_pod
    if training.gpus_per_worker > per_node:
        return [f"`{key('training.gpusPerWorker')}` must be <= {per_node}, the GPUs of the smallest "
                f"`{key('gpu.instanceTypes')}` node. Received: {training.gpus_per_worker}"]
    if needed > gpu.max_size * per_node:
        return [f"`{key('training.workers')}` x `{key('training.gpusPerWorker')}` plus the serving pods' minimum must fit "
                f"`{key('gpu.maxSize')}` nodes of {per_node} GPU(s) ({gpu.max_size * per_node}); the workers start together. "
                f"Received: workers={training.workers}, gpusPerWorker={training.gpus_per_worker}, needed {needed} GPUs"]
    return []


def _fallback_problems(section: Callable[[str], Any], key: Callable[[str], str]) -> list[str]:
    """The fallback answers through the health-driven cascade only; its model name must stay a valid name."""
    fallback, control, model = section("fallback"), section("failover_control"), section("model")
    if fallback is None:
        return []
    problems = []
    if control is not None and control != "health-check":
        # ARC routing controls and a Region switch plan exist so that an operator alone moves traffic
        # (the records ignore target health); the cascade moves it by health. Both at once would either
        # override the operator or leave the fallback unreachable.
        problems.append(
            f"`{key('fallback')}` needs `{key('failoverControl')}` health-check: the DNS cascade to the fallback follows "
            f"health checks, while with {control} only the operator's switch moves traffic. Use health-check, or "
            f"remove `{key('fallback')}`. Received: failoverControl={control}"
        )
    if model is not None and len(fallback_model_name(model.name)) > 63:
        problems.append(
            f"`{key('model.name')}` must be at most {63 - len(FALLBACK_SUFFIX)} characters with `{key('fallback')}`: the "
            f"fallback is published as `<name>{FALLBACK_SUFFIX}`, a TF Serving and Kubernetes name of at most 63. "
            f"Received: {model.name!r} ({len(model.name)} characters)"
        )
    return problems


def cross_section_problems(section: Callable[[str], Any], *, key_prefix: str) -> list[str]:
    """Rules relating two sections; `section(name)` is the validated section, or None if it failed."""

    def key(path: str) -> str:
        return key_prefix + path

    problems: list[str] = []
    regions, gpu, serving, alarms, tags = (section(n) for n in ("regions", "gpu", "serving", "alarms", "tags"))
    control, dns = section("failover_control"), section("dns")
    if control == "region-switch" and dns is not None and dns.zone_id is None:
        # The plan's Route 53 block names the hosted zone when the plan is created, and the
        # records then take the plan's health checks: the zone must exist before this stack.
        problems.append(
            f"`{key('failoverControl')}` region-switch needs `{key('dns.zoneId')}` (an existing hosted zone); "
            f"a zone created by `{key('dns.zoneName')}` does not exist yet when the plan is created. Received: dns.zoneName={dns.zone_name}"
        )
    if serving is not None:
        problems += serving.open_endpoint_problems(key("serving"))
    if gpu is not None and serving is not None:
        problems += _fit_problems(gpu, serving, key)
    training = section("training")
    if gpu is not None and serving is not None and training is not None and training.enabled:
        problems += _training_capacity_problems(gpu, serving, training, key)
    if gpu is not None and regions is not None:
        for role in ROLES:
            reservation = gpu.capacity_reservations.of(role)
            # Zone names are the region's name plus a letter (EC2 user guide, "Availability Zones").
            if reservation is not None and reservation.availability_zone[:-1] != regions.of(role):
                problems.append(
                    f"`{key(f'gpu.capacityReservations.{role}.availabilityZone')}` must be a zone of {regions.of(role)} "
                    f"(reservations are zonal). Received: {reservation.availability_zone}"
                )
    model = section("model")
    if model is not None and serving is not None:
        problems += _batching_problems(model, serving, key)
    if model is not None and serving is not None and gpu is not None and model.has_candidate:
        problems += _candidate_capacity_problems(gpu, serving, key)
    if regions is not None and serving is not None and serving.tls_certificate_arns is not None:
        for role in ROLES:
            if serving.tls_certificate_arns.region_of(role) != regions.of(role):
                problems.append(
                    f"`{key(f'serving.tlsCertificateArns.{role}')}` must be a certificate in {regions.of(role)} "
                    f"(ACM certificates are regional). Received: {getattr(serving.tls_certificate_arns, role)}"
                )
    if regions is not None and alarms is not None and alarms.topic_arns:
        needed = sorted({ROUTE53_METRICS_REGION, regions.primary})
        missing = [r for r in needed if r not in alarms.topic_regions()]
        if missing:
            problems.append(
                f"`{key('alarms.topicArns')}` needs a topic in each alarm region ({', '.join(needed)}); "
                f"CloudWatch only notifies topics in the alarm's region. Missing: {', '.join(missing)}"
            )
    dns = section("dns")
    if serving is not None and dns is not None and serving.exposure == "internal" and dns.failover_budget_target is not None:
        budget = private_failover_budget(ttl=ALIAS_RECORD_TTL)
        if budget.total_seconds > dns.failover_budget_target:
            problems.append(
                f"`{key('serving.exposure')}` internal fails over on a CloudWatch alarm: a budget of {budget.explain()}, above "
                f"`{key('dns.failoverBudgetTarget')}`={dns.failover_budget_target}. Raise the target"
            )
    if serving is not None and dns is not None and serving.exposure == "internet-facing" and serving.allowed_cidrs:
        problems += _source_range_problems(serving, dns, key)
    if tags is not None:
        problems += tag_problems(key("tags"), tags, reserved=RESERVED_TAGS)
    problems += _fallback_problems(section, key)
    return problems


def _validate(raw: dict[str, Any], prefix: str) -> tuple[TwoRegionRecommenderArgs | None, list[str]]:
    try:
        with stack_file_keys(prefix, across_sections=False):
            return TwoRegionRecommenderArgs.model_validate(raw, by_alias=True, by_name=False), []
    except ValidationError as error:
        return None, error_messages(error, TwoRegionRecommenderArgs, prefix=prefix)


def _checked(raw: dict[str, Any], prefix: str) -> tuple[TwoRegionRecommenderArgs | None, list[str]]:
    """Validate once: the args (None if any section failed) and every problem, cross-section rules included."""
    args, problems = _validate(raw, prefix)
    fields = TwoRegionRecommenderArgs.model_fields

    def section(name: str) -> Any:
        if args is not None:
            return getattr(args, name)
        # Some section failed: validate each apart, so the rules across the others still run.
        info = fields[name]
        value = raw.get(info.alias or name)
        if value is None:
            return None if info.is_required() else info.get_default(call_default_factory=True)
        try:
            with stack_file_keys(prefix, across_sections=False):
                return TypeAdapter(info.annotation).validate_python(value, strict=True, by_alias=True, by_name=False)
        except ValidationError:
            return None

    return args, problems + cross_section_problems(section, key_prefix=prefix)


def settings_problems(raw: dict[str, Any], *, key_prefix: str) -> list[str]:
    """Every problem of raw stack-file values (camelCase keys), each naming key, value and what is allowed."""
    return _checked(raw, key_prefix)[1]


def parse_settings(raw: dict[str, Any], *, key_prefix: str, subject: str) -> TwoRegionRecommenderArgs:
    """Validate raw stack-file values and build the args, or raise one `SettingsError` with every problem."""
    args, problems = _checked(raw, key_prefix)
    if problems:
        raise SettingsError(subject, problems)
    return args
