"""Which EKS add-ons a serving cluster runs, and the Helm charts beside them (data only).

Chart values are checked against the charts' own values.yaml (aws/eks-charts
stable/aws-load-balancer-controller, kedacore/charts keda) at the pinned versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recsys_dr.components import supply_chain
from recsys_dr.components.cluster.instances import gpu_family

# Needed before any node can become Ready (the cluster is created without self-managed add-ons).
NODE_PREREQUISITE_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
# Need schedulable nodes to become healthy.
WORKLOAD_ADDONS = ("coredns", "metrics-server")


@dataclass(frozen=True)
class HelmChart:
    chart: str
    version: str
    repository: str
    namespace: str


NVIDIA_DEVICE_PLUGIN = HelmChart(
    chart="nvidia-device-plugin", version="0.17.1",
    repository="https://nvidia.github.io/k8s-device-plugin", namespace="kube-system",
)
CLUSTER_AUTOSCALER = HelmChart(
    chart="cluster-autoscaler", version="9.46.6",
    repository="https://kubernetes.github.io/autoscaler", namespace="kube-system",
)
CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
# aws/eks-charts stable/aws-load-balancer-controller (appVersion v3.5.0).
LOAD_BALANCER_CONTROLLER = HelmChart(
    chart="aws-load-balancer-controller", version="3.5.0",
    repository="https://aws.github.io/eks-charts", namespace="kube-system",
)
LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
# kedacore/charts keda (operator, metrics API server, admission webhooks).
KEDA = HelmChart(chart="keda", version="2.20.2", repository="https://kedacore.github.io/charts", namespace="keda")
# The chart's operator service account (values.yaml serviceAccount.operator.name).
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
# The VPC CNI's DaemonSet and service account (kube-system/aws-node).
VPC_CNI_SERVICE_ACCOUNT = "aws-node"
VPC_CNI_NAMESPACE = "kube-system"  # the vpc-cni add-on's aws-node DaemonSet
VPC_CNI_POLICY = "AmazonEKS_CNI_Policy"
GPU_POOL_LABEL = {"recsys-dr/pool": "gpu"}
SYSTEM_POOL_LABEL = {"recsys-dr/pool": "system"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
# The fallback tier's CPU nodes take its pods only: system pods keep to the system pool, so a busy
# fallback never starves CoreDNS or the controllers (the EKS add-ons' DaemonSets tolerate every taint).
FALLBACK_POOL_LABEL = {"recsys-dr/pool": "fallback"}
FALLBACK_TAINT = {"key": "recsys-dr/fallback", "value": "true", "effect": "NO_SCHEDULE"}
# Cluster Autoscaler's AWS provider treats a node with this label as a GPU node that is not
# ready until the device plugin advertises `nvidia.com/gpu`; without it the autoscaler may
# scale out again while the plugin starts (cluster-autoscaler/cloudprovider/aws/README.md,
# "Special note on GPU instances"; `GPULabel` in aws_cloud_provider.go). It reads managed node
# group labels through eks:DescribeNodegroup, so scale-from-zero sees it too.
ACCELERATOR_LABEL_KEY = "k8s.amazonaws.com/accelerator"


def accelerator_label(instance_types: Sequence[str]) -> dict[str, str]:
    """`{"k8s.amazonaws.com/accelerator": "nvidia-<gpu>"}` for a GPU node group.

    One node group carries one label set, so a pool mixing GPU models names them all.
    Example: `accelerator_label(["g5.xlarge"]) == {ACCELERATOR_LABEL_KEY: "nvidia-a10g"}`,
    `accelerator_label(["g5.2xlarge", "g6.2xlarge"])` gives `"nvidia-a10g-l4"`.
    """
    gpus = sorted({family.gpu.lower() for family in map(gpu_family, instance_types) if family is not None})
    if not gpus:
        raise ValueError(f"not NVIDIA GPU instance types: {list(instance_types)}")
    return {ACCELERATOR_LABEL_KEY: "nvidia-" + "-".join(gpus)}


def supply_chain_warnings(*, kubernetes_version: str, device_plugin: bool) -> list[str]:
    """What a cluster installs that is not pinned by content: every chart (the images the load
    balancer controller's and KEDA's charts choose come with them), and the images without a digest."""
    charts = [CLUSTER_AUTOSCALER, *([NVIDIA_DEVICE_PLUGIN] if device_plugin else []), LOAD_BALANCER_CONTROLLER, KEDA]
    warnings = [supply_chain.chart_warning(c.chart, c.version, c.repository) for c in charts]
    images = [("the Cluster Autoscaler image",
               f"{supply_chain.CLUSTER_AUTOSCALER_IMAGE}:{supply_chain.cluster_autoscaler_tag(kubernetes_version)}",
               "no digest for this Kubernetes version is recorded in `supply_chain.CLUSTER_AUTOSCALER_DIGESTS`")]
    if device_plugin:
        images.append(("the NVIDIA device plugin image",
                       f"{supply_chain.NVIDIA_DEVICE_PLUGIN_IMAGE}:{supply_chain.NVIDIA_DEVICE_PLUGIN_TAG}",
                       "no digest of it could be confirmed offline (a GPU AMI with the plugin built in needs none)"))
    return warnings + [w for what, image, advice in images if (w := supply_chain.image_warning(what, image, advice=advice))]


def device_plugin_values() -> dict:
    """Run the device plugin only on GPU nodes, tolerating their taint; its image named here, so
    the image the plan warns about is the one that runs."""
    return {
        "image": {"repository": supply_chain.NVIDIA_DEVICE_PLUGIN_IMAGE, "tag": supply_chain.NVIDIA_DEVICE_PLUGIN_TAG},
        "nodeSelector": dict(GPU_POOL_LABEL),
        "tolerations": [{"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
    }


def cluster_autoscaler_values(*, cluster_name: str, region: str, kubernetes_version: str) -> dict:
    """Auto-discover the cluster's managed node groups; keep the autoscaler on system nodes.

    The image follows the cluster's minor version, as the autoscaler project asks
    (the chart's own default trails the newest Kubernetes release), pinned by digest where one is
    known (`supply_chain.cluster_autoscaler_tag`).
    """
    return {
        "image": {"repository": supply_chain.CLUSTER_AUTOSCALER_IMAGE, "tag": supply_chain.cluster_autoscaler_tag(kubernetes_version)},
        "autoDiscovery": {"clusterName": cluster_name},
        "awsRegion": region,
        "cloudProvider": "aws",
        "rbac": {"serviceAccount": {"create": True, "name": CLUSTER_AUTOSCALER_SERVICE_ACCOUNT}},
        "nodeSelector": dict(SYSTEM_POOL_LABEL),
        "extraArgs": {
            "balance-similar-node-groups": True,
            "skip-nodes-with-system-pods": False,
            "expander": "least-waste",
            # GPU nodes are expensive: give back idle ones quickly.
            "scale-down-unneeded-time": "5m",
        },
    }


def load_balancer_controller_values(*, cluster_name: str, region: str, vpc_id: str) -> dict:
    """The controller for TargetGroupBinding only (docs/serving.md, "The front door").

    Region and VPC are given, so it never asks the instance metadata or EC2 for them
    (pkg/aws/cloud.go `getVpcID`). No IngressClass or IngressClassParams, no Service mutating
    webhook (it would claim every new `type: LoadBalancer` Service), no Service or Gateway
    controllers (pkg/config/feature_gates.go), no Shield or WAF add-ons for Ingresses (the web
    ACL is Pulumi's). The pod readiness-gate webhook stays, with the chart's `failurePolicy:
    Ignore`: a rollout waits until new pods are healthy in the target group, and pods are still
    created while the controller is down (a failover must not depend on it).
    """
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT},
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        "enableServiceMutatorWebhook": False,
        "enableShield": False,
        "enableWaf": False,
        "enableWafv2": False,
        "controllerConfig": {"featureGates": {"EnableServiceController": False, "ALBGatewayAPI": False, "NLBGatewayAPI": False}},
        "nodeSelector": dict(SYSTEM_POOL_LABEL),
    }


def keda_values() -> dict:
    """KEDA on the system pool; the operator's service account gets a Pod Identity role."""
    return {
        "serviceAccount": {"operator": {"create": True, "name": KEDA_OPERATOR_SERVICE_ACCOUNT}},
        "nodeSelector": dict(SYSTEM_POOL_LABEL),
    }


def vpc_cni_configuration() -> dict:
    """Configuration values of the `vpc-cni` add-on: enforce Kubernetes NetworkPolicies.

    The managed add-on's schema takes `enableNetworkPolicy` as the string "true" (EKS user
    guide, "Configure your cluster for Kubernetes network policies"); the network policy
    agent then runs beside aws-node and enforces policies with eBPF.
    """
    return {"enableNetworkPolicy": "true"}
