"""The serving workload in Kubernetes: pods, rollout, disruption budget, autoscaler (rules `k8s-*`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .core import MANDATORY, Resource, Rule, StackRule, _is_map, _get, _items, _of
from .cluster import GPU_TAINT_KEY

__all__ = [
    "DEPLOYMENT",
    "PDB",
    "HPA_TYPES",
    "check_container_limits",
    "check_no_privilege_escalation",
    "check_readiness_probe",
    "check_rolling_update",
    "check_gpu_toleration",
    "check_deployments_have_pdb",
    "check_deployments_have_hpa",
]


DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPES = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")


def _pod_spec(props: Mapping[str, Any]) -> Any:
    return _get(props, "spec", "template", "spec", default={})


def _containers(props: Mapping[str, Any], *, init: bool = True) -> list[tuple[str, Any]]:
    spec = _pod_spec(props)
    found = [("container", c) for c in _items(_get(spec, "containers"))]
    if init:
        found += [("initContainer", c) for c in _items(_get(spec, "initContainers"))]
    return found


def check_container_limits(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind, container in _containers(props):
        limits = _get(container, "resources", "limits", default={})
        missing = [r for r in ("cpu", "memory") if not _get(limits, r)]
        if missing:
            problems.append(f"{kind} {_get(container, 'name')!r} has no resources.limits.{'/'.join(missing)}")
    return problems


def check_no_privilege_escalation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind, container in _containers(props):
        context = _get(container, "securityContext", default={})
        if _get(context, "privileged") is True:
            problems.append(f"{kind} {_get(container, 'name')!r} runs privileged")
        if _get(context, "allowPrivilegeEscalation") is not False:
            problems.append(f"{kind} {_get(container, 'name')!r} must set securityContext.allowPrivilegeEscalation: false")
    return problems


def check_readiness_probe(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"container {_get(c, 'name')!r} has no readinessProbe; traffic would reach it before the model is loaded"
        for _, c in _containers(props, init=False)
        if not _get(c, "readinessProbe")
    ]


def check_rolling_update(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    strategy = _get(props, "spec", "strategy", default={})
    kind = _get(strategy, "type") or "RollingUpdate"
    if kind != "RollingUpdate":
        return [f"strategy {kind!r} stops every pod before the new version is verified; use RollingUpdate with maxUnavailable 0"]
    max_unavailable = _get(strategy, "rollingUpdate", "maxUnavailable")
    if max_unavailable not in (0, 0.0, "0", "0%"):
        return [f"rollingUpdate.maxUnavailable is {max_unavailable!r}; must be 0 so old pods serve until new ones are ready"]
    return []


def check_gpu_toleration(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    wants_gpu = any(
        _get(c, "resources", "limits", GPU_TAINT_KEY) or _get(c, "resources", "requests", GPU_TAINT_KEY)
        for _, c in _containers(props)
    )
    if not wants_gpu:
        return []
    for toleration in _items(_get(_pod_spec(props), "tolerations")):
        if _get(toleration, "key") == GPU_TAINT_KEY or (
            _get(toleration, "operator") == "Exists" and not _get(toleration, "key")
        ):
            return []
    return [f"pods request {GPU_TAINT_KEY} but do not tolerate the {GPU_TAINT_KEY} taint; they cannot schedule on GPU nodes"]


def _namespace(props: Mapping[str, Any]) -> str:
    return str(_get(props, "metadata", "namespace") or "default")


def _labels_match(selector: Any, labels: Any) -> bool:
    if not _is_map(selector) or not selector or not _is_map(labels):
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def check_deployments_have_pdb(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    pdbs = _of(resources, PDB)
    problems = []
    for deployment in _of(resources, DEPLOYMENT):
        labels = _get(deployment.props, "spec", "template", "metadata", "labels", default={})
        if not any(
            p.provider == deployment.provider
            and _namespace(p.props) == _namespace(deployment.props)
            and _labels_match(_get(p.props, "spec", "selector", "matchLabels"), labels)
            for p in pdbs
        ):
            problems.append((deployment.urn, f"Deployment {deployment.name!r} has no PodDisruptionBudget selecting its pods"))
    return problems


def check_deployments_have_hpa(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    hpas = _of(resources, *HPA_TYPES)
    problems = []
    for deployment in _of(resources, DEPLOYMENT):
        name = _get(deployment.props, "metadata", "name")
        found = False
        for hpa in hpas:
            if hpa.provider != deployment.provider or _namespace(hpa.props) != _namespace(deployment.props):
                continue
            target = _get(hpa.props, "spec", "scaleTargetRef", default={})
            if _get(target, "kind") == "Deployment" and (
                (name and _get(target, "name") == name) or deployment.urn in _items(_get(hpa.property_dependencies, "spec"))
            ):
                found = True
                break
        if not found:
            problems.append((deployment.urn, f"Deployment {deployment.name!r} has no HorizontalPodAutoscaler targeting it"))
    return problems


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("k8s-container-limits", "Every serving container and init container sets CPU and memory limits.",
         MANDATORY, (DEPLOYMENT,), check_container_limits),
    Rule("k8s-no-privilege-escalation", "Containers set allowPrivilegeEscalation: false and are not privileged.",
         MANDATORY, (DEPLOYMENT,), check_no_privilege_escalation),
    Rule("k8s-readiness-probe", "Serving containers have a readiness probe.",
         MANDATORY, (DEPLOYMENT,), check_readiness_probe),
    Rule("k8s-rolling-update-zero-unavailable", "Deployments roll with maxUnavailable 0 (old pods serve until new are verified).",
         MANDATORY, (DEPLOYMENT,), check_rolling_update),
    Rule("k8s-gpu-toleration", "Pods that request nvidia.com/gpu tolerate the GPU taint.",
         MANDATORY, (DEPLOYMENT,), check_gpu_toleration),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("k8s-deployment-has-pdb", "Every serving Deployment has a PodDisruptionBudget selecting its pods.",
              MANDATORY, (DEPLOYMENT, PDB), check_deployments_have_pdb),
    StackRule("k8s-deployment-has-hpa", "Every serving Deployment has a HorizontalPodAutoscaler targeting it.",
              MANDATORY, (DEPLOYMENT, *HPA_TYPES), check_deployments_have_hpa),
)
