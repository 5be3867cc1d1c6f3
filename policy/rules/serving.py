"""The serving workload in Kubernetes: pods, rollout, disruption budget, autoscaler (rules `k8s-*`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .cidrs import MAX_PUBLIC_SHARE_TEXT, coverage
from .core import MANDATORY, Resource, Rule, StackRule, is_map, get, items, num, of
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
    "SCALED_OBJECT",
    "scaled_by",
    "check_gpu_serving_not_scaled_on_cpu",
    "SERVICE",
    "TF_SERVING_REST_PORT",
    "is_tf_serving",
    "grpc_port",
    "check_no_management_port",
    "check_services_rest_only",
    "is_internet_facing",
    "load_balancer_source_ranges",
    "check_load_balancer_source_ranges",
]


DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPES = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")
# KEDA's ScaledObject makes and owns an HPA for its scaleTargetRef (kedacore/keda controllers/keda/hpa.go).
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
# Signals that say little about a GPU server's load (docs/serving.md, "Scaling on serving load").
HOST_RESOURCES = ("cpu", "memory")
SERVICE = "kubernetes:core/v1:Service"
# TF Serving's REST port, the only one that may leave the pod. Its gRPC port (`--port`, 8500 by
# default: tensorflow_serving/model_servers/server.h `grpc_port = 8500`, and the image's entrypoint
# passes --port=8500) also serves ModelService (server.cc registers model_service_ on the same
# builder), whose HandleReloadConfigRequest can unload every model.
TF_SERVING_REST_PORT = 8501
TF_SERVING_DEFAULT_GRPC_PORT = 8500
_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
_LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
_SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"


def _pod_spec(props: Mapping[str, Any]) -> Any:
    return get(props, "spec", "template", "spec", default={})


def containers(props: Mapping[str, Any], *, init: bool = True) -> list[tuple[str, Any]]:
    spec = _pod_spec(props)
    found = [("container", c) for c in items(get(spec, "containers"))]
    if init:
        found += [("initContainer", c) for c in items(get(spec, "initContainers"))]
    return found


def check_container_limits(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind, container in containers(props):
        limits = get(container, "resources", "limits", default={})
        missing = [r for r in ("cpu", "memory") if not get(limits, r)]
        if missing:
            problems.append(f"{kind} {get(container, 'name')!r} has no resources.limits.{'/'.join(missing)}")
    return problems


def check_no_privilege_escalation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind, container in containers(props):
        context = get(container, "securityContext", default={})
        if get(context, "privileged") is True:
            problems.append(f"{kind} {get(container, 'name')!r} runs privileged")
        if get(context, "allowPrivilegeEscalation") is not False:
            problems.append(f"{kind} {get(container, 'name')!r} must set securityContext.allowPrivilegeEscalation: false")
    return problems


def check_readiness_probe(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"container {get(c, 'name')!r} has no readinessProbe; traffic would reach it before the model is loaded"
        for _, c in containers(props, init=False)
        if not get(c, "readinessProbe")
    ]


def check_rolling_update(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    strategy = get(props, "spec", "strategy", default={})
    kind = get(strategy, "type") or "RollingUpdate"
    if kind != "RollingUpdate":
        return [f"strategy {kind!r} stops every pod before the new version is verified; use RollingUpdate with maxUnavailable 0"]
    max_unavailable = get(strategy, "rollingUpdate", "maxUnavailable")
    if max_unavailable in (0, 0.0, "0", "0%"):
        return []
    # A GPU pool without room for a surge pod replaces one pod at a time instead (components/
    # serving/rollout.py `rolling_update`; the plan warns that capacity dips by one pod). Any
    # other value takes more than one verified pod away at once.
    if max_unavailable in (1, 1.0, "1") and get(strategy, "rollingUpdate", "maxSurge") in (0, 0.0, "0", "0%"):
        return []
    return [f"rollingUpdate.maxUnavailable is {max_unavailable!r}; must be 0 so old pods serve until new ones are ready "
            "(or 1 with maxSurge 0 when the GPU pool holds no surge pod)"]


def check_gpu_toleration(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    wants_gpu = any(
        get(c, "resources", "limits", GPU_TAINT_KEY) or get(c, "resources", "requests", GPU_TAINT_KEY)
        for _, c in containers(props)
    )
    if not wants_gpu:
        return []
    for toleration in items(get(_pod_spec(props), "tolerations")):
        if get(toleration, "key") == GPU_TAINT_KEY or (
            get(toleration, "operator") == "Exists" and not get(toleration, "key")
        ):
            return []
    return [f"pods request {GPU_TAINT_KEY} but do not tolerate the {GPU_TAINT_KEY} taint; they cannot schedule on GPU nodes"]


def _namespace(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata", "namespace") or "default")


def _labels_match(selector: Any, labels: Any) -> bool:
    if not is_map(selector) or not selector or not is_map(labels):
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def check_deployments_have_pdb(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    pdbs = of(resources, PDB)
    problems = []
    for deployment in of(resources, DEPLOYMENT):
        labels = get(deployment.props, "spec", "template", "metadata", "labels", default={})
        if not any(
            p.provider == deployment.provider
            and _namespace(p.props) == _namespace(deployment.props)
            and _labels_match(get(p.props, "spec", "selector", "matchLabels"), labels)
            for p in pdbs
        ):
            problems.append((deployment.urn, f"Deployment {deployment.name!r} has no PodDisruptionBudget selecting its pods"))
    return problems


def scaled_by(deployment: Resource, resources: Sequence[Resource]) -> list[Resource]:
    """The HPAs and KEDA ScaledObjects whose scaleTargetRef is `deployment` (same cluster and namespace)."""
    name = get(deployment.props, "metadata", "name")
    found = []
    for scaler in of(resources, *HPA_TYPES, SCALED_OBJECT):
        if scaler.provider != deployment.provider or _namespace(scaler.props) != _namespace(deployment.props):
            continue
        target = get(scaler.props, "spec", "scaleTargetRef", default={})
        if (get(target, "kind") or "Deployment") == "Deployment" and (
            (name and get(target, "name") == name) or deployment.urn in items(get(scaler.property_dependencies, "spec"))
        ):
            found.append(scaler)
    return found


def check_deployments_have_hpa(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    return [(d.urn, f"Deployment {d.name!r} has no HorizontalPodAutoscaler or KEDA ScaledObject targeting it")
            for d in of(resources, DEPLOYMENT) if not scaled_by(d, resources)]


def _host_resource_signals(scaler: Resource) -> list[str]:
    """cpu/memory signals of an HPA (`Resource`/`ContainerResource` metrics) or a ScaledObject (cpu/memory triggers)."""
    if scaler.type == SCALED_OBJECT:
        return [str(get(t, "type")) for t in items(get(scaler.props, "spec", "triggers")) if get(t, "type") in HOST_RESOURCES]
    signals = [str(get(m, "resource", "name") or get(m, "containerResource", "name"))
               for m in items(get(scaler.props, "spec", "metrics")) if get(m, "type") in ("Resource", "ContainerResource")]
    if scaler.type == HPA_TYPES[1] and get(scaler.props, "spec", "targetCPUUtilizationPercentage") is not None:
        signals.append("cpu")
    return signals


def check_gpu_serving_not_scaled_on_cpu(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    """A GPU server's CPU and memory say little about its load: scale on requests or latency."""
    problems: list[tuple[str | None, str]] = []
    for deployment in of(resources, DEPLOYMENT):
        if not any(get(c, "resources", "limits", GPU_TAINT_KEY) or get(c, "resources", "requests", GPU_TAINT_KEY)
                   for _, c in containers(deployment.props)):
            continue
        for scaler in scaled_by(deployment, resources):
            for signal in _host_resource_signals(scaler):
                problems.append((scaler.urn, f"{scaler.name!r} scales GPU Deployment {deployment.name!r} on {signal}; "
                                             "scale GPU serving on its requests or latency"))
    return problems


# --------------------------------------------------------------------------- exposure


def is_tf_serving(container: Any) -> bool:
    """A TF Serving container: runs tensorflow_model_server, or the tensorflow/serving image."""
    words = [str(w) for w in items(get(container, "command")) + items(get(container, "args"))]
    if any(w.rsplit("/", 1)[-1] == "tensorflow_model_server" for w in words):
        return True
    image = str(get(container, "image") or "").split("@", 1)[0].rsplit(":", 1)[0]
    return image == "tensorflow/serving" or image.endswith("/tensorflow/serving")


def grpc_port(container: Any) -> int | None:
    """The TCP port TF Serving's gRPC listens on (0 = none): the last `--port` given, else 8500."""
    words = [str(w) for w in items(get(container, "command")) + items(get(container, "args"))]
    port: Any = TF_SERVING_DEFAULT_GRPC_PORT
    for index, word in enumerate(words):
        if word.startswith("--port="):
            port = word.split("=", 1)[1]
        elif word == "--port" and index + 1 < len(words):
            port = words[index + 1]
    number = num(port)
    return int(number) if number is not None and number == int(number) else None


def check_no_management_port(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    kinds = containers(props)
    problems = [f"{kind} {get(c, 'name')!r} binds hostPort {get(p, 'hostPort')!r}: the node's own address would "
                f"serve it, outside every Service and source range"
                for kind, c in kinds for p in items(get(c, "ports")) if get(p, "hostPort")]
    if not any(is_tf_serving(c) for _, c in kinds):
        return problems
    for kind, container in kinds:
        name = get(container, "name")
        if is_tf_serving(container) and grpc_port(container) != 0:
            problems.append(f"{kind} {name!r} listens for gRPC on TCP port {grpc_port(container)!r} (--port; default "
                            f"{TF_SERVING_DEFAULT_GRPC_PORT}); gRPC carries ModelService, which can unload the model: set "
                            f"--port=0 and --grpc_socket_path")
        for port in items(get(container, "ports")):
            number = num(get(port, "containerPort"))
            if number != TF_SERVING_REST_PORT:
                problems.append(f"{kind} {name!r} declares containerPort {get(port, 'containerPort')!r}; a serving pod "
                                f"exposes only TF Serving's REST port {TF_SERVING_REST_PORT}")
    return problems


def _reachable_from_outside(props: Mapping[str, Any]) -> bool:
    spec = get(props, "spec", default={})
    return get(spec, "type") in ("LoadBalancer", "NodePort") or bool(items(get(spec, "externalIPs")))


def _selected_containers(service: Resource, deployments: Sequence[Resource]) -> list[Any]:
    selector = get(service.props, "spec", "selector")
    return [
        container
        for d in deployments
        if d.provider == service.provider and _namespace(d.props) == _namespace(service.props)
        and _labels_match(selector, get(d.props, "spec", "template", "metadata", "labels"))
        for _, container in containers(d.props, init=False)
    ]


def check_services_rest_only(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    deployments = of(resources, DEPLOYMENT)
    problems: list[tuple[str | None, str]] = []
    for service in of(resources, SERVICE):
        if not _reachable_from_outside(service.props):
            continue
        selected = _selected_containers(service, deployments)
        for port in items(get(service.props, "spec", "ports")):
            target = get(port, "targetPort", default=get(port, "port"))  # Kubernetes: targetPort defaults to port
            number = num(target)
            if number is None:  # a named port: what the selected pods call it
                numbers = {num(get(p, "containerPort")) for c in selected for p in items(get(c, "ports"))
                           if get(p, "name") == target}
                number = numbers.pop() if len(numbers) == 1 else None
            if number != TF_SERVING_REST_PORT:
                problems.append((service.urn, f"Service {service.name!r} ({get(service.props, 'spec', 'type') or 'externalIPs'}) "
                                              f"port {get(port, 'port')!r} targets {target!r}, not TF Serving's REST port "
                                              f"{TF_SERVING_REST_PORT}; gRPC (ModelService) and any other port stay "
                                              f"inside the pod"))
    return problems


def _annotation(props: Mapping[str, Any], key: str) -> str | None:
    value = get(props, "metadata", "annotations", key)
    return None if value is None else str(value).strip()


def is_internet_facing(props: Mapping[str, Any]) -> bool:
    """Whether a LoadBalancer Service gets an internet-facing AWS load balancer.

    AWS Load Balancer Controller (docs/guide/service/annotations.md): `aws-load-balancer-scheme`
    wins; "If not specified, default is `internal`". The in-tree controller (cloud-provider-aws
    aws.go): `aws-load-balancer-internal` set to anything but "false" makes it internal, else
    internet-facing.
    """
    if get(props, "spec", "type") != "LoadBalancer":
        return False
    scheme = _annotation(props, _SCHEME)
    if scheme:
        return scheme == "internet-facing"
    internal = _annotation(props, _INTERNAL)
    if internal:
        return internal.lower() == "false"
    by_controller = (get(props, "spec", "loadBalancerClass") == "service.k8s.aws/nlb"
                     or _annotation(props, _LB_TYPE) in ("external", "nlb-ip"))
    return not by_controller


def load_balancer_source_ranges(props: Mapping[str, Any]) -> list[str]:
    """The ranges a LoadBalancer Service admits: `spec.loadBalancerSourceRanges`, else the
    `load-balancer-source-ranges` annotation, else 0.0.0.0/0 (k8s.io/cloud-provider
    service/helpers GetLoadBalancerSourceRanges, defaultLoadBalancerSourceRanges)."""
    ranges = [str(r) for r in items(get(props, "spec", "loadBalancerSourceRanges"))]
    if ranges:
        return ranges
    annotation = _annotation(props, _SOURCE_RANGES)
    return [r.strip() for r in annotation.split(",")] if annotation else ["0.0.0.0/0"]


def check_load_balancer_source_ranges(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not is_internet_facing(props):
        return []
    covered = coverage(load_balancer_source_ranges(props))
    if not covered.too_open:
        return []
    if not items(get(props, "spec", "loadBalancerSourceRanges")) and not _annotation(props, _SOURCE_RANGES):
        return ["internet-facing LoadBalancer Service sets no spec.loadBalancerSourceRanges, so the controller opens it "
                "to 0.0.0.0/0; list the allowed ranges (serving.allowedCidrs) and Route 53's health checkers"]
    return [f"internet-facing LoadBalancer Service admits {covered.describe()}, more than {MAX_PUBLIC_SHARE_TEXT}; "
            f"list the allowed ranges instead"]


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("k8s-container-limits", "Every serving container and init container sets CPU and memory limits.",
         MANDATORY, (DEPLOYMENT,), check_container_limits),
    Rule("k8s-no-privilege-escalation", "Containers set allowPrivilegeEscalation: false and are not privileged.",
         MANDATORY, (DEPLOYMENT,), check_no_privilege_escalation),
    Rule("k8s-readiness-probe", "Serving containers have a readiness probe.",
         MANDATORY, (DEPLOYMENT,), check_readiness_probe),
    Rule("k8s-rolling-update-zero-unavailable", "Deployments roll with maxUnavailable 0 (old pods serve until new are verified), "
         "or one pod at a time (maxSurge 0, maxUnavailable 1) when the GPU pool holds no surge pod.",
         MANDATORY, (DEPLOYMENT,), check_rolling_update),
    Rule("k8s-gpu-toleration", "Pods that request nvidia.com/gpu tolerate the GPU taint.",
         MANDATORY, (DEPLOYMENT,), check_gpu_toleration),
    Rule("k8s-no-management-port", "Serving pods expose only TF Serving's REST port 8501: no gRPC on TCP (it carries ModelService), no other containerPort, no hostPort.",
         MANDATORY, (DEPLOYMENT,), check_no_management_port),
    Rule("k8s-lb-source-ranges", "Internet-facing LoadBalancer Services admit only listed source ranges, covering at most "
         f"{MAX_PUBLIC_SHARE_TEXT} of the public IP space once merged.",
         MANDATORY, (SERVICE,), check_load_balancer_source_ranges),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("k8s-deployment-has-pdb", "Every serving Deployment has a PodDisruptionBudget selecting its pods.",
              MANDATORY, (DEPLOYMENT, PDB), check_deployments_have_pdb),
    StackRule("k8s-deployment-has-hpa", "Every serving Deployment has an autoscaler targeting it: a HorizontalPodAutoscaler or a KEDA ScaledObject.",
              MANDATORY, (DEPLOYMENT, *HPA_TYPES, SCALED_OBJECT), check_deployments_have_hpa),
    StackRule("k8s-gpu-not-scaled-on-cpu", "No HorizontalPodAutoscaler or ScaledObject scales a GPU Deployment on CPU or memory.",
              MANDATORY, (DEPLOYMENT, *HPA_TYPES, SCALED_OBJECT), check_gpu_serving_not_scaled_on_cpu),
    StackRule("k8s-service-rest-only", "LoadBalancer, NodePort and externalIPs Services target only TF Serving's REST port 8501 of the pods they select.",
              MANDATORY, (SERVICE, DEPLOYMENT), check_services_rest_only),
)
