"""What answers traffic: the TF Serving endpoint (`serving`) and the GPU node group (`capacity`)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from typing import Callable

from recsys_dr.operations.checks.base import NODEGROUP_OK_STATES, CheckContext, CheckResult, failed_call
from recsys_dr.operations.outputs import RegionOutputs, StackOutputs


# --------------------------------------------------------------------------- serving


def default_http_get(url: str, timeout: float, connect_to: str | None = None) -> tuple[int, bytes]:
    """GET `url`; return (HTTP status, body). HTTP errors return their status and body.

    `connect_to` (`host[:port]`, port 443 by default) is where an https `url` is fetched from: the
    TLS handshake and the certificate check use the URL's host (the record name the certificate
    is for), the TCP connection goes to one region's load balancer.
    """
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    handlers = [_PinnedHTTPSHandler(connect_to)] if connect_to and url.startswith("https://") else []
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as resp:  # noqa: S310
            return resp.status, resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1 << 20) if exc.fp else b""


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    """HTTPS to a fixed address, verifying the certificate for the URL's host (default trust store)."""

    def __init__(self, connect_to: str) -> None:
        super().__init__(context=ssl.create_default_context())
        host, _, port = connect_to.partition(":")
        self.address = (host, int(port or 443))

    def https_open(self, req):
        address = self.address

        class Connection(http.client.HTTPSConnection):
            def connect(self) -> None:
                sock = socket.create_connection(address, self.timeout)
                self.sock = self._context.wrap_socket(sock, server_hostname=self.host)

        return self.do_open(Connection, req, context=self._context)


def serving_url(endpoint: str, model_name: str, *, tls_host: str | None = None) -> str:
    """TF Serving's model status URL: over HTTPS for the certificate's name when the region has TLS."""
    return f"https://{tls_host}/v1/models/{model_name}" if tls_host else f"http://{endpoint}/v1/models/{model_name}"


def probe_serving(endpoint: str, model_name: str, version: int, *, tls_host: str | None = None, timeout: float = 5.0,
                  http_get: Callable[..., tuple[int, bytes]] | None = None) -> tuple[bool, str, dict]:
    """Ask TF Serving's REST API for the model status.

    Args:
        tls_host: the name the region's certificate is for (`dns.recordName`) when it serves
            HTTPS; the status is then asked over HTTPS from `endpoint`, port 443. Default None:
            plain HTTP.

    Returns:
        (ok, detail, data): ok when version `version` is AVAILABLE.
    """
    url = serving_url(endpoint, model_name, tls_host=tls_host)
    get = http_get or default_http_get
    try:
        status, body = get(url, timeout, endpoint) if tls_host else get(url, timeout)
    except Exception as exc:
        return False, f"{url}: no answer ({type(exc).__name__}: {exc})", {"url": url, "error": str(exc)}
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        doc = {}
    if status != 200:
        msg = doc.get("error") if isinstance(doc, dict) else None
        return False, f"{url}: HTTP {status}{': ' + str(msg)[:120] if msg else ''}", {"url": url, "http": status}
    entries = doc.get("model_version_status") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return False, f"{url}: answer is not TF Serving's model status JSON", {"url": url, "http": status}
    versions = {str(e.get("version")): str(e.get("state")) for e in entries if isinstance(e, dict)}
    data = {"url": url, "http": status, "versions": versions, "pinned": version}
    state = versions.get(str(version))
    if state == "AVAILABLE":
        others = sorted(v for v, s in versions.items() if v != str(version) and s == "AVAILABLE")
        extra = f" (also AVAILABLE: {', '.join(others)})" if others else ""
        return True, f"v{version} AVAILABLE{extra}", data
    available = sorted((v for v, s in versions.items() if s == "AVAILABLE"), key=lambda v: int(v) if v.isdigit() else 0)
    if state:
        return False, f"pinned v{version} is {state}, not AVAILABLE", data
    if available:
        return False, f"serves v{', v'.join(available)}, pinned v{version} not loaded", data
    listed = ", ".join(f"v{v} {s}" for v, s in versions.items()) or "no versions"
    return False, f"pinned v{version} not loaded ({listed})", data


def probe_region(outputs: StackOutputs, region: RegionOutputs, *, timeout: float,
                 http_get: Callable[..., tuple[int, bytes]] | None = None) -> tuple[bool, str, dict]:
    """`probe_serving` of one region: HTTPS for the record name where the region has TLS."""
    return probe_serving(region.endpoint, outputs.model_name, outputs.model_version,
                         tls_host=outputs.dns.record_name if region.tls else None, timeout=timeout, http_get=http_get)


def check_serving(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    o = ctx.outputs
    ok, detail, data = probe_region(o, region, timeout=ctx.http_timeout, http_get=ctx.http_get)
    if not ok and region.role == "standby" and o.standby_mode == "pilot-light":
        detail += " (pilot-light: `recsys-dr failover --to standby` activates it)"
    return CheckResult(name="serving", ok=ok, detail=detail, region=region.region, role=region.role,
                       blocking=ctx.is_target(region.role), data=data)


# --------------------------------------------------------------------------- capacity


def check_capacity(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    """GPU node group scaling; the standby's against its declared mode (and --require-warm)."""
    o = ctx.outputs
    name = "capacity"
    try:
        ng = ctx.clients.eks(region.region).describe_nodegroup(
            clusterName=region.cluster_name, nodegroupName=region.gpu_node_group_name)["nodegroup"]
    except Exception as exc:
        return failed_call(name, region, ctx, exc,
                            f"describe node group {region.cluster_name}/{region.gpu_node_group_name}")
    scaling = ng.get("scalingConfig", {})
    desired, lo, hi = scaling.get("desiredSize", 0), scaling.get("minSize", 0), scaling.get("maxSize", 0)
    status = ng.get("status", "?")
    mode = o.standby_mode if region.role == "standby" else "active"
    data = {"status": status, "minSize": lo, "desiredSize": desired, "maxSize": hi, "mode": mode,
            "declared": region.gpu_scaling}
    problems = []
    if status not in NODEGROUP_OK_STATES:
        problems.append(f"node group status {status}")
    if hi < 1:
        problems.append(f"maxSize={hi}: the GPU pool can never scale up")
    if region.role == "standby" and o.standby_mode == "warm" and desired < 1:
        problems.append(f"standbyMode is warm but desiredSize={desired}")
    if region.role == "primary" and desired < 1:
        problems.append(f"desiredSize={desired}: no GPU nodes")
    if region.role == "standby" and ctx.require_warm and o.standby_mode != "warm":
        problems.append(f"standby is pilot-light (desiredSize={desired}) but warm is required (--require-warm)")
    summary = f"GPU {region.gpu_node_group_name}: min {lo} / desired {desired} / max {hi}, {status}"
    if region.role == "standby":
        summary += f"; standbyMode {o.standby_mode}"
        if o.standby_mode == "pilot-light" and desired < 1:
            summary += " (RTO adds node provisioning and model load)"
    drift = {k: v for k, v in region.gpu_scaling.items() if scaling.get(k) != v}
    if drift:
        summary += f"; differs from stack outputs {drift}"
    if problems:
        return CheckResult(name=name, ok=False, region=region.region, role=region.role,
                           blocking=ctx.is_target(region.role), data=data,
                           detail="; ".join(problems) + f" ({summary})")
    return CheckResult(name=name, ok=True, region=region.region, role=region.role,
                       blocking=ctx.is_target(region.role), data=data, detail=summary)


