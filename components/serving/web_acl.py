"""The web ACL on each serving balancer (AWS WAF v2, REGIONAL), as WAF API JSON (plain data).

Rules are evaluated in priority order and the first matching rule whose action is Allow or
Block ends the evaluation; Count only records (AWS WAF Developer Guide, "Rule action" and
"Processing order of rules and rule groups in a protection pack or web ACL"):

0. `status-check` ALLOW: `GET <status path>`, what Route 53's health checkers send (through the
   listener, so through the ACL), so neither the rate rule nor the managed rules can ever block
   a failover health check. The target group's own checks go from the balancer to the pods
   directly and never meet the ACL.
1. `body-size` BLOCK: a body larger than the model's largest request (`request_size.body_limit`,
   at most the 8 KB WAF can inspect for an ALB); `OversizeHandling: MATCH` treats a body beyond
   what WAF inspects as matching, so anything over 8 KB is blocked too.
2. `rate-per-ip` BLOCK: more than `rate_limit` requests from one source IP per window.
3. `aws-common` AWSManagedRulesCommonRuleSet: with `block` its rules' own actions apply
   (override action None), with `count` (the default) their matches are only counted.

The default action is Allow: the balancer's security group already limits who can connect, and
its listener rules forward only the two calls.
"""

from __future__ import annotations

from recsys_dr.components.serving.balancer import STATUS_METHOD
from recsys_dr.components.serving.manifests import model_status_path

COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
ACL_SCOPE = "REGIONAL"  # an ALB's web ACL is regional (CLOUDFRONT is for distributions)


def visibility(metric: str) -> dict:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": metric}


def _exactly(field: dict, value: str) -> dict:
    return {"ByteMatchStatement": {"FieldToMatch": field, "PositionalConstraint": "EXACTLY", "SearchString": value,
                                   "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}


def status_check_statement(model_name: str) -> dict:
    """`GET /v1/models/<model>`, exactly (case-sensitive, like the listener rule that forwards it)."""
    return {"AndStatement": {"Statements": [
        _exactly({"Method": {}}, STATUS_METHOD),
        _exactly({"UriPath": {}}, model_status_path(model_name)),
    ]}}


def web_acl_rules(*, model_name: str, body_limit: int, rate_limit: int, rate_window_seconds: int,
                  common_rule_set: str, metric_prefix: str) -> list[dict]:
    """The ACL's rules (`aws.wafv2.WebAcl` `rule_json`, the WAF API's `Rule` shape)."""
    return [
        {"Name": "status-check", "Priority": 0, "Action": {"Allow": {}},
         "Statement": status_check_statement(model_name), "VisibilityConfig": visibility(f"{metric_prefix}-status-check")},
        {"Name": "body-size", "Priority": 1, "Action": {"Block": {}},
         "Statement": {"SizeConstraintStatement": {
             "FieldToMatch": {"Body": {"OversizeHandling": "MATCH"}}, "ComparisonOperator": "GT", "Size": body_limit,
             "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}},
         "VisibilityConfig": visibility(f"{metric_prefix}-body-size")},
        {"Name": "rate-per-ip", "Priority": 2, "Action": {"Block": {}},
         "Statement": {"RateBasedStatement": {"Limit": rate_limit, "EvaluationWindowSec": rate_window_seconds,
                                              "AggregateKeyType": "IP"}},
         "VisibilityConfig": visibility(f"{metric_prefix}-rate-per-ip")},
        {"Name": "aws-common", "Priority": 3,
         "OverrideAction": {"None": {}} if common_rule_set == "block" else {"Count": {}},
         "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": COMMON_RULE_SET}},
         "VisibilityConfig": visibility(f"{metric_prefix}-aws-common")},
    ]
