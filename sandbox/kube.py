"""A small fake Kubernetes API server on 127.0.0.1 (threaded http.server): the sandbox's EKS clusters.

The activation tests and `recsys-dr sandbox` share it. It answers only what `operations.kube`
sends, over HTTPS with a cluster CA when given a `ServerCertificate` (as EKS serves it), and keeps
the rules that make activation hard:

* every request needs `Authorization: Bearer k8s-aws-v1.<...>` (an EKS token), else 401;
* PATCHes must be JSON merge patches (`application/merge-patch+json`), else 415 as the API server says;
* the HPA acts as the controller does: it clamps a Deployment's replicas into [minReplicas, maxReplicas],
  except at 0 replicas, where autoscaling is disabled
  (kubernetes pkg/controller/podautoscaler/horizontal.go: "scaling is disabled since the replica count
  of the target is zero"; `kubectl scale` above the HPA max is undone the same way);
* GPU nodes join `join_polls` node-list polls after the node group's desiredSize rises
  (`desired()` reads the EKS side), and a pod is available only on a Ready node
  (`pods_per_node` per node);
* with `scaled_object` set, KEDA owns the HPA: the HPA's bounds follow the ScaledObject and a patch
  of the HPA is undone (controllers/keda/hpa.go `updateHPAIfNeeded`); KEDA raises a Deployment
  below `minReplicaCount` to it, from zero too (pkg/scaling/executor/scale_scaledobjects.go), and
  with `paused_scale_in` nothing scales it down;
* the Deployment's available pods are listed with the timestamps a real start leaves in their status
  (`pod_start`: seconds of init image pull, model fetch, serving image pull, model load).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from recsys_dr.sandbox.tls import ServerCertificate, server_context


class FakeKube:
    """One cluster's API server. Mutate `fail_all` (an HTTP status) to make every call fail.

    Args:
        namespace, deployment, hpa, node_group: str, the names the stack outputs give.
        replicas: int, the Deployment's replicas; hpa_min / hpa_max: the HPA's bounds.
        desired: callable() -> int, the GPU node group's desiredSize (the EKS side).
        join_polls: int, node-list polls before nodes join after desiredSize rises. Default 2.
        pods_per_node: int, serving pods one Ready node holds. Default 1.
        ready_nodes: int, nodes Ready at start. Default 0.
        scaled_object: str | None, the KEDA ScaledObject's name; with it `hpa_min` / `hpa_max` are its
            minReplicaCount / maxReplicaCount and KEDA owns the HPA. Default None (a plain HPA).
        paused_scale_in: bool, the ScaledObject carries `autoscaling.keda.sh/paused-scale-in`. Default False.
        tls: ServerCertificate | None, serve HTTPS with this certificate. Default None (HTTP).
    """

    def __init__(self, *, namespace: str = "recsys", deployment: str = "tf-serving", hpa: str = "tf-serving",
                 node_group: str = "gpu-standby", replicas: int = 0, hpa_min: int = 1, hpa_max: int = 1,
                 desired: Callable[[], int] = lambda: 0, join_polls: int = 2, pods_per_node: int = 1,
                 ready_nodes: int = 0, scaled_object: str | None = None, paused_scale_in: bool = False,
                 tls: ServerCertificate | None = None):
        self.namespace, self.deployment, self.hpa, self.node_group = namespace, deployment, hpa, node_group
        self.replicas, self.hpa_min, self.hpa_max = replicas, hpa_min, hpa_max
        self.scaled_object, self.paused_scale_in = scaled_object, paused_scale_in
        self.desired, self.join_polls, self.pods_per_node = desired, join_polls, pods_per_node
        self.nodes = ready_nodes
        self.pod_start = {"init pull": 4, "fetch": 6, "serving pull": 30, "load": 9}
        self._pending_polls = 0
        self.requests: list[tuple[str, str, dict | None]] = []
        self.tokens: list[str] = []
        self.lock = threading.Lock()
        self.fail_all: int | None = None  # HTTP status for every request (e.g. 403)
        self.batch: FakeJobs | None = None  # set one to serve ConfigMaps and Jobs
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                auth = self.headers.get("Authorization", "")
                with fake.lock:
                    fake.requests.append((method, self.path, body))
                    if not auth.startswith("Bearer k8s-aws-v1."):
                        return self._answer(401, {"kind": "Status", "message": "Unauthorized"})
                    fake.tokens.append(auth)
                    if fake.fail_all:
                        return self._answer(fake.fail_all, {"kind": "Status", "message": "forbidden by RBAC"})
                    if method == "PATCH" and self.headers.get("Content-Type") != "application/merge-patch+json":
                        return self._answer(415, {"kind": "Status", "message": "unsupported media type"})
                    status, answer = fake.route(method, self.path, body)
                self._answer(status, answer)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_PATCH(self):  # noqa: N802
                self._handle("PATCH")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            self.server.socket = server_context(tls).wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    # -- the controllers' view
    def effective_replicas(self) -> int:
        if self.scaled_object:
            low = max(self.replicas, self.hpa_min)  # KEDA raises to minReplicaCount, from 0 too
            return low if self.paused_scale_in else min(low, self.hpa_max)
        if self.replicas == 0:
            return 0
        return max(self.hpa_min, min(self.replicas, self.hpa_max))

    def available_pods(self) -> int:
        """Pods that are Ready now: the Deployment's replicas that fit on Ready nodes."""
        with self.lock:
            return min(self.effective_replicas(), self.nodes * self.pods_per_node)

    def route(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if self.batch is not None and (answer := self.batch.route(method, path, body)) is not None:
            return answer
        ns, dep, hpa = self.namespace, self.deployment, self.hpa
        self.replicas = self.effective_replicas()  # the HPA acts between requests
        if path == f"/apis/apps/v1/namespaces/{ns}/deployments/{dep}/scale":
            if method == "PATCH":
                self.replicas = int(body["spec"]["replicas"])
                self.replicas = self.effective_replicas()
            return 200, {"kind": "Scale", "spec": {"replicas": self.replicas}, "status": {"replicas": self.replicas}}
        if self.scaled_object and path == f"/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects/{self.scaled_object}":
            if method == "PATCH":
                self.hpa_min = int(body["spec"].get("minReplicaCount", self.hpa_min))
                self.hpa_max = int(body["spec"].get("maxReplicaCount", self.hpa_max))
                self.replicas = self.effective_replicas()
            return 200, {"spec": {"minReplicaCount": self.hpa_min, "maxReplicaCount": self.hpa_max}}
        if path == f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{hpa}":
            if method == "PATCH" and self.scaled_object:  # KEDA rewrites its HPA from the ScaledObject
                return 200, {"spec": {"minReplicas": max(1, self.hpa_min), "maxReplicas": self.hpa_max}}
            if method == "PATCH":
                self.hpa_min = int(body["spec"].get("minReplicas", self.hpa_min))
                self.hpa_max = int(body["spec"].get("maxReplicas", self.hpa_max))
                if self.hpa_min > self.hpa_max:
                    return 422, {"kind": "Status", "message": "minReplicas must be <= maxReplicas"}
            return 200, {"spec": {"minReplicas": self.hpa_min, "maxReplicas": self.hpa_max}}
        if path == f"/apis/apps/v1/namespaces/{ns}/deployments/{dep}":
            available = min(self.effective_replicas(), self.nodes * self.pods_per_node)
            return 200, {"spec": {"replicas": self.replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": "tf-serving"}}},
                         "status": {"availableReplicas": available}}
        if path == f"/api/v1/namespaces/{ns}/pods?labelSelector=app.kubernetes.io%2Fname%3Dtf-serving":
            available = min(self.effective_replicas(), self.nodes * self.pods_per_node)
            return 200, {"kind": "PodList", "items": [self._pod(i) for i in range(available)]}
        if path == f"/api/v1/nodes?labelSelector=eks.amazonaws.com%2Fnodegroup%3D{self.node_group}":
            want = self.desired()
            if want > self.nodes:
                self._pending_polls += 1
                if self._pending_polls > self.join_polls:
                    self.nodes, self._pending_polls = want, 0
            elif want < self.nodes:
                self.nodes = want
            items = [{"metadata": {"name": f"ip-10-0-0-{i}"},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for i in range(self.nodes)]
            return 200, {"kind": "NodeList", "items": items}
        return 404, {"kind": "Status", "message": f"not found: {path}"}

    def _pod(self, index: int) -> dict:
        """A Ready serving pod whose status holds the timestamps of its start (`pod_start`)."""
        marks, at = {}, 0
        for step in ("init pull", "fetch", "serving pull", "load"):
            at += self.pod_start[step] + index  # later pods a little slower
            marks[step] = f"2026-01-01T00:{at // 60:02d}:{at % 60:02d}Z"
        return {"metadata": {"name": f"tf-serving-{index}"}, "status": {
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                           {"type": "Ready", "status": "True", "lastTransitionTime": marks["load"]}],
            "initContainerStatuses": [{"name": "fetch-and-verify-model", "state": {"terminated": {
                "exitCode": 0, "startedAt": marks["init pull"], "finishedAt": marks["fetch"]}}}],
            "containerStatuses": [{"name": "tf-serving", "ready": True, "state": {"running": {"startedAt": marks["serving pull"]}}}],
        }}

    def writes(self) -> list[tuple[str, dict]]:
        return [(path, body) for method, path, body in self.requests if method == "PATCH"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class FakeJobs:
    """ConfigMaps, headless Services and the Job controller of indexed Jobs, for `recsys-dr train`.

    A POSTed Job must be valid as the API server checks it (a pod template's `restartPolicy` of a
    Job is `Never` or `OnFailure`; `completionMode: Indexed` needs `completions`), else 422. Its
    pods run after `run_polls` GETs of the Job if they can run: they land on the GPU pool only
    with its node selector and a toleration of its taint, and there must be GPUs for all of them
    (`gpus`); then each pod derives TF_CONFIG as `model.distributed.tf_config_from_env` does from
    what the controller gives it (`JOB_COMPLETION_INDEX`, hostname `<job>-<index>`, the job-name
    label) and every worker it names must resolve: `<hostname>.<subdomain>` exists only when the
    subdomain is a headless Service of the namespace selecting the pod (kubernetes.io "Job with
    Pod-to-Pod Communication"). Then `on_complete(job)` runs (what worker 0 publishes) and the Job
    is Complete; otherwise it fails with the reason.
    """

    def __init__(self, *, config_maps: dict | None = None, services: dict | None = None, gpus: int = 8,
                 run_polls: int = 2, on_complete=lambda job: None, gpu_label: dict | None = None,
                 gpu_taint_key: str = "nvidia.com/gpu"):
        self.config_maps = config_maps or {}  # (namespace, name) -> data
        self.services = services or {}  # (namespace, name) -> Service spec
        self.gpus, self.run_polls, self.on_complete = gpus, run_polls, on_complete
        self.gpu_label, self.gpu_taint_key = gpu_label or {"recsys-dr/pool": "gpu"}, gpu_taint_key
        self.jobs: dict[tuple[str, str], dict] = {}
        self._polls: dict[tuple[str, str], int] = {}

    def route(self, method: str, path: str, body: dict | None) -> tuple[int, dict] | None:
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 6 and parts[4] == "configmaps":
            data = self.config_maps.get((parts[3], parts[5]))
            return (200, {"kind": "ConfigMap", "data": data}) if data is not None else (404, {"message": "not found"})
        if parts[:4] == ["apis", "batch", "v1", "namespaces"] and len(parts) >= 6 and parts[5] == "jobs":
            namespace = parts[4]
            if method == "POST" and len(parts) == 6:
                return self._create(namespace, body)
            if method == "GET" and len(parts) == 7 and (namespace, parts[6]) in self.jobs:
                return 200, self._advance(namespace, parts[6])
            return 404, {"message": f"not found: {path}"}
        return None

    def _create(self, namespace: str, job: dict) -> tuple[int, dict]:
        spec, name = job.get("spec", {}), job.get("metadata", {}).get("name", "")
        if spec.get("template", {}).get("spec", {}).get("restartPolicy") not in ("Never", "OnFailure"):
            return 422, {"message": "spec.template.spec.restartPolicy: Unsupported value: must be Never or OnFailure"}
        if spec.get("completionMode") == "Indexed" and not spec.get("completions"):
            return 422, {"message": "spec.completions: Required value: when completion mode is Indexed"}
        if (namespace, name) in self.jobs:
            return 409, {"message": f"jobs.batch {name!r} already exists"}
        self.jobs[(namespace, name)] = {**job, "status": {}}
        self._polls[(namespace, name)] = 0
        return 201, job

    def _blocker(self, namespace: str, job: dict) -> str | None:
        """Why the workers cannot train together, or None."""
        from recsys_dr.model.distributed import tf_config_from_env

        spec = job["spec"]
        pod = spec["template"]["spec"]
        workers = int(spec.get("parallelism") or 1)
        tolerated = any(t.get("key") == self.gpu_taint_key for t in pod.get("tolerations") or [])
        gpus = sum(int(c["resources"]["limits"].get("nvidia.com/gpu", 0)) for c in pod["containers"]) * workers
        if not tolerated or pod.get("nodeSelector") != self.gpu_label or gpus > self.gpus:
            return "Pending"
        service = self.services.get((namespace, pod.get("subdomain")))
        labels = spec["template"].get("metadata", {}).get("labels", {})
        headless = service is not None and service.get("clusterIP") == "None" and \
            service.get("selector", {}).items() <= labels.items()
        resolvable = {f"{job['metadata']['name']}-{i}.{pod.get('subdomain')}" for i in range(workers)} if headless else set()
        for index in range(workers):
            env = {"JOB_COMPLETION_INDEX": str(index)}
            for var in pod["containers"][0].get("env", []):
                if "value" in var:
                    env[var["name"]] = var["value"]
                elif "batch.kubernetes.io/job-name" in var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", ""):
                    env[var["name"]] = job["metadata"]["name"]
            hosts = {h.rsplit(":", 1)[0] for h in tf_config_from_env(env)["cluster"]["worker"]}
            if not hosts <= resolvable:
                return f"worker {index} cannot resolve {sorted(hosts - resolvable)[0]}: collective timed out"
        return None

    def _advance(self, namespace: str, name: str) -> dict:
        job, key = self.jobs[(namespace, name)], (namespace, name)
        if job["status"].get("conditions"):
            return job
        self._polls[key] += 1
        workers = int(job["spec"].get("parallelism") or 1)
        blocker = self._blocker(namespace, job)
        if blocker == "Pending":  # the pods wait for a node that takes them; the Job never ends
            job["status"] = {"active": workers, "ready": 0}
        elif self._polls[key] <= self.run_polls:
            job["status"] = {"active": workers, "ready": workers}
        elif blocker is not None:
            job["status"] = {"failed": workers, "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": blocker}]}
        else:
            self.on_complete(job)
            job["status"] = {"succeeded": workers, "conditions": [{"type": "Complete", "status": "True"}]}
        return job
