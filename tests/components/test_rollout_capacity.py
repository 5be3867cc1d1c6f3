"""Rollouts against the GPU pool's capacity: strategy, pod counts and await bounds (no Pulumi runtime).

`simulate_rollout` replays the Deployment controller's rolling-update arithmetic
(kubernetes pkg/controller/deployment/rolling.go: scale the new ReplicaSet up to
replicas + maxSurge pods in total, scale old pods down while at least
replicas - maxUnavailable stay available) against a pool that places at most
`capacity` pods, so a Pending surge pod shows up as a rollout that never finishes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from recsys_dr.components.serving import manifests
from recsys_dr.components.serving.rollout import (
    POD_FETCH_ALLOWANCE_SECONDS,
    RollingUpdate,
    pod_ready_seconds,
    pods_per_node,
    rollout_timeout_seconds,
    rolling_update,
)

GiB = 2**30


@dataclass(frozen=True)
class Rollout:
    finished: bool
    pending_seen: bool
    min_serving: int


def simulate_rollout(*, replicas: int, capacity: int, max_surge: int, max_unavailable: int, steps: int = 200) -> Rollout:
    old, new_ready, starting, pending = replicas, 0, 0, 0
    pending_seen, min_serving = False, replicas
    for _ in range(steps):
        new_ready, starting = new_ready + starting, 0
        if new_ready == replicas and old == 0:
            return Rollout(True, pending_seen, min_serving)
        total = old + new_ready + pending
        pending += max(0, min(replicas + max_surge - total, replicas - (new_ready + pending)))
        max_scaled_down = (old + new_ready + pending) - (replicas - max_unavailable) - pending
        old -= max(0, min(old, max_scaled_down))
        min_serving = min(min_serving, old + new_ready)
        placed = min(pending, max(capacity - (old + new_ready), 0))
        pending, starting = pending - placed, placed
        pending_seen = pending_seen or pending > 0
    return Rollout(False, pending_seen, min_serving)


def test_surge_on_a_full_pool_leaves_a_pod_pending_forever():
    # A pool with room for its replicas only (one node, one replica) and maxSurge 1: the rollout can
    # never finish. (The shipped dev pool has maxSize 2 for that reason: stacks/Pulumi.dev.yaml.)
    result = simulate_rollout(replicas=1, capacity=1, max_surge=1, max_unavailable=0)
    assert not result.finished
    assert result.pending_seen


@pytest.mark.parametrize(("replicas", "capacity"), [(1, 1), (2, 2), (8, 8), (1, 2), (8, 9), (8, 16)])
def test_derived_strategy_rolls_without_a_pending_pod(replicas, capacity):
    update = rolling_update(max_replicas=replicas, pool_max_pods=capacity)
    result = simulate_rollout(replicas=replicas, capacity=capacity, max_surge=update.max_surge, max_unavailable=update.max_unavailable)
    assert result.finished
    assert not result.pending_seen


def test_pool_with_room_for_a_surge_pod_keeps_every_old_pod_serving():
    update = rolling_update(max_replicas=8, pool_max_pods=9)
    assert update == RollingUpdate(max_surge=1, max_unavailable=0)
    assert simulate_rollout(replicas=8, capacity=9, max_surge=1, max_unavailable=0).min_serving == 8


def test_full_pool_replaces_in_place_and_says_capacity_dips_by_one_pod():
    update = rolling_update(max_replicas=8, pool_max_pods=8)
    assert (update.max_surge, update.max_unavailable) == (0, 1)
    assert "dips by one pod" in update.note and "holds 8 serving pod(s), not the 9" in update.note
    assert simulate_rollout(replicas=8, capacity=8, max_surge=0, max_unavailable=1).min_serving == 7


def test_strategy_renders_the_deployment_fields():
    assert RollingUpdate(max_surge=0, max_unavailable=1).strategy() == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }


@pytest.mark.parametrize(
    ("instance_types", "gpus", "cpu", "memory", "expected"),
    [
        (["g5.xlarge"], 1, 3000, 12 * GiB, 1),
        (["g5.12xlarge"], 1, 6000, 24 * GiB, 4),          # bounded by its 4 GPUs
        (["g5.12xlarge"], 2, 6000, 24 * GiB, 2),
        (["g5.12xlarge"], 1, 20000, 24 * GiB, 2),         # bounded by CPU
        (["g5.2xlarge", "g6.2xlarge"], 1, 6000, 24 * GiB, 1),
        (["g5.12xlarge", "g5.xlarge"], 1, 3000, 12 * GiB, 1),  # the smallest type decides
        (["g5.xlarge"], 1, 3000, 15 * GiB, 0),            # more memory than the node can give
        (["g9.xlarge"], 1, 3000, 12 * GiB, 0),            # not in the table
    ],
)
def test_pods_per_node(instance_types, gpus, cpu, memory, expected):
    assert pods_per_node(instance_types, gpus_per_pod=gpus, cpu_millicores=cpu, memory_bytes=memory) == expected


def test_pod_budget_covers_the_startup_probe_window_the_pod_itself_allows():
    spec = manifests.deployment_spec(
        manifests.ServingSpec(model_name="m", model_version=1, bucket="b", region="us-east-1", replicas=1, min_replicas=1, max_replicas=1),
        service_account="sa", script_config_map="cm",
    )
    probe = spec["template"]["spec"]["containers"][0]["startupProbe"]
    budget = pod_ready_seconds(
        startup_period_seconds=manifests.STARTUP_PERIOD_SECONDS,
        startup_failure_threshold=manifests.STARTUP_FAILURE_THRESHOLD,
        min_ready_seconds=manifests.MIN_READY_SECONDS,
    )
    # A pod the kubelet still lets start must not be cut short by `pulumi up`.
    assert budget >= probe["periodSeconds"] * probe["failureThreshold"] + spec["minReadySeconds"] + POD_FETCH_ALLOWANCE_SECONDS
    # ... and the bound is longer than pulumi-kubernetes' 10-minute default it replaces.
    assert budget > 600


def test_rollout_timeout_grows_with_pods_and_replication():
    assert rollout_timeout_seconds(pods=1, pod_seconds=910, waits_for_replication=False) == 910
    assert rollout_timeout_seconds(pods=8, pod_seconds=910, waits_for_replication=False) == 8 * 910
    # RTC's 15-minute SLA plus the kubelet's 5-minute back-off cap before the init container retries.
    assert rollout_timeout_seconds(pods=1, pod_seconds=910, waits_for_replication=True) == 900 + 300 + 910
    # A pilot light (0 replicas) still gets one pod's worth: the await finishes at once anyway.
    assert rollout_timeout_seconds(pods=0, pod_seconds=910, waits_for_replication=False) == 910


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("role", ["primary", "standby"])
def test_shipped_environments_roll_a_new_version_at_hpa_max_without_a_pending_pod(rendered_stacks, env, role):
    """Reads the rendered graph only: the GPU node group's maximum and instance types, the pod's
    requests, the ScaledObject's maximum and the Deployment's strategy."""
    from recsys_dr.components.settings.aws_limits import cpu_millicores, memory_bytes

    run = rendered_stacks[env]
    group = run.one("aws:eks/nodeGroup:NodeGroup", f"recsys-{env}-{role}-gpu").inputs
    [deployment] = [d for d in run.of_type("kubernetes:apps/v1:Deployment") if f"{env}-{role}-serving" in d.urn]
    [scaled] = [h for h in run.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject") if f"{env}-{role}-serving" in h.urn]
    requests = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    capacity = group["scalingConfig"]["maxSize"] * pods_per_node(
        group["instanceTypes"], gpus_per_pod=int(requests["nvidia.com/gpu"]),
        cpu_millicores=cpu_millicores(requests["cpu"]), memory_bytes=memory_bytes(requests["memory"]),
    )
    strategy = deployment.inputs["spec"]["strategy"]["rollingUpdate"]
    replicas = scaled.inputs["spec"]["maxReplicaCount"]
    result = simulate_rollout(replicas=replicas, capacity=capacity, max_surge=int(strategy["maxSurge"]),
                              max_unavailable=int(strategy["maxUnavailable"]))
    assert result.finished and not result.pending_seen
    # The shipped pools keep one pod of headroom, so a rollout surges and never takes a serving
    # pod away (DESIGN: a bad version leaves the old pods serving) ...
    assert (int(strategy["maxSurge"]), int(strategy["maxUnavailable"])) == (1, 0)
    # ... and one node less (the pools before issue 9) would leave that surge pod Pending.
    per_node = capacity // group["scalingConfig"]["maxSize"]
    assert not simulate_rollout(replicas=replicas, capacity=capacity - per_node, max_surge=1, max_unavailable=0).finished


def test_the_plan_says_when_a_rollout_dips_capacity():
    # A pool with no room for a surge pod at the HPA maximum (8 nodes for 8 replicas).
    import json

    from tests.support import render_stack, stack_config

    gpu = json.loads(stack_config("prod")["recsys-dr:gpu"])
    rollout = render_stack("prod", stack_config("prod", gpu={**gpu, "maxSize": 8})).outputs["rollout"]
    assert (rollout["maxSurge"], rollout["maxUnavailable"]) == (0, 1)
    assert "capacity dips by one pod" in rollout["note"]
