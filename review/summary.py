"""Human summary of a plan, printed with `rich` tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

GLOBAL = "global"


def _region_order(regions: list[str]) -> list[str]:
    return sorted(r for r in regions if r != GLOBAL) + ([GLOBAL] if GLOBAL in regions else [])


def short_kind(type_token: str) -> str:
    """`aws:s3/bucketVersioning:BucketVersioning` -> `aws:s3:BucketVersioning`; others unchanged."""
    parts = type_token.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        module, leaf = parts[1].split("/", 1)
        if leaf.lower() == parts[2].lower():
            return f"{parts[0]}:{module}:{parts[2]}"
    return type_token


def resources_table(document: dict[str, Any]) -> Table:
    """Resources per kind (rows) and region (columns), custom resources only."""
    by_region: dict[str, dict[str, int]] = document["summary"]["byRegion"]
    regions = _region_order(list(by_region))
    kinds = sorted({kind for counts in by_region.values() for kind in counts})
    table = Table(title=f"Resources of {document['environment']} by kind and region", title_justify="left")
    table.add_column("kind", overflow="fold")
    for region in regions:
        table.add_column(region, justify="right")
    table.add_column("total", justify="right", style="bold")
    for kind in kinds:
        counts = [by_region[region].get(kind, 0) for region in regions]
        table.add_row(short_kind(kind), *[str(c) if c else "·" for c in counts], str(sum(counts)))
    totals = [sum(by_region[region].values()) for region in regions]
    table.add_section()
    table.add_row("all resources", *[str(t) for t in totals], str(sum(totals)), style="bold")
    return table


def deployment_table(document: dict[str, Any]) -> Table:
    """Model version, standby mode and failover budget, from the stack outputs."""
    summary = document["summary"]
    table = Table(title="Deployment", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    model = summary.get("model") or {}
    table.add_row("environment", str(document["environment"]))
    table.add_row("model", f"{model.get('name', '?')} v{model.get('version', '?')}" if model else "not exported")
    table.add_row("standby mode", str(summary.get("standbyMode") or "not exported"))
    table.add_row("failover control", str(summary.get("failoverControl") or "not exported"))
    budget = summary.get("failoverBudgetSeconds")
    target = summary.get("failoverBudgetTargetSeconds")
    dns = summary.get("dns") or {}
    if budget is not None:
        detail = ""
        if {"healthCheckIntervalSeconds", "failureThreshold", "ttl"} <= set(dns):
            detail = f" ({dns['healthCheckIntervalSeconds']} s x {dns['failureThreshold']} checks + TTL {dns['ttl']} s)"
        verdict = ""
        if isinstance(target, (int, float)) and isinstance(budget, (int, float)):
            verdict = f"; [green]within the {target} s target[/]" if budget <= target else f"; [red]ABOVE the {target} s target[/]"
        table.add_row("failover budget", f"{budget} s{detail}{verdict}")
    else:
        table.add_row("failover budget", "not exported")
    if dns.get("recordName"):
        table.add_row("DNS record", str(dns["recordName"]))
    regions = (document.get("outputs") or {}).get("regions") or {}
    for role in sorted(regions):
        info = regions[role] if isinstance(regions[role], dict) else {}
        scaling = info.get("gpuScaling") or {}
        if {"minSize", "desiredSize", "maxSize"} <= set(scaling):
            reservation = info.get("capacityReservation")
            reserved = (f"; reserved: {reservation.get('instanceCount')} x {reservation.get('instanceType')} "
                        f"({reservation.get('type')}, {reservation.get('availabilityZone')})") if isinstance(reservation, dict) else ""
            table.add_row(f"{role} GPU nodes", f"{info.get('region', '?')}: min {scaling['minSize']}, "
                          f"desired {scaling['desiredSize']}, max {scaling['maxSize']}{reserved}")
    fallback = (document.get("outputs") or {}).get("fallback")
    if isinstance(fallback, dict):
        model, serving = fallback.get("model") or {}, fallback.get("serving") or {}
        table.add_row("fallback tier", f"{fallback.get('region', '?')}: {model.get('name', '?')} v{model.get('version', '?')} "
                      f"on CPU, {serving.get('minReplicas', '?')}-{serving.get('maxReplicas', '?')} pods; DNS answers it "
                      f"when both GPU tiers are down, within {fallback.get('budget', '?')}")
    else:
        table.add_row("fallback tier", "[yellow]none[/]: recommendations go blank while both GPU tiers are down")
    return table


def estimate_table(document: dict[str, Any]) -> Table:
    """The DR estimate: monthly cost per role and item, RTO, RPO, standby capacity."""
    from recsys_dr.review.estimate import cost_text, estimate, usd
    from recsys_dr.review.pictures import PHASES

    e = document.get("estimate") or estimate(document)
    cost = e["monthlyCostUsd"]
    table = Table(title=f"DR estimate (on-demand list prices of {e['pricesAsOf']})", title_justify="left")
    table.add_column("role")
    table.add_column("item")
    table.add_column("USD/month", justify="right")
    for item in cost["items"]:
        table.add_row(item["role"], item["item"], usd(item["monthlyUsd"]))
    table.add_section()
    for role in ("primary", "standby", "global"):
        table.add_row(role, "subtotal", cost_text(cost, role), style="bold")
    if cost.get("fallback"):
        table.add_row("fallback", "of which the fallback tier", usd(cost["fallback"]))
    table.add_row("all", "total, a lower bound" if cost.get("unpriced") else "total", cost_text(cost), style="bold")
    for note in cost.get("unpriced") or []:
        table.add_row("[yellow]unpriced[/]", note, "?")
    table.add_section()
    rto = e["rtoSeconds"]
    seconds = lambda v: f"{v} s" if isinstance(v, int) else "n/a"  # noqa: E731
    steps = rto.get("activationSteps") or {}
    named = [f"{label} {steps[key]} s" for key, label in PHASES if steps.get(key)]
    detail = f" ({' + '.join(named)})" if named else ""
    capacity = {"reserved": "; capacity reserved", "not guaranteed": "; [red]capacity not guaranteed[/]"}.get(rto.get("capacity"), "")
    table.add_row("RTO", f"DNS budget {seconds(rto['dnsBudget'])} + standby activation "
                  f"{seconds(rto['standbyActivation'])}{detail}{capacity}", seconds(rto["total"]))
    if e.get("fallbackSeconds") is not None:
        table.add_row("fallback", "both GPU tiers down: two detections + TTL", seconds(e["fallbackSeconds"]))
    table.add_row("RPO", e.get("rpoBasis", ""), seconds(e.get("rpoSeconds")))
    capacity = e.get("standbyCapacityPercent")
    table.add_row("standby", f"{e['standbyMode']}: {e['gpus']['standby']} of {e['gpus']['primary']} primary GPUs running",
                  f"{capacity} %" if capacity is not None else "n/a")
    return table


def policy_summary(document: dict[str, Any]) -> Group:
    """Policy results: one line when every rule passes, else a line per violation with its message
    indented under it (a four-column table cannot hold the messages in 80 columns)."""
    policy = document["policy"]
    violations = policy["violations"]
    rules = f"Policy pack {escape(policy['pack'])} ({len(policy['rules'])} rules)"
    if not violations:
        return Group(Text.from_markup(f"[bold]{rules}[/]: [green]no violations[/]"))
    title = f"[bold]{rules}[/]: {policy['mandatoryViolations']} mandatory, {policy['advisoryViolations']} advisory violations"
    parts: list[Any] = [Text.from_markup(title)]
    for v in violations:
        level = "[red]mandatory[/]" if v["enforcement"] == "mandatory" else "[yellow]advisory[/]"
        resource = escape((v["urn"] or "(stack)").split("::")[-1])
        parts.append(Text.from_markup(f"  {level} {escape(v['rule'])} on {resource}"))
        parts.append(Padding(Text(v["message"]), (0, 0, 0, 6)))
    return Group(*parts)


def rto_chart(document: dict[str, Any], width: int) -> Table | None:
    """The RTO budget as a text Gantt: one bar per phase (detection, TTL, each activation phase),
    placed where it starts; None when the budget is unknown."""
    from recsys_dr.review.estimate import estimate
    from recsys_dr.review.pictures import rto_phases

    e = document.get("estimate") or estimate(document)
    phases = rto_phases(e, (document.get("outputs") or {}).get("dns"))
    total = sum(seconds for _, _, seconds in phases)
    if not phases or not total:
        return None
    label = max(len(phase) for _, phase, _ in phases)
    bar = max(10, width - label - 14)
    table = Table(title=f"RTO budget: {total} s", title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column("phase")
    table.add_column("bar", no_wrap=True)
    table.add_column("s", justify="right")
    start = 0
    for section, phase, seconds in phases:
        begin, end = round(bar * start / total), round(bar * (start + seconds) / total)
        colour = "cyan" if section == "DNS failover" else "magenta"
        table.add_row(phase, " " * begin + f"[{colour}]" + "█" * max(1, end - begin) + "[/]", f"{seconds} s")
        start += seconds
    return table


def print_summary(document: dict[str, Any], console: Console, *, warnings: list[str] | None = None) -> None:
    console.print(deployment_table(document))
    console.print(resources_table(document))
    console.print(estimate_table(document))
    chart = rto_chart(document, console.width)
    if chart is not None:
        console.print(chart)
    console.print(policy_summary(document))
    for warning in warnings or []:
        console.print(Text.from_markup("[yellow]warning:[/] ").append(warning))
