"""GpuCluster: an EKS cluster with a CPU system pool and an autoscaled NVIDIA GPU pool."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from recsys_dr.components.cluster import addons
from recsys_dr.components.cluster.instances import CPU_AMI_TYPES, gpu_ami_type, needs_device_plugin
from recsys_dr.components.cluster.kubeconfig import eks_kubeconfig
from recsys_dr.components.cluster.network import Network, NetworkArgs, network_problems
from recsys_dr.components.cluster.policies import cluster_autoscaler_policy
from recsys_dr.components.iam import managed_policy_arn, pod_identity_trust_policy, service_trust_policy
from recsys_dr.components.validation import gpu_instance_problems, raise_if_problems, region_problems, scaling_problems

GPU_OS_FAMILIES = ("al2023", "bottlerocket")


@dataclass(frozen=True, kw_only=True)
class GpuClusterArgs:
    """Arguments of `GpuCluster`. Sizes and types are plain values: they shape the graph.

    Attributes:
        region: AWS region of every regional resource.
        kubernetes_version: EKS version. Default "1.33".
        subnet_ids: existing private subnets (two zones or more) for the control plane and
            nodes. Default none: a `Network` is created. Conflicts with `network`.
        network: settings of the created network (region is taken from `region`).
            Default: 10.0.0.0/16 over two zones, one NAT gateway per zone.
        system_instance_type: instance type of the CPU pool running cluster add-ons.
            Default "m6i.large".
        system_node_count: nodes in the CPU pool. Default 2.
        gpu_instance_types: NVIDIA GPU instance types, one architecture. Default ["g5.xlarge"].
        gpu_os_family: "al2023" (default; the device plugin is installed) or "bottlerocket"
            (ships the plugin).
        gpu_min_size / gpu_desired_size / gpu_max_size: GPU pool bounds; min may be 0
            (pilot light: the autoscaler adds nodes when serving pods are pending).
            Defaults 1 / 1 / 2.
        gpu_capacity_type: "ON_DEMAND" (default) or "SPOT".
        gpu_disk_size_gib: root volume of GPU nodes (images are large). Default 100.
        public_access_cidrs: who may reach the public API endpoint. Default ["0.0.0.0/0"].
        tags: tags on every taggable resource. Default none.
    """

    region: str
    kubernetes_version: str = "1.33"
    subnet_ids: Sequence[pulumi.Input[str]] | None = None
    network: NetworkArgs | None = None
    system_instance_type: str = "m6i.large"
    system_node_count: int = 2
    gpu_instance_types: Sequence[str] = ("g5.xlarge",)
    gpu_os_family: str = "al2023"
    gpu_min_size: int = 1
    gpu_desired_size: int = 1
    gpu_max_size: int = 2
    gpu_capacity_type: str = "ON_DEMAND"
    gpu_disk_size_gib: int = 100
    public_access_cidrs: Sequence[str] = ("0.0.0.0/0",)
    tags: Mapping[str, str] = field(default_factory=dict)


def gpu_cluster_problems(args: GpuClusterArgs) -> list[str]:
    problems = region_problems("region", args.region)
    problems += gpu_instance_problems("gpu_instance_types", list(args.gpu_instance_types))
    problems += scaling_problems("gpu", args.gpu_min_size, args.gpu_desired_size, args.gpu_max_size)
    if args.gpu_os_family not in GPU_OS_FAMILIES:
        problems.append(f"`gpu_os_family` must be one of: {', '.join(GPU_OS_FAMILIES)}. Received: {args.gpu_os_family!r}")
    if args.gpu_capacity_type not in ("ON_DEMAND", "SPOT"):
        problems.append(f"`gpu_capacity_type` must be one of: ON_DEMAND, SPOT. Received: {args.gpu_capacity_type!r}")
    if args.network is not None:
        problems += network_problems(args.network.vpc_cidr, args.network.availability_zone_count)
    if args.subnet_ids is not None and args.network is not None:
        problems.append("`subnet_ids` conflicts with `network`: pass existing subnets or network settings, not both")
    if args.subnet_ids is not None and len(args.subnet_ids) < 2:
        problems.append(f"`subnet_ids` must name subnets in at least two zones. Received: {len(args.subnet_ids)} subnet(s)")
    for cidr in args.public_access_cidrs:
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            problems.append(f"`public_access_cidrs` must hold IPv4 CIDRs such as 203.0.113.0/24. Received: {cidr!r}")
    if not args.public_access_cidrs:
        problems.append("`public_access_cidrs` must name at least one CIDR (the API is always reachable privately too)")
    if not re.fullmatch(r"1\.\d{2}", str(args.kubernetes_version)):
        problems.append(f"`kubernetes_version` must be an EKS version such as \"1.33\". Received: {args.kubernetes_version!r}")
    if args.system_node_count < 1:
        problems.append(f"`system_node_count` must be >= 1. Received: {args.system_node_count}")
    return problems


class GpuCluster(pulumi.ComponentResource):
    """EKS with secrets envelope-encrypted by a regional KMS key, a system pool, a tainted
    GPU pool (`nvidia.com/gpu=true:NoSchedule`) scaled by Cluster Autoscaler, the core
    add-ons (VPC CNI, kube-proxy, CoreDNS, Pod Identity agent, metrics-server), the NVIDIA
    device plugin where the AMI lacks it, and a Kubernetes provider bound to the cluster.
    """

    cluster: aws.eks.Cluster
    gpu_node_group: aws.eks.NodeGroup
    system_node_group: aws.eks.NodeGroup
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems("GpuClusterArgs", gpu_cluster_problems(args))
        super().__init__("recsys-dr:components:GpuCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region = args.region
        tags = dict(args.tags)
        self.region = region

        if args.subnet_ids is not None:
            subnet_ids: pulumi.Input = list(args.subnet_ids)
        else:
            network_args = args.network or NetworkArgs(region=region)
            network = Network(
                f"{name}-net",
                NetworkArgs(
                    region=region, vpc_cidr=network_args.vpc_cidr,
                    availability_zone_count=network_args.availability_zone_count,
                    single_nat_gateway=network_args.single_nat_gateway, tags={**tags, **network_args.tags},
                ),
                opts=child,
            )
            subnet_ids = network.private_subnet_ids

        secrets_key = aws.kms.Key(
            f"{name}-secrets", region=region, description=f"EKS secrets envelope encryption ({name})",
            enable_key_rotation=True, deletion_window_in_days=30, tags=tags, opts=child,
        )
        cluster_role = self._role(f"{name}-cluster", service_trust_policy("eks.amazonaws.com"), ["AmazonEKSClusterPolicy"], tags)
        self.cluster = aws.eks.Cluster(
            name,
            region=region,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": True,
                "public_access_cidrs": list(args.public_access_cidrs),
            },
            encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            # Managed add-ons below replace the self-managed defaults.
            bootstrap_self_managed_addons=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_role]),
        )

        prerequisites = [self._addon(name, addon, region, tags) for addon in addons.NODE_PREREQUISITE_ADDONS]
        node_role = self._role(
            f"{name}-node", service_trust_policy("ec2.amazonaws.com"),
            ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"], tags,
        )
        self.system_node_group = aws.eks.NodeGroup(
            f"{name}-system",
            region=region,
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            ami_type=CPU_AMI_TYPES["x86_64"],
            instance_types=[args.system_instance_type],
            scaling_config={"min_size": args.system_node_count, "desired_size": args.system_node_count, "max_size": args.system_node_count + 1},
            update_config={"max_unavailable": 1},
            labels=dict(addons.SYSTEM_POOL_LABEL),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=prerequisites),
        )
        self.gpu_ami_type = gpu_ami_type(list(args.gpu_instance_types), args.gpu_os_family)
        self.gpu_node_group = aws.eks.NodeGroup(
            f"{name}-gpu",
            region=region,
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            ami_type=self.gpu_ami_type,
            instance_types=list(args.gpu_instance_types),
            capacity_type=args.gpu_capacity_type,
            disk_size=args.gpu_disk_size_gib,
            scaling_config={"min_size": args.gpu_min_size, "desired_size": args.gpu_desired_size, "max_size": args.gpu_max_size},
            update_config={"max_unavailable": 1},
            labels={**addons.GPU_POOL_LABEL, "nvidia.com/gpu.present": "true"},
            taints=[dict(addons.GPU_TAINT)],
            tags=tags,
            # The autoscaler owns the desired size once the group exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=prerequisites, ignore_changes=["scalingConfig.desiredSize"]),
        )
        for addon in addons.WORKLOAD_ADDONS:
            self._addon(name, addon, region, tags, depends_on=[self.system_node_group])

        self.kubeconfig = pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data
        ).apply(lambda values: json.dumps(eks_kubeconfig(
            cluster_name=values[0], endpoint=values[1], certificate_authority=values[2], region=region,
        )))
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_node_group])
        )
        in_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)

        if needs_device_plugin(self.gpu_ami_type):
            chart = addons.NVIDIA_DEVICE_PLUGIN
            k8s.helm.v3.Release(
                f"{name}-nvidia-device-plugin", chart=chart.chart, version=chart.version,
                repository_opts={"repo": chart.repository}, namespace=chart.namespace,
                values=addons.device_plugin_values(), opts=in_cluster,
            )
        self._cluster_autoscaler(name, region, args.kubernetes_version, tags, in_cluster)

        self.register_outputs({
            "clusterName": self.cluster.name,
            "endpoint": self.cluster.endpoint,
            "gpuNodeGroupName": self.gpu_node_group.node_group_name,
            "gpuAmiType": self.gpu_ami_type,
            "kubeconfig": pulumi.Output.secret(self.kubeconfig),
        })

    def _role(self, name: str, trust: dict, managed_policies: list[str], tags: dict) -> aws.iam.Role:
        role = aws.iam.Role(name, assume_role_policy=json.dumps(trust), tags=tags, opts=pulumi.ResourceOptions(parent=self))
        for policy in managed_policies:
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy}", role=role.name, policy_arn=managed_policy_arn(policy), opts=pulumi.ResourceOptions(parent=self)
            )
        return role

    def _addon(self, name: str, addon: str, region: str, tags: dict, depends_on: list | None = None) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{name}-{addon}", region=region, cluster_name=self.cluster.name, addon_name=addon,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on or []),
        )

    def _cluster_autoscaler(
        self, name: str, region: str, kubernetes_version: str, tags: dict, in_cluster: pulumi.ResourceOptions
    ) -> None:
        role = aws.iam.Role(
            f"{name}-autoscaler", assume_role_policy=json.dumps(pod_identity_trust_policy()), tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-autoscaler", role=role.id,
            policy=self.cluster.name.apply(lambda cluster_name: json.dumps(cluster_autoscaler_policy(cluster_name=cluster_name, region=region))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        chart = addons.CLUSTER_AUTOSCALER
        association = aws.eks.PodIdentityAssociation(
            f"{name}-autoscaler", region=region, cluster_name=self.cluster.name, namespace=chart.namespace,
            service_account=addons.CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, role_arn=role.arn, tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.helm.v3.Release(
            f"{name}-cluster-autoscaler", chart=chart.chart, version=chart.version,
            repository_opts={"repo": chart.repository}, namespace=chart.namespace,
            values=self.cluster.name.apply(lambda cluster_name: addons.cluster_autoscaler_values(
                cluster_name=cluster_name, region=region, kubernetes_version=kubernetes_version,
            )),
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[association])),
        )
