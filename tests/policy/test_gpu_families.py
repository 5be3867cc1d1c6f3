"""The policy pack is stdlib-only, so it keeps its own copy of the GPU family table."""

from recsys_dr.components.cluster.instances import GPU_FAMILIES
from recsys_dr.policy import rules


def test_policy_and_components_agree_on_nvidia_gpu_families():
    assert set(rules.GPU_INSTANCE_FAMILIES) - {"g4ad"} == set(GPU_FAMILIES)


def test_policy_recognises_every_family_as_a_gpu_node_group():
    for family in rules.GPU_INSTANCE_FAMILIES:
        assert rules.is_gpu_node_group({"instanceTypes": [f"{family}.48xlarge"]}), family
