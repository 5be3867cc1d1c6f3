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
