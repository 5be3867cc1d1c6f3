"""Bring the standby up to the primary's capacity before traffic moves, and put it back at rest after.

The one activation procedure (docs/runbook.md), run by `recsys-dr failover --to standby`
and by the drill, for both standby modes:

1. **Size.** N = the primary's current replica count (its Deployment's `scale`), or `--replicas N`,
   or, when the primary's API does not answer, the larger of the HPA minimums in the outputs.
   Nodes = ceil(N / podsPerGpuNode), at most the pool's maxSize.
2. **GPU node group** (EKS `UpdateNodegroupConfig`): desiredSize and minSize raised to the node
   count, never lowered (EKS rejects anything but 0 <= minSize <= desiredSize <= maxSize, maxSize >= 1).
   minSize is raised too, so Cluster Autoscaler cannot remove a node before its pod lands.
3. **Autoscaler then Deployment.** The KEDA ScaledObject's `minReplicaCount` = N and `maxReplicaCount`
   >= N (KEDA rewrites its HPA from the ScaledObject, so the HPA itself is never patched; stacks
   without one: the HPA's `minReplicas`/`maxReplicas`), then the Deployment's scale to N (an HPA
   does not act on a Deployment at 0 replicas, which is why the scale is set explicitly).
   A warm standby goes through the same steps; only values above the current ones are written.
4. **Wait, bounded, with progress:** nodes Ready, pods available, standby health check healthy.
   Each phase's time is recorded (the drill reports them beside the budget), and once the pods are
   available, the slowest new pod's own image pull, model fetch and model load (`pod_phases`), each
   beside its budget from the outputs (`regions.standby.coldStart`).

`restore` undoes it after traffic is back on the primary: the autoscaler's bounds (a pilot light's
ScaledObject minimum back to 0) and the Deployment's resting replicas from the outputs (`serving`;
the standby's ScaledObject never scales in on its own), the node group to `gpuScaling` (pilot
light: 0/0/max). For a warm standby desiredSize is left to Cluster Autoscaler; only minSize goes back.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from recsys_dr.operations.errors import error_text
from recsys_dr.operations.kube import KubeApi, KubeError
from recsys_dr.operations.outputs import RegionOutputs, StackOutputs
from recsys_dr.operations.pod_phases import slowest_pod_phases

DEFAULT_TIMEOUT = 900.0
"""Seconds to wait for nodes, pods and the health check (GPU nodes take minutes to join)."""


class ActivationError(RuntimeError):
    """The standby could not be sized or did not become ready within the bound."""


@dataclass
class Phase:
    name: str
    ok: bool
    seconds: float | None
    detail: str
    budget_seconds: float | None = None

    def to_dict(self) -> dict:
        return {"phase": self.name, "ok": self.ok, "seconds": self.seconds, "budgetSeconds": self.budget_seconds,
                "detail": self.detail}


@dataclass
class Sizing:
    replicas: int
    source: str
    nodes: int
    node_group: dict[str, int]
    hpa: dict[str, int]
    notes: list[str] = field(default_factory=list)


def nodes_for(replicas: int, pods_per_node: int | None) -> int:
    return math.ceil(replicas / (pods_per_node or 1))


def plan_sizing(region: RegionOutputs, *, replicas: int, source: str, current_scaling: dict[str, int],
                current_hpa: dict[str, int]) -> Sizing:
    """Target node-group scaling and HPA bounds for `replicas` pods; only ever raises values.

    Args:
        region: the standby's outputs (podsPerGpuNode, activeGpuScaling).
        replicas: int >= 1, the pods the standby must run.
        source: str, where `replicas` came from (shown to the operator).
        current_scaling: the node group's scalingConfig now (minSize, desiredSize, maxSize).
        current_hpa: the HPA's bounds now (minReplicas, maxReplicas).
    """
    notes: list[str] = []
    ceiling = max(current_scaling["maxSize"], (region.active_gpu_scaling or {}).get("maxSize", 0), 1)
    nodes = nodes_for(replicas, region.pods_per_gpu_node)
    if nodes > ceiling:
        notes.append(f"{replicas} pods need {nodes} GPU nodes but the pool's maxSize is {ceiling}: "
                     f"sizing for {ceiling} nodes; the other pods stay Pending")
        nodes = ceiling
        replicas = min(replicas, ceiling * (region.pods_per_gpu_node or 1))
    if region.pods_per_gpu_node is None:
        notes.append("`podsPerGpuNode` not in the outputs: assuming one pod per GPU node")
    desired = max(current_scaling["desiredSize"], nodes)
    minimum = max(current_scaling["minSize"], nodes)
    node_group = {"minSize": minimum, "desiredSize": desired, "maxSize": ceiling}
    hpa = {"minReplicas": max(current_hpa["minReplicas"], replicas),
           "maxReplicas": max(current_hpa["maxReplicas"], replicas)}
    return Sizing(replicas=replicas, source=source, nodes=nodes, node_group=node_group, hpa=hpa, notes=notes)


@dataclass(kw_only=True)
class Activator:
    """Activation and restore of one environment's standby.

    Args:
        outputs: StackOutputs.
        eks: boto3 EKS client in the standby's Region.
        kube: callable() -> KubeApi for the standby cluster (connects lazily).
        primary_kube: callable() -> KubeApi for the primary cluster, or None.
        health: callable() -> (ok, detail), the standby's Route 53 health check.
        replicas: int | None, the operator's `--replicas` (overrides the primary's count).
        drain_seconds: float, how long `restore` keeps the standby serving after traffic left it
            (resolvers may hold its answer for the record TTL). Default 0.
        timeout: float, bound for the waits. Default 900.
        poll_interval: float, seconds between polls. Default 10.
        clock, sleep: time functions (tests pass a fake clock).
        log: callable(str), progress lines.
    """

    outputs: StackOutputs
    eks: Any
    kube: Callable[[], KubeApi]
    primary_kube: Callable[[], KubeApi] | None = None
    health: Callable[[], tuple[bool, str]] = lambda: (True, "not checked")
    replicas: int | None = None
    drain_seconds: float = 0.0
    timeout: float = DEFAULT_TIMEOUT
    poll_interval: float = 10.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = lambda _m: None
    phases: list[Phase] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def standby(self) -> RegionOutputs:
        return self.outputs.standby

    def _target_replicas(self) -> tuple[int, str]:
        if self.replicas is not None:
            return self.replicas, "--replicas"
        p = self.outputs.primary
        if self.primary_kube is not None:
            try:
                count = self.primary_kube().deployment_replicas(p.namespace, p.deployment_name)
                if count >= 1:
                    return count, f"primary {p.region} runs {count} now"
            except Exception as exc:  # the primary may be the Region that is down
                self.log(f"cannot read the primary's replica count ({error_text(exc)}); using the outputs")
        floors = [r.serving["minReplicas"] for r in self.outputs.regions.values() if r.serving]
        if floors:
            return max(floors), "HPA minimum from the outputs (primary not readable)"
        return 1, "no replica count known: 1 (pass --replicas N)"

    def _bounds(self, kube: KubeApi) -> dict[str, int]:
        s = self.standby
        if s.scaled_object_name:
            return kube.scaled_object_bounds(s.namespace, s.scaled_object_name)
        return kube.hpa_bounds(s.namespace, s.hpa)

    def _set_bounds(self, kube: KubeApi, minimum: int, maximum: int) -> str:
        """Write the autoscaler's bounds; returns the change as one line."""
        s = self.standby
        if s.scaled_object_name:
            kube.patch_scaled_object(s.namespace, s.scaled_object_name, min_replicas=minimum, max_replicas=maximum)
            return f"ScaledObject {s.scaled_object_name}: min {minimum} max {maximum}"
        kube.patch_hpa(s.namespace, s.hpa, min_replicas=minimum, max_replicas=maximum)
        return f"HPA {s.hpa}: min {minimum} max {maximum}"

    def _scaling_now(self) -> dict[str, int]:
        s = self.standby
        ng = self.eks.describe_nodegroup(clusterName=s.cluster_name, nodegroupName=s.gpu_node_group_name)
        cfg = ng["nodegroup"]["scalingConfig"]
        return {"minSize": cfg["minSize"], "desiredSize": cfg["desiredSize"], "maxSize": cfg["maxSize"]}

    def _set_scaling(self, scaling: dict[str, int]) -> None:
        s = self.standby
        # EKS UpdateNodegroupConfig refuses anything but 0 <= minSize <= desiredSize <= maxSize, maxSize >= 1
        # (API_NodegroupScalingConfig); say so here rather than send a call that fails mid-incident.
        if not (0 <= scaling["minSize"] <= scaling["desiredSize"] <= scaling["maxSize"] and scaling["maxSize"] >= 1):
            raise ActivationError(f"refusing node group scaling {scaling}: EKS needs 0 <= minSize <= desiredSize "
                                  "<= maxSize and maxSize >= 1")
        self.eks.update_nodegroup_config(clusterName=s.cluster_name, nodegroupName=s.gpu_node_group_name,
                                         scalingConfig=dict(scaling))
        self.changes.append(f"node group {s.gpu_node_group_name}: " + "/".join(str(scaling[k]) for k in
                                                                                ("minSize", "desiredSize", "maxSize")))
        self.log(self.changes[-1] + " (min/desired/max)")

    def size(self) -> Sizing:
        """Compute the target without changing anything (also what `--dry-run` prints).

        Raises:
            ActivationError: the standby's EKS or Kubernetes API did not answer or refused.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        s = self.standby
        replicas, source = self._target_replicas()
        try:
            hpa = self._bounds(self.kube())
            scaling = self._scaling_now()
        except (KubeError, ClientError, BotoCoreError) as exc:
            raise ActivationError(f"cannot read the standby's current sizes: {error_text(exc)}") from exc
        return plan_sizing(s, replicas=replicas, source=source, current_scaling=scaling, current_hpa=hpa)

    def activate(self, sizing: Sizing | None = None) -> Sizing:
        """Raise the standby to `sizing` (default `size()`), then wait until it is ready.

        Raises:
            ActivationError: a call failed, or a phase did not finish within `timeout`.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        s = self.standby
        try:
            sizing = sizing or self.size()
            for note in sizing.notes:
                self.log(note)
            self.log(f"activating the standby for {sizing.replicas} pods ({sizing.source}) on {sizing.nodes} GPU nodes")
            if sizing.node_group != self._scaling_now():
                self._set_scaling(sizing.node_group)
            kube = self.kube()
            self.changes.append(self._set_bounds(kube, sizing.hpa["minReplicas"], sizing.hpa["maxReplicas"]))
            self.log(self.changes[-1])
            if kube.deployment_replicas(s.namespace, s.deployment_name) < sizing.replicas:
                kube.scale_deployment(s.namespace, s.deployment_name, sizing.replicas)
                self.changes.append(f"Deployment {s.deployment_name}: {sizing.replicas} replicas")
                self.log(self.changes[-1])
        except (KubeError, ClientError, BotoCoreError) as exc:
            raise ActivationError(f"cannot scale the standby: {error_text(exc)}") from exc
        self._wait(kube, sizing)
        return sizing

    def _wait(self, kube: KubeApi, sizing: Sizing) -> None:
        s, d = self.standby, self.outputs.dns
        cold = s.cold_start or {}
        start = self.clock()
        deadline = start + self.timeout
        node_budget = float(cold["capacityWaitSeconds"] + cold["nodeSeconds"]) if cold else None
        checks: list[tuple[str, Callable[[], tuple[bool, str]], float | None]] = [
            ("nodes ready", lambda: self._count(kube.ready_nodes(s.gpu_node_group_name), sizing.nodes, "nodes Ready"),
             node_budget),
            ("pods ready", lambda: self._count(kube.available_replicas(s.namespace, s.deployment_name),
                                               sizing.replicas, "pods available"), None),
            # Route 53 marks an endpoint healthy after `failureThreshold` consecutive passing checks.
            ("health check healthy", self.health, float(d.health_check_interval_seconds * d.failure_threshold)),
        ]
        index, phase_start, last = 0, start, ""
        while index < len(checks):
            name, probe, budget = checks[index]
            try:
                ok, detail = probe()
            except KubeError as exc:
                ok, detail = False, str(exc)
            now = self.clock()
            if ok:
                self.phases.append(Phase(name, True, round(now - phase_start, 3), detail, budget))
                self.log(f"[{now - start:7.1f}s] {name}: {detail}")
                if name == "pods ready":
                    self._pod_phases(kube, cold)
                index, phase_start = index + 1, now
                continue
            if detail != last:
                self.log(f"[{now - start:7.1f}s] waiting for {name}: {detail}")
                last = detail
            if now >= deadline:
                self.phases.append(Phase(name, False, round(now - phase_start, 3), detail, budget))
                raise ActivationError(f"standby not ready within {self.timeout:g}s: {name}: {detail}")
            self.sleep(max(0.0, min(self.poll_interval, deadline - now)))

    def _pod_phases(self, kube: KubeApi, cold: dict[str, int]) -> None:
        """The slowest new pod's image pull, model fetch and model load, from its own timestamps."""
        s = self.standby
        try:
            found = slowest_pod_phases(kube.deployment_pods(s.namespace, s.deployment_name))
        except KubeError as exc:
            self.log(f"cannot read the pods' timestamps ({exc}): the pod phases are not reported")
            return
        if found is None:
            return
        pod, phases = found
        budget = (lambda key: float(cold[key]) if key in cold else None)  # noqa: E731
        self.phases.append(Phase("pod image pull", True, phases["image pull"], f"{pod} (the slowest new pod)",
                                 budget("imagePullSeconds")))
        # The cold-start table allows one figure for fetching and loading the model (cold_start.MODEL_LOAD).
        self.phases.append(Phase("pod model fetch and load", True, round(phases["model fetch"] + phases["model load"], 3),
                                 f"{pod}: fetch and verify {phases['model fetch']:g}s, TF Serving load {phases['model load']:g}s",
                                 budget("modelLoadSeconds")))

    @staticmethod
    def _count(have: int, want: int, what: str) -> tuple[bool, str]:
        return have >= want, f"{have}/{want} {what}"

    def restore(self, *, drain: bool = True) -> list[str]:
        """Put the standby back at rest as the outputs declare it (after traffic left it).

        Args:
            drain: bool, first wait `drain_seconds` so clients whose resolvers still hold the standby's
                answer are not cut off. False when traffic never moved. Default True.
        """
        s = self.standby
        done: list[str] = []
        serving = s.serving
        if serving is None:
            raise ActivationError("`regions.standby.serving` is not in the outputs: cannot tell the resting sizes; "
                                  "re-export the stack outputs")
        if drain and self.drain_seconds > 0:
            self.log(f"keeping the standby serving {self.drain_seconds:g}s more (record TTL) before scaling it down")
            self.sleep(self.drain_seconds)
        kube = self.kube()
        # A pilot light's ScaledObject rests at 0 (an HPA cannot go below 1).
        resting_min = 0 if serving["replicas"] == 0 and s.scaled_object_name else serving["minReplicas"]
        done.append(self._set_bounds(kube, resting_min, serving["maxReplicas"]))
        if serving["replicas"] == 0:
            kube.scale_deployment(s.namespace, s.deployment_name, 0)
            done.append(f"Deployment {s.deployment_name}: 0 replicas (pilot light)")
        elif s.scaled_object_name and kube.deployment_replicas(s.namespace, s.deployment_name) > serving["replicas"]:
            # The standby's ScaledObject pauses scale-in: the resting count is set here.
            kube.scale_deployment(s.namespace, s.deployment_name, serving["replicas"])
            done.append(f"Deployment {s.deployment_name}: {serving['replicas']} replicas (warm standby at rest)")
        now = self._scaling_now()
        rest = dict(s.gpu_scaling)
        if self.outputs.standby_mode == "warm":  # Cluster Autoscaler owns desiredSize of a warm pool
            rest["desiredSize"] = max(rest["minSize"], min(now["desiredSize"], rest["maxSize"]))
        if rest != now:
            self._set_scaling(rest)
            done.append(self.changes[-1])
        for line in done:
            self.log(line)
        return done
