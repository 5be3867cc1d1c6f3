"""The individual readiness checks behind `recsys-dr status` (and the failover/drill gates).

Each check returns a `CheckResult`. A result is *blocking* when it concerns the **target**
region's ability to take traffic now (the standby for `status` and `failover --to
standby`, the primary for `failover --to primary`). Facts about the other region are
reported but never block: during a regional outage the primary is expected to be down, and
`status` must still say whether the standby can take over.

A region that does not answer (connection refused, timeout, 5xx) is reported as
"unreachable"; that blocks only when it is the target region, or when the target's own
resource cannot be read. The Route 53 API (us-east-1) being unreachable never blocks: see
`operations.checks.route53`.

Modules: `base` (CheckResult, CheckContext, constants), `storage` (model copies,
versioning, replication), `route53` (health checks, records, budget), `serving` (TF
Serving endpoint through the front door, its target group's health, GPU capacity). Everything is re-exported here.
"""

from recsys_dr.operations.checks.base import (
    NODEGROUP_OK_STATES,
    REPLICATION_PREFIX,
    REPLICATION_RULE_ID,
    ROUTE53_HEALTHY_FRACTION,
    RTC_MINUTES,
    RTC_THRESHOLD_SECONDS,
    CheckContext,
    CheckResult,
    failed_call,
)
from recsys_dr.operations.checks.route53 import check_budget, check_dns_records, check_health, computed_budget_seconds
from recsys_dr.operations.checks.serving import (
    check_capacity,
    check_fallback_serving,
    check_serving,
    check_targets,
    default_http_get,
    default_http_post,
    https_get,
    prediction_request,
    probe_fallback,
    probe_prediction,
    probe_region,
    probe_serving,
    serving_url,
)
from recsys_dr.operations.checks.storage import (
    check_model,
    check_model_parity,
    check_replication_metrics,
    check_replication_rule,
    check_versioning,
    replication_rule_problems,
)
from recsys_dr.operations.errors import error_text, is_unreachable

__all__ = [
    "NODEGROUP_OK_STATES", "REPLICATION_PREFIX", "REPLICATION_RULE_ID", "ROUTE53_HEALTHY_FRACTION", "RTC_MINUTES",
    "RTC_THRESHOLD_SECONDS", "CheckContext", "CheckResult", "check_budget", "check_capacity", "check_dns_records",
    "check_fallback_serving", "default_http_post", "prediction_request", "probe_fallback", "probe_prediction",
    "check_health", "check_model", "check_model_parity", "check_replication_metrics", "check_replication_rule",
    "check_serving", "check_targets", "check_versioning", "https_get", "probe_region", "computed_budget_seconds", "default_http_get", "error_text",
    "failed_call", "is_unreachable", "probe_serving", "replication_rule_problems", "serving_url",
]
