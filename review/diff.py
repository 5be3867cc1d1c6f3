"""Compare two plan documents and render the difference for a pull request.

Resources are matched by URN. A resource only in head is created, only in base deleted;
in both with different inputs (or provider) it is updated, or replaced when a changed
input path forces replacement (`review.replacements`) or its provider changed. Changes
that replace or delete a stateful/expensive resource (bucket, cluster, node group, KMS
key, hosted zone) are listed first, under a caution banner.

Property paths use dots for keys and `[i]` for list items: `spec.template.spec.containers[0].image`;
`{}` marks a step into a string that holds JSON: `policy{}.Statement[1].Action[0]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from recsys_dr.review.replacements import forces_replacement, stateful_label

_MISSING = object()
MAX_VALUE_CHARS = 80
MAX_MARKDOWN_CHARS = 60_000  # GitHub comments hold 65,536 characters
COMMENT_MARKER = "<!-- recsys-dr-plan-diff:{environment} -->"  # lets CI update its own comment per environment
ACTION_ORDER = {"replace": 0, "delete": 1, "create": 2, "update": 3}
ACTION_SYMBOL = {"create": "+", "delete": "-", "update": "~", "replace": "+-"}
ACTION_EMOJI = {"create": "🟢", "delete": "🔴", "update": "🟡", "replace": "🟣"}


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any
    new: Any
    forces_replacement: bool = False

    @property
    def kind(self) -> str:
        if self.old is _MISSING:
            return "added"
        if self.new is _MISSING:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    region: str
    action: str  # create | delete | update | replace
    properties: tuple[PropertyChange, ...] = ()
    stateful: str | None = None  # label when the resource is stateful/expensive

    @property
    def dangerous(self) -> bool:
        """A replacement or deletion of a stateful or expensive resource."""
        return self.stateful is not None and self.action in ("replace", "delete")


@dataclass
class PlanDiff:
    base_environment: str
    head_environment: str
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[PropertyChange] = field(default_factory=list)
    new_violations: list[dict[str, Any]] = field(default_factory=list)
    resolved_violations: list[dict[str, Any]] = field(default_factory=list)
    head_policy: dict[str, Any] = field(default_factory=dict)

    def count(self, action: str) -> int:
        return sum(1 for r in self.resources if r.action == action)

    @property
    def dangerous(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.dangerous]

    @property
    def empty(self) -> bool:
        return not (self.resources or self.outputs or self.new_violations or self.resolved_violations)


JSON_MARK = "{}"


def _json_container(value: Any) -> Any:
    """The parsed value of a string holding a JSON object/array (IAM policies, kubeconfigs), else None."""
    if isinstance(value, str) and value[:1] in ("{", "[") and len(value) > 2:
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, (dict, list)) and parsed else None
    return None


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": [1, 2]}}` -> `{"a.b[0]": 1, "a.b[1]": 2}`; empty containers stay leaves.

    A string that holds a JSON object or array is expanded too, marked with `{}`:
    `{"policy": '{"Statement": [...]}'}` -> `{"policy{}.Statement[0].Effect": "Allow", ...}`,
    so a changed IAM action shows as one line instead of two long strings.
    """
    parsed = _json_container(value)
    if parsed is not None and prefix:
        return flatten(parsed, prefix + JSON_MARK)
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def property_changes(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> list[PropertyChange]:
    before, after = flatten(old), flatten(new)
    changes = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path, _MISSING), after.get(path, _MISSING)
        if a != b or (a is _MISSING) != (b is _MISSING):
            changes.append(PropertyChange(path, a, b, forces_replacement(resource_type, path.replace(JSON_MARK, ""))))
    return changes


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    """Differences from `base` to `head` (both plan documents as written by `recsys-dr plan`)."""
    for label, document in (("base", base), ("head", head)):
        if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
            raise ValueError(f"{label} is not a recsys-dr plan (no `resources` list)")
    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    changes: list[ResourceChange] = []
    for urn in sorted(set(old) | set(new)):
        a, b = old.get(urn), new.get(urn)
        current = b or a
        if not current.get("custom", True):
            continue  # components have no cloud state; their children carry the change
        common = dict(urn=urn, type=current["type"], name=current["name"], region=current.get("region", "?"),
                      stateful=stateful_label(current["type"]))
        if a is None:
            changes.append(ResourceChange(action="create", **common))
        elif b is None:
            changes.append(ResourceChange(action="delete", **common))
        else:
            props = property_changes(current["type"], a.get("inputs") or {}, b.get("inputs") or {})
            if a.get("provider") != b.get("provider"):
                props.append(PropertyChange("(provider)", a.get("provider"), b.get("provider"), True))
            if props:
                action = "replace" if any(p.forces_replacement for p in props) else "update"
                changes.append(ResourceChange(action=action, properties=tuple(props), **common))
    changes.sort(key=lambda c: (not c.dangerous, ACTION_ORDER[c.action], c.type, c.urn))

    def key(v: dict[str, Any]) -> tuple:
        return (v.get("rule"), v.get("urn"), v.get("message"))

    base_violations = {key(v): v for v in (base.get("policy") or {}).get("violations", [])}
    head_violations = {key(v): v for v in (head.get("policy") or {}).get("violations", [])}
    return PlanDiff(
        base_environment=str(base.get("environment", "?")),
        head_environment=str(head.get("environment", "?")),
        resources=changes,
        outputs=property_changes("", base.get("outputs") or {}, head.get("outputs") or {}),
        new_violations=[head_violations[k] for k in sorted(set(head_violations) - set(base_violations), key=str)],
        resolved_violations=[base_violations[k] for k in sorted(set(base_violations) - set(head_violations), key=str)],
        head_policy=head.get("policy") or {},
    )


# --------------------------------------------------------------------------- rendering


def _value(value: Any) -> str:
    if value is _MISSING:
        return "(none)"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _md_code(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _headline(diff: PlanDiff) -> tuple[str, str]:
    env = diff.head_environment if diff.base_environment == diff.head_environment else (
        f"{diff.base_environment} → {diff.head_environment}")
    counts = ", ".join(f"{diff.count(a)} to {a}" for a in ("create", "update", "replace", "delete"))
    return env, counts


def render_text(diff: PlanDiff) -> str:
    env, counts = _headline(diff)
    lines = [f"Plan diff for {env}: {counts}"]
    if diff.dangerous:
        lines.append("")
        lines.append("WARNING: stateful or expensive resources would be replaced or deleted:")
        for change in diff.dangerous:
            lines.append(f"  ! {change.action} {change.type} {change.name} ({change.region}): {change.stateful}")
    if diff.resources:
        lines.append("")
    for change in diff.resources:
        flag = "  [STATEFUL]" if change.dangerous else ""
        lines.append(f"{ACTION_SYMBOL[change.action]:>2} {change.action:<7} {change.type}  {change.name}  ({change.region}){flag}")
        for prop in change.properties:
            note = "  (forces replacement)" if prop.forces_replacement else ""
            lines.append(f"      {prop.path}: {_value(prop.old)} -> {_value(prop.new)}{note}")
    if not diff.resources:
        lines.append("No resource changes.")
    if diff.outputs:
        lines.append("")
        lines.append("Stack outputs:")
        for prop in diff.outputs:
            lines.append(f"  {prop.path}: {_value(prop.old)} -> {_value(prop.new)}")
    lines += _policy_lines(diff, markdown=False)
    return "\n".join(lines) + "\n"


def _policy_lines(diff: PlanDiff, *, markdown: bool) -> list[str]:
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
            rule = _md_code(v["rule"]) if markdown else v["rule"]
            lines.append(f"{bullet}{label}: [{v.get('enforcement')}] {rule} on {resource}: {v.get('message')}")
    return lines


def render_markdown(diff: PlanDiff, *, title: str | None = None) -> str:
    env, counts = _headline(diff)
    lines = [COMMENT_MARKER.format(environment=diff.head_environment), f"### {title or 'recsys-dr plan'}: `{env}`", "", f"**{counts}**"]
    if diff.dangerous:
        lines += ["", "> [!CAUTION]", "> **Stateful or expensive resources would be replaced or deleted:**"]
        for change in diff.dangerous:
            why = ", ".join(_md_code(p.path) for p in change.properties if p.forces_replacement)
            reason = f" — {why} forces replacement" if why else ""
            lines.append(f"> - **{change.action}** {_md_code(change.type)} **{change.name}** ({change.region}): "
                         f"{change.stateful}{reason}")
    if diff.resources:
        lines += ["", "| | action | type | name | region | changed properties |", "|---|---|---|---|---|---|"]
        for change in diff.resources:
            emoji = "⚠️" if change.dangerous else ACTION_EMOJI[change.action]
            changed = len(change.properties) if change.properties else ""
            lines.append(f"| {emoji} | {change.action} | {_md_code(change.type)} | {change.name} | {change.region} | {changed} |")
        detailed = [c for c in diff.resources if c.properties]
        if detailed:
            lines += ["", "<details><summary>Property changes</summary>", ""]
            for change in detailed:
                lines += [f"**{change.action}** {_md_code(change.type)} **{change.name}** ({change.region})", "",
                          "| property | base | head | |", "|---|---|---|---|"]
                for prop in change.properties:
                    note = "forces replacement" if prop.forces_replacement else ""
                    lines.append(f"| {_md_code(prop.path)} | {_md_code(_value(prop.old))} | {_md_code(_value(prop.new))} | {note} |")
                lines.append("")
            lines.append("</details>")
    else:
        lines += ["", "No resource changes."]
    if diff.outputs:
        lines += ["", "<details><summary>Stack outputs</summary>", "", "| output | base | head |", "|---|---|---|"]
        for prop in diff.outputs:
            lines.append(f"| {_md_code(prop.path)} | {_md_code(_value(prop.old))} | {_md_code(_value(prop.new))} |")
        lines += ["", "</details>"]
    lines += _policy_lines(diff, markdown=True)
    lines += ["", "<sub>Rendered offline by `recsys-dr plan` under Pulumi's mock runtime; cloud-computed values "
              "(ids, ARNs, hostnames) are stand-ins, secrets are masked.</sub>"]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_MARKDOWN_CHARS:
        text = text[:MAX_MARKDOWN_CHARS] + "\n\n…(truncated; run `recsys-dr diff` locally for the full diff)\n"
    return text
