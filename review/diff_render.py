"""What the text, Markdown and JSON forms of a plan diff share: value formatting, the headline,
the DR estimate's rows and change line, the policy lines (`review.diff` computes the diff)."""

from __future__ import annotations

import json
from typing import Any

from recsys_dr.review.diff import ACTIONS, CURRENT, MISSING, UNKNOWN, PlanDiff

MAX_VALUE_CHARS = 80


def value_text(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    if value in (UNKNOWN, CURRENT):
        return value
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def md_code(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_value(value: Any) -> str:
    return f"_{value}_" if value in (UNKNOWN, CURRENT) else md_code(value_text(value))


def headline(diff: PlanDiff) -> tuple[str, str]:
    env = diff.head_environment if diff.base_environment == diff.head_environment else (
        f"{diff.base_environment} → {diff.head_environment}")
    counts = ", ".join(f"{diff.count(a)} to {a}" for a in ACTIONS)
    return env, counts


def seconds(value: Any) -> str:
    return f"{value} s" if isinstance(value, int) else "n/a"


def dr_change_line(diff: PlanDiff) -> str:
    """`+$2,340/month, RTO 150 s -> 60 s` (each part only when it moved; or `no change`)."""
    from recsys_dr.review.estimate import unpriced_count, usd

    base_cost = (diff.base_estimate.get("monthlyCostUsd") or {}).get("total") or 0
    head_cost = (diff.head_estimate.get("monthlyCostUsd") or {}).get("total") or 0
    base_rto = (diff.base_estimate.get("rtoSeconds") or {}).get("total")
    head_rto = (diff.head_estimate.get("rtoSeconds") or {}).get("total")
    parts = []
    delta = round(head_cost - base_cost)
    if delta:
        percent = f" ({(head_cost - base_cost) / base_cost:+.0%})" if base_cost else ""
        parts.append(f"{usd(delta, signed=True)[:-3]}/month{percent}")
    missing = unpriced_count(diff.head_estimate.get("monthlyCostUsd") or {})
    if missing:
        parts.append(f"cost a lower bound ({missing} item{'s' if missing != 1 else ''} unpriced)")
    if base_rto != head_rto:
        parts.append(f"RTO {seconds(base_rto)} -> {seconds(head_rto)}")
    base_rpo, head_rpo = diff.base_estimate.get("rpoSeconds"), diff.head_estimate.get("rpoSeconds")
    if base_rpo != head_rpo:
        parts.append(f"RPO {seconds(base_rpo)} -> {seconds(head_rpo)}")
    base_cap, head_cap = diff.base_estimate.get("standbyCapacityPercent"), diff.head_estimate.get("standbyCapacityPercent")
    if base_cap != head_cap:
        parts.append(f"standby capacity {base_cap if base_cap is not None else 'n/a'} % -> "
                     f"{head_cap if head_cap is not None else 'n/a'} %")
    return ", ".join(parts) or "cost, RTO, RPO and standby capacity unchanged"


def estimate_rows(diff: PlanDiff) -> list[tuple[str, str, str]]:
    """(what, base, head) rows of the DR estimate."""
    from recsys_dr.review.estimate import cost_text

    def cost(e: dict[str, Any], role: str) -> str:
        value = (e.get("monthlyCostUsd") or {}).get(role)
        return cost_text(e["monthlyCostUsd"], role) if isinstance(value, (int, float)) else "n/a"

    b, h = diff.base_estimate, diff.head_estimate
    rows = [(f"monthly cost, {role}", cost(b, role), cost(h, role)) for role in ("primary", "standby", "global", "total")]
    rows += [
        ("RTO (DNS budget + standby activation)",
         *(f"{seconds((e.get('rtoSeconds') or {}).get('total'))} ({seconds((e.get('rtoSeconds') or {}).get('dnsBudget'))}"
           f" + {seconds((e.get('rtoSeconds') or {}).get('standbyActivation'))})" for e in (b, h))),
        ("RPO (replication SLA)", seconds(b.get("rpoSeconds")), seconds(h.get("rpoSeconds"))),
        ("standby mode", str(b.get("standbyMode", "n/a")), str(h.get("standbyMode", "n/a"))),
        ("standby capacity (GPUs vs primary)", *(f"{e.get('standbyCapacityPercent')} %" if e.get("standbyCapacityPercent")
                                                  is not None else "n/a" for e in (b, h))),
    ]
    return rows


def unpriced_notes(diff: PlanDiff) -> list[str]:
    return sorted(set((diff.head_estimate.get("monthlyCostUsd") or {}).get("unpriced") or []))


def policy_lines(diff: PlanDiff, *, markdown: bool) -> list[str]:
    policy = diff.head_policy
    if not policy:
        return []
    bullet = "- " if markdown else "  "
    lines = [""]
    mandatory, advisory = policy.get("mandatoryViolations", 0), policy.get("advisoryViolations", 0)
    status = "passes" if not mandatory else "FAILS"
    lines.append(
        f"{'**Policy**' if markdown else 'Policy'} ({policy.get('pack', '?')}, {len(policy.get('rules', []))} rules): "
        f"head {status} with {mandatory} mandatory and {advisory} advisory violations; "
        f"{len(diff.new_violations)} new, {len(diff.resolved_violations)} resolved."
    )
    for label, items in (("new", diff.new_violations), ("resolved", diff.resolved_violations)):
        for v in items:
            resource = (v.get("urn") or "(stack)").split("::")[-1]
            rule = md_code(v["rule"]) if markdown else v["rule"]
            lines.append(f"{bullet}{label}: [{v.get('enforcement')}] {rule} on {resource}: {v.get('message')}")
    return lines
