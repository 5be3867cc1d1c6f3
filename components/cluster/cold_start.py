"""How long a GPU pool at zero takes to serve, phase by phase (a table with its sources, no resources).

The estimate's RTO for a pilot-light standby, the stack outputs (`regions.<role>.coldStart`) and the
drill's per-phase budgets all read this table. Each figure says where it comes from; where AWS
publishes none, the figure is this project's allowance and `recsys-dr drill` measures the phase.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColdStartPhase:
    key: str        # the stack-output key (camelCase, seconds)
    label: str
    seconds: int
    source: str


# Cluster Autoscaler's `--max-node-provision-time` default, 15 minutes (kubernetes/autoscaler
# cluster-autoscaler/FAQ.md, "What are the parameters to CA?"): a scale-up that EC2 cannot fill (no
# capacity for the instance type in the region's zones) is given up only after it, then retried with
# back-off, with no bound beyond. A reservation removes the wait: its capacity is held for the pool.
CAPACITY_WAIT = ColdStartPhase(
    "capacityWaitSeconds", "capacity wait", 900,
    "Cluster Autoscaler gives up a node it cannot get after --max-node-provision-time (default 15 min, "
    "kubernetes/autoscaler FAQ) and retries with no bound: capacity not guaranteed",
)
# EC2 launch, EKS join, NVIDIA device plugin advertising the GPU. AWS publishes no figure for GPU AMIs;
# Cluster Autoscaler's own decision is at most 30 s in clusters under 100 nodes (FAQ, "What are the
# Service Level Objectives for Cluster Autoscaler?"), the rest is an allowance the drill measures.
NODE = ColdStartPhase(
    "nodeSeconds", "GPU node", 300,
    "Cluster Autoscaler decides within 30 s (kubernetes/autoscaler FAQ, SLOs); EC2 launch and EKS join of "
    "an accelerated AMI: allowance, measured by `recsys-dr drill` (nodes ready)",
)
# The TF Serving GPU image is several GB compressed. "Container images larger than 1 GiB ... can take up
# to a minute to pull and extract from ECR" (aws-samples/containers-blog-maelstrom,
# bottlerocket-images-cache/README.md); two minutes allowed for a pull from Docker Hub.
IMAGE_PULL = ColdStartPhase(
    "imagePullSeconds", "image pull", 120,
    "up to a minute per GiB-plus image from ECR (aws-samples bottlerocket-images-cache README); "
    "allowance 120 s for the multi-GB TF Serving GPU image",
)
# With `gpu.imageCache` the node's data volume is created from a snapshot that already holds the image
# in containerd's store, so the kubelet finds it and pulls nothing (same README; AWS Containers blog,
# "Reduce container startup time on Amazon EKS with Bottlerocket data volume"). Blocks of a volume
# restored from a snapshot load from S3 on first read (EBS user guide, "Initialize Amazon EBS
# volumes"): the first start reads them, which is not counted here.
IMAGE_CACHED = ColdStartPhase(
    "imagePullSeconds", "image pull (cached)", 0,
    "the serving image is on the node's data volume from the snapshot: no pull (aws-samples "
    "bottlerocket-images-cache README); first reads of snapshot blocks not counted (EBS volume initialization)",
)
# The init container copies and verifies the version from the regional bucket, then TF Serving loads it
# and replays its warm-up requests; the startup probe allows 600 s (manifests.STARTUP_*).
MODEL_LOAD = ColdStartPhase(
    "modelLoadSeconds", "model fetch and load", 60,
    "init container copy and sha256 check plus TF Serving load and warm-up: allowance, measured by the drill "
    "(model fetch, model load)",
)


def cold_start_phases(*, reserved: bool, image_cache: bool) -> list[ColdStartPhase]:
    """The phases a pool at zero goes through before it serves, in order."""
    phases = [] if reserved else [CAPACITY_WAIT]
    return phases + [NODE, IMAGE_CACHED if image_cache else IMAGE_PULL, MODEL_LOAD]


def cold_start_outputs(*, reserved: bool, image_cache: bool) -> dict:
    """The `coldStart` stack output of a region: each phase in seconds, and what they assume."""
    phases = {phase.key: phase.seconds for phase in cold_start_phases(reserved=reserved, image_cache=image_cache)}
    return {"capacityWaitSeconds": phases.get(CAPACITY_WAIT.key, 0), "nodeSeconds": phases[NODE.key],
            "imagePullSeconds": phases[IMAGE_PULL.key], "modelLoadSeconds": phases[MODEL_LOAD.key],
            "capacityGuaranteed": reserved, "imageCache": image_cache}
