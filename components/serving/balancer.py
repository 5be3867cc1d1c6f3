"""The Application Load Balancer in front of TF Serving, as plain data (tested without Pulumi).

Only two calls are forwarded to the pods: the prediction (`POST /v1/models/<model>:predict`) and
the model status (`GET /v1/models/<model>`, what Route 53 and the target group probe). Every
other method and path, `/v1/models/<model>/metadata` and any metrics path included, gets the
listener's fixed 404 and never reaches TF Serving. ALB path patterns are case-sensitive and
match the path only (Elastic Load Balancing User Guide, "Listener rules for your Application
Load Balancer", path conditions); TF Serving matches `(?i)/v1/.*` case-insensitively
(tensorflow_serving/model_servers/http_rest_api_util.h), so a case variant is a 404 at the balancer.

Clients use HTTPS on 443 when a certificate is configured; only a stack without one (dev)
listens on HTTP 80, and the plan says so.
"""

from __future__ import annotations

import re

from recsys_dr.components.serving.manifests import REST_PORT, TLS_POLICY, model_status_path

HTTP_PORT = 80
HTTPS_PORT = 443
PREDICT_METHOD = "POST"
STATUS_METHOD = "GET"
# TF Serving's REST status handler answers 200 with the versions' states once the model is known
# (http_rest_api_handler.cc, ProcessModelStatusRequest), and tensorflow_model_server opens its
# REST port only after the initial version loaded (server.cc waits for the models to be
# available before it builds the HTTP server): a 200 means AVAILABLE.
HEALTHY_STATUS = "200"
# ALB path patterns: at most 128 characters of A-Z a-z 0-9 _ - . $ / ~ " ' @ : + & * ?
# ("Path conditions", Elastic Load Balancing User Guide); `*` and `?` are wildcards.
PATH_PATTERN = re.compile(r"^[A-Za-z0-9_\-.$/~\"'@:+&]{1,128}$")
NOT_FOUND = {"content_type": "text/plain", "message_body": "not found", "status_code": "404"}
# Target group health check: fast enough that a new pod's readiness gate opens within seconds
# (the gate waits for "healthy" in the target group), tolerant of one slow answer.
HEALTH_CHECK = {"interval": 10, "timeout": 5, "healthy_threshold": 2, "unhealthy_threshold": 2}
# How long the balancer lets in-flight requests finish on a deregistered pod; below the pod's
# terminationGracePeriodSeconds (30), so TF Serving is still up while the balancer drains it.
DEREGISTRATION_DELAY_SECONDS = 20
# Load balancer and target group names are at most 32 characters and unique per account and
# region (ELB API reference, CreateLoadBalancer / CreateTargetGroup `Name`); a `name_prefix` (at
# most 6 characters) lets the provider add a unique suffix, so a replacement can create the new
# one before deleting the old (a target group in use by a listener cannot be deleted first).
NAME_PREFIX = "rdr-"


def predict_path(model_name: str) -> str:
    return f"{model_status_path(model_name)}:predict"


def forwarded_routes(model_name: str) -> list[tuple[str, str]]:
    """(method, exact path) of every call the balancer forwards, in rule order."""
    return [(PREDICT_METHOD, predict_path(model_name)), (STATUS_METHOD, model_status_path(model_name))]


def listener_rules(model_name: str) -> list[dict]:
    """Forwarding rules (priority, conditions); the action is the target group, added by the component."""
    rules = []
    for priority, (method, path) in enumerate(forwarded_routes(model_name), start=1):
        if not PATH_PATTERN.match(path):
            raise ValueError(f"model name {model_name!r} makes the path {path!r}, which an ALB path pattern cannot hold")
        rules.append({
            "priority": priority * 10,
            "conditions": [{"path_pattern": {"values": [path]}}, {"http_request_method": {"values": [method]}}],
        })
    return rules


def listener(*, tls_certificate_arn: str | None) -> dict:
    """The one client listener: HTTPS 443 with the certificate, else plain HTTP 80; 404 by default."""
    tls = {"protocol": "HTTPS", "port": HTTPS_PORT, "certificate_arn": tls_certificate_arn, "ssl_policy": TLS_POLICY} \
        if tls_certificate_arn else {"protocol": "HTTP", "port": HTTP_PORT}
    return {**tls, "default_actions": [{"type": "fixed-response", "fixed_response": dict(NOT_FOUND)}]}


def client_port(*, tls: bool) -> int:
    return HTTPS_PORT if tls else HTTP_PORT


def target_group(model_name: str) -> dict:
    """Pod IPs on TF Serving's REST port, probed on the model's status path."""
    return {
        "target_type": "ip",
        "protocol": "HTTP",
        "port": REST_PORT,
        "deregistration_delay": DEREGISTRATION_DELAY_SECONDS,
        # GPU requests vary in cost: send each to the target with the fewest in flight.
        "load_balancing_algorithm_type": "least_outstanding_requests",
        "health_check": {
            "enabled": True, "protocol": "HTTP", "port": "traffic-port", "path": model_status_path(model_name),
            "matcher": HEALTHY_STATUS, **HEALTH_CHECK,
        },
    }


def registration_seconds() -> int:
    """Longest a ready pod waits to be healthy in the target group (its readiness gate)."""
    return HEALTH_CHECK["interval"] * HEALTH_CHECK["healthy_threshold"]
