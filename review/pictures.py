"""Mermaid pictures of a plan for people (GitHub renders ```mermaid blocks in PR comments).

* `dr_flow`: how a request reaches a model and how the model reaches each region: clients, the
  DNS record, the primary, standby and fallback front doors (cascade order on the edges), the
  GPU and CPU pools behind them, and the S3 replication between the regions' buckets.
* `rto_gantt`: the recovery-time budget as a Gantt of its phases: detection and TTL (the DNS
  budget), then each phase of a pilot light's activation (`components/cluster/cold_start.py`),
  with the fallback tier's budget beside it.

Both read only the plan's outputs, resources and estimate (deterministic, like the plan).
`review.graph.mermaid` still draws the engine's dependency graph for whoever needs it.
"""

from __future__ import annotations

from typing import Any

from recsys_dr.review.estimate import (
    FALLBACK,
    LOAD_BALANCER,
    NODE_GROUP,
    REPLICATION,
    SERVICE,
    WEB_ACL,
    estimate,
    is_gpu_node_group,
    region_roles,
    tier_of,
)

PHASES = (  # activationSteps key -> what the Gantt calls it
    ("capacityWait", "capacity wait"),
    ("gpuNodeProvisioning", "GPU node"),
    ("imagePull", "image pull"),
    ("modelLoad", "model load"),
)


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def _front_door(resources: list[dict[str, Any]], region: str, fallback: bool) -> str:
    """`ALB + WAF`, `ALB`, `NLB` or `endpoint`: what answers in `region` for the GPU tier or the fallback."""
    mine = [r for r in resources if r.get("region") == region and (tier_of(r) == FALLBACK) == fallback]
    kinds = {r["type"] for r in mine}
    if LOAD_BALANCER in kinds:
        return "ALB + WAF" if WEB_ACL in kinds else "ALB"
    if any(r["type"] == SERVICE and ((r.get("inputs") or {}).get("spec") or {}).get("type") == "LoadBalancer"
           for r in mine):
        return "NLB"
    return "endpoint"


def _gpu_pool(resources: list[dict[str, Any]], region: str, info: dict[str, Any]) -> str:
    groups = [r for r in resources if r.get("region") == region and is_gpu_node_group(r)]
    types = ((groups[0].get("inputs") or {}).get("instanceTypes") or ["?"]) if groups else ["?"]
    scaling = info.get("gpuScaling") or (((groups[0].get("inputs") or {}).get("scalingConfig") or {}) if groups else {})
    if not {"desiredSize", "maxSize"} <= set(scaling):
        return f"GPU pool<br/>{types[0]}"
    zero = " (scales from 0)" if scaling["desiredSize"] == 0 else ""
    return f"GPU pool<br/>{scaling['desiredSize']} of max {scaling['maxSize']} x {types[0]}{zero}"


def dr_flow(document: dict[str, Any]) -> str:
    """Mermaid `flowchart` of the DR path of the plan `document`."""
    outputs = document.get("outputs") or {}
    resources = document.get("resources") or []
    regions: dict[str, Any] = outputs["regions"] if isinstance(outputs.get("regions"), dict) else {}
    by_role = {role: region for region, role in region_roles(document).items()}
    fallback: dict[str, Any] | None = outputs["fallback"] if isinstance(outputs.get("fallback"), dict) else None
    dns: dict[str, Any] = outputs["dns"] if isinstance(outputs.get("dns"), dict) else {}
    control = outputs.get("failoverControl") or "health checks"
    lines = ["flowchart LR", '  clients(["clients"])',
             f'  dns{{"DNS {_label(str(dns.get("recordName") or "record"))}<br/>failover: {_label(str(control))}"}}',
             "  clients --> dns"]
    for role in ("primary", "standby"):
        region = by_role.get(role)
        if region is None:
            continue
        info: dict[str, Any] = regions[role] if isinstance(regions.get(role), dict) else {}
        lines.append(f'  subgraph {role}["{role}: {region}"]')
        lines.append(f'    {role}_door["{_front_door(resources, region, fallback=False)}"]')
        lines.append(f'    {role}_gpu["{_label(_gpu_pool(resources, region, info))}"]')
        lines.append(f'    {role}_bucket[("model bucket")]')
        if fallback and fallback.get("region") == region:
            lines += _fallback_nodes(resources, fallback, indent="    ")
        lines.append("  end")
        lines += [f"  {role}_door --> {role}_gpu", f"  {role}_bucket -. model .-> {role}_gpu"]
    if fallback and fallback.get("region") not in by_role.values():
        lines.append(f'  subgraph fallback_region["fallback: {fallback.get("region", "?")}"]')
        lines += _fallback_nodes(resources, fallback, indent="    ")
        lines.append("  end")
    if "primary" in by_role:
        lines.append('  dns -->|"1 healthy"| primary_door')
    if "standby" in by_role:
        lines.append('  dns -->|"2 primary down"| standby_door')
    if fallback:
        lines += ['  dns -->|"3 both GPU tiers down"| fallback_door', "  fallback_door --> fallback_cpu"]
        same = [role for role in by_role if (regions.get(role) or {}).get("bucket") == fallback.get("bucket")]
        if same:
            lines.append(f"  {same[0]}_bucket -. model .-> fallback_cpu")
    if {"primary", "standby"} <= set(by_role) and any(r.get("type") == REPLICATION for r in resources):
        rpo = (document.get("estimate") or estimate(document)).get("rpoSeconds")
        sla = f" (RTC, {rpo // 60} min)" if isinstance(rpo, int) else ""
        lines.append(f'  primary_bucket == "S3 replication{sla}" ==> standby_bucket')
    return "\n".join(lines) + "\n"


def _fallback_nodes(resources: list[dict[str, Any]], fallback: dict[str, Any], *, indent: str) -> list[str]:
    model, serving = fallback.get("model") or {}, fallback.get("serving") or {}
    door = _front_door(resources, str(fallback.get("region")), fallback=True)
    pool = (f"CPU fallback<br/>{model.get('name', '?')} v{model.get('version', '?')}, "
            f"{serving.get('minReplicas', '?')}-{serving.get('maxReplicas', '?')} pods")
    return [f'{indent}fallback_door["fallback {door}"]', f'{indent}fallback_cpu["{_label(pool)}"]']


def rto_phases(e: dict[str, Any], dns: dict[str, Any] | None = None) -> list[tuple[str, str, int]]:
    """`(section, phase, seconds)` of the RTO budget of the estimate `e`, in order: detection and TTL
    (from the stack's `dns` output; the DNS budget as one phase without it), then the standby's
    activation phases."""
    rto = e.get("rtoSeconds") or {}
    dns = dns or {}
    phases: list[tuple[str, str, int]] = []
    interval, threshold, ttl = dns.get("healthCheckIntervalSeconds"), dns.get("failureThreshold"), dns.get("ttl")
    budget = rto.get("dnsBudget")
    if isinstance(interval, int) and isinstance(threshold, int) and isinstance(ttl, int) and \
            budget == interval * threshold + ttl:
        phases += [("DNS failover", f"detection {interval} s x {threshold} checks", interval * threshold),
                   ("DNS failover", f"TTL {ttl} s", ttl)]
    elif isinstance(budget, int):
        phases.append(("DNS failover", "DNS budget", budget))
    steps = rto.get("activationSteps") or {}
    phases += [("standby activation", label, steps[key]) for key, label in PHASES if steps.get(key)]
    return phases


def rto_gantt(e: dict[str, Any], dns: dict[str, Any] | None = None) -> str:
    """Mermaid `gantt` of the RTO budget of the estimate `e` (seconds on the axis, from 0); `dns` is
    the stack's `dns` output, for the detection and TTL phases."""
    rto = e.get("rtoSeconds") or {}
    total = rto.get("total")
    if isinstance(total, int):
        title = f"RTO budget {total} s ({e.get('standbyMode', '?')} standby)"
    else:
        title = "RTO budget unknown: no standby GPU pool to fail over to"
    lines = ["gantt", f"  title {title}", "  dateFormat X", "  axisFormat %M:%S"]
    start, section = 0, None
    for n, (where, phase, seconds) in enumerate(rto_phases(e, dns)):
        if where != section:
            lines.append(f"  section {where}")
            section = where
        shown = phase if phase.endswith(f"{seconds} s") else f"{phase} {seconds} s"
        lines.append(f"  {shown} :p{n}, {start}, {start + seconds}")
        start += seconds
    fallback = e.get("fallbackSeconds")
    if isinstance(fallback, int):
        lines += ["  section fallback tier", f"  both GPU tiers down {fallback} s :f0, 0, {fallback}"]
    return "\n".join(lines) + "\n"


def plan_pictures(document: dict[str, Any]) -> dict[str, str]:
    """`{"rto": gantt, "dr-flow": flowchart}` of a plan document."""
    e = document.get("estimate") or estimate(document)
    return {"rto": rto_gantt(e, (document.get("outputs") or {}).get("dns")), "dr-flow": dr_flow(document)}
