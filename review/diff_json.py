"""The JSON form of a plan diff (`recsys-dr diff --format json`): summary, changes, hazards, estimate."""

from __future__ import annotations

import json
from typing import Any

from recsys_dr.review.diff import ACTIONS, PlanDiff
from recsys_dr.review.diff_render import dr_change_line


def render_json(diff: PlanDiff) -> str:
    """The diff as JSON: `summary` {create, update, replace, delete}, `changes`, `hazards`, ..."""
    document = {
        "environment": diff.head_environment,
        "baseEnvironment": diff.base_environment,
        "summary": {action: diff.count(action) for action in ACTIONS},
        "changes": [c.as_dict() for c in diff.resources],
        "ignored": [c.as_dict() for c in diff.ignored],
        "hazards": diff.hazards,
        "pins": diff.pins,
        "estimate": {"base": _estimate_brief(diff.base_estimate), "head": _estimate_brief(diff.head_estimate),
                     "change": dr_change_line(diff)},
        "outputs": [p.as_dict() for p in diff.outputs],
        "secretsChanged": diff.secrets_changed,
        "policy": {"newViolations": diff.new_violations, "resolvedViolations": diff.resolved_violations,
                   "mandatoryViolations": diff.head_policy.get("mandatoryViolations", 0)},
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _estimate_brief(estimate: dict[str, Any]) -> dict[str, Any]:
    cost = estimate.get("monthlyCostUsd") or {}
    return {
        "monthlyCostUsd": {role: cost.get(role) for role in ("primary", "standby", "global", "total")},
        "rtoSeconds": estimate.get("rtoSeconds"),
        "rpoSeconds": estimate.get("rpoSeconds"),
        "standbyMode": estimate.get("standbyMode"),
        "standbyCapacityPercent": estimate.get("standbyCapacityPercent"),
        "unpriced": cost.get("unpriced", []),
    }
