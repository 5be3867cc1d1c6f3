"""GPU and CPU instance sizes and the EKS AMI type each needs (tables, no resources).

After pulumi-eks `nodes/ami.ts`: the choice of AMI is data plus one function, tested
without the Pulumi runtime.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuFamily:
    name: str
    architecture: str  # "x86_64" or "arm64"
    gpu: str


# NVIDIA families EKS supports with its accelerated AMIs. g4ad (AMD) is deliberately absent:
# the NVIDIA AMIs and device plugin do not drive it.
GPU_FAMILIES = {
    family.name: family
    for family in (
        GpuFamily("g4dn", "x86_64", "T4"),
        GpuFamily("g5", "x86_64", "A10G"),
        GpuFamily("g5g", "arm64", "T4G"),
        GpuFamily("g6", "x86_64", "L4"),
        GpuFamily("g6e", "x86_64", "L40S"),
        GpuFamily("gr6", "x86_64", "L4"),
        GpuFamily("p3", "x86_64", "V100"),
        GpuFamily("p3dn", "x86_64", "V100"),
        GpuFamily("p4d", "x86_64", "A100"),
        GpuFamily("p4de", "x86_64", "A100"),
        GpuFamily("p5", "x86_64", "H100"),
        GpuFamily("p5e", "x86_64", "H200"),
        GpuFamily("p5en", "x86_64", "H200"),
        GpuFamily("p6-b200", "x86_64", "B200"),
    )
}



@dataclass(frozen=True)
class GpuInstance:
    """One supported GPU instance size: what a pod on it can ask for."""

    name: str
    gpus: int
    gpu_memory_gib: int  # per GPU
    vcpus: int
    memory_gib: int

    @property
    def family(self) -> GpuFamily:
        return GPU_FAMILIES[self.name.partition(".")[0]]


def _sizes(family: str, gpu_memory_gib: int, rows: list[tuple[str, int, int, int]]) -> list[GpuInstance]:
    return [GpuInstance(f"{family}.{size}", gpus, gpu_memory_gib, vcpus, memory) for size, gpus, vcpus, memory in rows]


# Sizes of the NVIDIA families above: (size, GPUs, vCPUs, memory GiB), GPU memory per GPU.
# Source: Amazon EC2 instance types guide, "Accelerated computing" specifications
# (docs.aws.amazon.com/ec2/latest/instancetypes/ac.html), read 2026-12-01.
GPU_INSTANCES = {
    instance.name: instance
    for instance in (
        *_sizes("g4dn", 16, [("xlarge", 1, 4, 16), ("2xlarge", 1, 8, 32), ("4xlarge", 1, 16, 64), ("8xlarge", 1, 32, 128),
                             ("16xlarge", 1, 64, 256), ("12xlarge", 4, 48, 192), ("metal", 8, 96, 384)]),
        *_sizes("g5", 24, [("xlarge", 1, 4, 16), ("2xlarge", 1, 8, 32), ("4xlarge", 1, 16, 64), ("8xlarge", 1, 32, 128),
                           ("16xlarge", 1, 64, 256), ("12xlarge", 4, 48, 192), ("24xlarge", 4, 96, 384), ("48xlarge", 8, 192, 768)]),
        *_sizes("g5g", 16, [("xlarge", 1, 4, 8), ("2xlarge", 1, 8, 16), ("4xlarge", 1, 16, 32), ("8xlarge", 1, 32, 64),
                            ("16xlarge", 2, 64, 128), ("metal", 2, 64, 128)]),
        *_sizes("g6", 24, [("xlarge", 1, 4, 16), ("2xlarge", 1, 8, 32), ("4xlarge", 1, 16, 64), ("8xlarge", 1, 32, 128),
                           ("16xlarge", 1, 64, 256), ("12xlarge", 4, 48, 192), ("24xlarge", 4, 96, 384), ("48xlarge", 8, 192, 768)]),
        *_sizes("g6e", 48, [("xlarge", 1, 4, 32), ("2xlarge", 1, 8, 64), ("4xlarge", 1, 16, 128), ("8xlarge", 1, 32, 256),
                            ("16xlarge", 1, 64, 512), ("12xlarge", 4, 48, 384), ("24xlarge", 4, 96, 768), ("48xlarge", 8, 192, 1536)]),
        *_sizes("gr6", 24, [("4xlarge", 1, 16, 128), ("8xlarge", 1, 32, 256)]),
        *_sizes("p3", 16, [("2xlarge", 1, 8, 61), ("8xlarge", 4, 32, 244), ("16xlarge", 8, 64, 488)]),
        *_sizes("p3dn", 32, [("24xlarge", 8, 96, 768)]),
        *_sizes("p4d", 40, [("24xlarge", 8, 96, 1152)]),
        *_sizes("p4de", 80, [("24xlarge", 8, 96, 1152)]),
        *_sizes("p5", 80, [("4xlarge", 1, 16, 256), ("48xlarge", 8, 192, 2048)]),
        *_sizes("p5e", 141, [("48xlarge", 8, 192, 2048)]),
        *_sizes("p5en", 141, [("48xlarge", 8, 192, 2048)]),
        *_sizes("p6-b200", 179, [("48xlarge", 8, 192, 2048)]),
    )
}

@dataclass(frozen=True)
class CpuInstance:
    """One supported CPU-only instance size (the fallback tier's nodes): what a pod on it can ask for."""

    name: str
    vcpus: int
    memory_gib: int
    gpus: int = 0


# x86_64 CPU sizes for the fallback tier (the TF Serving CPU image is built for amd64), general
# purpose and compute optimized, no burstable types (a fallback taking every request must not run
# out of CPU credits). (vCPUs, memory GiB) from the Amazon EC2 instance types guide, "General
# purpose" and "Compute optimized" specifications (docs.aws.amazon.com/ec2/latest/instancetypes/).
CPU_INSTANCES = {
    instance.name: instance
    for family, memory_per_vcpu in (("c6i", 2), ("c7i", 2), ("m6i", 4), ("m7i", 4))
    for size, vcpus in (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16))
    for instance in (CpuInstance(f"{family}.{size}", vcpus, vcpus * memory_per_vcpu),)
}

# What the kubelet can hand to pods on a node (EKS AMI bootstrap, amazon-eks-ami
# `nodeadm`/`bootstrap.sh`): kube-reserved memory = 255 MiB + 11 MiB per pod (max pods taken
# as 110, the most EKS recommends, so the figure is a lower bound), eviction threshold 100 MiB,
# kube-reserved CPU 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % above.
# The OS and hypervisor keep about 4 % of the nominal memory (MemTotal < instance memory), and
# the node's DaemonSets (aws-node, kube-proxy, pod identity agent, NVIDIA device plugin,
# network policy agent) request about 300m CPU and 300 MiB.
MAX_PODS_ASSUMED = 110
DAEMONSET_CPU_MILLICORES = 300
DAEMONSET_MEMORY_MIB = 300


def _reserved_cpu_millicores(vcpus: int) -> int:
    shares = [60, 10, 5, 5] + [2.5] * max(vcpus - 4, 0)
    return int(sum(shares[:vcpus]) + 0.5)


def allocatable(instance: GpuInstance | CpuInstance) -> tuple[int, int]:
    """(CPU millicores, memory MiB) a serving pod can request on one node of `instance`.

    Example: `allocatable(GPU_INSTANCES["g5.xlarge"]) == (3620, 13863)`.
    """
    cpu = instance.vcpus * 1000 - _reserved_cpu_millicores(instance.vcpus) - DAEMONSET_CPU_MILLICORES
    memory = int(instance.memory_gib * 1024 * 0.96) - (255 + 11 * MAX_PODS_ASSUMED) - 100 - DAEMONSET_MEMORY_MIB
    return cpu, memory


def gpu_instance(instance_type: str) -> GpuInstance | None:
    """The table row of a supported GPU instance size, or None (unknown size or not a GPU type)."""
    return GPU_INSTANCES.get(instance_type)


def instance_row(instance_type: str) -> GpuInstance | CpuInstance | None:
    """The table row of a supported GPU or CPU instance size, or None."""
    return GPU_INSTANCES.get(instance_type) or CPU_INSTANCES.get(instance_type)


# (OS family, architecture) -> EKS managed node group AMI type.
GPU_AMI_TYPES = {
    ("al2023", "x86_64"): "AL2023_x86_64_NVIDIA",
    ("al2023", "arm64"): "AL2023_ARM_64_NVIDIA",
    ("bottlerocket", "x86_64"): "BOTTLEROCKET_x86_64_NVIDIA",
    ("bottlerocket", "arm64"): "BOTTLEROCKET_ARM_64_NVIDIA",
}
CPU_AMI_TYPES = {"x86_64": "AL2023_x86_64_STANDARD", "arm64": "AL2023_ARM_64_STANDARD"}
# Bottlerocket's NVIDIA variants ship the Kubernetes device plugin; AL2023's ship only the
# driver and container toolkit, so the cluster must run the plugin itself.
AMI_TYPES_WITH_DEVICE_PLUGIN = frozenset({"BOTTLEROCKET_x86_64_NVIDIA", "BOTTLEROCKET_ARM_64_NVIDIA"})


def gpu_family(instance_type: str) -> GpuFamily | None:
    """The NVIDIA GPU family of an EC2 instance type, or None for anything else.

    Example: `gpu_family("g5.2xlarge").gpu == "A10G"`; `gpu_family("m6i.large") is None`.
    """
    family, _, size = instance_type.partition(".")
    return GPU_FAMILIES.get(family) if size else None


def gpu_ami_type(instance_types: list[str], os_family: str = "al2023") -> str:
    """The accelerated AMI type for a GPU node group of `instance_types`.

    Args:
        instance_types: NVIDIA GPU instance types of one architecture.
        os_family: "al2023" (default) or "bottlerocket".

    Raises:
        ValueError: a type is not an NVIDIA GPU type, or the list mixes architectures.
    """
    families = [gpu_family(t) for t in instance_types]
    if not families or None in families:
        raise ValueError(f"not all NVIDIA GPU instance types: {instance_types}")
    architectures = {f.architecture for f in families}
    if len(architectures) != 1:
        raise ValueError(f"GPU instance types mix architectures: {instance_types}")
    return GPU_AMI_TYPES[(os_family, architectures.pop())]


def needs_device_plugin(ami_type: str) -> bool:
    """Whether the cluster must install the NVIDIA device plugin for nodes of `ami_type`."""
    return ami_type not in AMI_TYPES_WITH_DEVICE_PLUGIN
