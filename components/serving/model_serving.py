"""ModelServing: TF Serving on the GPU pool of one regional cluster, fed from that region's bucket."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from recsys_dr.components import supply_chain
from recsys_dr.components.iam import eks_cluster_arn, pod_identity_trust_policy
from recsys_dr.components.serving import exposure, manifests
from recsys_dr.components.serving.network_policies import default_deny_spec, serving_policy_spec
from recsys_dr.components.serving.policies import model_reader_policy
from recsys_dr.components.serving.rollout import RollingUpdate, pod_ready_seconds, rollout_timeout_seconds
from recsys_dr.components.settings.aws_limits import ACM_ARN_PATTERN, HEALTH_CHECKER_REGIONS
from recsys_dr.components.settings.base import raise_if_problems, region_problems
from recsys_dr.components.settings.model import ModelSettings
from recsys_dr.components.settings.serving import ServingSettings

FETCH_SCRIPT = Path(__file__).with_name(manifests.SCRIPT_NAME)
# Without the nodes' networks, REST is admitted from the private address space (RFC 1918).
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def kubernetes_name(model_name: str) -> str:
    """A DNS-1123 name derived from a TF Serving model name ("Recs_v2.ctr" -> "recs-v2-ctr")."""
    return re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[:40] or "model"


def deployment_name_of(model_name: str) -> str:
    """Name of the Deployment, its Service, HPA and PDB ("recommender" -> "recommender-tf-serving")."""
    return f"{kubernetes_name(model_name)}-tf-serving"


@dataclass(frozen=True, kw_only=True)
class ModelServingArgs:
    """What to serve in one region: validated settings and this region's values.

    Attributes:
        region: region of the cluster, bucket and key; the pods touch nothing elsewhere.
        model: the pinned model (`models/<name>/<version>/` in the bucket).
        serving: the `serving` settings (images, pod size, HPA bounds, rollout await).
        replicas: 0 for a pilot-light region (Deployment pinned at zero); otherwise the
            HPA owns the count and this value only has to lie within its bounds. Default 1.
        tls_certificate_arn: ACM certificate in `region` for HTTPS on port 443 (this region's
            entry of `serving.tlsCertificateArns`). Default none (plain HTTP on 80 only).
        namespace: Kubernetes namespace. Default "recsys".
        target_cpu_utilization: HPA target in percent of the CPU request. Default 60.
        health_checker_regions: Route 53 checker regions whose published ranges an
            internet-facing NLB admits beside `serving.allowedCidrs`. Default: Route 53's set.
        rolling_update: the rollout strategy (`rollout.rolling_update` from the GPU pool's
            capacity). Default maxSurge 1 / maxUnavailable 0 (the pool holds a surge pod).
        waits_for_replication: the region receives model versions by replication, so a rollout
            may first wait for them (bounds the rollout await). Default False.
        tags: tags on the IAM role and association. Default none.
    """

    region: str
    model: ModelSettings
    serving: ServingSettings = field(default_factory=ServingSettings)
    replicas: int = 1
    tls_certificate_arn: str | None = None
    namespace: str = "recsys"
    target_cpu_utilization: int = 60
    health_checker_regions: tuple[str, ...] = ()
    rolling_update: RollingUpdate = RollingUpdate(max_surge=1, max_unavailable=0)
    waits_for_replication: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ServingWiring:
    """Outputs of sibling resources `ModelServing` runs on and reads from.

    Attributes:
        cluster_name: EKS cluster for the Pod Identity association.
        kubernetes_provider: provider bound to that cluster.
        bucket_name / bucket_arn / kms_key_arn: the regional model bucket and its key.
        node_cidrs: the networks of the cluster's nodes; REST reaches the pods from there
            (NLB traffic via kube-proxy, the kubelet's probes). Default: the RFC 1918 ranges.
        model_artifact: the uploaded manifest of the pinned version (`ModelArtifact`) when this
            deployment uploads it; the Deployment is created after it. Default none.
    """

    cluster_name: pulumi.Input[str]
    kubernetes_provider: k8s.Provider
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    node_cidrs: pulumi.Input[Sequence[str]] | None = None
    model_artifact: pulumi.Resource | None = None


def model_serving_problems(args: ModelServingArgs) -> list[str]:
    """What the settings types cannot know: the region, this region's replica count and certificate."""
    serving = args.serving
    problems = region_problems("region", args.region) + serving.open_endpoint_problems("serving")
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


class ModelServing(pulumi.ComponentResource):
    """Namespace, Pod Identity role, verifying init container, TF Serving Deployment, NLB
    Service, HorizontalPodAutoscaler and PodDisruptionBudget in one region."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    endpoint: pulumi.Output[str]
    role: aws.iam.Role

    def __init__(
        self, name: str, args: ModelServingArgs, wiring: ServingWiring, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        raise_if_problems("ModelServingArgs", model_serving_problems(args))
        super().__init__("recsys-dr:components:ModelServing", name, None, opts)
        model, serving = args.model, args.serving
        for key, image in (("serving.image", serving.image), ("serving.fetcherImage", serving.fetcher_image)):
            if (warning := supply_chain.image_warning(f"`{key}`", image)) is not None:
                pulumi.log.warn(warning, resource=self)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=wiring.kubernetes_provider)
        workload = kubernetes_name(model.name)
        deployment_name = deployment_name_of(model.name)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": args.namespace,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"},
            },
            opts=in_cluster,
        )
        namespace_name = namespace.metadata.name
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata={"name": deployment_name, "namespace": namespace_name}, opts=in_cluster
        )

        self.role = aws.iam.Role(
            f"{name}-model-reader",
            assume_role_policy=self._trust_policy(args, wiring, service_account=deployment_name),
            description=f"TF Serving in {args.region}: read models/{model.name}/ from the regional bucket",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-model-reader",
            role=self.role.id,
            policy=pulumi.Output.all(wiring.bucket_arn, wiring.kms_key_arn).apply(
                lambda arns: json.dumps(model_reader_policy(
                    bucket_arn=arns[0], key_arn=arns[1], model_name=model.name, region=args.region
                ))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        association = aws.eks.PodIdentityAssociation(
            f"{name}-model-reader",
            region=args.region,
            cluster_name=wiring.cluster_name,
            namespace=namespace_name,
            service_account=service_account.metadata.name,
            role_arn=self.role.arn,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

        script = FETCH_SCRIPT.read_text()
        script_map = k8s.core.v1.ConfigMap(
            f"{name}-fetch-script",
            metadata={"name": f"{workload}-fetch-script", "namespace": namespace_name},
            data={manifests.SCRIPT_NAME: script},
            opts=in_cluster,
        )
        source_ranges = self._source_ranges(args)
        spec = pulumi.Output.all(wiring.bucket_name, source_ranges).apply(lambda values: manifests.ServingSpec(
            model_name=model.name, model_version=model.version, bucket=values[0], region=args.region,
            replicas=args.replicas, min_replicas=serving.min_replicas, max_replicas=serving.max_replicas,
            target_cpu_utilization=args.target_cpu_utilization, serving_image=serving.image,
            fetcher_image=serving.fetcher_image, gpus_per_pod=serving.gpus_per_pod, cpu=str(serving.cpu), memory=serving.memory,
            script_checksum=manifests.script_checksum(script), tls_certificate_arn=args.tls_certificate_arn,
            max_surge=args.rolling_update.max_surge, max_unavailable=args.rolling_update.max_unavailable,
            manifest_sha256=model.manifest_sha256, exposure=serving.exposure, source_ranges=tuple(values[1]),
        ))
        self._network_policies(name, args, wiring, namespace_name, spec, in_cluster)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={
                "name": deployment_name,
                "namespace": namespace_name,
                "labels": {"app.kubernetes.io/part-of": "recsys-dr"},
                "annotations": manifests.deployment_annotations(
                    await_rollout=serving.await_rollout, timeout_seconds=self._rollout_timeout(args),
                ),
            },
            spec=pulumi.Output.all(spec, service_account.metadata.name, script_map.metadata.name).apply(
                lambda values: manifests.deployment_spec(values[0], service_account=values[1], script_config_map=values[2])
            ),
            # Credentials must exist before the init container first asks for them, and an
            # uploaded version must be complete before pods fetch it.
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(
                depends_on=[association, *([wiring.model_artifact] if wiring.model_artifact is not None else [])],
            )),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": deployment_name, "namespace": namespace_name, "annotations": spec.apply(manifests.service_annotations)},
            spec=spec.apply(manifests.service_spec),
            opts=in_cluster,
        )
        hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": deployment_name, "namespace": namespace_name},
            spec=spec.apply(lambda s: manifests.hpa_spec(s, deployment_name=deployment_name)),
            opts=in_cluster,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": deployment_name, "namespace": namespace_name},
            spec=spec.apply(manifests.pdb_spec),
            opts=in_cluster,
        )
        self.namespace = namespace_name
        self.deployment_name = self.deployment.metadata.name
        self.hpa_name = hpa.metadata.name
        self.endpoint = self.service.status.apply(lambda status: status.load_balancer.ingress[0].hostname)
        self.load_balancer_name = self.service.metadata.apply(lambda metadata: exposure.in_tree_load_balancer_name(metadata.uid))
        self.register_outputs({
            "endpoint": self.endpoint,
            "loadBalancerName": self.load_balancer_name,
            "namespace": self.namespace,
            "deploymentName": self.deployment_name,
            "hpaName": self.hpa_name,
            "roleArn": self.role.arn,
        })

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
        """Up to HPA-max pods replaced one at a time, each within its own probe window."""
        pod_seconds = pod_ready_seconds(
            startup_period_seconds=manifests.STARTUP_PERIOD_SECONDS,
            startup_failure_threshold=manifests.STARTUP_FAILURE_THRESHOLD,
            min_ready_seconds=manifests.MIN_READY_SECONDS,
        )
        return rollout_timeout_seconds(pods=args.serving.max_replicas, pod_seconds=pod_seconds, waits_for_replication=args.waits_for_replication)

    def _source_ranges(self, args: ModelServingArgs) -> pulumi.Output[list[str]]:
        """`serving.allowedCidrs`, plus Route 53's checker ranges for an internet-facing NLB
        (they probe the endpoint from the internet). No allowed CIDRs: no ranges, which only an
        internal NLB may have (`ServingSettings.open_endpoint_problems`)."""
        serving = args.serving
        if not serving.allowed_cidrs:
            return pulumi.Output.from_input([])
        if serving.exposure == "internal":
            return pulumi.Output.from_input(sorted(set(serving.allowed_cidrs)))
        checkers = aws.get_ip_ranges_output(
            services=[exposure.ROUTE53_HEALTHCHECKS],
            regions=exposure.checker_range_regions(args.health_checker_regions or sorted(HEALTH_CHECKER_REGIONS)),
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return checkers.cidr_blocks.apply(lambda blocks: sorted(set(serving.allowed_cidrs) | set(blocks)))

    def _network_policies(self, name: str, args: ModelServingArgs, wiring: ServingWiring, namespace: pulumi.Output[str],
                          spec: pulumi.Output[manifests.ServingSpec], in_cluster: pulumi.ResourceOptions) -> None:
        """Deny all in the namespace, then allow the serving pods REST in, DNS, credentials and S3 out."""
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny", metadata={"name": "default-deny", "namespace": namespace}, spec=default_deny_spec(), opts=in_cluster,
        )
        s3 = aws.get_ip_ranges_output(services=["s3"], regions=[args.region], opts=pulumi.InvokeOutputOptions(parent=self))
        node_cidrs = wiring.node_cidrs if wiring.node_cidrs is not None else list(PRIVATE_NETWORKS)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-serving",
            metadata={"name": f"{kubernetes_name(args.model.name)}-tf-serving", "namespace": namespace},
            spec=pulumi.Output.all(spec, node_cidrs, s3.cidr_blocks).apply(
                lambda values: serving_policy_spec(selector=values[0].selector, node_cidrs=values[1], s3_cidrs=values[2])
            ),
            opts=in_cluster,
        )
