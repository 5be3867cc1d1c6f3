"""The plain-text form of a plan diff (`recsys-dr diff --format text`), for a terminal or a file.

Prose lines (headline, hazards, warnings, policy) are wrapped to a width (80 columns unless the
terminal says otherwise), continuation lines indented under their first; `styled_lines` also says how a terminal should colour each line
(rich drops the colour when the output is not a terminal or NO_COLOR is set).
"""

from __future__ import annotations

import textwrap

from recsys_dr.review.diff import ACTION_SYMBOL, PlanDiff, ResourceChange
from recsys_dr.review.diff_render import dr_change_line, estimate_rows, headline, policy_lines, unpriced_notes, value_text
from recsys_dr.review.releases import render_pins

WIDTH = 80
ACTION_STYLE = {"create": "green", "delete": "red", "update": "yellow", "replace": "magenta"}
SEVERITY_STYLE = {"high": "bold red", "medium": "yellow"}
UNWRAPPED = ("      ", *(f"{symbol:>2} " for symbol in ACTION_SYMBOL.values()))


def render_text(diff: PlanDiff, *, width: int = WIDTH) -> str:
    """The diff as plain text, wrapped to `width` columns."""
    return "\n".join(line for line, _ in styled_lines(diff, width=width)) + "\n"


def styled_lines(diff: PlanDiff, *, width: int = WIDTH) -> list[tuple[str, str | None]]:
    """`(line, rich style or None)` of the text form, wrapped to `width` columns."""
    env, counts = headline(diff)
    lines: list[tuple[str, str | None]] = [(f"Plan diff for {env}: {counts}", "bold"),
                                           (f"DR estimate: {dr_change_line(diff)}", None)]
    if diff.hazards:
        lines += [("", None), ("DR HAZARDS:", "bold red")]
        lines += [(f"  ! [{h['severity']}] {h['message']}", SEVERITY_STYLE.get(h["severity"])) for h in diff.hazards]
    lines += [(line, None) for line in render_pins(diff.pins, markdown=False)]
    if diff.dangerous:
        lines += [("", None), ("WARNING: stateful or expensive resources would be replaced or deleted:", "bold red")]
        for change in diff.dangerous:
            order = f", {change.replacement}" if change.replacement else ""
            lines.append((f"  ! {change.action} {change.type} {change.name} ({change.region}{order}): {change.stateful}",
                          "red"))
    lines += [("", None)] if diff.resources else []
    for change in diff.resources:
        lines += _change_lines(change)
    if not diff.resources:
        lines.append(("No resource changes.", None))
    lines += [(line, None) for line in _other_lines(diff)]
    lines += [("", None), ("DR estimate (base -> head):", "bold")]
    rows = estimate_rows(diff)
    label = max(len(what) for what, _, _ in rows)
    lines += [(f"  {what + ':':<{label + 1}} {b} -> {h}", None) for what, b, h in rows]
    lines += [(f"  {note}", "yellow") for note in unpriced_notes(diff)]
    lines += [(line, "red" if "FAILS" in line or "[mandatory]" in line else None)
              for line in policy_lines(diff, markdown=False)]
    return [(wrapped, style) for line, style in lines for wrapped in _wrap(line, width)]


def _change_lines(change: ResourceChange) -> list[tuple[str, str | None]]:
    flag = "  [STATEFUL]" if change.dangerous else ""
    order = f"  [{change.replacement}]" if change.replacement else ""
    style = "bold red" if change.dangerous else ACTION_STYLE[change.action]
    lines: list[tuple[str, str | None]] = [
        (f"{ACTION_SYMBOL[change.action]:>2} {change.action:<7} {change.type}  {change.name}  ({change.region})"
         f"{flag}{order}", style)]
    for prop in change.properties:
        note = "  (forces replacement)" if prop.forces_replacement else ""
        lines.append((f"      {prop.path}: {value_text(prop.old)} -> {value_text(prop.new)}{note}",
                      "magenta" if note else None))
    for prop in change.ignored:
        lines.append((f"      {prop.path}: {value_text(prop.old)} -> {value_text(prop.new)}  (ignored: ignoreChanges)",
                      "dim"))
    return lines


def _other_lines(diff: PlanDiff) -> list[str]:
    lines = []
    if diff.ignored:
        lines += ["", "Ignored (ignoreChanges; Pulumi changes nothing):"]
        lines += [f"  {change.name} ({change.region}) {prop.path}: {value_text(prop.old)} -> {value_text(prop.new)}"
                  for change in diff.ignored for prop in change.ignored]
    if diff.secrets_changed:
        lines += ["", "Secrets changed (the plan cannot see their values; resources built from them update too): "
                  + ", ".join(diff.secrets_changed)]
    if diff.outputs:
        lines += ["", "Stack outputs:"]
        lines += [f"  {prop.path}: {value_text(prop.old)} -> {value_text(prop.new)}" for prop in diff.outputs]
    return lines


def _wrap(line: str, width: int) -> list[str]:
    """`line` in lines of at most `width` columns where words allow, continuations indented under it.
    A resource's line and its property lines stay whole: one change per line, as `pulumi preview`
    prints them (their values are cut at 80 characters)."""
    if len(line) <= width or line.startswith(UNWRAPPED):
        return [line]
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(line, width=width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False,
                         drop_whitespace=True) or [line]
