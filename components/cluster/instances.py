"""GPU instance families and the EKS AMI type each needs (a table, no resources).

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
