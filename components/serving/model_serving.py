"""ModelServing: TF Serving on the GPU pool (or the fallback tier's CPU pool) of one regional
cluster, fed from that region's bucket."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from recsys_dr.components.cluster.policies import target_group_binding_policy
from recsys_dr.components import supply_chain
from recsys_dr.components.iam import eks_cluster_arn, pod_identity_trust_policy
from recsys_dr.components.serving import balancer, manifests, scaling
from recsys_dr.components.serving.batching import PARAMETERS_FILE, Batching
from recsys_dr.components.serving.front_door import FrontDoor, FrontDoorArgs, FrontDoorWiring
from recsys_dr.components.serving.network_policies import default_deny_spec, serving_policy_spec
from recsys_dr.components.serving.policies import model_reader_policy
from recsys_dr.components.serving.rollout import RollingUpdate, pod_ready_seconds, rollout_timeout_seconds
from recsys_dr.components.settings.aws_limits import ACM_ARN_PATTERN
from recsys_dr.components.settings.base import raise_if_problems, region_problems
from recsys_dr.components.settings.model import CandidatePin, ModelSettings, Pin
from recsys_dr.components.settings.recommender import batching_for
from recsys_dr.components.settings.serving import ServingSettings

FETCH_SCRIPT = Path(__file__).with_name(manifests.SCRIPT_NAME)


def kubernetes_name(model_name: str) -> str:
    """A DNS-1123 name derived from a TF Serving model name ("Recs_v2.ctr" -> "recs-v2-ctr")."""
    return re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[:40] or "model"


def deployment_name_of(model_name: str) -> str:
    """Name of the Deployment, its Service, ScaledObject, HPA and PDB ("recommender" -> "recommender-tf-serving")."""
    return f"{kubernetes_name(model_name)}-tf-serving"


def candidate_deployment_name_of(model_name: str) -> str:
    """Name of the candidate's Deployment and its objects ("recommender-tf-serving-candidate"; at most
    40 + 11 + 10 characters, within a Service name's 63)."""
    return f"{deployment_name_of(model_name)}-{manifests.CANDIDATE_SLOT}"


@dataclass(frozen=True, kw_only=True)
class ModelServingArgs:
    """What to serve in one region: validated settings and this region's values.

    Attributes:
        region: region of the cluster, bucket and key; the pods touch nothing elsewhere.
        model: the pinned model (`models/<name>/<version>/` in the bucket; its request shape).
        serving: the `serving` settings (images, pod size, scaling, batching, web ACL, rollout await).
        replicas: 0 for a pilot-light region (Deployment pinned at zero, KEDA's minimum 0);
            otherwise KEDA owns the count and this value only has to lie within its bounds. Default 1.
        standby: this region is the standby: KEDA never scales it in, so replicas raised for a
            failover stay until `recsys-dr failover --to primary` puts it back at rest. Default False.
        tls_certificate_arn: ACM certificate in `region` for HTTPS on 443 (this region's entry of
            `serving.tlsCertificateArns`). Default none (plain HTTP on 80 only).
        namespace: Kubernetes namespace. Default "recsys".
        health_checker_regions: Route 53 checker regions whose published ranges an
            internet-facing balancer admits beside `serving.allowedCidrs`. Default: Route 53's set.
        rolling_update: the rollout strategy (`rollout.rolling_update` from the GPU pool's
            capacity). Default maxSurge 1 / maxUnavailable 0 (the pool holds a surge pod).
        waits_for_replication: the region receives model versions by replication, so a rollout
            may first wait for them (bounds the rollout await). Default False.
        pin: the stable version this region runs. Default: the model's (`model.version`,
            `model.manifestSha256`).
        candidate: a candidate run beside it (own Deployment, Service, target group binding,
            ScaledObject, PDB; no traffic until `recsys-dr release` moves it). Default none.
        tier: "gpu", or "fallback": CPU pods on the fallback pool, no GPU asked for. Default "gpu".
        artifact_name: the model's name in the bucket and its manifest when it differs from
            `model.name`, the name TF Serving serves it under (the fallback's `<name>-fallback`). The
            pods' role reads `models/<artifact_name>/` only. Default: `model.name`.
        tags: tags on the IAM role, association and the front door. Default none.
    """

    region: str
    model: ModelSettings
    serving: ServingSettings = field(default_factory=ServingSettings)
    replicas: int = 1
    standby: bool = False
    tls_certificate_arn: str | None = None
    namespace: str = "recsys"
    health_checker_regions: tuple[str, ...] = ()
    rolling_update: RollingUpdate = RollingUpdate(max_surge=1, max_unavailable=0)
    waits_for_replication: bool = False
    pin: Pin | None = None
    candidate: CandidatePin | None = None
    tier: Literal["gpu", "fallback"] = "gpu"
    artifact_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def stable_pin(self) -> Pin:
        return self.pin or Pin.model_construct(version=self.model.version, manifest_sha256=self.model.manifest_sha256,
                                               artifact_dir=self.model.artifact_dir)

    @property
    def bucket_model_name(self) -> str:
        return self.artifact_name or self.model.name


@dataclass(frozen=True, kw_only=True)
class ServingWiring:
    """Outputs of sibling resources `ModelServing` runs on and reads from.

    Attributes:
        cluster_name: EKS cluster for the Pod Identity association.
        kubernetes_provider: provider bound to that cluster.
        bucket_name / bucket_arn / kms_key_arn: the regional model bucket and its key.
        vpc_id: the cluster's VPC.
        balancer_subnet_ids / balancer_cidrs: the subnets the balancer uses (public for
            internet-facing, private for internal) and their CIDRs (the pods admit REST from
            these only).
        node_security_group_id: the security group of the nodes' interfaces (the pods' IPs).
        load_balancer_controller_role: name of the AWS Load Balancer Controller's role; it is
            allowed to register targets in this region's target group only.
        addons: the Helm releases of the AWS Load Balancer Controller and KEDA (their CRDs and
            webhooks must exist before the objects that use them).
        model_artifact: the uploaded manifest of the pinned version (`ModelArtifact`) when this
            deployment uploads it; the Deployment is created after it. Default none.
        candidate_artifact: the same for the candidate's version. Default none.
    """

    cluster_name: pulumi.Input[str]
    kubernetes_provider: k8s.Provider
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    balancer_subnet_ids: pulumi.Input[Sequence[str]]
    balancer_cidrs: pulumi.Input[Sequence[str]]
    node_security_group_id: pulumi.Input[str]
    load_balancer_controller_role: pulumi.Input[str]
    addons: Sequence[pulumi.Resource] = ()
    model_artifact: pulumi.Resource | None = None
    candidate_artifact: pulumi.Resource | None = None


@dataclass(frozen=True, kw_only=True)
class _SlotContext:
    """What both slots of a region share: namespace, identity, config maps, the controller's grant."""

    namespace: pulumi.Output[str]
    service_account: pulumi.Output[str]
    script_map: pulumi.Output[str]
    batching_map: pulumi.Output[str]
    association: pulumi.Resource
    grant: pulumi.Resource
    in_cluster: pulumi.ResourceOptions


@dataclass(frozen=True, kw_only=True)
class _Slot:
    service: k8s.core.v1.Service
    deployment: k8s.apps.v1.Deployment
    scaled_object: k8s.apiextensions.CustomResource
    binding: k8s.apiextensions.CustomResource


def model_serving_problems(args: ModelServingArgs) -> list[str]:
    """What the settings types cannot know: the region, this region's replica count and certificate."""
    serving = args.serving
    problems = region_problems("region", args.region) + serving.open_endpoint_problems("serving")
    if args.tier not in ("gpu", "fallback"):
        problems.append(f"`tier` must be one of: gpu, fallback. Received: {args.tier!r}")
    if args.replicas != 0 and not serving.min_replicas <= args.replicas <= serving.max_replicas:
        problems.append(
            f"`replicas` must be 0 (pilot light) or between serving.minReplicas and serving.maxReplicas. "
            f"Received: replicas={args.replicas}, minReplicas={serving.min_replicas}, maxReplicas={serving.max_replicas}"
        )
    if args.tls_certificate_arn is not None:
        match = ACM_ARN_PATTERN.match(args.tls_certificate_arn)
        if match is None or match.group("region") != args.region:
            problems.append(
                f"`tls_certificate_arn` must be an ACM certificate in {args.region} (ACM certificates are regional). "
                f"Received: {args.tls_certificate_arn!r}"
            )
    return problems


def _serving_spec(args: ModelServingArgs, script: str, batching: Batching) -> manifests.ServingSpec:
    """The stable slot's manifest settings (the bucket name is filled in once it is known)."""
    model, serving, stable_pin = args.model, args.serving, args.stable_pin
    return manifests.ServingSpec(
        model_name=model.name, model_version=stable_pin.version, bucket="", region=args.region,
        replicas=args.replicas, min_replicas=serving.min_replicas, max_replicas=serving.max_replicas,
        serving_image=serving.image, fetcher_image=serving.fetcher_image,
        gpus_per_pod=0 if args.tier == "fallback" else serving.gpus_per_pod, tier=args.tier,
        artifact_name=args.bucket_model_name,
        cpu=str(serving.cpu), memory=serving.memory, script_checksum=manifests.script_checksum(script),
        max_surge=args.rolling_update.max_surge, max_unavailable=args.rolling_update.max_unavailable,
        manifest_sha256=stable_pin.manifest_sha256, batching_args=tuple(batching.server_args()),
        batching_checksum=manifests.script_checksum(batching.parameters_text()),
    )


class ModelServing(pulumi.ComponentResource):
    """Namespace, Pod Identity role, verifying init container, TF Serving Deployment with
    server-side batching, the front door (ALB + web ACL) and the TargetGroupBinding that puts the
    pods behind it, a KEDA ScaledObject and a PodDisruptionBudget in one region, for a GPU region
    or for the CPU fallback tier (`tier`); with a candidate pinned, the same objects again for the
    candidate's pods, bound to the front door's canary group."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    front_door: FrontDoor
    endpoint: pulumi.Output[str]
    role: aws.iam.Role
    candidate: _Slot | None

    def __init__(
        self, name: str, args: ModelServingArgs, wiring: ServingWiring, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        raise_if_problems("ModelServingArgs", model_serving_problems(args))
        super().__init__("recsys-dr:components:ModelServing", name, None, opts)
        self._warn_about_images(args)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=wiring.kubernetes_provider)
        deployment_name = deployment_name_of(args.model.name)
        namespace_name, service_account = self._namespace(name, args, deployment_name, in_cluster)
        association = self._model_reader(name, args, wiring, namespace_name, service_account)
        script, batching = FETCH_SCRIPT.read_text(), batching_for(args.model, args.serving)
        script_map, batching_map = self._config_maps(name, args, namespace_name, script, batching, in_cluster)
        spec = _serving_spec(args, script, batching)
        self.front_door = self._front_door(name, args, wiring)
        self._network_policies(name, args, wiring, namespace_name, spec, in_cluster)
        grant = self._bind_targets_grant(name, wiring)
        keda = pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=list(wiring.addons)))
        self.authentication = k8s.apiextensions.CustomResource(
            f"{name}-keda-auth", api_version=scaling.KEDA_API_VERSION, kind="TriggerAuthentication",
            metadata={"name": f"{deployment_name}-cloudwatch", "namespace": namespace_name},
            spec=scaling.trigger_authentication_spec(), opts=keda,
        )
        context = _SlotContext(namespace=namespace_name, service_account=service_account.metadata.name,
                               script_map=script_map.metadata.name, batching_map=batching_map.metadata.name,
                               association=association, grant=grant, in_cluster=in_cluster)
        # Without a candidate the stable pods are the canary group's targets too (see `_binding`).
        stable = self._slot(name, args, wiring, context, spec, deployment_name, self.front_door.target_group,
                            rest_group=self.front_door.canary_target_group if args.candidate is None else None)
        self.service, self.deployment = stable.service, stable.deployment
        self.candidate = self._candidate(name, args, wiring, context, spec)
        self._register(namespace_name, stable)

    def _warn_about_images(self, args: ModelServingArgs) -> None:
        """A warning for each image not pinned the way the supply-chain rules want."""
        image_key = "fallback.image" if args.tier == "fallback" else "serving.image"
        for key, image in ((image_key, args.serving.image), ("serving.fetcherImage", args.serving.fetcher_image)):
            if (warning := supply_chain.image_warning(f"`{key}`", image)) is not None:
                pulumi.log.warn(warning, resource=self)

    def _namespace(self, name: str, args: ModelServingArgs, deployment_name: str,
                   in_cluster: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], k8s.core.v1.ServiceAccount]:
        """The restricted namespace (readiness gates on) and the pods' service account in it."""
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": args.namespace,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
                           **manifests.READINESS_GATE_LABEL},
            },
            opts=in_cluster,
        )
        namespace_name = namespace.metadata.name
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata={"name": deployment_name, "namespace": namespace_name}, opts=in_cluster
        )
        return namespace_name, service_account

    @staticmethod
    def _config_maps(name: str, args: ModelServingArgs, namespace_name: pulumi.Output[str], script: str, batching: Batching,
                     in_cluster: pulumi.ResourceOptions) -> tuple[k8s.core.v1.ConfigMap, k8s.core.v1.ConfigMap]:
        """The fetch script's and the batching parameters' ConfigMaps."""
        workload = kubernetes_name(args.model.name)
        script_map, batching_map = (k8s.core.v1.ConfigMap(
            f"{name}-{suffix}", metadata={"name": f"{workload}-{suffix}", "namespace": namespace_name}, data=data, opts=in_cluster,
        ) for suffix, data in (("fetch-script", {manifests.SCRIPT_NAME: script}),
                               ("batching", {PARAMETERS_FILE: batching.parameters_text()})))
        return script_map, batching_map

    def _front_door(self, name: str, args: ModelServingArgs, wiring: ServingWiring) -> FrontDoor:
        candidate = args.candidate
        return FrontDoor(
            f"{name}-front-door",
            FrontDoorArgs(region=args.region, model=args.model, serving=args.serving, tls_certificate_arn=args.tls_certificate_arn,
                          health_checker_regions=args.health_checker_regions,
                          candidate_version=candidate.version if candidate else None, tags=args.tags),
            FrontDoorWiring(vpc_id=wiring.vpc_id, subnet_ids=wiring.balancer_subnet_ids,
                            target_security_group_id=wiring.node_security_group_id),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _candidate(self, name: str, args: ModelServingArgs, wiring: ServingWiring, context: _SlotContext,
                   spec: manifests.ServingSpec) -> _Slot | None:
        """The candidate's slot beside the stable one, bound to the front door's canary group."""
        candidate = args.candidate
        if candidate is None:
            return None
        candidate_spec = dataclasses.replace(
            spec, model_version=candidate.version, manifest_sha256=candidate.manifest_sha256,
            serving_image=candidate.image or args.serving.image, slot=manifests.CANDIDATE_SLOT,
        )
        self._candidate_network_policy(name, args, wiring, context.namespace, candidate_spec, context.in_cluster)
        return self._slot(f"{name}-candidate", args, wiring, context, candidate_spec,
                          candidate_deployment_name_of(args.model.name), self.front_door.canary_target_group,
                          model_artifact=wiring.candidate_artifact)

    def _register(self, namespace_name: pulumi.Output[str], stable: _Slot) -> None:
        """The public outputs: where the model answers and the names operations look up."""
        self.namespace = namespace_name
        self.deployment_name = self.deployment.metadata.name
        self.scaled_object_name = stable.scaled_object.metadata.apply(lambda metadata: metadata["name"])
        # KEDA names the HPA after the Deployment (the ScaledObject's horizontalPodAutoscalerConfig.name).
        self.hpa_name = self.deployment.metadata.name
        self.endpoint = self.front_door.load_balancer.dns_name
        self.register_outputs({
            "endpoint": self.endpoint,
            "loadBalancerArn": self.front_door.load_balancer.arn,
            "targetGroupArn": self.front_door.target_group.arn,
            "canaryTargetGroupArn": self.front_door.canary_target_group.arn,
            "namespace": self.namespace,
            "deploymentName": self.deployment_name,
            "candidateDeploymentName": self.candidate.deployment.metadata.name if self.candidate else None,
            "scaledObjectName": self.scaled_object_name,
            "hpaName": self.hpa_name,
            "roleArn": self.role.arn,
        })

    def _slot(self, prefix: str, args: ModelServingArgs, wiring: ServingWiring, context: _SlotContext,
              spec: manifests.ServingSpec, deployment_name: str, target_group: aws.lb.TargetGroup,
              model_artifact: pulumi.Resource | None = None, rest_group: aws.lb.TargetGroup | None = None) -> _Slot:
        """One slot's Service, TargetGroupBinding(s), Deployment, ScaledObject and PDB (the stable
        pods' under `prefix` = the component's name, a candidate's beside them). With `rest_group`
        the slot's pods are that group's targets too."""
        in_cluster, namespace = context.in_cluster, context.namespace
        service = k8s.core.v1.Service(
            f"{prefix}-service", metadata={"name": deployment_name, "namespace": namespace},
            spec=manifests.service_spec(spec), opts=in_cluster,
        )
        bindings = [self._binding(f"{prefix}-binding", deployment_name, wiring, context, spec, service, target_group)]
        if rest_group is not None:
            bindings.append(self._binding(f"{prefix}-canary-rest-binding", f"{deployment_name}-canary-rest", wiring,
                                          context, spec, service, rest_group))
        if model_artifact is None and spec.slot == manifests.STABLE_SLOT:
            model_artifact = wiring.model_artifact
        deployment = k8s.apps.v1.Deployment(
            f"{prefix}-deployment",
            metadata={
                "name": deployment_name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "recsys-dr"},
                "annotations": manifests.deployment_annotations(
                    await_rollout=args.serving.await_rollout, timeout_seconds=self._rollout_timeout(args),
                ),
            },
            spec=pulumi.Output.all(wiring.bucket_name, context.service_account, context.script_map, context.batching_map).apply(
                lambda values: manifests.deployment_spec(dataclasses.replace(spec, bucket=values[0]), service_account=values[1],
                                                         script_config_map=values[2], batching_config_map=values[3])
            ),
            # Credentials must exist before the init container first asks for them, an uploaded
            # version must be complete before pods fetch it, and the bindings must exist before
            # the first pod, or that pod gets no readiness gate for them.
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(
                depends_on=[context.association, *bindings, *([model_artifact] if model_artifact is not None else [])],
            )),
        )
        scaled_object = self._scaled_object(prefix, args, wiring, namespace, deployment_name, deployment, target_group, in_cluster)
        k8s.policy.v1.PodDisruptionBudget(
            f"{prefix}-pdb",
            metadata={"name": deployment_name, "namespace": namespace},
            spec=manifests.pdb_spec(spec),
            opts=in_cluster,
        )
        return _Slot(service=service, deployment=deployment, scaled_object=scaled_object, binding=bindings[0])

    def _binding(self, resource_name: str, binding_name: str, wiring: ServingWiring, context: _SlotContext,
                 spec: manifests.ServingSpec, service: k8s.core.v1.Service,
                 target_group: aws.lb.TargetGroup) -> k8s.apiextensions.CustomResource:
        """A TargetGroupBinding registering `service`'s pods in `target_group`. The stable pods are also
        the canary group's targets while no candidate runs (weight 0: no traffic), so no group is ever
        empty: for records that evaluate target health (`DnsWiring.evaluate_target_health`) Route 53
        counts a balancer with an empty target group as unhealthy (Route 53 API reference,
        `AliasTarget.EvaluateTargetHealth`)."""
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=manifests.TARGET_GROUP_BINDING_API, kind="TargetGroupBinding",
            metadata={"name": binding_name, "namespace": context.namespace},
            spec=pulumi.Output.all(service.metadata.name, target_group.arn, wiring.vpc_id).apply(
                lambda values: manifests.target_group_binding_spec(spec, service_name=values[0], target_group_arn=values[1],
                                                                   vpc_id=values[2])),
            opts=pulumi.ResourceOptions.merge(context.in_cluster, pulumi.ResourceOptions(
                depends_on=[context.grant, *wiring.addons])),
        )

    def _bind_targets_grant(self, name: str, wiring: ServingWiring) -> aws.iam.RolePolicy:
        """The controller may register targets in this region's two target groups only."""
        groups = pulumi.Output.all(self.front_door.target_group.arn, self.front_door.canary_target_group.arn)
        return aws.iam.RolePolicy(
            f"{name}-bind-targets", role=wiring.load_balancer_controller_role,
            policy=groups.apply(lambda arns: json.dumps(target_group_binding_policy(target_group_arns=arns))),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _model_reader(self, name: str, args: ModelServingArgs, wiring: ServingWiring, namespace: pulumi.Output[str],
                      service_account: k8s.core.v1.ServiceAccount) -> aws.eks.PodIdentityAssociation:
        """The pods' Pod Identity role: read this model's prefix of the regional bucket."""
        model = args.model
        self.role = aws.iam.Role(
            f"{name}-model-reader",
            assume_role_policy=self._trust_policy(args, wiring, service_account=deployment_name_of(model.name)),
            description=f"TF Serving in {args.region}: read models/{args.bucket_model_name}/ from the regional bucket",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-model-reader",
            role=self.role.id,
            policy=pulumi.Output.all(wiring.bucket_arn, wiring.kms_key_arn).apply(
                lambda arns: json.dumps(model_reader_policy(
                    bucket_arn=arns[0], key_arn=arns[1], model_name=args.bucket_model_name, region=args.region
                ))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.eks.PodIdentityAssociation(
            f"{name}-model-reader",
            region=args.region,
            cluster_name=wiring.cluster_name,
            namespace=namespace,
            service_account=service_account.metadata.name,
            role_arn=self.role.arn,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _scaled_object(self, prefix: str, args: ModelServingArgs, wiring: ServingWiring, namespace: pulumi.Output[str],
                       deployment_name: str, deployment: k8s.apps.v1.Deployment, target_group: aws.lb.TargetGroup,
                       in_cluster: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
        """One ScaledObject for a slot's Deployment, reading its own target group's metrics as the KEDA operator."""
        scaling_settings = args.serving.scaling
        targets = pulumi.Output.all(self.front_door.load_balancer.arn_suffix, target_group.arn_suffix).apply(
            lambda suffixes: scaling.ScalingTarget(
                deployment_name=deployment_name, namespace=args.namespace, region=args.region,
                load_balancer=suffixes[0], target_group=suffixes[1],
                min_replicas=0 if args.replicas == 0 else args.serving.min_replicas, max_replicas=args.serving.max_replicas,
                target_requests_per_second=scaling_settings.target_requests_per_second,
                p99_latency_ms=scaling_settings.p99_latency_ms,
                scale_down_stabilization_seconds=scaling_settings.scale_down_stabilization_seconds,
            )
        )
        return k8s.apiextensions.CustomResource(
            f"{prefix}-scaling", api_version=scaling.KEDA_API_VERSION, kind="ScaledObject",
            metadata={"name": deployment_name, "namespace": namespace,
                      "annotations": scaling.scaled_object_annotations(standby=args.standby)},
            spec=pulumi.Output.all(targets, self.authentication.metadata["name"]).apply(
                lambda values: scaling.scaled_object_spec(values[0], authentication=values[1])
            ),
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[deployment, *wiring.addons])),
        )

    def _trust_policy(self, args: ModelServingArgs, wiring: ServingWiring, *, service_account: str) -> pulumi.Output[str]:
        """Only this Deployment's service account, in its namespace of this region's cluster, may use the role."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        return pulumi.Output.all(
            aws.get_partition_output(opts=invoke).partition, aws.get_caller_identity_output(opts=invoke).account_id,
            wiring.cluster_name,
        ).apply(lambda values: json.dumps(pod_identity_trust_policy(
            cluster_arn=eks_cluster_arn(partition=values[0], region=args.region, account_id=values[1], cluster_name=values[2]),
            namespace=args.namespace, service_account=service_account,
        )))

    @staticmethod
    def _rollout_timeout(args: ModelServingArgs) -> int:
        """Up to max-replicas pods replaced one at a time, each within its own probe window and
        its first passing target-group health checks (the readiness gate)."""
        pod_seconds = pod_ready_seconds(
            startup_period_seconds=manifests.STARTUP_PERIOD_SECONDS,
            startup_failure_threshold=manifests.STARTUP_FAILURE_THRESHOLD,
            min_ready_seconds=manifests.MIN_READY_SECONDS,
        ) + balancer.registration_seconds()
        return rollout_timeout_seconds(pods=args.serving.max_replicas, pod_seconds=pod_seconds, waits_for_replication=args.waits_for_replication)

    def _candidate_network_policy(self, name: str, args: ModelServingArgs, wiring: ServingWiring, namespace: pulumi.Output[str],
                                  spec: manifests.ServingSpec, in_cluster: pulumi.ResourceOptions) -> None:
        """The candidate's pods get the stable pods' allowances (the namespace denies everything else)."""
        s3 = aws.get_ip_ranges_output(services=["s3"], regions=[args.region], opts=pulumi.InvokeOutputOptions(parent=self))
        k8s.networking.v1.NetworkPolicy(
            f"{name}-candidate-serving",
            metadata={"name": candidate_deployment_name_of(args.model.name), "namespace": namespace},
            spec=pulumi.Output.all(wiring.balancer_cidrs, s3.cidr_blocks).apply(
                lambda values: serving_policy_spec(selector=spec.selector, balancer_cidrs=values[0], s3_cidrs=values[1])
            ),
            opts=in_cluster,
        )

    def _network_policies(self, name: str, args: ModelServingArgs, wiring: ServingWiring, namespace: pulumi.Output[str],
                          spec: manifests.ServingSpec, in_cluster: pulumi.ResourceOptions) -> None:
        """Deny all in the namespace, then allow the serving pods REST from the balancer, DNS, credentials and S3 out."""
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny", metadata={"name": "default-deny", "namespace": namespace}, spec=default_deny_spec(), opts=in_cluster,
        )
        s3 = aws.get_ip_ranges_output(services=["s3"], regions=[args.region], opts=pulumi.InvokeOutputOptions(parent=self))
        k8s.networking.v1.NetworkPolicy(
            f"{name}-serving",
            metadata={"name": f"{kubernetes_name(args.model.name)}-tf-serving", "namespace": namespace},
            spec=pulumi.Output.all(wiring.balancer_cidrs, s3.cidr_blocks).apply(
                lambda values: serving_policy_spec(selector=spec.selector, balancer_cidrs=values[0], s3_cidrs=values[1])
            ),
            opts=in_cluster,
        )
