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

Releases (docs/releases.md): each forwarding rule spreads requests over two target groups, the
stable pods' and the canary's, by weight. Pulumi sets the weights when it creates a rule (all to
the stable group) and then ignores them (`WEIGHTS_OWNED_BY_RELEASE`): `recsys-dr release` moves
them with ELB's ModifyRule. While a candidate is pinned, two more rules send requests carrying
`CANDIDATE_HEADER: <candidate version>` to the canary group only: the golden requests reach the
candidate through the live endpoint before it gets any share of the traffic.
"""

from __future__ import annotations

import re

from recsys_dr.components.serving.manifests import REST_PORT, TLS_POLICY, model_status_path
from recsys_dr.policy.rules.balancer import forward_weight_problems

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


# Rules are evaluated lowest priority first (ELB API reference, CreateRule `Priority`, 1 to 50000):
# the candidate's header rules come before the routes every client uses.
ROUTE_PRIORITY_BASE = 100
CANDIDATE_PRIORITY_BASE = 0
CANDIDATE_HEADER = "x-recsys-dr-candidate"
# Weights of a rule at rest: everything to the stable group (the release tool moves them in
# percent, so a share of p % is stable 100 - p, canary p).
REST_WEIGHTS = (100, 0)
# Pulumi's ignoreChanges resets this path in the new inputs to the old ones before diffing
# (pulumi pkg/resource/deploy/step_generator.go `processIgnoreChanges`, PropertyPath.Reset in
# sdk/go/common/resource/properties_path.go). Reset neither adds nor removes array elements and
# fails the update ("cannot ignore changes ... one or more elements of the path are missing")
# when the old and new arrays differ in length or an intermediate key exists on one side only;
# so the forward action always lists exactly the two groups, in this order, in both eras.
WEIGHTS_OWNED_BY_RELEASE = "actions[0].forward.targetGroups[*].weight"


def predict_path(model_name: str) -> str:
    return f"{model_status_path(model_name)}:predict"


def forwarded_routes(model_name: str) -> list[tuple[str, str]]:
    """(method, exact path) of every call the balancer forwards, in rule order."""
    return [(PREDICT_METHOD, predict_path(model_name)), (STATUS_METHOD, model_status_path(model_name))]


def listener_rules(model_name: str) -> list[dict]:
    """Forwarding rules (priority, conditions); the action (`weighted_forward`) is added by the component."""
    rules = []
    for index, (method, path) in enumerate(forwarded_routes(model_name), start=1):
        if not PATH_PATTERN.match(path):
            raise ValueError(f"model name {model_name!r} makes the path {path!r}, which an ALB path pattern cannot hold")
        rules.append({
            "priority": ROUTE_PRIORITY_BASE + index * 10,
            "conditions": [{"path_pattern": {"values": [path]}}, {"http_request_method": {"values": [method]}}],
        })
    return rules


def candidate_rules(model_name: str, candidate_version: int) -> list[dict]:
    """The same routes for requests carrying `CANDIDATE_HEADER: <version>`, ahead of every other rule.

    An http-header condition matches its values case-insensitively, with `*` and `?` as wildcards,
    and a header name of at most 40 characters (ELB API reference, HttpHeaderConditionConfig); a
    version is digits only, so the value matches itself alone.
    """
    header = {"http_header": {"http_header_name": CANDIDATE_HEADER, "values": [str(candidate_version)]}}
    return [{"priority": CANDIDATE_PRIORITY_BASE + index, "conditions": [*rule["conditions"], header]}
            for index, rule in enumerate(listener_rules(model_name), start=1)]


def weighted_forward(stable_group: object, canary_group: object, weights: tuple[int, int] = REST_WEIGHTS) -> list[dict]:
    """The forward action over the stable and the canary target groups (pulumi-aws input shape)."""
    problems = forward_weight_problems([("stable", weights[0]), ("canary", weights[1])])
    if problems:
        raise ValueError("; ".join(problems))
    return [{"type": "forward", "forward": {"target_groups": [
        {"arn": stable_group, "weight": weights[0]}, {"arn": canary_group, "weight": weights[1]}]}}]


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
