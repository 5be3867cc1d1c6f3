"""The Markdown form of a plan diff: the pull-request comment (`recsys-dr diff --format markdown`)."""

from __future__ import annotations

from recsys_dr.review.diff import PlanDiff
from recsys_dr.review.releases import render_pins
from recsys_dr.review.diff_render import (
    dr_change_line,
    estimate_rows,
    headline,
    md_code,
    md_value,
    policy_lines,
    unpriced_notes,
)

MAX_MARKDOWN_CHARS = 60_000  # GitHub comments hold 65,536 characters
COMMENT_MARKER = "<!-- recsys-dr-plan-diff:{environment} -->"  # lets CI update its own comment per environment
ACTION_EMOJI = {"create": "🟢", "delete": "🔴", "update": "🟡", "replace": "🟣"}


def render_markdown(diff: PlanDiff, *, title: str | None = None, graph: str | None = None, rto: str | None = None,
                    dr_flow: str | None = None) -> str:
    """The pull-request comment.

    Args:
        diff: the computed diff (`review.diff.diff_plans`).
        title: heading (default "recsys-dr plan").
        graph: the head's resource graph (Mermaid), appended collapsed when given.
        rto: the head's RTO budget as a Mermaid Gantt (`review.pictures.rto_gantt`), shown under the estimate.
        dr_flow: the head's DR flow as a Mermaid flowchart (`review.pictures.dr_flow`), collapsed.
    """
    env, counts = headline(diff)
    lines = [COMMENT_MARKER.format(environment=diff.head_environment), f"### {title or 'recsys-dr plan'}: `{env}`", "",
             f"**{counts}** · DR estimate: **{dr_change_line(diff)}**"]
    lines += _hazards(diff) + _dangerous(diff) + render_pins(diff.pins, markdown=True) + _estimate(diff)
    if rto:
        lines += ["", *_mermaid(rto)]
    lines += _resources(diff) + _ignored_and_secrets(diff) + _outputs(diff)
    lines += policy_lines(diff, markdown=True)
    if dr_flow:
        lines += _collapsed("DR flow (head): clients, DNS, front doors, pools, replication", _mermaid(dr_flow))
    if graph:
        lines += _collapsed("Resource graph (head)", _mermaid(graph))
    lines += ["", "<sub>Rendered offline by `recsys-dr plan` under Pulumi's mock runtime: values computed at deploy "
              "time show as (known after deploy), secrets are masked; costs are on-demand list prices of "
              f"{diff.head_estimate.get('pricesAsOf', '?')}.</sub>"]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_MARKDOWN_CHARS:
        text = text[:MAX_MARKDOWN_CHARS] + "\n\n…(truncated; run `recsys-dr diff` locally for the full diff)\n"
    return text


def _mermaid(source: str) -> list[str]:
    return ["```mermaid", source.rstrip("\n"), "```"]


def _collapsed(summary: str, body: list[str]) -> list[str]:
    return ["", f"<details><summary>{summary}</summary>", "", *body, "", "</details>"]


def _hazards(diff: PlanDiff) -> list[str]:
    if not diff.hazards:
        return []
    return ["", "> [!WARNING]", "> **DR hazards in this change:**",
            *(f"> - **{h['severity']}**: {h['message']}" for h in diff.hazards)]


def _dangerous(diff: PlanDiff) -> list[str]:
    if not diff.dangerous:
        return []
    lines = ["", "> [!CAUTION]", "> **Stateful or expensive resources would be replaced or deleted:**"]
    for change in diff.dangerous:
        why = ", ".join(md_code(p.path) for p in change.properties if p.forces_replacement)
        reason = f" — {why} forces replacement" if why else ""
        order = f", {change.replacement}" if change.replacement else ""
        lines.append(f"> - **{change.action}** {md_code(change.type)} **{change.name}** ({change.region}): "
                     f"{change.stateful}{reason}{order}")
    return lines


def _estimate(diff: PlanDiff) -> list[str]:
    lines = ["", "| DR estimate | base | head |", "|---|---|---|"]
    lines += [f"| {what} | {b} | {h} |" for what, b, h in estimate_rows(diff)]
    unpriced = unpriced_notes(diff)
    if unpriced:
        lines += ["", "_" + "; ".join(unpriced) + "_"]
    return lines


def _resources(diff: PlanDiff) -> list[str]:
    if not diff.resources:
        return ["", "No resource changes."]
    lines = ["", "| | action | type | name | region | changed properties | replacement |", "|---|---|---|---|---|---|---|"]
    for change in diff.resources:
        emoji = "⚠️" if change.dangerous else ACTION_EMOJI[change.action]
        changed = len(change.properties) if change.properties else ""
        lines.append(f"| {emoji} | {change.action} | {md_code(change.type)} | {change.name} | {change.region} | "
                     f"{changed} | {change.replacement or ''} |")
    detailed = [c for c in diff.resources if c.properties]
    if not detailed:
        return lines
    lines += ["", "<details><summary>Property changes</summary>", ""]
    for change in detailed:
        lines += [f"**{change.action}** {md_code(change.type)} **{change.name}** ({change.region})", "",
                  "| property | base | head | |", "|---|---|---|---|"]
        for prop in change.properties:
            note = "forces replacement" if prop.forces_replacement else ""
            lines.append(f"| {md_code(prop.path)} | {md_value(prop.old)} | {md_value(prop.new)} | {note} |")
        for prop in change.ignored:
            lines.append(f"| {md_code(prop.path)} | {md_value(prop.old)} | {md_value(prop.new)} | ignored (ignoreChanges) |")
        lines.append("")
    return lines + ["</details>"]


def _ignored_and_secrets(diff: PlanDiff) -> list[str]:
    lines = []
    if diff.ignored:
        lines += ["", "Ignored — `ignoreChanges`, so Pulumi changes nothing: " + "; ".join(
            f"{c.name} {md_code(p.path)} {md_value(p.old)} → {md_value(p.new)}" for c in diff.ignored for p in c.ignored)]
    if diff.secrets_changed:
        lines += ["", "**Secrets changed** (values not visible offline; what is built from them updates too): "
                  + ", ".join(md_code(k) for k in diff.secrets_changed)]
    return lines


def _outputs(diff: PlanDiff) -> list[str]:
    if not diff.outputs:
        return []
    lines = ["", "<details><summary>Stack outputs</summary>", "", "| output | base | head |", "|---|---|---|"]
    lines += [f"| {md_code(p.path)} | {md_value(p.old)} | {md_value(p.new)} |" for p in diff.outputs]
    return lines + ["", "</details>"]
