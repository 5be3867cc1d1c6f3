"""TwoRegionRecommender: the whole disaster-recovery deployment for one primary/standby pair."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pulumi

from recsys_dr.components.cluster import GpuCluster, GpuClusterArgs, NetworkArgs
from recsys_dr.components.cluster.gpu_cluster import gpu_cluster_problems
from recsys_dr.components.cluster.network import overlapping_cidr_problems
from recsys_dr.components.dns import ArcControl, ArcControlArgs, DnsFailover, DnsFailoverArgs
from recsys_dr.components.dns.failover_records import dns_failover_problems
from recsys_dr.components.monitoring import DrAlarms, DrAlarmsArgs
from recsys_dr.components.monitoring.dr_alarms import ROUTE53_METRICS_REGION, alarm_topic_problems
from recsys_dr.components.serving import ModelServing, ModelServingArgs, manifests
from recsys_dr.components.serving.model_serving import model_serving_problems
from recsys_dr.components.storage import ModelBucketArgs, ReplicatedModelBucket
from recsys_dr.components.storage.defaults import REPLICATION_RULE_ID, REPLICATION_TIME_MINUTES
from recsys_dr.components.validation import (
    FAILOVER_CONTROLS,
    STANDBY_MODES,
    choice_problems,
    raise_if_problems,
    region_pair_problems,
)

ROLES = ("primary", "standby")
DEFAULT_VPC_CIDRS = {"primary": "10.0.0.0/16", "standby": "10.1.0.0/16"}


@dataclass(frozen=True, kw_only=True)
class TwoRegionRecommenderArgs:
    """Arguments of `TwoRegionRecommender`; every field but the first seven has a default.

    Attributes:
        primary_region / standby_region: the region pair; must differ.
        model_name / model_version: the pinned model (`models/<name>/<version>/`).
        record_name: DNS name clients use.
        zone_id / zone_name: existing hosted zone, or a zone to create (exactly one).
        standby_mode: "warm" (default; GPU nodes and replicas running, RTO ~ DNS budget)
            or "pilot-light" (standby GPU pool and Deployment at zero; scale up on failover).
        failover_control: "health-check" (default, automatic) or "arc" (Route 53 ARC
            routing controls steer the records; manual, survives control-plane outages).
        health_check_interval / failure_threshold / ttl / checker_regions: see `DnsFailoverArgs`.
        gpu_instance_types / gpu_os_family / gpu_capacity_type: GPU pool, both regions.
        gpu_min_size / gpu_desired_size / gpu_max_size: GPU pool bounds of the primary and of
            a warm standby. A pilot-light standby uses 0 / 0 / gpu_max_size.
        min_replicas / max_replicas: serving HPA bounds (both regions). Defaults 1 / 4.
        kubernetes_version / system_instance_type / system_node_count / public_access_cidrs:
            see `GpuClusterArgs`.
        vpc_cidrs: VPC block per role. Default 10.0.0.0/16 and 10.1.0.0/16 (distinct, so
            the two VPCs can be peered later).
        availability_zone_count / single_nat_gateway: see `NetworkArgs`.
        subnet_ids: existing private subnets per role ("primary"/"standby"); a role given
            here gets no new network. Default none.
        serving_image / fetcher_image / gpus_per_pod / cpu / memory: see `ModelServingArgs`.
        tls_certificate_arns: ACM certificate per role ("primary"/"standby", each in its own
            region) for HTTPS on 443. Both or neither: clients must not lose TLS on failover.
            Default none.
        await_rollout: see `ModelServingArgs` (False only for the first deployment). Default True.
        alarm_topic_arns: SNS topics for the DR alarms (health checks in us-east-1, replication
            in the primary region): one per alarm region, or none. Default none.
        replication_latency_alarm_seconds: alarm when replication lags longer. Default 900.
        force_destroy_buckets: let `pulumi destroy` delete non-empty buckets. Default False.
        tags: tags on every taggable resource. Default none.
    """

    primary_region: str
    standby_region: str
    model_name: str
    model_version: int
    record_name: str
    zone_id: pulumi.Input[str] | None = None
    zone_name: str | None = None
    standby_mode: str = "warm"
    failover_control: str = "health-check"
    health_check_interval: int = 10
    failure_threshold: int = 3
    ttl: int = 30
    checker_regions: Sequence[str] | None = None
    gpu_instance_types: Sequence[str] = ("g5.xlarge",)
    gpu_os_family: str = "al2023"
    gpu_capacity_type: str = "ON_DEMAND"
    gpu_min_size: int = 1
    gpu_desired_size: int = 1
    gpu_max_size: int = 2
    min_replicas: int = 1
    max_replicas: int = 4
    kubernetes_version: str = "1.33"
    system_instance_type: str = "m6i.large"
    system_node_count: int = 2
    public_access_cidrs: Sequence[str] = ("0.0.0.0/0",)
    vpc_cidrs: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_VPC_CIDRS))
    availability_zone_count: int = 2
    single_nat_gateway: bool = False
    subnet_ids: Mapping[str, Sequence[pulumi.Input[str]]] | None = None
    serving_image: str = manifests.DEFAULT_SERVING_IMAGE
    fetcher_image: str = manifests.DEFAULT_FETCHER_IMAGE
    gpus_per_pod: int = 1
    cpu: str = "3"
    memory: str = "12Gi"
    tls_certificate_arns: Mapping[str, str] | None = None
    await_rollout: bool = True
    alarm_topic_arns: Sequence[str] = ()
    replication_latency_alarm_seconds: int = REPLICATION_TIME_MINUTES * 60
    force_destroy_buckets: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    def region(self, role: str) -> str:
        return self.primary_region if role == "primary" else self.standby_region

    def gpu_scaling(self, role: str) -> dict[str, int]:
        if role == "standby" and self.standby_mode == "pilot-light":
            return {"minSize": 0, "desiredSize": 0, "maxSize": self.gpu_max_size}
        return {"minSize": self.gpu_min_size, "desiredSize": self.gpu_desired_size, "maxSize": self.gpu_max_size}

    def serving_replicas(self, role: str) -> int:
        return 0 if role == "standby" and self.standby_mode == "pilot-light" else self.min_replicas


class TwoRegionRecommender(pulumi.ComponentResource):
    """Replicated buckets, a GPU cluster and TF Serving per region, and DNS failover.

    Each region's serving path uses only its own bucket, key, cluster and load balancer,
    so losing the primary region leaves the standby whole. Every child's arguments are
    built and validated before the first resource is registered.
    """

    def __init__(self, name: str, args: TwoRegionRecommenderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        tags = {"recsys-dr:deployment": name, **args.tags}
        problems = choice_problems("standby_mode", args.standby_mode, STANDBY_MODES)
        problems += choice_problems("failover_control", args.failover_control, FAILOVER_CONTROLS)
        pair_problems = region_pair_problems("primary_region", args.primary_region, "standby_region", args.standby_region)
        problems += pair_problems
        problems += overlapping_cidr_problems("vpc_cidrs", dict(args.vpc_cidrs))
        problems += alarm_topic_problems("alarm_topic_arns", args.alarm_topic_arns, [ROUTE53_METRICS_REGION, args.primary_region])
        if args.tls_certificate_arns is not None and set(args.tls_certificate_arns) != set(ROLES):
            problems.append(
                "`tls_certificate_arns` must name a certificate for both primary and standby "
                f"(clients would lose TLS on failover). Received keys: {sorted(args.tls_certificate_arns)}"
            )
        bucket_args = ModelBucketArgs(
            primary_region=args.primary_region, standby_region=args.standby_region,
            force_destroy=args.force_destroy_buckets, tags=tags,
        )
        cluster_args = {role: _cluster_args(args, role, tags) for role in ROLES}
        # Outputs of other children are filled in (dataclasses.replace) once they exist.
        serving_args = {role: _serving_args(args, role, tags) for role in ROLES}
        dns_args = DnsFailoverArgs(
            record_name=args.record_name, zone_id=args.zone_id, zone_name=args.zone_name,
            primary_endpoint="", standby_endpoint="", model_name=args.model_name,
            health_check_interval=args.health_check_interval, failure_threshold=args.failure_threshold,
            ttl=args.ttl, checker_regions=args.checker_regions, tags=tags,
        )
        # With a bad region every child would repeat it; report the pair once instead.
        if not pair_problems:
            for role in ROLES:
                problems += [f"{role}: {p}" for p in gpu_cluster_problems(cluster_args[role])]
                problems += [f"{role}: {p}" for p in model_serving_problems(serving_args[role])]
            problems += dns_failover_problems(dns_args)
        raise_if_problems("TwoRegionRecommenderArgs", list(dict.fromkeys(problems)))

        super().__init__("recsys-dr:components:TwoRegionRecommender", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.buckets = ReplicatedModelBucket(f"{name}-models", bucket_args, opts=child)
        regional_buckets = {"primary": self.buckets.primary, "standby": self.buckets.standby}
        self.clusters: dict[str, GpuCluster] = {}
        self.serving: dict[str, ModelServing] = {}
        for role in ROLES:
            cluster = GpuCluster(f"{name}-{role}", cluster_args[role], opts=child)
            bucket = regional_buckets[role]
            self.clusters[role] = cluster
            self.serving[role] = ModelServing(
                f"{name}-{role}-serving",
                replace(
                    serving_args[role],
                    cluster_name=cluster.cluster.name,
                    kubernetes_provider=cluster.provider,
                    bucket_name=bucket.bucket.bucket,
                    bucket_arn=bucket.bucket.arn,
                    kms_key_arn=bucket.key.arn,
                ),
                # The model must be servable in-region before pods start fetching it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.buckets]),
            )

        self.arc = ArcControl(f"{name}-arc", ArcControlArgs(tags=tags), opts=child) if args.failover_control == "arc" else None
        self.dns = DnsFailover(
            f"{name}-dns",
            replace(
                dns_args,
                primary_endpoint=self.serving["primary"].endpoint,
                standby_endpoint=self.serving["standby"].endpoint,
                routing_health_check_ids={role: check.id for role, check in self.arc.health_checks.items()} if self.arc else None,
            ),
            opts=child,
        )
        # A pilot-light standby fails its health check by design: alarming on it is noise.
        watched = [role for role in ROLES if not (role == "standby" and args.standby_mode == "pilot-light")]
        self.alarms = DrAlarms(
            f"{name}-alarms",
            DrAlarmsArgs(
                replication_region=args.primary_region,
                health_check_ids={role: self.dns.health_checks[role].id for role in watched},
                source_bucket=self.buckets.primary.bucket.bucket,
                destination_bucket=self.buckets.standby.bucket.bucket,
                replication_rule_id=REPLICATION_RULE_ID,
                replication_latency_seconds=args.replication_latency_alarm_seconds,
                alarm_topic_arns=list(args.alarm_topic_arns),
                tags=tags,
            ),
            opts=child,
        )
        self.failover_budget = self.dns.budget
        self.stack_outputs = self._stack_outputs(args, regional_buckets)
        self.register_outputs(self.stack_outputs)

    def _stack_outputs(self, args: TwoRegionRecommenderArgs, regional_buckets: dict) -> dict[str, pulumi.Input]:
        """The documented stack-output document (README, "Stack outputs")."""
        regions = {
            role: {
                "region": args.region(role),
                "endpoint": self.serving[role].endpoint,
                "bucket": regional_buckets[role].bucket.bucket,
                "kmsKeyArn": regional_buckets[role].key.arn,
                "clusterName": self.clusters[role].cluster.name,
                "gpuNodeGroupName": self.clusters[role].gpu_node_group.node_group_name,
                "healthCheckId": self.dns.health_checks[role].id,
                "namespace": self.serving[role].namespace,
                "deploymentName": self.serving[role].deployment_name,
                "gpuScaling": args.gpu_scaling(role),
            }
            for role in ROLES
        }
        outputs: dict[str, pulumi.Input] = {
            "model": {"name": args.model_name, "version": args.model_version},
            "standbyMode": args.standby_mode,
            "failoverControl": args.failover_control,
            "failoverBudgetSeconds": self.failover_budget.total_seconds,
            "dns": {
                "zoneId": self.dns.zone_id,
                "recordName": args.record_name,
                "ttl": args.ttl,
                "healthCheckIntervalSeconds": args.health_check_interval,
                "failureThreshold": args.failure_threshold,
            },
            "regions": regions,
            "alarms": {key: alarm.name for key, alarm in self.alarms.alarms.items()},
        }
        if self.arc is not None:
            outputs["arc"] = {
                "clusterArn": self.arc.cluster.arn,
                "clusterEndpoints": self.arc.cluster_endpoints,
                "controlPanelArn": self.arc.control_panel.arn,
                "routingControls": {role: control.arn for role, control in self.arc.routing_controls.items()},
            }
        return outputs


def _cluster_args(args: TwoRegionRecommenderArgs, role: str, tags: dict[str, str]) -> GpuClusterArgs:
    region = args.region(role)
    scaling = args.gpu_scaling(role)
    existing_subnets = (args.subnet_ids or {}).get(role)
    return GpuClusterArgs(
        region=region,
        kubernetes_version=args.kubernetes_version,
        subnet_ids=existing_subnets,
        network=None if existing_subnets is not None else NetworkArgs(
            region=region, vpc_cidr=args.vpc_cidrs.get(role),
            availability_zone_count=args.availability_zone_count, single_nat_gateway=args.single_nat_gateway,
        ),
        system_instance_type=args.system_instance_type,
        system_node_count=args.system_node_count,
        public_access_cidrs=list(args.public_access_cidrs),
        gpu_instance_types=list(args.gpu_instance_types),
        gpu_os_family=args.gpu_os_family,
        gpu_capacity_type=args.gpu_capacity_type,
        gpu_min_size=scaling["minSize"],
        gpu_desired_size=scaling["desiredSize"],
        gpu_max_size=scaling["maxSize"],
        tags={**tags, "recsys-dr:role": role},
    )


def _serving_args(args: TwoRegionRecommenderArgs, role: str, tags: dict[str, str]) -> ModelServingArgs:
    """Serving args with the cluster, provider and bucket still to be filled in."""
    return ModelServingArgs(
        region=args.region(role),
        cluster_name="",
        kubernetes_provider=None,
        bucket_name="",
        bucket_arn="",
        kms_key_arn="",
        model_name=args.model_name,
        model_version=args.model_version,
        replicas=args.serving_replicas(role),
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        serving_image=args.serving_image,
        fetcher_image=args.fetcher_image,
        gpus_per_pod=args.gpus_per_pod,
        cpu=args.cpu,
        memory=args.memory,
        tls_certificate_arn=(args.tls_certificate_arns or {}).get(role),
        await_rollout=args.await_rollout,
        tags={**tags, "recsys-dr:role": role},
    )
