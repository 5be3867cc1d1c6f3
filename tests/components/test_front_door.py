"""The front door's rules as tested invariants: request size, web ACL, listener rules, target group.

Each behaviour of a real system is checked against that system's own definition where one is
available offline (botocore's WAFv2 and ELBv2 service models), otherwise against a small model
of its documented semantics, cited beside it.
"""

from __future__ import annotations

import fnmatch
import json
import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from recsys_dr.components.serving import balancer, request_size
from recsys_dr.components.serving.manifests import REST_PORT, TLS_POLICY
from recsys_dr.components.serving.web_acl import web_acl_rules
from recsys_dr.components.settings.serving import RATE_WINDOWS, WafSettings

MODEL = "recommender"
STATUS, PREDICT = f"/v1/models/{MODEL}", f"/v1/models/{MODEL}:predict"
# TF Serving's Prometheus endpoint, served on the REST port once a monitoring config enables it
# (tensorflow_serving/config/monitoring_config.proto, PrometheusConfig.path default).
METRICS_PATH = "/monitoring/prometheus/metrics"


def wafv2():
    return botocore.session.get_session().get_service_model("wafv2")


# --- request size and the body limit ---------------------------------------------------------------

def real_request(rows: int, history_length: int, item_id_bytes: int, query_bytes: int, form: str) -> bytes:
    """A request a client would send, with strings at their longest (compact JSON)."""
    rows_data = [{"query": "é" * (query_bytes // 6), "history": ["x" * item_id_bytes] * history_length} for _ in range(rows)]
    body = ({"signature_name": "serving_default", "instances": rows_data} if form == "row" else
            {"signature_name": "serving_default", "inputs": {"query": [r["query"] for r in rows_data],
                                                            "history": [r["history"] for r in rows_data]}})
    return json.dumps(body, separators=(",", ":")).encode()  # ensure_ascii: "é" is sent as 6 bytes


@pytest.mark.parametrize("form", ["row", "columnar"])
@pytest.mark.parametrize("rows", [1, 7, 64])
def test_the_size_bound_holds_for_real_requests_in_either_json_form(form, rows):
    bound = request_size.request_body_bytes(rows=rows, history_length=20, item_id_bytes=32, query_bytes=256)
    assert len(real_request(rows, 20, 32, 252, form)) <= bound


def test_the_limit_admits_the_most_rows_that_fit_and_never_more_than_waf_sees():
    shape = {"history_length": 20, "item_id_bytes": 32, "query_bytes": 256}
    rows = request_size.rows_admitted(max_batch=64, **shape)
    assert rows == 8
    assert request_size.request_body_bytes(rows=rows, **shape) <= request_size.WAF_ALB_BODY_LIMIT
    assert request_size.request_body_bytes(rows=rows + 1, **shape) > request_size.WAF_ALB_BODY_LIMIT
    assert request_size.body_limit(max_batch=64, **shape) == 8192
    # A model that takes fewer rows than fit is limited to its own largest request.
    small = request_size.body_limit(max_batch=2, **shape)
    assert small == request_size.request_body_bytes(rows=2, **shape) < 8192
    assert request_size.rows_admitted(max_batch=2, **shape) == 2


def test_a_history_whose_one_row_request_cannot_pass_the_web_acl_is_refused():
    problems = request_size.request_size_problems("model.historyLength", history_length=300, item_id_bytes=32, query_bytes=256)
    assert len(problems) == 1 and "10831 bytes" in problems[0] and "8192" in problems[0]
    # A few hundred ids fit when the ids are short.
    assert request_size.request_size_problems("model.historyLength", history_length=300, item_id_bytes=12, query_bytes=256) == []


# --- the web ACL ----------------------------------------------------------------------------------

def acl_rules(**overrides) -> list[dict]:
    settings = {"model_name": MODEL, "body_limit": 8192, "rate_limit": 60_000, "rate_window_seconds": 300,
                "common_rule_set": "count", "metric_prefix": "front-door"}
    return web_acl_rules(**{**settings, **overrides})


def shape_problems(value, shape, path="") -> list[str]:
    """Enum and range checks botocore's ParamValidator leaves out (it checks types and required keys)."""
    problems = []
    if shape.type_name == "structure":
        for key, member in shape.members.items():
            if isinstance(value, dict) and key in value:
                problems += shape_problems(value[key], member, f"{path}.{key}")
    elif shape.type_name == "list":
        problems += [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{path}[{i}]")]
    elif getattr(shape, "enum", None) and value not in shape.enum:
        problems.append(f"{path}: {value!r} not in {shape.enum}")
    elif shape.type_name in ("integer", "long"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"{path}: {value} outside {low}..{high}")
    return problems


@pytest.mark.parametrize("mode", ["count", "block"])
def test_the_acl_is_a_valid_wafv2_create_request(mode):
    operation = wafv2().operation_model("CreateWebACL")
    params = {"Name": "acl", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}}, "Rules": acl_rules(common_rule_set=mode),
              "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "acl"}}
    report = ParamValidator().validate(params, operation.input_shape)
    assert not report.has_errors(), report.generate_report()
    assert shape_problems(params, operation.input_shape) == []


def test_the_shape_check_would_catch_a_misspelt_oversize_handling():
    operation = wafv2().operation_model("CreateWebACL")
    rules = acl_rules()
    rules[1]["Statement"]["SizeConstraintStatement"]["FieldToMatch"]["Body"]["OversizeHandling"] = "BLOCK"
    assert shape_problems({"Rules": rules}, operation.input_shape)


def test_rate_settings_are_what_waf_accepts():
    limit = wafv2().shape_for("RateLimit").metadata
    field = WafSettings.model_fields["rate_limit"].metadata
    assert {"ge": limit["min"], "le": limit["max"]} == {m.__class__.__name__.lower(): getattr(m, m.__class__.__name__.lower())
                                                         for m in field}
    # RateBasedStatement.EvaluationWindowSec: "60 (1 minute), 120, 300, 600" (AWS WAF API reference).
    assert RATE_WINDOWS == (60, 120, 300, 600)


def matches(statement: dict, request: dict) -> bool:
    """The subset of WAF statements the ACL uses, as WAF evaluates them (AWS WAF Developer Guide,
    "Rule statements"): ByteMatch EXACTLY compares the whole field; SizeConstraint on a body larger
    than the inspected 8 KB applies OversizeHandling; rate-based matches once the source IP is over
    the limit in the window; a managed group matches when one of its rules would."""
    if "AndStatement" in statement:
        return all(matches(s, request) for s in statement["AndStatement"]["Statements"])
    if "ByteMatchStatement" in statement:
        byte = statement["ByteMatchStatement"]
        field = {"Method": request["method"], "UriPath": request["path"]}[next(iter(byte["FieldToMatch"]))]
        assert byte["PositionalConstraint"] == "EXACTLY"
        return field == byte["SearchString"]
    if "SizeConstraintStatement" in statement:
        size = statement["SizeConstraintStatement"]
        body = len(request.get("body", b""))
        if body > request_size.WAF_ALB_BODY_LIMIT:
            return size["FieldToMatch"]["Body"]["OversizeHandling"] == "MATCH"
        return {"GT": body > size["Size"]}[size["ComparisonOperator"]]
    if "RateBasedStatement" in statement:
        return request["ip_requests_in_window"] > statement["RateBasedStatement"]["Limit"]
    if "ManagedRuleGroupStatement" in statement:
        return request.get("common_rule_set_match", False)
    raise AssertionError(f"statement not modelled: {statement}")


def evaluate(rules: list[dict], request: dict) -> str:
    """Allow or Block: the first matching rule whose action terminates, in priority order; Count and
    a managed group in count mode do not terminate; the default action is Allow."""
    for rule in sorted(rules, key=lambda r: r["Priority"]):
        if not matches(rule["Statement"], request):
            continue
        if "OverrideAction" in rule:
            if "None" in rule["OverrideAction"]:  # the group's own rules act: they block
                return "Block"
            continue
        action = next(iter(rule["Action"]))
        if action in ("Allow", "Block"):
            return action
    return "Allow"


def health_check(**extra) -> dict:
    """A Route 53 checker probing the status path through the listener, from one IP."""
    return {"method": "GET", "path": STATUS, "ip_requests_in_window": 10**9, "common_rule_set_match": True, **extra}


@pytest.mark.parametrize("mode", ["count", "block"])
def test_health_checks_reach_the_endpoint_through_the_acl_whatever_their_rate(mode):
    # Even over the rate limit and flagged by a managed rule, the status check is allowed first.
    assert evaluate(acl_rules(common_rule_set=mode, rate_limit=10), health_check()) == "Allow"


def test_only_the_exact_status_get_is_exempt():
    rules = acl_rules(rate_limit=10)
    for request in (health_check(method="POST"), health_check(path=STATUS.upper()), health_check(path=STATUS + "/metadata")):
        assert evaluate(rules, request) == "Block", request


def test_an_oversize_or_too_large_body_is_blocked_and_a_fitting_one_passes():
    rules = acl_rules(body_limit=4000)
    predict = {"method": "POST", "path": PREDICT, "ip_requests_in_window": 1}
    assert evaluate(rules, {**predict, "body": b"x" * 4000}) == "Allow"
    assert evaluate(rules, {**predict, "body": b"x" * 4001}) == "Block"
    # Past the 8 KB WAF inspects, MATCH blocks whatever the limit.
    assert evaluate(acl_rules(body_limit=8192), {**predict, "body": b"x" * 100_000}) == "Block"


def test_the_rate_rule_blocks_one_ip_over_the_limit_and_the_common_rules_block_only_in_block_mode():
    predict = {"method": "POST", "path": PREDICT, "body": b"{}"}
    assert evaluate(acl_rules(rate_limit=100), {**predict, "ip_requests_in_window": 101}) == "Block"
    assert evaluate(acl_rules(rate_limit=100), {**predict, "ip_requests_in_window": 100}) == "Allow"
    flagged = {**predict, "ip_requests_in_window": 1, "common_rule_set_match": True}
    assert evaluate(acl_rules(common_rule_set="count"), flagged) == "Allow"
    assert evaluate(acl_rules(common_rule_set="block"), flagged) == "Block"


# --- listener rules and the target group ------------------------------------------------------------

def alb_path_matches(pattern: str, path: str) -> bool:
    """ALB path conditions: case-sensitive, `*` any characters, `?` exactly one, against the path
    only (Elastic Load Balancing User Guide, "Path conditions")."""
    return fnmatch.fnmatchcase(path, pattern.replace("[", "[[]"))


def forwarded(method: str, path: str) -> bool:
    for rule in balancer.listener_rules(MODEL):
        conditions = {next(iter(c)): next(iter(c.values()))["values"] for c in rule["conditions"]}
        if method in conditions["http_request_method"] and any(alb_path_matches(p, path) for p in conditions["path_pattern"]):
            return True
    return False


def test_only_the_prediction_and_the_status_call_are_forwarded():
    assert forwarded("POST", PREDICT) and forwarded("GET", STATUS)
    refused = [("GET", PREDICT), ("POST", STATUS), ("GET", f"{STATUS}/metadata"), ("GET", METRICS_PATH),
               ("POST", f"{STATUS}/versions/1:predict"), ("POST", f"{STATUS}:classify"), ("GET", STATUS.upper()),
               ("GET", "/v1/models/other"), ("GET", "/"), ("DELETE", STATUS)]
    assert [call for call in refused if forwarded(*call)] == []


def test_no_rule_forwards_the_metrics_path_in_any_case():
    for variant in (METRICS_PATH, METRICS_PATH.upper(), "/monitoring/prometheus/metrics/"):
        assert not any(forwarded(method, variant) for method in ("GET", "POST"))


def test_everything_else_gets_the_listeners_fixed_404():
    for tls in (None, "arn:aws:acm:us-east-1:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666"):
        [action] = balancer.listener(tls_certificate_arn=tls)["default_actions"]
        assert action == {"type": "fixed-response", "fixed_response": {"content_type": "text/plain", "message_body": "not found",
                                                                       "status_code": "404"}}


def test_clients_get_https_only_with_a_certificate_and_a_modern_tls_policy():
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666"
    assert balancer.listener(tls_certificate_arn=arn) | {"default_actions": None} == {
        "protocol": "HTTPS", "port": 443, "certificate_arn": arn, "ssl_policy": TLS_POLICY, "default_actions": None}
    assert balancer.listener(tls_certificate_arn=None)["protocol"] == "HTTP"
    # TLS 1.2 and 1.3 only (ELB security policies: the TLS13-1-2 family).
    assert TLS_POLICY.startswith("ELBSecurityPolicy-TLS13-1-2-")


def test_paths_are_what_an_alb_path_pattern_accepts():
    long_name = "m" * 63  # the longest model name the settings allow
    for rule in balancer.listener_rules(long_name):
        (path,) = rule["conditions"][0]["path_pattern"]["values"]
        assert balancer.PATH_PATTERN.match(path) and len(path) <= 128
        assert "*" not in path and "?" not in path  # no wildcard: exact paths only


def test_rule_priorities_are_unique_and_in_elbs_range():
    priorities = [r["priority"] for r in balancer.listener_rules(MODEL)]
    assert len(set(priorities)) == len(priorities) and all(1 <= p <= 50_000 for p in priorities)


def test_target_group_probes_the_status_path_for_200_on_the_pods_rest_port():
    """TF Serving answers GET /v1/models/<m> with 200 once the model loaded (http_rest_api_handler.cc
    ProcessModelStatusRequest; the REST port opens after loading), and the target group checks the
    port it sends traffic to."""
    group = balancer.target_group(MODEL)
    assert (group["target_type"], group["protocol"], group["port"]) == ("ip", "HTTP", REST_PORT)
    check = group["health_check"]
    assert (check["path"], check["matcher"], check["port"]) == (STATUS, "200", "traffic-port")
    assert forwarded("GET", check["path"])  # the same call Route 53 makes through the listener


def test_target_group_values_are_what_elbv2_accepts():
    shapes = botocore.session.get_session().get_service_model("elbv2").operation_model("CreateTargetGroup").input_shape.members
    group, check = balancer.target_group(MODEL), balancer.target_group(MODEL)["health_check"]
    assert group["target_type"] in shapes["TargetType"].enum and group["protocol"] in shapes["Protocol"].enum
    for key, shape in (("interval", "HealthCheckIntervalSeconds"), ("timeout", "HealthCheckTimeoutSeconds"),
                       ("healthy_threshold", "HealthyThresholdCount"), ("unhealthy_threshold", "UnhealthyThresholdCount")):
        bounds = shapes[shape].metadata
        assert bounds["min"] <= check[key] <= bounds["max"], key
    assert check["timeout"] < check["interval"]  # ELB refuses a timeout not below the interval
    assert re.fullmatch(r"[a-zA-Z0-9-]{1,6}", balancer.NAME_PREFIX)  # name_prefix: at most 6 characters


# --- the rendered front doors -----------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_serving_balancer_has_its_regions_web_acl(rendered_stacks, env):
    run = rendered_stacks[env]
    acls = {a.outputs["arn"]: a for a in run.of_type("aws:wafv2/webAcl:WebAcl")}
    associations = {a.inputs["resourceArn"]: a for a in run.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")}
    for alb in run.of_type("aws:lb/loadBalancer:LoadBalancer"):
        association = associations[alb.outputs["arn"]]
        acl = acls[association.inputs["webAclArn"]]
        assert acl.inputs["scope"] == "REGIONAL"
        assert acl.inputs["region"] == association.inputs["region"] == alb.inputs["region"]
        assert acl.inputs["defaultAction"] == {"allow": {}}
        assert [r["Name"] for r in json.loads(acl.inputs["ruleJson"])] == ["status-check", "body-size", "rate-per-ip", "aws-common"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_clients_have_one_listener_https_in_prod_http_only_in_dev(rendered_stacks, env):
    listeners = rendered_stacks[env].of_type("aws:lb/listener:Listener")
    assert len(listeners) == 3  # the two GPU regions' and the fallback tier's
    expected = {"dev": (80, "HTTP"), "prod": (443, "HTTPS")}[env]
    assert {(listener.inputs["port"], listener.inputs["protocol"]) for listener in listeners} == {expected}


def test_the_serving_namespace_asks_for_readiness_gates(rendered_stacks):
    for namespace in rendered_stacks["prod"].of_type("kubernetes:core/v1:Namespace"):
        assert namespace.inputs["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_the_binding_targets_its_regions_target_group_in_its_vpc(rendered_stacks):
    run = rendered_stacks["prod"]
    bindings = run.of_type("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")
    assert len(bindings) == 6  # per tier: the stable pods in the stable and (no candidate) the canary group
    for binding in bindings:
        tier = next(t for t in ("primary", "standby", "fallback") if f"-{t}-" in binding.name)
        suffix = "-canary" if binding.name.endswith("-canary-rest-binding") else "-targets"
        group = next(g for g in run.of_type("aws:lb/targetGroup:TargetGroup") if f"-{tier}-" in g.name and g.name.endswith(suffix))
        assert binding.inputs["spec"]["targetGroupARN"] == group.outputs["arn"]
        assert binding.inputs["spec"]["vpcID"] == group.inputs["vpcId"]
