"""How a model-version rollout fits the GPU pool, and how long `pulumi up` may wait for it.

Plain functions (no Pulumi runtime): the rolling-update strategy derived from the pool's
capacity, and the await timeouts derived from the pod's own probes and the replication SLA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recsys_dr.components.cluster.instances import allocatable, instance_row
from recsys_dr.components.storage.defaults import REPLICATION_TIME_MINUTES

# Image pull (the TF Serving GPU image is several GB) plus the init container's download and
# verification of the model, before the startup probe starts counting. An allowance, not a
# measurement: raise it for very large models.
POD_FETCH_ALLOWANCE_SECONDS = 300
# The kubelet restarts a failed init container with an exponential back-off capped at five
# minutes (kubelet `MaxContainerBackOff`), so a version that lands late is picked up at most
# this long after it arrives.
KUBELET_MAX_BACKOFF_SECONDS = 300


@dataclass(frozen=True)
class RollingUpdate:
    """The Deployment's rolling-update parameters and what they cost.

    Attributes:
        max_surge / max_unavailable: the Deployment's `strategy.rollingUpdate` values.
        note: one line for the plan when the rollout dips capacity; empty otherwise.
    """

    max_surge: int
    max_unavailable: int
    note: str = ""

    def strategy(self) -> dict:
        return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": self.max_unavailable, "maxSurge": self.max_surge}}


def pods_per_node(instance_types: Sequence[str], *, gpus_per_pod: int, cpu_millicores: int, memory_bytes: int) -> int:
    """How many serving pods one node of the pool holds, whichever listed type it is (the minimum).

    A node holds as many pods as its GPUs, CPU and memory allow (the scheduler checks each
    request against the node's allocatable). 0 when a pod fits none of them; the settings
    validation refuses that before this is used. `gpus_per_pod=0`: a CPU pod on CPU instances.

    Example: `pods_per_node(["g5.12xlarge"], gpus_per_pod=1, cpu_millicores=6000,
    memory_bytes=24 * 2**30) == 4` (4 GPUs; CPU and memory leave room for 7).
    """
    counts = []
    for name in instance_types:
        instance = instance_row(name)
        if instance is None:
            return 0
        cpu, memory_mib = allocatable(instance)
        by_gpu = instance.gpus // gpus_per_pod if gpus_per_pod else cpu // cpu_millicores
        counts.append(min(by_gpu, cpu // cpu_millicores, (memory_mib * 2**20) // memory_bytes))
    return min(counts, default=0)


def rolling_update(*, max_replicas: int, pool_max_pods: int) -> RollingUpdate:
    """Surge one pod when the pool can hold it at the autoscaling maximum, else replace in place.

    With `maxSurge: 1, maxUnavailable: 0` the Deployment controller runs up to
    replicas + 1 pods during a rollout (Kubernetes docs, "Rolling Update Deployment"); a
    GPU pool at its maximum size cannot place the extra pod, which then stays Pending and
    the rollout (and `pulumi up`) never finishes. Without that headroom the rollout takes
    one old pod down before starting its replacement.

    Args:
        max_replicas: the autoscaling maximum (the most pods a rollout can start from).
        pool_max_pods: GPU pool maximum nodes x `pods_per_node`.
    """
    if pool_max_pods >= max_replicas + 1:
        return RollingUpdate(max_surge=1, max_unavailable=0)
    return RollingUpdate(
        max_surge=0,
        max_unavailable=1,
        note=(
            f"a model rollout replaces pods in place (maxSurge 0, maxUnavailable 1): the GPU pool holds "
            f"{pool_max_pods} serving pod(s), not the {max_replicas + 1} a surge at the HPA maximum needs, "
            "so serving capacity dips by one pod while each new pod loads"
        ),
    )


def pod_ready_seconds(*, startup_period_seconds: int, startup_failure_threshold: int, min_ready_seconds: int) -> int:
    """The longest a healthy new pod can take to count as available.

    Fetch allowance, then the startup probe's whole window (period x failure threshold, after
    which the kubelet restarts the container), then `minReadySeconds`.
    """
    return POD_FETCH_ALLOWANCE_SECONDS + startup_period_seconds * startup_failure_threshold + min_ready_seconds


def rollout_timeout_seconds(*, pods: int, pod_seconds: int, waits_for_replication: bool) -> int:
    """How long `pulumi up` waits for a Deployment rollout (`pulumi.com/timeoutSeconds`).

    Both strategies replace one pod at a time, so the rollout takes up to `pods` pod starts.
    pulumi-kubernetes gives up after 10 minutes unless told otherwise (provider/pkg/await/
    await.go: `timeout := 10 * time.Minute`), less than one cold GPU pod may need.
    A region fed by replication may first wait for the version to arrive: S3 RTC's
    15-minute SLA, plus the kubelet's back-off before the init container retries.
    """
    replication = REPLICATION_TIME_MINUTES * 60 + KUBELET_MAX_BACKOFF_SECONDS if waits_for_replication else 0
    return replication + max(pods, 1) * pod_seconds


def candidate_pods_needed(*, min_replicas: int, max_replicas: int) -> int:
    """Serving pods a region may run at once while a candidate is pinned beside the stable version.

    The two Deployments scale apart (each ScaledObject on its own target group): when the
    candidate starts, the stable one may be at its maximum; at a 100 % share the candidate takes
    the maximum while the stable one rests at its minimum. Either way one Deployment sits at the
    maximum and the other at the minimum, and a rollout of either surges one pod.
    """
    return max_replicas + min_replicas + 1


def candidate_capacity_problem(key: str, *, min_replicas: int, max_replicas: int, pool_max_pods: int) -> str | None:
    """Why the GPU pool cannot hold a candidate beside the stable pods (a Pending pod would keep
    the candidate's rollout, and `pulumi up`, waiting), or None."""
    needed = candidate_pods_needed(min_replicas=min_replicas, max_replicas=max_replicas)
    if pool_max_pods >= needed:
        return None
    return (f"`{key}` needs a GPU pool that holds {needed} serving pods (maxReplicas {max_replicas} + minReplicas "
            f"{min_replicas} + 1 surge) while a candidate runs beside the stable version; the pool holds {pool_max_pods} "
            f"at gpu.maxSize: raise gpu.maxSize")
