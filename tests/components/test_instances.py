"""GPU family table and AMI choice: plain functions, no Pulumi runtime."""

import pytest

from recsys_dr.components.cluster.instances import gpu_ami_type, gpu_family, needs_device_plugin


@pytest.mark.parametrize(
    ("instance_type", "family", "gpu"),
    [("g5.xlarge", "g5", "A10G"), ("g6e.12xlarge", "g6e", "L40S"), ("p5.48xlarge", "p5", "H100"), ("g5g.2xlarge", "g5g", "T4G")],
)
def test_gpu_family_of_nvidia_types(instance_type, family, gpu):
    assert gpu_family(instance_type).name == family
    assert gpu_family(instance_type).gpu == gpu


@pytest.mark.parametrize("instance_type", ["m6i.large", "c7g.xlarge", "g4ad.xlarge", "inf2.xlarge", "g5", "trn1.2xlarge"])
def test_non_nvidia_types_have_no_gpu_family(instance_type):
    assert gpu_family(instance_type) is None


@pytest.mark.parametrize(
    ("instance_types", "os_family", "ami_type"),
    [
        (["g5.xlarge"], "al2023", "AL2023_x86_64_NVIDIA"),
        (["g5.2xlarge", "g6.2xlarge"], "al2023", "AL2023_x86_64_NVIDIA"),
        (["g5g.xlarge"], "al2023", "AL2023_ARM_64_NVIDIA"),
        (["p4d.24xlarge"], "bottlerocket", "BOTTLEROCKET_x86_64_NVIDIA"),
    ],
)
def test_gpu_ami_type(instance_types, os_family, ami_type):
    assert gpu_ami_type(instance_types, os_family) == ami_type


def test_gpu_ami_type_rejects_mixed_architectures():
    with pytest.raises(ValueError, match="mix architectures"):
        gpu_ami_type(["g5.xlarge", "g5g.xlarge"])


def test_gpu_ami_type_rejects_cpu_types():
    with pytest.raises(ValueError, match="not all NVIDIA GPU instance types"):
        gpu_ami_type(["m6i.large"])


@pytest.mark.parametrize(
    ("ami_type", "needed"),
    [("AL2023_x86_64_NVIDIA", True), ("AL2023_ARM_64_NVIDIA", True), ("BOTTLEROCKET_x86_64_NVIDIA", False)],
)
def test_device_plugin_only_where_the_ami_lacks_it(ami_type, needed):
    assert needs_device_plugin(ami_type) is needed
