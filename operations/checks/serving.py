"""What answers traffic: the TF Serving endpoint through the front door (`serving`), the pods
registered behind it (`targets`) and the GPU node group (`capacity`); for the fallback tier, its
status and one prediction (`serving[fallback]`)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable

from recsys_dr.operations.checks.base import NODEGROUP_OK_STATES, CheckContext, CheckResult, failed_call
from recsys_dr.operations.outputs import FallbackOutputs, RegionOutputs


# --------------------------------------------------------------------------- serving


def default_http_get(url: str, timeout: float) -> tuple[int, bytes]:
    """GET `url`; return (HTTP status, body). HTTP errors return their status and body."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (http by design)
            return resp.status, resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1 << 20) if exc.fp else b""


class _NamedTLSConnection(http.client.HTTPSConnection):
    """Connects to one region's balancer but speaks TLS for `server_name`: the balancer's
    certificate names the record (recordName), not the balancer's own DNS name, so the name is sent
    as SNI and verified against the certificate, and sent as the Host header."""

    def __init__(self, host: str, port: int, *, server_name: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self.server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)


def https_get(url: str, timeout: float, *, server_name: str, context: ssl.SSLContext | None = None,
              body: bytes | None = None) -> tuple[int, bytes]:
    """GET `url` (POST `body` when given) over TLS from its host, presenting and verifying `server_name`."""
    return http_request("POST" if body is not None else "GET", url, timeout=timeout, body=body, server_name=server_name,
                        context=context)


def http_request(method: str, url: str, *, timeout: float, body: bytes | None = None, headers: dict | None = None,
                 server_name: str | None = None, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """One request to a region's front door; (HTTP status, body), error statuses included.

    An https URL is sent to its host with `server_name` as SNI, verified name and Host (the
    balancer's certificate names the record, not the balancer).
    """
    parts = urllib.parse.urlsplit(url)
    sent = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    if parts.scheme == "https":
        name = server_name or parts.hostname
        connection: http.client.HTTPConnection = _NamedTLSConnection(
            parts.hostname, parts.port or 443, server_name=name, timeout=timeout, context=context or ssl.create_default_context())
        sent["Host"] = name
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request(method, parts.path or "/", body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.read(1 << 20)
    finally:
        connection.close()


def default_http_post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST JSON `body` to `url`; return (HTTP status, body). HTTP errors return their status and body."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Accept": "application/json", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (http by design)
            return resp.status, resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1 << 20) if exc.fp else b""


def prediction_request(history_length: int) -> dict:
    """One row with no query and an empty history, in TF Serving's columnar format (tensorflow_serving
    g3doc/api_rest.md, `inputs`): the fallback answers it from popularity, so its answer is never empty."""
    return {"inputs": {"query": [""], "history": [[""] * history_length]}}


def probe_prediction(endpoint: str, model_name: str, history_length: int, *, timeout: float = 5.0, scheme: str = "http",
                     server_name: str | None = None,
                     http_post: Callable[[str, bytes, float], tuple[int, bytes]] | None = None) -> tuple[bool, str, dict]:
    """POST one `:predict` row through the front door; ok when the answer names at least one item."""
    url = f"{scheme}://{endpoint}/v1/models/{model_name}:predict"
    body = json.dumps(prediction_request(history_length)).encode()
    if http_post is not None:
        post = http_post
    elif scheme == "https":
        def post(target: str, payload: bytes, seconds: float) -> tuple[int, bytes]:
            return https_get(target, seconds, server_name=server_name or urllib.parse.urlsplit(target).hostname, body=payload)
    else:
        post = default_http_post
    try:
        status, answer = post(url, body, timeout)
        doc = json.loads(answer or b"{}")
    except Exception as exc:
        return False, f"{url}: no answer ({type(exc).__name__}: {exc})", {"url": url, "error": str(exc)}
    items = ((doc.get("outputs") or {}).get("item_ids") or [[]])[0] if isinstance(doc, dict) else []
    named = [item for item in items if isinstance(item, str) and item] if isinstance(items, list) else []
    if status != 200 or not named:
        return False, f"{url}: HTTP {status}, {len(named)} items", {"url": url, "http": status, "items": len(named)}
    return True, f"one prediction: {len(named)} items ({', '.join(named[:3])}, ...)", {"url": url, "http": status,
                                                                                      "items": len(named)}


def serving_url(endpoint: str, model_name: str, scheme: str = "http") -> str:
    return f"{scheme}://{endpoint}/v1/models/{model_name}"


def probe_serving(endpoint: str, model_name: str, version: int, *, timeout: float = 5.0,
                  http_get: Callable[[str, float], tuple[int, bytes]] | None = None, scheme: str = "http",
                  server_name: str | None = None, candidate: int | None = None) -> tuple[bool, str, dict]:
    """Ask TF Serving's REST API for the model status, through the region's front door.

    Args:
        scheme: "https" for a front door with a certificate (its only client listener), else "http".
        server_name: the name the certificate is for (the record name); https only.
        candidate: the region's candidate version: while a release gives it a share, the
            front door answers some status calls from its pods, which is as good.

    Returns:
        (ok, detail, data): ok when version `version` (or `candidate`) is AVAILABLE.
    """
    url = serving_url(endpoint, model_name, scheme)
    if http_get is not None:
        get = http_get
    elif scheme == "https":
        def get(target: str, seconds: float) -> tuple[int, bytes]:
            return https_get(target, seconds, server_name=server_name or urllib.parse.urlsplit(target).hostname)
    else:
        get = default_http_get
    try:
        status, body = get(url, timeout)
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
    if candidate is not None and versions.get(str(candidate)) == "AVAILABLE" and str(version) not in versions:
        data["candidate"] = candidate
        return True, f"v{candidate} (the candidate) AVAILABLE", data
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


def probe_region(ctx_outputs, region: RegionOutputs, *, timeout: float,
                 http_get: Callable[[str, float], tuple[int, bytes]] | None = None) -> tuple[bool, str, dict]:
    """`probe_serving` of one region as clients reach it: its front door's scheme and the record name."""
    scheme = region.front_door.scheme if region.front_door else "http"
    version = region.pin.version if region.pin else ctx_outputs.model_version
    return probe_serving(region.endpoint, ctx_outputs.model_name, version, timeout=timeout,
                         http_get=http_get, scheme=scheme, server_name=ctx_outputs.dns.record_name.rstrip("."),
                         candidate=region.candidate.version if region.candidate else None)


def probe_fallback(outputs, *, timeout: float, http_get=None, http_post=None) -> tuple[bool, str, dict]:
    """The fallback as clients reach it: its pinned version AVAILABLE under the main model's name, and
    one prediction that names items."""
    fallback = outputs.fallback
    scheme = fallback.front_door.scheme if fallback.front_door else "http"
    server_name = outputs.dns.record_name.rstrip(".")
    # As for a GPU region, a status answered by the candidate's pods (a release gave it the share) passes.
    ok, detail, data = probe_serving(fallback.endpoint, fallback.served_as, fallback.version, timeout=timeout,
                                     http_get=http_get, scheme=scheme, server_name=server_name,
                                     candidate=fallback.candidate.version if fallback.candidate else None)
    if not ok:
        return ok, detail, data
    answered, answer, prediction = probe_prediction(fallback.endpoint, fallback.served_as, fallback.history_length,
                                                    timeout=timeout, scheme=scheme, server_name=server_name,
                                                    http_post=http_post)
    return answered, f"{detail}; {answer}", {**data, "prediction": prediction}


def check_fallback_serving(ctx: CheckContext) -> CheckResult:
    """The fallback tier answers, whatever the GPU tiers do (reported, never blocking)."""
    fallback = ctx.outputs.fallback
    ok, detail, data = probe_fallback(ctx.outputs, timeout=ctx.http_timeout, http_get=ctx.http_get)
    return CheckResult(name="serving", ok=ok, detail=detail, region=fallback.region, role=fallback.role,
                       blocking=False, data=data)


def check_serving(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    o = ctx.outputs
    ok, detail, data = probe_region(o, region, timeout=ctx.http_timeout, http_get=ctx.http_get)
    if not ok and region.role == "standby" and o.standby_mode == "pilot-light":
        detail += " (pilot-light: `recsys-dr failover --to standby` activates it)"
    return CheckResult(name="serving", ok=ok, detail=detail, region=region.region, role=region.role,
                       blocking=ctx.is_target(region.role), data=data)


def check_targets(ctx: CheckContext, region: RegionOutputs | FallbackOutputs) -> CheckResult:
    """The pods the balancer routes to: its target group's healthy targets (ELB DescribeTargetHealth).

    A target is healthy once TF Serving answers 200 on the model's status path; the balancer sends
    requests only to healthy targets (or to all of them when none is, ELB's fail-open).
    """
    name = "targets"
    group = region.front_door.target_group_arn
    try:
        descriptions = ctx.clients.elbv2(region.region).describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    except Exception as exc:
        return failed_call(name, region, ctx, exc, f"describe target health of {group}")
    states: dict[str, int] = {}
    for description in descriptions:
        state = (description.get("TargetHealth") or {}).get("State", "unknown")
        states[state] = states.get(state, 0) + 1
    healthy = states.get("healthy", 0)
    summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "no targets registered"
    detail = f"{healthy}/{len(descriptions)} targets healthy in the front door's target group ({summary})"
    if not healthy and region.role == "standby" and ctx.outputs.standby_mode == "pilot-light":
        detail += " (pilot-light: `recsys-dr failover --to standby` activates it)"
    return CheckResult(name=name, ok=healthy > 0, detail=detail, region=region.region, role=region.role,
                       blocking=ctx.is_target(region.role), data={"targetGroupArn": group, "states": states})


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


