"""The few Kubernetes API calls failover needs, with an EKS token made as `aws eks get-token` makes it.

Token (awscli `customizations/eks/get_token.py`): an STS `GetCallerIdentity` URL presigned for
60 s with the `x-k8s-aws-id: <cluster name>` header signed in, base64url-encoded without padding
and prefixed `k8s-aws-v1.`. EKS accepts it for 15 minutes; a new one is made every 10 minutes, so
long waits (GPU nodes joining) never send an expired token. The STS client is created in the
cluster's own Region (botocore's regional STS endpoint), so activating the standby needs nothing
from the primary Region.

Calls (plain HTTPS + JSON, no kubeconfig): the Deployment's `scale` subresource, the KEDA
ScaledObject (`keda.sh/v1alpha1`) or, for stacks without one, the HorizontalPodAutoscaler
(`autoscaling/v2`), both by JSON merge patch, the Deployment's status and its pods, and the nodes of
one managed node group (EKS labels them `eks.amazonaws.com/nodegroup=<name>`).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

TOKEN_PREFIX = "k8s-aws-v1."
K8S_AWS_ID_HEADER = "x-k8s-aws-id"
PRESIGN_SECONDS = 60
"""awscli's URL_TIMEOUT; EKS itself accepts the token for 15 minutes."""
TOKEN_REFRESH_SECONDS = 600
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
MERGE_PATCH = "application/merge-patch+json"
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


class KubeError(RuntimeError):
    """A Kubernetes API call failed: `status` is the HTTP status (None when there was no answer)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


def ca_pem(ca_data: str, *, cluster: str = "the cluster") -> str:
    """The cluster CA as PEM text, from EKS's `certificateAuthority.data` (base64 of the PEM file).

    Raises:
        KubeError: one line saying what the data is instead (not base64, or not a PEM certificate).
    """
    try:
        pem = base64.b64decode(ca_data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise KubeError(f"certificateAuthority.data of {cluster} is not base64; cannot trust its API server") from None
    if PEM_CERTIFICATE not in pem:
        raise KubeError(f"certificateAuthority.data of {cluster} is base64 but not a PEM certificate; "
                        "cannot trust its API server") from None
    return pem.decode("ascii", errors="replace")


def eks_token(sts_client: Any, cluster_name: str) -> str:
    """A bearer token for `cluster_name`, exactly as `aws eks get-token --cluster-name` prints it.

    Args:
        sts_client: boto3 STS client in the cluster's Region.
        cluster_name: str, the EKS cluster name (signed in as the `x-k8s-aws-id` header).
    """

    def add_cluster_header(request, **_kwargs):
        request.headers[K8S_AWS_ID_HEADER] = cluster_name

    event = "before-sign.sts.GetCallerIdentity"
    sts_client.meta.events.register(event, add_cluster_header)
    try:
        url = sts_client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=PRESIGN_SECONDS,
                                                HttpMethod="GET")
    finally:
        sts_client.meta.events.unregister(event, add_cluster_header)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


@dataclass(kw_only=True)
class KubeApi:
    """One cluster's API server.

    Args:
        server: str, the API endpoint (EKS `cluster.endpoint`, https://...; http:// in tests).
        ca_data: str | None, base64 PEM of the cluster CA (EKS `certificateAuthority.data`).
        token: callable() -> str, a fresh bearer token (see `eks_token`).
        timeout: float, seconds per request. Default 10.
        clock: callable() -> float, for token refresh. Default time.monotonic.
    """

    server: str
    ca_data: str | None
    token: Callable[[], str]
    timeout: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _token: str | None = field(default=None, repr=False)
    _token_at: float = field(default=0.0, repr=False)
    _ssl: Any = field(default=None, repr=False)

    def _bearer(self) -> str:
        if self._token is None or self.clock() - self._token_at > TOKEN_REFRESH_SECONDS:
            self._token, self._token_at = self.token(), self.clock()
        return self._token

    def _context(self):
        """TLS trusting the cluster CA only (the system's CAs when the outputs carry none)."""
        if self._ssl is None and self.server.startswith("https://"):
            pem = ca_pem(self.ca_data, cluster=self.server) if self.ca_data else None
            try:
                self._ssl = ssl.create_default_context(cadata=pem)
            except ssl.SSLError as exc:
                raise KubeError(f"the CA of {self.server} is not a certificate ssl can load ({exc.reason})") from None
        return self._ssl

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        context = self._context()
        req = urllib.request.Request(self.server.rstrip("/") + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self._bearer()}", "Accept": "application/json",
            # PATCH bodies are merge patches; POST bodies are whole objects.
            **({"Content-Type": MERGE_PATCH if method == "PATCH" else "application/json"} if body is not None else {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=context) as resp:  # noqa: S310
                answer = resp.read()
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read() or b"{}").get("message", "")
            except ValueError:
                message = ""
            hint = " (is your role in the cluster's access entries? see `cluster.adminRoleArns`)" \
                if exc.code in (401, 403) else ""
            raise KubeError(f"{method} {path}: HTTP {exc.code} {message}{hint}".rstrip(), status=exc.code) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, ssl.SSLError, http.client.HTTPException) as exc:
            raise KubeError(f"{method} {path}: no answer from {self.server} ({exc})") from None
        try:
            doc = json.loads(answer or b"{}")
        except ValueError:
            raise KubeError(f"{method} {path}: {self.server} answered something that is not JSON") from None
        if not isinstance(doc, dict):
            raise KubeError(f"{method} {path}: {self.server} answered JSON that is not an object")
        return doc

    # -- the calls failover makes

    def deployment_replicas(self, namespace: str, name: str) -> int:
        """The Deployment's desired replica count (`scale` subresource `spec.replicas`)."""
        doc = self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale")
        return int(doc.get("spec", {}).get("replicas") or 0)

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
                     {"spec": {"replicas": replicas}})

    def hpa_bounds(self, namespace: str, name: str) -> dict[str, int]:
        spec = self.request("GET", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}"
                            ).get("spec", {})
        return {"minReplicas": int(spec.get("minReplicas") or 1), "maxReplicas": int(spec.get("maxReplicas") or 1)}

    def patch_hpa(self, namespace: str, name: str, *, min_replicas: int, max_replicas: int) -> None:
        self.request("PATCH", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}",
                     {"spec": {"minReplicas": min_replicas, "maxReplicas": max_replicas}})

    def scaled_object_bounds(self, namespace: str, name: str) -> dict[str, int]:
        """A KEDA ScaledObject's replica bounds, as HPA-style keys (KEDA's defaults: min 0, max 100,
        apis/keda/v1alpha1/scaledobject_types.go)."""
        spec = self.request("GET", f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects/{name}").get("spec", {})
        minimum, maximum = spec.get("minReplicaCount"), spec.get("maxReplicaCount")
        return {"minReplicas": int(0 if minimum is None else minimum), "maxReplicas": int(100 if maximum is None else maximum)}

    def patch_scaled_object(self, namespace: str, name: str, *, min_replicas: int, max_replicas: int) -> None:
        """KEDA rebuilds its HPA from the ScaledObject (a patch of the HPA itself is undone), so the
        bounds are changed here; with `minReplicaCount` above the current count KEDA scales the
        Deployment up itself (pkg/scaling/executor/scale_scaledobjects.go)."""
        self.request("PATCH", f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects/{name}",
                     {"spec": {"minReplicaCount": min_replicas, "maxReplicaCount": max_replicas}})

    def available_replicas(self, namespace: str, name: str) -> int:
        status = self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}").get("status", {})
        return int(status.get("availableReplicas") or 0)

    def deployment_pods(self, namespace: str, name: str) -> list[dict]:
        """The pods the Deployment selects (its `spec.selector.matchLabels`), with their status."""
        labels = self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}").get("spec", {}) \
            .get("selector", {}).get("matchLabels", {})
        selector = urllib.parse.quote(",".join(f"{k}={v}" for k, v in sorted(labels.items())), safe="")
        return self.request("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}").get("items", [])

    def ready_nodes(self, node_group: str) -> int:
        """Nodes of the managed node group whose `Ready` condition is True."""
        selector = urllib.parse.quote(f"{NODEGROUP_LABEL}={node_group}", safe="")
        items = self.request("GET", f"/api/v1/nodes?labelSelector={selector}").get("items", [])
        return sum(1 for node in items
                   if any(c.get("type") == "Ready" and c.get("status") == "True"
                          for c in node.get("status", {}).get("conditions", [])))


def connect(eks: Any, sts: Any, cluster_name: str, *, timeout: float = 10.0) -> KubeApi:
    """A `KubeApi` for an EKS cluster: endpoint and CA from `DescribeCluster`, token from STS.

    Raises:
        KubeError: the cluster has no API endpoint yet (EKS sets it once the cluster is ACTIVE).
        botocore ClientError / BotoCoreError: DescribeCluster failed.
    """
    cluster = eks.describe_cluster(name=cluster_name)["cluster"]
    if not cluster.get("endpoint"):
        raise KubeError(f"cluster {cluster_name} has no API endpoint yet (status {cluster.get('status', '?')})")
    return KubeApi(server=cluster["endpoint"], ca_data=(cluster.get("certificateAuthority") or {}).get("data"),
                   token=lambda: eks_token(sts, cluster_name), timeout=timeout)


__all__ = ["KubeApi", "KubeError", "ca_pem", "connect", "eks_token"]
