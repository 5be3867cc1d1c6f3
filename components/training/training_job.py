"""TrainingJob: what the model build needs to run as an indexed Job on the primary region's GPU pool.

The component creates the standing parts - a namespace, the workers' service account, the headless
Service their hostnames resolve through, the Pod Identity role and the run template (a ConfigMap
holding the `TrainingSpec`) - and no Job: `recsys-dr train` starts one per run from the template
(`components.training.manifests.job_manifest`), so `pulumi up` never trains and a run never
changes the stack.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from recsys_dr.components import supply_chain
from recsys_dr.components.iam import pod_identity_trust_policy
from recsys_dr.components.settings.training import TrainingSettings
from recsys_dr.components.training import manifests
from recsys_dr.components.training.policies import training_policy

SPEC_KEY = "spec.json"
"""The ConfigMap entry `recsys-dr train` reads: the `TrainingSpec` as JSON."""
MAX_ROLE_NAME = 64  # IAM CreateRole: RoleName is 1-64 characters


def training_role_name(deployment: str) -> str:
    """The Job role's name: fixed, so the model bucket's policy can name the role before it exists."""
    return f"{deployment}-training"[:MAX_ROLE_NAME]


def training_role_arn(*, partition: str, account_id: str, deployment: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{training_role_name(deployment)}"


@dataclass(frozen=True, kw_only=True)
class TrainingJobArgs:
    """Settings of the training Job in one region.

    Attributes:
        region: the primary region (its cluster, GPU pool and model bucket).
        deployment: the deployment's name (names the role, see `training_role_name`).
        model_name: the model the Job builds and publishes.
        training: the `training` settings (must be enabled and complete).
        tags: tags on the role and the association. Default none.
    """

    region: str
    deployment: str
    model_name: str
    training: TrainingSettings
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TrainingWiring:
    """Outputs of the primary region's cluster and bucket.

    Attributes:
        cluster_name / cluster_arn: the primary EKS cluster (the association; the role's trust).
        kubernetes_provider: provider bound to that cluster.
        bucket_name / bucket_arn / kms_key_arn: the primary model bucket and its key.
    """

    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    kubernetes_provider: k8s.Provider
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


class TrainingJob(pulumi.ComponentResource):
    """Namespace, service account, headless Service, Pod Identity role and the run template."""

    role: aws.iam.Role
    namespace: pulumi.Output[str]
    template_name: pulumi.Output[str]

    def __init__(self, name: str, args: TrainingJobArgs, wiring: TrainingWiring,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        training = args.training
        if not training.enabled:
            raise ValueError("`training.enabled` must be true to create a TrainingJob. Received: false")
        super().__init__("recsys-dr:components:TrainingJob", name, None, opts)
        if (warning := supply_chain.image_warning("`training.image`", training.image)) is not None:
            pulumi.log.warn(warning, resource=self)
        child = pulumi.ResourceOptions(parent=self)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=wiring.kubernetes_provider)
        workload = f"{manifests.kubernetes_name(args.model_name)}-training"
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": manifests.NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted",
                                                               "pod-security.kubernetes.io/enforce-version": "latest"}},
            opts=in_cluster,
        )
        self.namespace = namespace.metadata.name
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata={"name": workload, "namespace": self.namespace}, opts=in_cluster)
        spec = manifests.TrainingSpec(
            model_name=args.model_name, image=training.image, workers=training.workers,
            gpus_per_worker=training.gpus_per_worker, cpu=training.cpu, memory=training.memory,
            interactions=training.interactions, catalog=training.catalog,
            pseudonym_key_secret=training.pseudonym_key_secret, bucket="", region=args.region,
            service_account=workload, service=workload, build_args=tuple(training.build_args),
        )
        service = k8s.core.v1.Service(
            f"{name}-workers", metadata={"name": workload, "namespace": self.namespace},
            spec=manifests.headless_service_spec(spec), opts=in_cluster,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=training_role_name(args.deployment),
            assume_role_policy=pulumi.Output.from_input(wiring.cluster_arn).apply(lambda arn: json.dumps(
                pod_identity_trust_policy(cluster_arn=arn, namespace=manifests.NAMESPACE, service_account=workload))),
            description=f"Training Job in {args.region}: read the data prefix, create models/{args.model_name}/ versions",
            tags=dict(args.tags),
            opts=child,
        )
        grant = aws.iam.RolePolicy(
            f"{name}-role",
            role=self.role.id,
            policy=pulumi.Output.all(wiring.bucket_arn, wiring.kms_key_arn).apply(lambda arns: json.dumps(training_policy(
                interactions=training.interactions, catalog=training.catalog, model_bucket_arn=arns[0],
                model_key_arn=arns[1], model_name=args.model_name, region=args.region,
                partition=arns[0].split(":")[1]))),
            opts=child,
        )
        association = aws.eks.PodIdentityAssociation(
            f"{name}-role", region=args.region, cluster_name=wiring.cluster_name, namespace=self.namespace,
            service_account=service_account.metadata.name, role_arn=self.role.arn, tags=dict(args.tags), opts=child,
        )
        template = k8s.core.v1.ConfigMap(
            f"{name}-template",
            metadata={"name": f"{workload}-template", "namespace": self.namespace},
            data=pulumi.Output.from_input(wiring.bucket_name).apply(
                lambda bucket: {SPEC_KEY: json.dumps(dataclasses.asdict(dataclasses.replace(spec, bucket=bucket)),
                                                     sort_keys=True)}),
            # A run started from the template must find its credentials and its workers' DNS.
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[grant, association, service])),
        )
        self.template_name = template.metadata.name
        self.register_outputs({"namespace": self.namespace, "templateName": self.template_name, "roleArn": self.role.arn})
