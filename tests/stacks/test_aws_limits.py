"""Stack files AWS or Kubernetes would refuse are refused at plan time, with key, value and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from recsys_dr.components.cluster.instances import GPU_FAMILIES, GPU_INSTANCES, allocatable
from recsys_dr.components.settings import (
    DnsSettings,
    GpuPoolSettings,
    ModelSettings,
    RegionPair,
    ServingSettings,
    SettingsError,
    TwoRegionRecommenderArgs,
)
from recsys_dr.stacks.settings import ConfigError, load_settings

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def dev_with(section: str, key: str | None, value) -> dict:
    document = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    raw = copy.deepcopy({k.split(":", 1)[1]: v for k, v in document["config"].items()})
    if key is None:
        raw[section] = value
    else:
        raw.setdefault(section, {})[key] = value
    return raw


REFUSED = [
    # (what AWS/Kubernetes would refuse, section, key, value, expected message)
    ("instance size that does not exist", "gpu", "instanceTypes", ["g5.97xlarge"],
     r"`recsys-dr:gpu.instanceTypes` must name existing instance sizes; g5 has: g5.xlarge, .*Received: 'g5.97xlarge'"),
    ("node group above the EKS quota", "gpu", "maxSize", 1_000_000_000,
     r"`recsys-dr:gpu.maxSize` must be <= 450 \(EKS quota 'Nodes per managed node group', default 450\). Received: 1000000000"),
    ("model version beyond int64", "model", "version", 2**63,
     r"`recsys-dr:model.version` must be <= 9223372036854775807 \(TF Serving versions are int64\). Received: 9223372036854775808"),
    ("replicas beyond int32", "serving", "maxReplicas", 2**31,
     r"`recsys-dr:serving.maxReplicas` must be <= 2147483647 \(Kubernetes replica counts are int32\). Received: 2147483648"),
    ("more GPUs per pod than the instance has", "serving", "gpusPerPod", 4,
     r"`recsys-dr:serving.gpusPerPod` must be <= the GPUs of `recsys-dr:gpu.instanceTypes` g5.xlarge \(1\); the pod would stay Pending. Received: 4"),
    ("more memory than the instance has", "serving", "memory", "64Gi",
     r"`recsys-dr:serving.memory` must be <= 13863Mi, what a g5.xlarge node can give a pod .*Received: '64Gi'"),
    ("more CPU than the instance has", "serving", "cpu", "4",
     r"`recsys-dr:serving.cpu` must be <= 3620m, what a g5.xlarge node can give a pod .*Received: '4'"),
    ("Kubernetes version EKS does not offer", "cluster", "kubernetesVersion", "1.99",
     r"`recsys-dr:cluster.kubernetesVersion` must be a version EKS supports, one of: 1.32, .*Received: '1.99'"),
    ("tag with the reserved aws: prefix", "tags", None, {"aws:owner": "me"},
     r"`recsys-dr:tags.aws:owner` must not start with `aws:` \(AWS reserves that prefix\)"),
    ("tag key over 128 characters", "tags", None, {"k" * 200: "v"},
     r"`recsys-dr:tags` keys must be 1-128 characters .*\(200 characters\)"),
    ("more than 50 tags with ours", "tags", None, {f"team-{i}": "v" for i in range(46)},
     r"`recsys-dr:tags` must hold at most 45 tags \(AWS allows 50 per resource; recsys-dr adds 5\). Received: 46 tags"),
    ("tag value over 256 characters", "tags", None, {"owner": "v" * 300},
     r"`recsys-dr:tags.owner` must be at most 256 characters"),
    ("boolean where a count belongs", "gpu", "maxSize", True,
     r"`recsys-dr:gpu.maxSize` must be an integer >= 1. Received: True"),
]


@pytest.mark.parametrize(("section", "key", "value", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_what_aws_or_kubernetes_would_refuse_is_refused_at_plan_time(section, key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(dev_with(section, key, value), "dev")


def test_a_key_in_a_namespace_nothing_reads_is_refused():
    # `recsys_dr:standbyMode` (underscore) would otherwise be ignored and the default used.
    with pytest.raises(ConfigError, match=r"`recsys_dr:standbyMode` is in namespace `recsys_dr`, which nothing in this program reads.*Did you mean `recsys-dr:standbyMode`\?"):
        load_settings(dev_with("tags", None, {}), "dev", foreign_keys=["recsys_dr:standbyMode"])


def test_python_callers_get_the_same_wording_in_python_names():
    with pytest.raises(SettingsError, match=r"`max_size` must be <= 450 \(EKS quota"):
        GpuPoolSettings(max_size=1000)
    with pytest.raises(SettingsError, match=r"`serving.gpus_per_pod` must be <= the GPUs of `gpu.instance_types` g5.xlarge \(1\)"):
        TwoRegionRecommenderArgs(
            regions=RegionPair(primary="us-east-1", standby="us-west-2"),
            model=ModelSettings(name="recs", version=1, manifest_sha256="0" * 64),
            dns=DnsSettings(record_name="recs.example.com", zone_id="Z0TEST"),
            serving=ServingSettings(gpus_per_pod=2),
        )


def test_every_gpu_family_has_sizes_and_every_size_a_family():
    assert {name.split(".")[0] for name in GPU_INSTANCES} == set(GPU_FAMILIES)


@pytest.mark.parametrize("name", sorted(GPU_INSTANCES))
def test_a_node_gives_pods_less_than_the_instance_has(name):
    # Kubelet reservation and DaemonSets always take something; allocatable is never the nominal size.
    instance = GPU_INSTANCES[name]
    cpu, memory_mib = allocatable(instance)
    assert 0 < cpu < instance.vcpus * 1000
    assert 0 < memory_mib < instance.memory_gib * 1024
