"""TwoRegionRecommender: the whole disaster-recovery deployment for one primary/standby pair."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws

from recsys_dr.components.cluster import GpuCluster, GpuClusterArgs
from recsys_dr.components.cluster.cold_start import cold_start_outputs
from recsys_dr.components.cluster.gpu_cluster import gpu_cluster_problems
from recsys_dr.components.dns import ArcControl, ArcControlArgs, DnsFailover, DnsFailoverArgs
from recsys_dr.components.dns.failover_records import DnsWiring
from recsys_dr.components.dns.region_switch import RegionSwitch, RegionSwitchArgs, RegionSwitchTarget, plan_name_for
from recsys_dr.components.monitoring import DrAlarms, DrAlarmsArgs
from recsys_dr.components.monitoring.audit_trail import ModelAuditTrail, ModelAuditTrailArgs
from recsys_dr.components.monitoring.dr_alarms import AlarmWiring
from recsys_dr.components.monitoring.tamper_alarms import TamperAlarms, TamperAlarmsArgs
from recsys_dr.components.monitoring.private_health import (
    PrivateEndpoint,
    PrivateEndpointHealth,
    PrivateEndpointHealthArgs,
    private_failover_budget,
)
from recsys_dr.components.serving import ModelServing, ModelServingArgs
from recsys_dr.components.serving.balancer import CANDIDATE_HEADER
from recsys_dr.components.serving.model_serving import ServingWiring, deployment_name_of, model_serving_problems
from recsys_dr.components.serving.rollout import RollingUpdate, pods_per_node, rolling_update
from recsys_dr.components.settings import ROLES, TwoRegionRecommenderArgs
from recsys_dr.components.settings.aws_limits import ALIAS_RECORD_TTL, cpu_millicores, memory_bytes
from recsys_dr.components.settings.base import raise_if_problems
from recsys_dr.components.settings.fallback import FALLBACK_NAMESPACE, fallback_model_name
from recsys_dr.components.settings.model import CandidatePin
from recsys_dr.components.storage import ModelBucketArgs, ReplicatedModelBucket
from recsys_dr.components.storage.defaults import REPLICATION_RULE_ID
from recsys_dr.components.storage.model_artifact import ModelArtifact, ModelArtifactArgs
from recsys_dr.components.storage.key_policies import KeyAccess, ModelKeyPolicies, ModelKeyPoliciesArgs
from recsys_dr.components.training.training_job import TrainingJob, TrainingJobArgs, TrainingWiring, training_role_arn

__all__ = ["TwoRegionRecommender", "TwoRegionRecommenderArgs"]


class TwoRegionRecommender(pulumi.ComponentResource):
    """Replicated buckets, a GPU cluster and TF Serving behind its own front door (ALB + web ACL)
    per region, and DNS failover between the front doors; with `fallback`, a CPU fallback tier in the
    standby region behind a third front door, last in the DNS cascade.

    Each region's serving path uses only its own bucket, key, cluster and load balancer,
    so losing the primary region leaves the standby whole. `args` is validated when it is
    built (every section, and the rules across sections); every child's own arguments are
    built and checked before the first resource is registered.

    The fallback runs in the standby region, on its own CPU node group of the standby's cluster: a
    primary-region outage, the event it exists for, leaves it whole (it reads the standby's bucket and
    key), and its CPU instances are not the GPU capacity every tenant of the primary region competes
    for during that event; it is always running, so it waits for no capacity.
    """

    def __init__(self, name: str, args: TwoRegionRecommenderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        tags = {"recsys-dr:deployment": name, **args.tags}
        bucket_args = ModelBucketArgs(regions=args.regions, storage=args.storage, tags=tags,
                                      publisher_arns=[self._training_role_arn(name)] if args.training.enabled else [])
        cluster_args = self._checked_child_args(args, tags)

        super().__init__("recsys-dr:components:TwoRegionRecommender", name, None, opts)
        if self.rollout.note:
            pulumi.log.warn(self.rollout.note, resource=self)
        for warning in capacity_warnings(args):
            pulumi.log.warn(warning, resource=self)
        self.buckets = ReplicatedModelBucket(f"{name}-models", bucket_args, opts=pulumi.ResourceOptions(parent=self))
        # Each built version goes into the primary bucket once encryption and replication are in
        # place (replication copies only objects written after its rule exists).
        self.artifacts = self._artifacts(name, args)
        self.artifact = self.artifacts.get(("stable", args.model.version))
        regional_buckets = {"primary": self.buckets.primary, "standby": self.buckets.standby}
        self._regions(name, args, cluster_args, regional_buckets)
        self.training = self._training(name, args, tags) if args.training.enabled else None
        self._security(name, args, tags, regional_buckets)
        self._failover_control(name, args, tags)
        self._dns(name, args, tags)
        self._alarms(name, args, tags)
        self.stack_outputs = self._stack_outputs(args, regional_buckets)
        self.register_outputs(self.stack_outputs)

    def _checked_child_args(self, args: TwoRegionRecommenderArgs, tags: dict[str, str]) -> dict[str, GpuClusterArgs]:
        """Every child's own arguments, checked all at once before the first resource is registered;
        keeps the rollout and serving arguments, returns the clusters'."""
        cluster_args = {
            role: GpuClusterArgs(
                region=args.region(role), cluster=args.cluster, gpu=args.gpu_pool(role), vpc_cidr=args.cluster.vpc_cidrs.of(role),
                subnet_ids=args.cluster.subnet_ids.of(role) if args.cluster.subnet_ids else None,
                break_glass_arns=[args.storage.break_glass_role_arn] if args.storage.break_glass_role_arn else [],
                protect_keys=not args.storage.force_destroy,
                capacity_reservation=args.gpu.capacity_reservations.of(role), image_cache_snapshot_id=args.gpu.image_cache.of(role),
                fallback=args.fallback if role == "standby" else None,
                tags={**tags, "recsys-dr:role": role},
            )
            for role in ROLES
        }
        certificates = args.serving.tls_certificate_arns
        self.rollout = rollout_strategy(args)
        serving_args = {
            role: ModelServingArgs(
                region=args.region(role), model=args.model, serving=args.serving, replicas=args.serving_replicas(role),
                standby=role == "standby", tls_certificate_arn=getattr(certificates, role) if certificates else None,
                health_checker_regions=tuple(args.dns.checker_regions or ()), tags={**tags, "recsys-dr:role": role},
                # Both pools have the same maximum size (a pilot light keeps it), so one strategy fits both.
                rolling_update=self.rollout, waits_for_replication=role == "standby",
                pin=args.model.pin(role), candidate=args.model.candidate_of(role),
            )
            for role in ROLES
        }
        self.serving_args = serving_args
        self.fallback_args = fallback_serving_args(args, tags) if args.fallback is not None else None
        problems: list[str] = []
        for role in ROLES:
            problems += [f"{role}: {p}" for p in gpu_cluster_problems(cluster_args[role])]
            problems += [f"{role}: {p}" for p in model_serving_problems(serving_args[role])]
        if self.fallback_args is not None:
            problems += [f"fallback: {p}" for p in model_serving_problems(self.fallback_args)]
        raise_if_problems("TwoRegionRecommenderArgs", problems)
        return cluster_args

    def _regions(self, name: str, args: TwoRegionRecommenderArgs, cluster_args: dict[str, GpuClusterArgs],
                 regional_buckets: dict) -> None:
        """Per region its cluster and serving, then the fallback tier on the standby's cluster."""
        child = pulumi.ResourceOptions(parent=self)
        self.clusters: dict[str, GpuCluster] = {}
        self.serving: dict[str, ModelServing] = {}
        for role in ROLES:
            bucket = regional_buckets[role]
            # The nodes' S3 endpoint admits this region's model bucket (and image layers) only.
            cluster_args[role] = dataclasses.replace(cluster_args[role], model_bucket_arns=[bucket.bucket.arn])
            cluster = GpuCluster(f"{name}-{role}", cluster_args[role], opts=child)
            self.clusters[role] = cluster
            self.serving[role] = ModelServing(
                f"{name}-{role}-serving",
                self.serving_args[role],
                # The standby receives the version by replication, which Pulumi cannot wait for.
                serving_wiring(cluster, bucket, args.serving.exposure, model_artifact=self._upload_of(args.model.pin(role), role),
                               candidate_artifact=self._upload_of(args.model.candidate_of(role), role)),
                # The model must be servable in-region before pods start fetching it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.buckets]),
            )
        # The fallback tier: the standby's cluster (its CPU pool) and bucket, its own front door.
        self.fallback = ModelServing(
            f"{name}-fallback-serving", self.fallback_args,
            serving_wiring(self.clusters["standby"], regional_buckets["standby"], args.serving.exposure, model_artifact=None),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.buckets]),
        ) if self.fallback_args is not None else None

    def _failover_control(self, name: str, args: TwoRegionRecommenderArgs, tags: dict[str, str]) -> None:
        """What moves traffic besides DNS health checks: ARC routing controls, a Region switch plan,
        or, for an internal endpoint, CloudWatch alarms standing in for Route 53's probes."""
        child = pulumi.ResourceOptions(parent=self)
        self.arc = ArcControl(f"{name}-arc", ArcControlArgs(tags=tags), opts=child) if args.failover_control == "arc" else None
        self.region_switch = self._region_switch(name, args, tags) if args.failover_control == "region-switch" else None
        # Route 53 cannot probe an internal balancer: its failover follows CloudWatch alarms instead.
        self.private_health = PrivateEndpointHealth(
            f"{name}-private-health",
            PrivateEndpointHealthArgs(
                endpoints={tier: PrivateEndpoint(region=args.regions.standby if tier == "fallback" else args.region(tier),
                                                 load_balancer=serving.front_door.load_balancer.arn_suffix,
                                                 target_group=serving.front_door.target_group.arn_suffix)
                           for tier, serving in self.tiers.items()},
                alarm_topic_arns=tuple(args.alarms.topic_arns), tags=tags,
            ),
            opts=child,
        ) if args.serving.exposure == "internal" else None

    def _steering_health_check_ids(self) -> dict | None:
        """The health checks that steer the failover records, when something other than the records' own does."""
        if self.arc:
            return {role: check.id for role, check in self.arc.health_checks.items()}
        if self.region_switch:
            # The plan's Route 53 block flips these; the HTTP checks still exist and report.
            return dict(self.region_switch.health_check_ids)
        if self.private_health:
            return {role: check.id for role, check in self.private_health.health_checks.items()}
        return None

    def _dns(self, name: str, args: TwoRegionRecommenderArgs, tags: dict[str, str]) -> None:
        """The failover records over the tiers' front doors, and the health check each tier is judged by."""
        tiers = self.tiers
        tls = args.serving.tls_certificate_arns is not None
        self.dns = DnsFailover(
            f"{name}-dns",
            DnsFailoverArgs(dns=args.dns, model_name=args.model.name, https=tls, tags=tags),
            DnsWiring(
                endpoints={tier: serving.endpoint for tier, serving in tiers.items()},
                alias_zone_ids={tier: serving.front_door.load_balancer.zone_id for tier, serving in tiers.items()},
                routing_health_check_ids=self._steering_health_check_ids(), probe_endpoints=args.serving.exposure != "internal",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.health_check_ids = (
            {role: check.id for role, check in self.private_health.health_checks.items()} if self.private_health
            else {role: check.id for role, check in self.dns.health_checks.items()}
        )

    def _alarms(self, name: str, args: TwoRegionRecommenderArgs, tags: dict[str, str]) -> None:
        """Health and replication alarms, and the failover budgets they and DNS make up."""
        # A pilot-light standby fails its health check by design: alarming on it is noise. The
        # fallback is watched always: a fallback nobody notices failing is no fallback.
        watched = [tier for tier in self.tiers if not args.pilot_light(tier)]
        self.alarms = DrAlarms(
            f"{name}-alarms",
            DrAlarmsArgs(replication_region=args.regions.primary, replication_rule_id=REPLICATION_RULE_ID, alarms=args.alarms, tags=tags),
            AlarmWiring(
                health_check_ids={role: self.health_check_ids[role] for role in watched},
                source_bucket=self.buckets.primary.bucket.bucket,
                destination_bucket=self.buckets.standby.bucket.bucket,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # An internal endpoint is judged by its CloudWatch alarm, not by Route 53's checkers.
        self.failover_budget = private_failover_budget(ttl=ALIAS_RECORD_TTL) if self.private_health else self.dns.budget
        self.fallback_budget = None if self.fallback is None else (
            private_failover_budget(ttl=ALIAS_RECORD_TTL, hops=2) if self.private_health else self.dns.fallback_budget)

    def _artifacts(self, name: str, args: TwoRegionRecommenderArgs) -> dict[tuple[str, int], ModelArtifact]:
        """One upload per built version directory the pins name: the model's own under its
        original name, the others (region overrides, candidates) by version."""
        uploads: dict[tuple[str, int], ModelArtifact] = {}
        for key, pin in args.model.artifact_pins():
            suffix = "artifact" if key == "{key}" else f"artifact-v{pin.version}"
            kind = "stable" if key == "{key}" else key
            if any(version == pin.version for _kind, version in uploads):
                continue
            uploads[(kind, pin.version)] = ModelArtifact(
                f"{name}-{suffix}",
                ModelArtifactArgs(
                    version_dir=pin.artifact_path, model_name=args.model.name, model_version=pin.version,
                    region=args.regions.primary, bucket=self.buckets.primary.bucket.bucket,
                    # The bucket policy admits model writes by the release role only.
                    role_arn=args.storage.release_role_arn, after=[self.buckets],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return uploads

    def _upload_of(self, pin, role: str) -> pulumi.Resource | None:
        """The upload of `pin`'s version, for the primary's pods (the standby's arrive by replication)."""
        if pin is None or role != "primary":
            return None
        return next((artifact.upload for (_kind, version), artifact in self.artifacts.items() if version == pin.version), None)

    def _region_outputs(self, args: TwoRegionRecommenderArgs, role: str, bucket) -> dict[str, pulumi.Input]:
        serving, cluster, pool = self.serving[role], self.clusters[role], args.gpu_pool(role)
        reservation = args.gpu.capacity_reservations.of(role)
        return {
            "region": args.region(role),
            "endpoint": serving.endpoint,
            "bucket": bucket.bucket.bucket,
            "kmsKeyArn": bucket.key.arn,
            "clusterName": cluster.cluster.name,
            "gpuNodeGroupName": cluster.gpu_node_group.node_group_name,
            "healthCheckId": self.health_check_ids[role],
            "namespace": serving.namespace,
            "deploymentName": serving.deployment_name,
            "gpuScaling": {"minSize": pool.min_size, "desiredSize": pool.desired_size, "maxSize": pool.max_size},
            # What failover raises a region to: the sizes it has while serving traffic.
            "activeGpuScaling": {"minSize": args.gpu.min_size, "desiredSize": args.gpu.desired_size, "maxSize": args.gpu.max_size},
            "podsPerGpuNode": serving_pods_per_node(args),
            "hpaName": serving.hpa_name,
            "scaledObjectName": serving.scaled_object_name,
            "frontDoor": front_door_outputs(serving),
            "model": region_pins(args, role),
            **({"candidateDeploymentName": serving.candidate.deployment.metadata.name} if serving.candidate else {}),
            "serving": {"replicas": args.serving_replicas(role), "minReplicas": args.serving.min_replicas,
                        "maxReplicas": args.serving.max_replicas},
            # The GPU pool's capacity and what a start from zero costs in time (docs: "Standby capacity").
            "capacityReservation": None if reservation is None else {
                "type": reservation.type, "reservationId": cluster.capacity_reservation_id,
                "availabilityZone": reservation.availability_zone, "instanceType": args.gpu.instance_types[0],
                "instanceCount": reservation.count(args.gpu.max_size),
            },
            "coldStart": cold_start_outputs(reserved=reservation is not None, image_cache=args.gpu.image_cache.of(role) is not None),
        }

    def _fallback_outputs(self, args: TwoRegionRecommenderArgs) -> dict[str, pulumi.Input]:
        """Where the fallback tier runs, what it serves, and how long until DNS answers it."""
        fallback, serving = args.fallback, self.fallback
        return {
            "region": args.regions.standby,
            "endpoint": serving.endpoint,
            # The standby's bucket: the fallback version arrives there by replication, like the standby's.
            "bucket": self.buckets.standby.bucket.bucket,
            "healthCheckId": self.health_check_ids["fallback"],
            "namespace": serving.namespace,
            "deploymentName": serving.deployment_name,
            "hpaName": serving.hpa_name,
            "scaledObjectName": serving.scaled_object_name,
            "nodeGroupName": self.clusters["standby"].fallback_node_group.node_group_name,
            "model": {"name": fallback_model_name(args.model.name), "servedAs": args.model.name,
                      "version": fallback.version, "manifestSha256": fallback.manifest_sha256, "image": fallback.image,
                      "historyLength": args.model.history_length,
                      "candidate": None if fallback.candidate is None else {
                          "version": fallback.candidate.version, "manifestSha256": fallback.candidate.manifest_sha256,
                          "image": fallback.candidate.image or fallback.image}},
            **({"candidateDeploymentName": serving.candidate.deployment.metadata.name} if serving.candidate else {}),
            "frontDoor": front_door_outputs(serving),
            "serving": {"replicas": fallback.min_replicas, "minReplicas": fallback.min_replicas,
                        "maxReplicas": fallback.max_replicas},
            "cascadeRecordName": self.dns.cascade_record_name,
            # Primary and standby GPU tiers failing one after the other: two detections, one TTL.
            "budgetSeconds": self.fallback_budget.total_seconds,
            "budget": self.fallback_budget.explain(),
        }

    @property
    def tiers(self) -> dict[str, ModelServing]:
        """The serving tiers in cascade order: primary, standby, and the fallback where there is one."""
        return {**self.serving, **({"fallback": self.fallback} if self.fallback is not None else {})}

    def _security(self, name: str, args: TwoRegionRecommenderArgs, tags: dict[str, str], regional_buckets: dict) -> None:
        """Key policies naming the roles that use each key (they exist only now), the audit trail
        where one is configured, and alarms on calls that loosen the keys, buckets or trail."""
        child = pulumi.ResourceOptions(parent=self)
        release = [args.storage.release_role_arn] if args.storage.release_role_arn else []
        publishers = [*release, *([self.training.role.arn] if self.training is not None else [])]
        replication = self.buckets.replication_role.arn
        access = {
            "primary": KeyAccess(region=args.regions.primary, key_id=regional_buckets["primary"].key.key_id,
                                 decrypters=[self.serving["primary"].role.arn, replication, *publishers], encrypters=publishers),
            "standby": KeyAccess(region=args.regions.standby, key_id=regional_buckets["standby"].key.key_id,
                                 decrypters=[self.serving["standby"].role.arn, *([self.fallback.role.arn] if self.fallback else [])],
                                 encrypters=[replication]),
        }
        break_glass = [args.storage.break_glass_role_arn] if args.storage.break_glass_role_arn else []
        self.key_policies = ModelKeyPolicies(f"{name}-key-policies", ModelKeyPoliciesArgs(keys=access, break_glass_arns=break_glass), opts=child)
        self.audit_trail = ModelAuditTrail(
            f"{name}-audit",
            ModelAuditTrailArgs(trail_name=args.storage.audit_trail_name,
                                model_bucket_arns={args.region(role): regional_buckets[role].bucket.arn for role in ROLES},
                                break_glass_arns=tuple(break_glass), protect=not args.storage.force_destroy, tags=tags),
            opts=child,
        ) if args.storage.audit_trail_name else None
        # Every key whose loss costs data: the models', the clusters' Secrets, the audit logs'.
        watched = {
            args.region(role): [regional_buckets[role].key.arn, self.clusters[role].secrets_key.arn]
            + ([self.audit_trail.keys[args.region(role)].arn] if self.audit_trail else [])
            for role in ROLES
        }
        self.tamper_alarms = TamperAlarms(
            f"{name}-tamper",
            TamperAlarmsArgs(
                key_arns=watched,
                bucket_names={args.region(role): [regional_buckets[role].bucket.bucket] for role in ROLES},
                trails={region: [trail.name, trail.arn] for region, trail in self.audit_trail.trails.items()} if self.audit_trail else {},
                alarm_topic_arns=list(args.alarms.topic_arns), tags=tags,
            ),
            opts=child,
        )

    def _training_role_arn(self, name: str) -> pulumi.Output[str]:
        """The training role's ARN before the role exists: the primary bucket's policy names it."""
        identity = aws.get_caller_identity_output()
        return identity.apply(lambda who: training_role_arn(partition=who.arn.split(":")[1], account_id=who.account_id,
                                                            deployment=name))

    def _training(self, name: str, args: TwoRegionRecommenderArgs, tags: dict[str, str]) -> TrainingJob:
        """The training Job's standing parts in the primary cluster (`recsys-dr train` starts runs)."""
        cluster, bucket = self.clusters["primary"], self.buckets.primary
        return TrainingJob(
            f"{name}-training",
            TrainingJobArgs(region=args.regions.primary, deployment=name, model_name=args.model.name,
                            training=args.training, tags={**tags, "recsys-dr:role": "primary"}),
            TrainingWiring(cluster_name=cluster.cluster.name, cluster_arn=cluster.cluster.arn,
                           kubernetes_provider=cluster.provider, bucket_name=bucket.bucket.bucket,
                           bucket_arn=bucket.bucket.arn, kms_key_arn=bucket.key.arn),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _region_switch(self, name: str, args: TwoRegionRecommenderArgs, tags: dict[str, str]) -> RegionSwitch:
        settings = args.region_switch
        workload = deployment_name_of(args.model.name)
        return RegionSwitch(
            f"{name}-region-switch",
            RegionSwitchArgs(
                plan_name=plan_name_for(name),
                targets={
                    role: RegionSwitchTarget(
                        region=args.region(role), cluster_name=self.clusters[role].cluster.name,
                        cluster_arn=self.clusters[role].cluster.arn, namespace=self.serving_args[role].namespace,
                        # KEDA's HPA, named after the Deployment by its ScaledObject.
                        deployment_name=workload, hpa_name=workload,
                    )
                    for role in ROLES
                },
                zone_id=args.dns.zone_id,
                record_name=args.dns.record_name,
                approval_role_arn=settings.approval_role_arn,
                approval_timeout_minutes=settings.approval_timeout_minutes,
                scaling_timeout_minutes=settings.scaling_timeout_minutes,
                recovery_time_objective_minutes=settings.recovery_time_objective_minutes,
                # The plan scales the Deployments the serving components create.
                after=[self.serving[role].deployment for role in ROLES],
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _stack_outputs(self, args: TwoRegionRecommenderArgs, regional_buckets: dict) -> dict[str, pulumi.Input]:
        """The documented stack-output document (docs/reference/outputs.md)."""
        regions = {role: self._region_outputs(args, role, regional_buckets[role]) for role in ROLES}
        outputs: dict[str, pulumi.Input] = {
            # The digest the pods accept: `recsys-dr status`/`failover` check the buckets against it.
            "model": {"name": args.model.name, "version": args.model.version, "manifestSha256": args.model.manifest_sha256},
            "standbyMode": args.standby_mode,
            "failoverControl": args.failover_control,
            "failoverBudgetSeconds": self.failover_budget.total_seconds,
            "dns": {
                "zoneId": self.dns.zone_id,
                "recordName": args.dns.record_name,
                "ttl": ALIAS_RECORD_TTL,
                "healthCheckIntervalSeconds": args.dns.health_check_interval,
                "failureThreshold": args.dns.failure_threshold,
            },
            "regions": regions,
            "rollout": {"maxSurge": self.rollout.max_surge, "maxUnavailable": self.rollout.max_unavailable, "note": self.rollout.note},
            "alarms": {
                **{key: alarm.name for key, alarm in self.alarms.alarms.items()},
                **{f"{kind}-{role}": alarm.name for role in ROLES
                   for kind, alarm in self.tamper_alarms.alarms[args.region(role)].items()},
            },
        }
        if self.arc is not None:
            outputs["arc"] = {
                "clusterArn": self.arc.cluster.arn,
                "clusterEndpoints": self.arc.cluster_endpoints,
                "controlPanelArn": self.arc.control_panel.arn,
                "routingControls": {role: control.arn for role, control in self.arc.routing_controls.items()},
            }
        if self.region_switch is not None:
            outputs["regionSwitch"] = {
                "planArn": self.region_switch.plan.arn,
                "executionRoleArn": self.region_switch.execution_role.arn,
                "approvalStepName": self.region_switch.approval_step_name,
                "recoveryTimeObjectiveMinutes": args.region_switch.recovery_time_objective_minutes,
            }
        if self.training is not None:
            # What `recsys-dr train` reads: the run template in the primary cluster.
            outputs["training"] = {"namespace": self.training.namespace, "templateName": self.training.template_name,
                                   "roleArn": self.training.role.arn}
        if self.artifact is not None:
            outputs["modelArtifact"] = {"manifestKey": self.artifact.manifest_key, "manifestSha256": self.artifact.manifest_sha256}
        # What `recsys-dr release` reads: its steps and gates, and the built versions' offline evaluation.
        outputs["release"] = args.release.model_dump(by_alias=True, mode="json")
        offline = offline_evaluations(args)
        if offline:
            outputs["modelEvaluations"] = offline
        if self.fallback is not None:
            outputs["fallback"] = self._fallback_outputs(args)
        return outputs


def region_pins(args: TwoRegionRecommenderArgs, role: str) -> dict:
    """`regions.<role>.model`: the stable pin the pods of `role` run and its candidate, if any."""
    pin, candidate = args.model.pin(role), args.model.candidate_of(role)
    return {
        "version": pin.version, "manifestSha256": pin.manifest_sha256, "image": args.serving.image,
        "candidate": None if candidate is None else {
            "version": candidate.version, "manifestSha256": candidate.manifest_sha256,
            "image": candidate.image or args.serving.image,
        },
    }


def offline_evaluations(args: TwoRegionRecommenderArgs) -> dict[str, dict]:
    """`modelEvaluations`: per built version (`artifactDir`), its manifest's evaluation protocol and the
    model's metrics over all held-out users, so a plan diff can set a new pin's beside the old one's."""
    from recsys_dr.model.manifest import MANIFEST_NAME, load_manifest

    found = {}
    for _key, pin in args.model.artifact_pins():
        manifest = load_manifest(pin.artifact_path / MANIFEST_NAME)
        metrics = ((manifest.get("metrics") or {}).get("model") or {}).get("all") or {}
        evaluation = manifest.get("evaluation") or {}
        found[str(pin.version)] = {
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
            "protocol": evaluation.get("protocol"), "excludeSeen": evaluation.get("exclude_seen"),
            "testUsers": evaluation.get("test_users"),
        }
    return found


def front_door_outputs(serving: ModelServing) -> dict[str, pulumi.Input]:
    door = serving.front_door
    return {"loadBalancerArn": door.load_balancer.arn, "targetGroupArn": door.target_group.arn,
            "canaryTargetGroupArn": door.canary_target_group.arn, "ruleArns": [rule.arn for rule in door.rules],
            "candidateHeader": CANDIDATE_HEADER, "webAclArn": door.web_acl.arn, "scheme": door.scheme, "port": door.port}


def serving_wiring(cluster: GpuCluster, bucket, exposure: str, *, model_artifact: pulumi.Resource | None,
                   candidate_artifact: pulumi.Resource | None = None) -> ServingWiring:
    """What a serving tier in `cluster` runs on and reads from (its region's bucket and key)."""
    balancer_subnets, balancer_cidrs = cluster.balancer_subnets(exposure)
    return ServingWiring(
        cluster_name=cluster.cluster.name, kubernetes_provider=cluster.provider,
        bucket_name=bucket.bucket.bucket, bucket_arn=bucket.bucket.arn, kms_key_arn=bucket.key.arn,
        model_artifact=model_artifact, candidate_artifact=candidate_artifact, vpc_id=cluster.vpc_id,
        balancer_subnet_ids=balancer_subnets,
        balancer_cidrs=balancer_cidrs, node_security_group_id=cluster.node_security_group_id,
        load_balancer_controller_role=cluster.load_balancer_controller_role.name, addons=cluster.serving_addons,
    )


def fallback_serving_args(args: TwoRegionRecommenderArgs, tags: dict[str, str]) -> ModelServingArgs:
    """The fallback tier in the standby region: CPU pods in their own namespace, serving
    `models/<name>-fallback/<version>/` under the main model's name, behind the standby's certificate
    (the balancer answers the same record name), fed by replication like the standby."""
    fallback = args.fallback
    certificates = args.serving.tls_certificate_arns
    return ModelServingArgs(
        region=args.regions.standby, model=args.fallback_model(), serving=args.fallback_serving(),
        replicas=fallback.min_replicas, tier="fallback", artifact_name=fallback_model_name(args.model.name),
        namespace=FALLBACK_NAMESPACE, tls_certificate_arn=certificates.standby if certificates else None,
        health_checker_regions=tuple(args.dns.checker_regions or ()), tags={**tags, "recsys-dr:role": "fallback"},
        rolling_update=rolling_update(max_replicas=fallback.max_replicas, pool_max_pods=fallback.max_size * fallback.pods_per_node),
        waits_for_replication=True, candidate=fallback_candidate(args),
    )


def fallback_candidate(args: TwoRegionRecommenderArgs) -> CandidatePin | None:
    """`fallback.candidate` as the candidate slot takes it (its image defaults to the fallback's)."""
    candidate = args.fallback.candidate if args.fallback is not None else None
    if candidate is None:
        return None
    return CandidatePin.model_construct(version=candidate.version, manifest_sha256=candidate.manifest_sha256,
                                        image=candidate.image, artifact_dir=None)


def capacity_warnings(args: TwoRegionRecommenderArgs) -> list[str]:
    """What the plan says about capacity the recovery depends on."""
    warnings = []
    if args.pilot_light("standby") and args.gpu.capacity_reservations.standby is None:
        warnings.append(
            "capacity not guaranteed: the standby is a pilot light without a capacity reservation. Its GPU pool scales "
            "from zero during a regional event, when every tenant of the primary region fails over at once; scaling "
            "then may wait indefinitely. Reserve it (`gpu.capacityReservations.standby`) or run the standby warm"
        )
    if args.fallback is None:
        warnings.append("no fallback tier: recommendations go blank while both GPU tiers are down (`fallback`)")
    return warnings


def serving_pods_per_node(args: TwoRegionRecommenderArgs) -> int:
    """Serving pods one GPU node holds, whichever listed instance type the autoscaler picks."""
    serving = args.serving
    return pods_per_node(
        args.gpu.instance_types, gpus_per_pod=serving.gpus_per_pod,
        cpu_millicores=cpu_millicores(serving.cpu), memory_bytes=memory_bytes(serving.memory),
    )


def rollout_strategy(args: TwoRegionRecommenderArgs) -> RollingUpdate:
    """The rolling update both regions use, from what the GPU pool can hold at its maximum size."""
    return rolling_update(max_replicas=args.serving.max_replicas, pool_max_pods=args.gpu.max_size * serving_pods_per_node(args))
