"""GpuCluster: an EKS cluster with a CPU system pool and an autoscaled NVIDIA GPU pool."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from recsys_dr.components.cluster import addons, capacity
from recsys_dr.components.cluster.access import grant_cluster_admin
from recsys_dr.components.cluster.instances import CPU_AMI_TYPES, gpu_ami_type, needs_device_plugin
from recsys_dr.components.cluster.kubeconfig import eks_kubeconfig
from recsys_dr.components.cluster.network import Network, NetworkArgs, subnet_cidrs
from recsys_dr.components.cluster.policies import cluster_autoscaler_policy, keda_operator_policy, load_balancer_controller_policy
from recsys_dr.components.iam import managed_policy_arn, pod_identity_trust_policy, service_trust_policy
from recsys_dr.components.storage.policies import model_key_policy
from recsys_dr.components.settings.aws_limits import vpc_cidr_problems
from recsys_dr.components.settings.base import raise_if_problems, region_problems
from recsys_dr.components.settings.cluster import ClusterSettings
from recsys_dr.components.settings.fallback import FallbackSettings
from recsys_dr.components.settings.gpu import CapacityReservation, GpuPoolSettings


@dataclass(frozen=True, kw_only=True)
class GpuClusterArgs:
    """Arguments of `GpuCluster`: validated settings plus what differs per region.

    Attributes:
        region: AWS region of every regional resource.
        cluster: the `cluster` settings (version, system pool, zones, NAT, API access).
        gpu: the GPU pool of this region (a pilot-light standby passes `gpu.pilot_light()`).
        vpc_cidr: block of the network created for this region. Default "10.0.0.0/16".
            Ignored when `subnet_ids` is given.
        subnet_ids: existing private subnets (two zones or more) for the control plane and
            nodes; may be Outputs of the caller's own VPC. Default none: a `Network` is created.
        break_glass_arns: roles that alone may disable or delete the secrets key (its key
            policy denies everyone else). Default none: nobody, until the policy changes.
        protect_keys: Pulumi's `protect` on the secrets key (losing it loses every Secret of the
            cluster). Default True.
        model_bucket_arns: the model buckets the nodes read through the new network's S3 gateway
            endpoint (its policy admits them and the image-layer buckets only). Default none.
        capacity_reservation: the reservation this region's GPU pool launches into (`gpu.capacityReservations`
            of this region); the pool then uses the reservation's zone only. Default none.
        image_cache_snapshot_id: a Bottlerocket data-volume snapshot holding the serving images
            (`gpu.imageCache` of this region). Default none.
        fallback: the fallback tier's CPU node group (its instance types and sizes), tainted for the
            fallback pods only. Default none: no fallback pool in this cluster.
        tags: tags on every taggable resource. Default none.
    """

    region: str
    cluster: ClusterSettings = dataclass_field(default_factory=ClusterSettings)
    gpu: GpuPoolSettings = dataclass_field(default_factory=GpuPoolSettings)
    vpc_cidr: str = "10.0.0.0/16"
    subnet_ids: Sequence[pulumi.Input[str]] | None = None
    break_glass_arns: Sequence[str] = ()
    protect_keys: bool = True
    model_bucket_arns: Sequence[pulumi.Input[str]] = ()
    capacity_reservation: CapacityReservation | None = None
    image_cache_snapshot_id: str | None = None
    fallback: FallbackSettings | None = None
    tags: Mapping[str, str] = dataclass_field(default_factory=dict)


def gpu_cluster_problems(args: GpuClusterArgs) -> list[str]:
    """What the settings types cannot know: the region and the shape of existing subnets."""
    problems = region_problems("region", args.region)
    if args.subnet_ids is not None and len(args.subnet_ids) < 2:
        problems.append(f"`subnet_ids` must name subnets in at least two zones. Received: {len(args.subnet_ids)} subnet(s)")
    if args.subnet_ids is None:
        problems += vpc_cidr_problems("vpc_cidr", args.vpc_cidr)
    reservation = args.capacity_reservation
    if reservation is not None and reservation.availability_zone[:-1] != args.region:
        problems.append(f"`capacity_reservation.availability_zone` must be a zone of {args.region}. "
                        f"Received: {reservation.availability_zone}")
    return problems


class GpuCluster(pulumi.ComponentResource):
    """EKS with secrets envelope-encrypted by a regional KMS key, a system pool, a tainted
    GPU pool (`nvidia.com/gpu=true:NoSchedule`) scaled by Cluster Autoscaler (launched into a
    capacity reservation and from an image-cache volume where configured), optionally the fallback
    tier's tainted CPU pool, the core
    add-ons (VPC CNI, kube-proxy, CoreDNS, Pod Identity agent, metrics-server), the NVIDIA
    device plugin where the AMI lacks it, the AWS Load Balancer Controller (TargetGroupBinding
    only) and KEDA, each controller with its own Pod Identity role, and a Kubernetes provider
    bound to the cluster.
    """

    cluster: aws.eks.Cluster
    gpu_node_group: aws.eks.NodeGroup
    system_node_group: aws.eks.NodeGroup
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems("GpuClusterArgs", gpu_cluster_problems(args))
        super().__init__("recsys-dr:components:GpuCluster", name, None, opts)
        self.region = args.region
        tags = dict(args.tags)
        subnet_ids = self._subnets(name, args, tags)
        self._control_plane(name, args, subnet_ids, tags)
        self._node_pools(name, args, subnet_ids, tags)
        in_cluster = self._kubernetes_access(name, args, tags)
        self._controllers(name, args, tags, in_cluster)
        self.register_outputs({
            "clusterName": self.cluster.name,
            "endpoint": self.cluster.endpoint,
            "gpuNodeGroupName": self.gpu_node_group.node_group_name,
            "gpuAmiType": self.gpu_ami_type,
            "capacityReservationId": self.capacity_reservation_id,
            "fallbackNodeGroupName": self.fallback_node_group.node_group_name if self.fallback_node_group else None,
            "kubeconfig": pulumi.Output.secret(self.kubeconfig),
        })

    def _control_plane(self, name: str, args: GpuClusterArgs, subnet_ids: pulumi.Input, tags: dict) -> None:
        """The secrets key, the cluster role, the control-plane log group and the cluster itself."""
        region, cluster = args.region, args.cluster
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.secrets_key = secrets_key = aws.kms.Key(
            f"{name}-secrets", region=region, description=f"EKS secrets envelope encryption ({name})",
            enable_key_rotation=True, deletion_window_in_days=30, tags=tags,
            # The account statement (EKS uses the key through grants its callers' IAM rights allow)
            # and the break-glass deny of the model keys.
            policy=account_id.apply(lambda account: json.dumps(model_key_policy(
                account_id=account, region=region, grants=[], break_glass_arns=list(args.break_glass_arns),
            ))),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect_keys),
        )
        cluster_role = self._role(f"{name}-cluster", service_trust_policy("eks.amazonaws.com"), ["AmazonEKSClusterPolicy"], tags)
        # EKS writes control-plane logs to /aws/eks/<cluster>/cluster and creates that group
        # without retention unless it exists first; so the cluster gets a fixed name and the
        # group (with retention) is made before it (EKS user guide, "control plane logs").
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane", region=region, name=f"/aws/eks/{name}/cluster",
            retention_in_days=cluster.log_retention_days, tags=tags, opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster = aws.eks.Cluster(
            name,
            name=name,
            region=region,
            version=cluster.kubernetes_version,
            role_arn=cluster_role.arn,
            # No operators' ranges: no public endpoint (EKS opens it to 0.0.0.0/0 when it is on
            # without publicAccessCidrs; pulumi-aws vpcConfig docs).
            vpc_config={
                "subnet_ids": subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": bool(cluster.public_access_cidrs),
                **({"public_access_cidrs": list(cluster.public_access_cidrs)} if cluster.public_access_cidrs else {}),
            },
            encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            # Managed add-ons below replace the self-managed defaults.
            bootstrap_self_managed_addons=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_role, log_group]),
        )

    def _node_pools(self, name: str, args: GpuClusterArgs, subnet_ids: pulumi.Input, tags: dict) -> None:
        """The add-ons nodes need first, the node role, the system, GPU and fallback pools, then the
        add-ons that run on the system pool."""
        region, cluster = args.region, args.cluster
        # aws-node gets its own Pod Identity role: the CNI's EC2 rights leave the node role,
        # which every pod on the node could otherwise reach through the instance metadata
        # (EKS user guide, "Configure Amazon VPC CNI plugin to use IRSA": the plugin supports
        # Pod Identities, and a separate role is recommended over the node role).
        cni_role = self._role(f"{name}-aws-node", self._pod_identity_trust(addons.VPC_CNI_NAMESPACE, addons.VPC_CNI_SERVICE_ACCOUNT),
                              [addons.VPC_CNI_POLICY], tags)
        prerequisites = [
            self._addon(name, addon, region, tags, **(
                {"configuration_values": json.dumps(addons.vpc_cni_configuration()),
                 "pod_identity_associations": [{"role_arn": cni_role.arn, "service_account": addons.VPC_CNI_SERVICE_ACCOUNT}]}
                if addon == "vpc-cni" else {}
            ))
            for addon in addons.NODE_PREREQUISITE_ADDONS
        ]
        node_role = self._role(
            f"{name}-node", service_trust_policy("ec2.amazonaws.com"),
            ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"], tags,
        )
        self.system_node_group = aws.eks.NodeGroup(
            f"{name}-system",
            region=region,
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            ami_type=CPU_AMI_TYPES["x86_64"],
            instance_types=[cluster.system_instance_type],
            scaling_config={"min_size": cluster.system_node_count, "desired_size": cluster.system_node_count, "max_size": cluster.system_node_count + 1},
            update_config={"max_unavailable": 1},
            labels=dict(addons.SYSTEM_POOL_LABEL),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=prerequisites),
        )
        self.gpu_ami_type = gpu_ami_type(list(args.gpu.instance_types), args.gpu.os_family)
        self.gpu_node_group = self._gpu_node_group(name, args, node_role, subnet_ids, tags, prerequisites)
        self.fallback_node_group = self._fallback_node_group(name, args, node_role, subnet_ids, prerequisites) \
            if args.fallback is not None else None
        for addon in addons.WORKLOAD_ADDONS:
            self._addon(name, addon, region, tags, depends_on=[self.system_node_group])

    def _kubernetes_access(self, name: str, args: GpuClusterArgs, tags: dict) -> pulumi.ResourceOptions:
        """Cluster admin for the operators' roles, the kubeconfig and the Kubernetes provider; returns
        the options of the objects created inside the cluster."""
        region = args.region
        # Operators act on both clusters with their own roles, not the creator's identity.
        grant_cluster_admin(name, region=region, cluster_name=self.cluster.name, role_arns=args.cluster.admin_role_arns,
                            tags=tags, parent=self)
        self.kubeconfig = pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data
        ).apply(lambda values: json.dumps(eks_kubeconfig(
            cluster_name=values[0], endpoint=values[1], certificate_authority=values[2], region=region,
        )))
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_node_group])
        )
        return pulumi.ResourceOptions(parent=self, provider=self.provider)

    def _controllers(self, name: str, args: GpuClusterArgs, tags: dict, in_cluster: pulumi.ResourceOptions) -> None:
        """The pinned Helm releases: the NVIDIA device plugin where the AMI lacks it, Cluster
        Autoscaler, the AWS Load Balancer Controller and KEDA."""
        region, kubernetes_version = args.region, args.cluster.kubernetes_version
        for warning in addons.supply_chain_warnings(kubernetes_version=kubernetes_version,
                                                    device_plugin=needs_device_plugin(self.gpu_ami_type)):
            pulumi.log.warn(warning, resource=self)
        if needs_device_plugin(self.gpu_ami_type):
            chart = addons.NVIDIA_DEVICE_PLUGIN
            k8s.helm.v3.Release(
                f"{name}-nvidia-device-plugin", chart=chart.chart, version=chart.version,
                repository_opts={"repo": chart.repository}, namespace=chart.namespace,
                values=addons.device_plugin_values(), opts=in_cluster,
            )
        self._cluster_autoscaler(name, region, kubernetes_version, tags, in_cluster)
        # The serving components bind pods to their balancers and scale on its metrics through these.
        self.node_security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.load_balancer_controller_role, lbc = self._pod_identity_release(
            name, "load-balancer-controller", addons.LOAD_BALANCER_CONTROLLER, addons.LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            policy=load_balancer_controller_policy(region=region), tags=tags, in_cluster=in_cluster,
            values=pulumi.Output.all(self.cluster.name, self.vpc_id).apply(lambda values: addons.load_balancer_controller_values(
                cluster_name=values[0], region=region, vpc_id=values[1])),
        )
        _, keda = self._pod_identity_release(
            name, "keda", addons.KEDA, addons.KEDA_OPERATOR_SERVICE_ACCOUNT, policy=keda_operator_policy(region=region),
            tags=tags, in_cluster=in_cluster, values=addons.keda_values(), create_namespace=True,
        )
        self.serving_addons = [lbc, keda]

    def _gpu_node_group(self, name: str, args: GpuClusterArgs, node_role: aws.iam.Role, subnet_ids: pulumi.Input,
                        tags: dict, prerequisites: list) -> aws.eks.NodeGroup:
        """The tainted GPU pool; with a reservation or an image cache, launched from its own template."""
        gpu, reservation = args.gpu, args.capacity_reservation
        self.capacity_reservation_id: pulumi.Output[str] | None = None
        template = None
        if reservation is not None or args.image_cache_snapshot_id is not None:
            if reservation is not None:
                self.capacity_reservation_id = self._reservation(name, args, reservation, tags)
                subnet_ids = pulumi.Output.all(self.private_subnet_ids, self.private_subnet_zones).apply(
                    lambda values: capacity.subnets_in_zone(values[0], values[1], reservation.availability_zone))
            template = aws.ec2.LaunchTemplate(
                f"{name}-gpu", region=args.region, description=f"{name} GPU pool: reserved capacity and image volume",
                update_default_version=True, tags=tags, opts=pulumi.ResourceOptions(parent=self),
                **capacity.launch_template_data(
                    os_family=gpu.os_family, disk_size_gib=gpu.disk_size_gib,
                    reservation_type=reservation.type if reservation else None, reservation_id=self.capacity_reservation_id,
                    instance_type=gpu.instance_types[0], snapshot_id=args.image_cache_snapshot_id,
                ),
            )
        self.gpu_launch_template = template
        return aws.eks.NodeGroup(
            f"{name}-gpu",
            region=args.region,
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            ami_type=self.gpu_ami_type,
            **capacity.node_group_capacity(reservation_type=reservation.type if reservation else None,
                                           capacity_type=gpu.capacity_type, instance_types=gpu.instance_types),
            # The template's block device mappings size the volumes when there is one.
            **({"launch_template": {"id": template.id, "version": template.latest_version.apply(str)}} if template
               else {"disk_size": gpu.disk_size_gib}),
            scaling_config={"min_size": gpu.min_size, "desired_size": gpu.desired_size, "max_size": gpu.max_size},
            update_config={"max_unavailable": 1},
            labels={**addons.GPU_POOL_LABEL, "nvidia.com/gpu.present": "true", **addons.accelerator_label(gpu.instance_types)},
            taints=[dict(addons.GPU_TAINT)],
            tags=tags,
            # The autoscaler owns the desired size once the group exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=prerequisites, ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _reservation(self, name: str, args: GpuClusterArgs, reservation: CapacityReservation, tags: dict) -> pulumi.Output[str]:
        """The reservation's id: the one given, or a targeted On-Demand Capacity Reservation created here
        for the pool's whole maximum, with no end date (billed at the On-Demand rate while it exists)."""
        if reservation.reservation_id is not None:
            return pulumi.Output.from_input(reservation.reservation_id)
        created = aws.ec2.CapacityReservation(
            f"{name}-gpu", region=args.region, instance_type=args.gpu.instance_types[0], instance_platform="Linux/UNIX",
            availability_zone=reservation.availability_zone, instance_count=reservation.count(args.gpu.max_size),
            # Only launches that name it use it: no other workload of the account can take the capacity.
            instance_match_criteria="targeted", end_date_type="unlimited", tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return created.id

    def _fallback_node_group(self, name: str, args: GpuClusterArgs, node_role: aws.iam.Role, subnet_ids: pulumi.Input,
                             prerequisites: list) -> aws.eks.NodeGroup:
        """The fallback tier's CPU pool, in every zone, always running, tainted for the fallback pods."""
        fallback = args.fallback
        return aws.eks.NodeGroup(
            f"{name}-fallback",
            region=args.region,
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            ami_type=CPU_AMI_TYPES["x86_64"],
            instance_types=list(fallback.instance_types),
            capacity_type="ON_DEMAND",
            scaling_config={"min_size": fallback.min_size, "desired_size": fallback.min_size, "max_size": fallback.max_size},
            update_config={"max_unavailable": 1},
            labels=dict(addons.FALLBACK_POOL_LABEL),
            taints=[dict(addons.FALLBACK_TAINT)],
            tags={**args.tags, "recsys-dr:role": "fallback"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=prerequisites, ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _subnets(self, name: str, args: GpuClusterArgs, tags: dict) -> pulumi.Input:
        """The nodes' (private) subnets, and beside them the VPC and the subnets a balancer may use:
        the created network's, or, for existing private subnets, their VPC's subnets tagged
        `kubernetes.io/role/elb` (public) - the tag the Kubernetes load-balancer controllers discover."""
        region, invoke = args.region, pulumi.InvokeOutputOptions(parent=self)
        if args.subnet_ids is None:
            network = Network(
                f"{name}-net",
                NetworkArgs(
                    region=region, vpc_cidr=args.vpc_cidr, availability_zone_count=args.cluster.availability_zones,
                    single_nat_gateway=args.cluster.single_nat_gateway, model_bucket_arns=args.model_bucket_arns,
                    tags=tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            private_cidrs, public_cidrs = subnet_cidrs(args.vpc_cidr, args.cluster.availability_zones)
            self.vpc_id = network.vpc.id
            self.private_subnet_ids, self.public_subnet_ids = network.private_subnet_ids, network.public_subnet_ids
            self.private_subnet_zones = network.private_subnet_zones
            self.private_cidrs, self.public_cidrs = pulumi.Output.from_input(private_cidrs), pulumi.Output.from_input(public_cidrs)
            return network.private_subnet_ids
        private = [aws.ec2.get_subnet_output(id=subnet, region=region, opts=invoke) for subnet in args.subnet_ids]
        self.vpc_id = private[0].vpc_id
        self.private_subnet_ids = pulumi.Output.from_input(list(args.subnet_ids))
        self.private_subnet_zones = pulumi.Output.all(*[s.availability_zone for s in private])
        self.private_cidrs = pulumi.Output.all(*[s.cidr_block for s in private]).apply(lambda cidrs: sorted(set(cidrs)))
        public = aws.ec2.get_subnets_output(
            region=region, filters=[{"name": "vpc-id", "values": [self.vpc_id]}, {"name": "tag:kubernetes.io/role/elb", "values": ["1"]}],
            opts=invoke,
        )
        self.public_subnet_ids = public.ids
        self.public_cidrs = public.ids.apply(lambda ids: pulumi.Output.all(*[
            aws.ec2.get_subnet_output(id=subnet, region=region, opts=invoke).cidr_block for subnet in ids
        ]).apply(lambda cidrs: sorted(set(cidrs))))
        return list(args.subnet_ids)

    def balancer_subnets(self, exposure: str) -> tuple[pulumi.Output[list[str]], pulumi.Output[list[str]]]:
        """(subnet ids, their CIDRs) of a serving balancer: public for internet-facing, private for internal."""
        if exposure == "internal":
            return self.private_subnet_ids, self.private_cidrs
        return self.public_subnet_ids, self.public_cidrs

    def _pod_identity_release(self, name: str, role: str, chart: addons.HelmChart, service_account: str, *, policy: dict,
                              tags: dict, in_cluster: pulumi.ResourceOptions, values: pulumi.Input[dict],
                              create_namespace: bool = False) -> tuple[aws.iam.Role, k8s.helm.v3.Release]:
        """A pinned Helm chart whose controller gets its own Pod Identity role (`policy`)."""
        identity = aws.iam.Role(
            f"{name}-{role}", assume_role_policy=self._pod_identity_trust(chart.namespace, service_account).apply(json.dumps),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(f"{name}-{role}", role=identity.id, policy=json.dumps(policy), opts=pulumi.ResourceOptions(parent=self))
        association = aws.eks.PodIdentityAssociation(
            f"{name}-{role}", region=self.region, cluster_name=self.cluster.name, namespace=chart.namespace,
            service_account=service_account, role_arn=identity.arn, tags=tags, opts=pulumi.ResourceOptions(parent=self),
        )
        release = k8s.helm.v3.Release(
            f"{name}-{role}", chart=chart.chart, version=chart.version, repository_opts={"repo": chart.repository},
            namespace=chart.namespace, create_namespace=create_namespace, values=values,
            # Credentials before the controller's first call.
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[association])),
        )
        return identity, release

    def _role(self, name: str, trust: pulumi.Input[dict], managed_policies: list[str], tags: dict) -> aws.iam.Role:
        role = aws.iam.Role(name, assume_role_policy=pulumi.Output.from_input(trust).apply(json.dumps), tags=tags,
                            opts=pulumi.ResourceOptions(parent=self))
        for policy in managed_policies:
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy}", role=role.name, policy_arn=managed_policy_arn(policy), opts=pulumi.ResourceOptions(parent=self)
            )
        return role

    def _pod_identity_trust(self, namespace: str, service_account: str) -> pulumi.Output[dict]:
        """A Pod Identity trust policy for one service account of this cluster."""
        return self.cluster.arn.apply(lambda arn: pod_identity_trust_policy(
            cluster_arn=arn, namespace=namespace, service_account=service_account))

    def _addon(self, name: str, addon: str, region: str, tags: dict, depends_on: list | None = None, **settings) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{name}-{addon}", region=region, cluster_name=self.cluster.name, addon_name=addon,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on or []), **settings,
        )

    def _cluster_autoscaler(
        self, name: str, region: str, kubernetes_version: str, tags: dict, in_cluster: pulumi.ResourceOptions
    ) -> None:
        chart = addons.CLUSTER_AUTOSCALER
        role = aws.iam.Role(
            f"{name}-autoscaler", tags=tags, opts=pulumi.ResourceOptions(parent=self),
            assume_role_policy=self._pod_identity_trust(chart.namespace, addons.CLUSTER_AUTOSCALER_SERVICE_ACCOUNT).apply(json.dumps),
        )
        aws.iam.RolePolicy(
            f"{name}-autoscaler", role=role.id,
            policy=self.cluster.name.apply(lambda cluster_name: json.dumps(cluster_autoscaler_policy(cluster_name=cluster_name, region=region))),
            opts=pulumi.ResourceOptions(parent=self),
        )
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
