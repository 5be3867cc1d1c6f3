"""Compare two plan documents and render the difference for a pull request.

Resources are matched by URN. A resource only in head is created, only in base deleted;
in both with different inputs (or provider) it is updated, or replaced when a changed
input path forces replacement (`review.replacements`) or its provider changed. The diff
follows the engine where the mocks cannot (`review.unknowns`): changes under `ignoreChanges`
are listed as ignored, not as changes; values computed by a resource being created or
replaced are `(known after deploy)` (and may replace what is built from them); every
replacement says whether it creates before deleting or deletes first.

DR hazards (`review.hazards`) and the change of the DR estimate (`review.estimate`) lead
every rendering. Changes that replace or delete a stateful/expensive resource (bucket,
cluster, node group, KMS key, hosted zone) are listed first, under a caution banner.

Property paths use dots for keys and `[i]` for list items: `spec.template.spec.containers[0].image`;
`{}` marks a step into a string that holds JSON: `policy{}.Statement[1].Action[0]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from recsys_dr.review import unknowns
from recsys_dr.review.releases import render_pins
from recsys_dr.review.replacements import forces_replacement, stateful_label

_MISSING = object()
MAX_VALUE_CHARS = 80
MAX_MARKDOWN_CHARS = 60_000  # GitHub comments hold 65,536 characters
COMMENT_MARKER = "<!-- recsys-dr-plan-diff:{environment} -->"  # lets CI update its own comment per environment
ACTION_ORDER = {"replace": 0, "delete": 1, "create": 2, "update": 3}
ACTIONS = ("create", "update", "replace", "delete")
ACTION_SYMBOL = {"create": "+", "delete": "-", "update": "~", "replace": "+-"}
ACTION_EMOJI = {"create": "🟢", "delete": "🔴", "update": "🟡", "replace": "🟣"}
UNKNOWN = unknowns.KNOWN_AFTER_DEPLOY
CURRENT = "(deployed value)"  # an old value the cloud computed: in the stack's state, not in the plan


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

    @property
    def known_after_deploy(self) -> bool:
        return self.new == UNKNOWN

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old": _plain(self.old), "new": _plain(self.new),
                "forcesReplacement": self.forces_replacement, "knownAfterDeploy": self.known_after_deploy}


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    region: str
    action: str  # create | delete | update | replace
    properties: tuple[PropertyChange, ...] = ()
    stateful: str | None = None  # label when the resource is stateful/expensive
    replacement: str | None = None  # create-before-delete | delete-first, for a replace
    ignored: tuple[PropertyChange, ...] = ()  # changes `ignoreChanges` makes Pulumi skip

    @property
    def dangerous(self) -> bool:
        """A replacement or deletion of a stateful or expensive resource."""
        return self.stateful is not None and self.action in ("replace", "delete")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urn": self.urn, "type": self.type, "name": self.name, "region": self.region,
                               "action": self.action, "stateful": self.stateful,
                               "properties": [p.as_dict() for p in self.properties]}
        if self.replacement:
            out["replacement"] = self.replacement
        if self.ignored:
            out["ignored"] = [p.as_dict() for p in self.ignored]
        return out


@dataclass
class PlanDiff:
    base_environment: str
    head_environment: str
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[PropertyChange] = field(default_factory=list)
    new_violations: list[dict[str, Any]] = field(default_factory=list)
    resolved_violations: list[dict[str, Any]] = field(default_factory=list)
    head_policy: dict[str, Any] = field(default_factory=dict)
    ignored: list[ResourceChange] = field(default_factory=list)  # resources whose only changes are ignored
    secrets_changed: list[str] = field(default_factory=list)  # config keys whose secret value changed
    hazards: list[dict[str, Any]] = field(default_factory=list)
    pins: list[dict[str, Any]] = field(default_factory=list)  # model pins that change, with offline metrics
    base_estimate: dict[str, Any] = field(default_factory=dict)
    head_estimate: dict[str, Any] = field(default_factory=dict)

    def count(self, action: str) -> int:
        return sum(1 for r in self.resources if r.action == action)

    @property
    def dangerous(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.dangerous]

    @property
    def empty(self) -> bool:
        return not (self.resources or self.outputs or self.new_violations or self.resolved_violations
                    or self.secrets_changed)


JSON_MARK = "{}"


def _plain(value: Any) -> Any:
    return None if value is _MISSING else value


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


def _shown(value: Any) -> Any:
    """A value the program could not know (`[unknown]`) is what the engine shows as unknown."""
    return UNKNOWN if value == unknowns.PREVIEW_UNKNOWN else value


def property_changes(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> list[PropertyChange]:
    before, after = flatten(old), flatten(new)
    changes = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path, _MISSING), after.get(path, _MISSING)
        if a != b or (a is _MISSING) != (b is _MISSING) or b == unknowns.PREVIEW_UNKNOWN:
            changes.append(PropertyChange(path, a, _shown(b), forces_replacement(resource_type, path.replace(JSON_MARK, ""))))
    return changes


def _deployed(value: Any, needles: set[str]) -> Any:
    """The old side of a value computed at deploy time: the plan only has the mock's stand-in,
    the real one is in the stack's state, so say that instead of showing the stand-in."""
    return CURRENT if unknowns.contains_any(value, needles) else value


def _top_key(path: str) -> str:
    return path.replace(JSON_MARK, ".").split(".", 1)[0].split("[", 1)[0]


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    """Differences from `base` to `head` (both plan documents as written by `recsys-dr plan`)."""
    from recsys_dr.review.estimate import estimate
    from recsys_dr.review.hazards import find_hazards
    from recsys_dr.review.releases import pin_changes

    for label, document in (("base", base), ("head", head)):
        if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
            raise ValueError(f"{label} is not a recsys-dr plan (no `resources` list)")
    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    custom = [urn for urn in sorted(set(old) | set(new)) if (new.get(urn) or old.get(urn)).get("custom", True)]

    props: dict[str, list[PropertyChange]] = {}
    ignored: dict[str, list[PropertyChange]] = {}
    for urn in custom:
        a, b = old.get(urn), new.get(urn)
        if a is None or b is None:
            continue
        patterns = [unknowns.ignore_pattern(p) for p in (b.get("options") or {}).get("ignoreChanges", [])]
        changes = property_changes(b["type"], a.get("inputs") or {}, b.get("inputs") or {})
        ignored[urn] = [c for c in changes if unknowns.is_ignored(c.path, patterns)]
        props[urn] = [c for c in changes if not unknowns.is_ignored(c.path, patterns)]
        if a.get("provider") != b.get("provider"):
            props[urn].append(PropertyChange("(provider)", a.get("provider"), b.get("provider"), True))

    def replaced(urn: str) -> bool:
        return urn not in old or any(c.forces_replacement for c in props.get(urn, []))

    def provider_replaced(urn: str) -> None:
        # A resource whose provider is replaced is replaced with it (a new provider instance
        # manages a new copy); Pulumi shows the provider reference as the cause.
        provider = new[urn].get("provider")
        if provider and provider in new and provider in old and replaced(provider) and not any(
                c.path == "(provider)" for c in props[urn]):
            props[urn].append(PropertyChange("(provider)", provider.split("::")[-1], "(replaced)", True))

    # Whatever a created or replaced resource computes is unknown in a preview, and so is every
    # input built from it; such an input may force a replacement in turn: iterate to a fixpoint.
    while True:
        fresh = {urn for urn in new if replaced(urn)}
        for urn in props:
            b = new[urn]
            patterns = [unknowns.ignore_pattern(p) for p in (b.get("options") or {}).get("ignoreChanges", [])]
            dependencies = b.get("dependencies")
            before = flatten(old[urn].get("inputs") or {})
            known = {c.path: c for c in props[urn]}
            for path, value in flatten(b.get("inputs") or {}).items():
                if (path in known and known[path].new == UNKNOWN) or unknowns.is_ignored(path, patterns):
                    continue
                # Plans without `dependencies` (older format): any created/replaced resource may be the source.
                sources = fresh & set(dependencies.get(_top_key(path), [])) if dependencies is not None else fresh
                needles = set().union(*(unknowns.stand_ins(new.get(s)) | unknowns.stand_ins(old.get(s)) for s in sources))
                if needles and unknowns.contains_any(value, needles):
                    change = PropertyChange(path, _deployed(before.get(path, _MISSING), needles), UNKNOWN,
                                            forces_replacement(b["type"], path.replace(JSON_MARK, "")))
                    props[urn] = sorted([c for c in props[urn] if c.path != path] + [change], key=lambda c: c.path)
        for urn in props:
            provider_replaced(urn)
        if {urn for urn in new if replaced(urn)} == fresh:
            break

    changes: list[ResourceChange] = []
    only_ignored: list[ResourceChange] = []
    for urn in custom:
        a, b = old.get(urn), new.get(urn)
        current = b or a
        common = dict(urn=urn, type=current["type"], name=current["name"], region=current.get("region", "?"),
                      stateful=stateful_label(current["type"]))
        if a is None:
            changes.append(ResourceChange(action="create", **common))
        elif b is None:
            changes.append(ResourceChange(action="delete", **common))
        elif props[urn]:
            action = "replace" if replaced(urn) else "update"
            changes.append(ResourceChange(
                action=action, properties=tuple(props[urn]), ignored=tuple(ignored[urn]),
                replacement=unknowns.replacement_order(b["type"], a, b) if action == "replace" else None, **common))
        elif ignored[urn]:
            only_ignored.append(ResourceChange(action="update", ignored=tuple(ignored[urn]), **common))
    changes.sort(key=lambda c: (not c.dangerous, ACTION_ORDER[c.action], c.type, c.urn))
    ignored_any = any(ignored.values())

    fresh = {c.urn for c in changes if c.action in ("create", "replace")}
    needles = set().union(*(unknowns.stand_ins(new.get(u)) | unknowns.stand_ins(old.get(u)) for u in fresh)) if fresh else set()
    outputs = [
        PropertyChange(p.path, _deployed(p.old, needles), UNKNOWN) if unknowns.contains_any(p.new, needles) else p
        for p in property_changes("", base.get("outputs") or {}, head.get("outputs") or {})
    ]
    head_flat = flatten(head.get("outputs") or {})
    changed_outputs = {p.path for p in outputs}
    base_flat = flatten(base.get("outputs") or {})
    for path, value in head_flat.items():
        if path not in changed_outputs and unknowns.contains_any(value, needles):
            outputs.append(PropertyChange(path, _deployed(base_flat.get(path, _MISSING), needles), UNKNOWN))
    outputs.sort(key=lambda p: p.path)

    def key(v: dict[str, Any]) -> tuple:
        return (v.get("rule"), v.get("urn"), v.get("message"))

    base_violations = {key(v): v for v in (base.get("policy") or {}).get("violations", [])}
    head_violations = {key(v): v for v in (head.get("policy") or {}).get("violations", [])}
    result = PlanDiff(
        base_environment=str(base.get("environment", "?")),
        head_environment=str(head.get("environment", "?")),
        resources=changes,
        outputs=outputs,
        new_violations=[head_violations[k] for k in sorted(set(head_violations) - set(base_violations), key=str)],
        resolved_violations=[base_violations[k] for k in sorted(set(base_violations) - set(head_violations), key=str)],
        head_policy=head.get("policy") or {},
        ignored=only_ignored,
        # A plan written before the estimate existed gets one computed here, from its resources;
        # the head's counts what Pulumi would deploy, so ignored changes do not move it.
        base_estimate=base.get("estimate") or estimate(base),
        head_estimate=estimate(_as_deployed(head, old)) if ignored_any else (head.get("estimate") or estimate(head)),
    )
    result.hazards = find_hazards(result, base, head)
    result.pins = pin_changes(base, head)
    if "configSecretDigests" in base and "configSecretDigests" in head:  # an older plan has none to compare
        base_secrets, head_secrets = base["configSecretDigests"], head["configSecretDigests"]
        result.secrets_changed = sorted(k for k in set(base_secrets) | set(head_secrets)
                                        if base_secrets.get(k) != head_secrets.get(k))
    return result


def _restore_ignored(new: Any, old: Any, path: str, patterns: list[Any]) -> Any:
    """`new` with the old value put back wherever an ignore pattern matches (as the engine does)."""
    if path and any(p.match(path) and p.match(path).end() == len(path) for p in patterns):
        return old
    if isinstance(new, dict):
        old_dict = old if isinstance(old, dict) else {}
        return {k: _restore_ignored(v, old_dict.get(k, _MISSING), f"{path}.{k}" if path else k, patterns)
                for k, v in new.items()}
    if isinstance(new, list):
        old_list = old if isinstance(old, list) else []
        return [_restore_ignored(v, old_list[i] if i < len(old_list) else _MISSING, f"{path}[{i}]", patterns)
                for i, v in enumerate(new)]
    return new


def _as_deployed(head: dict[str, Any], old: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The head plan as Pulumi would leave existing resources: ignored inputs keep their old value."""
    resources = []
    for resource in head["resources"]:
        ignore = (resource.get("options") or {}).get("ignoreChanges")
        if ignore and resource["urn"] in old:
            patterns = [unknowns.ignore_pattern(p) for p in ignore]
            inputs = _restore_ignored(resource.get("inputs") or {}, old[resource["urn"]].get("inputs") or {}, "", patterns)
            resource = {**resource, "inputs": _drop_missing(inputs)}
        resources.append(resource)
    return {**head, "resources": [_autoscaled(r, resources) for r in resources]}


def _autoscaled(resource: dict[str, Any], resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A node group whose desired size the autoscaler owns, at the size it will settle on.

    EKS keeps desiredSize within minSize..maxSize, and the Cluster Autoscaler removes nodes no
    pod needs (after its 10-minute scale-down-unneeded-time): with the region's GPU serving
    Deployments at zero replicas, a GPU pool settles at minSize.
    """
    from recsys_dr.review.estimate import is_gpu_node_group
    from recsys_dr.review.hazards import serves_on_gpu

    ignore = (resource.get("options") or {}).get("ignoreChanges") or []
    scaling = (resource.get("inputs") or {}).get("scalingConfig")
    if resource.get("type") != "aws:eks/nodeGroup:NodeGroup" or "scalingConfig.desiredSize" not in ignore or \
            not isinstance(scaling, dict) or not all(isinstance(scaling.get(k), int) for k in ("minSize", "desiredSize", "maxSize")):
        return resource
    desired = min(max(scaling["desiredSize"], scaling["minSize"]), scaling["maxSize"])
    serving = [r for r in resources if r.get("region") == resource.get("region") and serves_on_gpu(r)]
    if is_gpu_node_group(resource) and serving and all(
            ((r.get("inputs") or {}).get("spec") or {}).get("replicas") == 0 for r in serving):
        desired = scaling["minSize"]
    inputs = {**resource["inputs"], "scalingConfig": {**scaling, "desiredSize": desired}}
    return {**resource, "inputs": inputs}


def _drop_missing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_missing(v) for k, v in value.items() if v is not _MISSING}
    if isinstance(value, list):
        return [_drop_missing(v) for v in value if v is not _MISSING]
    return value


# --------------------------------------------------------------------------- rendering


def _value(value: Any) -> str:
    if value is _MISSING:
        return "(none)"
    if value in (UNKNOWN, CURRENT):
        return value
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _md_code(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_value(value: Any) -> str:
    return f"_{value}_" if value in (UNKNOWN, CURRENT) else _md_code(_value(value))


def _headline(diff: PlanDiff) -> tuple[str, str]:
    env = diff.head_environment if diff.base_environment == diff.head_environment else (
        f"{diff.base_environment} → {diff.head_environment}")
    counts = ", ".join(f"{diff.count(a)} to {a}" for a in ACTIONS)
    return env, counts


def _seconds(value: Any) -> str:
    return f"{value} s" if isinstance(value, int) else "n/a"


def dr_change_line(diff: PlanDiff) -> str:
    """`+$2,340/month, RTO 150 s -> 60 s` (each part only when it moved; or `no change`)."""
    from recsys_dr.review.estimate import usd

    base_cost = (diff.base_estimate.get("monthlyCostUsd") or {}).get("total") or 0
    head_cost = (diff.head_estimate.get("monthlyCostUsd") or {}).get("total") or 0
    base_rto = (diff.base_estimate.get("rtoSeconds") or {}).get("total")
    head_rto = (diff.head_estimate.get("rtoSeconds") or {}).get("total")
    parts = []
    delta = round(head_cost - base_cost)
    if delta:
        percent = f" ({(head_cost - base_cost) / base_cost:+.0%})" if base_cost else ""
        parts.append(f"{usd(delta, signed=True)[:-3]}/month{percent}")
    if base_rto != head_rto:
        parts.append(f"RTO {_seconds(base_rto)} -> {_seconds(head_rto)}")
    base_rpo, head_rpo = diff.base_estimate.get("rpoSeconds"), diff.head_estimate.get("rpoSeconds")
    if base_rpo != head_rpo:
        parts.append(f"RPO {_seconds(base_rpo)} -> {_seconds(head_rpo)}")
    base_cap, head_cap = diff.base_estimate.get("standbyCapacityPercent"), diff.head_estimate.get("standbyCapacityPercent")
    if base_cap != head_cap:
        parts.append(f"standby capacity {base_cap if base_cap is not None else 'n/a'} % -> "
                     f"{head_cap if head_cap is not None else 'n/a'} %")
    return ", ".join(parts) or "cost, RTO, RPO and standby capacity unchanged"


def estimate_rows(diff: PlanDiff) -> list[tuple[str, str, str]]:
    """(what, base, head) rows of the DR estimate."""
    from recsys_dr.review.estimate import usd

    def cost(e: dict[str, Any], role: str) -> str:
        value = (e.get("monthlyCostUsd") or {}).get(role)
        return usd(value) if isinstance(value, (int, float)) else "n/a"

    b, h = diff.base_estimate, diff.head_estimate
    rows = [(f"monthly cost, {role}", cost(b, role), cost(h, role)) for role in ("primary", "standby", "global", "total")]
    rows += [
        ("RTO (DNS budget + standby activation)",
         *(f"{_seconds((e.get('rtoSeconds') or {}).get('total'))} ({_seconds((e.get('rtoSeconds') or {}).get('dnsBudget'))}"
           f" + {_seconds((e.get('rtoSeconds') or {}).get('standbyActivation'))})" for e in (b, h))),
        ("RPO (replication SLA)", _seconds(b.get("rpoSeconds")), _seconds(h.get("rpoSeconds"))),
        ("standby mode", str(b.get("standbyMode", "n/a")), str(h.get("standbyMode", "n/a"))),
        ("standby capacity (GPUs vs primary)", *(f"{e.get('standbyCapacityPercent')} %" if e.get("standbyCapacityPercent")
                                                  is not None else "n/a" for e in (b, h))),
    ]
    return rows


def _unpriced(diff: PlanDiff) -> list[str]:
    return sorted(set((diff.head_estimate.get("monthlyCostUsd") or {}).get("unpriced") or []))


def render_text(diff: PlanDiff) -> str:
    env, counts = _headline(diff)
    lines = [f"Plan diff for {env}: {counts}", f"DR estimate: {dr_change_line(diff)}"]
    if diff.hazards:
        lines += ["", "DR HAZARDS:"]
        lines += [f"  ! [{h['severity']}] {h['message']}" for h in diff.hazards]
    lines += render_pins(diff.pins, markdown=False)
    if diff.dangerous:
        lines.append("")
        lines.append("WARNING: stateful or expensive resources would be replaced or deleted:")
        for change in diff.dangerous:
            order = f", {change.replacement}" if change.replacement else ""
            lines.append(f"  ! {change.action} {change.type} {change.name} ({change.region}{order}): {change.stateful}")
    if diff.resources:
        lines.append("")
    for change in diff.resources:
        flag = "  [STATEFUL]" if change.dangerous else ""
        order = f"  [{change.replacement}]" if change.replacement else ""
        lines.append(f"{ACTION_SYMBOL[change.action]:>2} {change.action:<7} {change.type}  {change.name}  ({change.region}){flag}{order}")
        for prop in change.properties:
            note = "  (forces replacement)" if prop.forces_replacement else ""
            lines.append(f"      {prop.path}: {_value(prop.old)} -> {_value(prop.new)}{note}")
        for prop in change.ignored:
            lines.append(f"      {prop.path}: {_value(prop.old)} -> {_value(prop.new)}  (ignored: ignoreChanges)")
    if not diff.resources:
        lines.append("No resource changes.")
    if diff.ignored:
        lines += ["", "Ignored (ignoreChanges; Pulumi changes nothing):"]
        for change in diff.ignored:
            for prop in change.ignored:
                lines.append(f"  {change.name} ({change.region}) {prop.path}: {_value(prop.old)} -> {_value(prop.new)}")
    if diff.secrets_changed:
        lines += ["", "Secrets changed (the plan cannot see their values; resources built from them update too): "
                  + ", ".join(diff.secrets_changed)]
    if diff.outputs:
        lines.append("")
        lines.append("Stack outputs:")
        for prop in diff.outputs:
            lines.append(f"  {prop.path}: {_value(prop.old)} -> {_value(prop.new)}")
    lines += ["", "DR estimate (base -> head):"]
    lines += [f"  {what}: {b} -> {h}" for what, b, h in estimate_rows(diff)]
    lines += [f"  {note}" for note in _unpriced(diff)]
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


def render_markdown(diff: PlanDiff, *, title: str | None = None, graph: str | None = None) -> str:
    """The pull-request comment; `graph` (Mermaid source) is appended collapsed when given."""
    env, counts = _headline(diff)
    lines = [COMMENT_MARKER.format(environment=diff.head_environment), f"### {title or 'recsys-dr plan'}: `{env}`", "",
             f"**{counts}** · DR estimate: **{dr_change_line(diff)}**"]
    if diff.hazards:
        lines += ["", "> [!WARNING]", "> **DR hazards in this change:**"]
        lines += [f"> - **{h['severity']}**: {h['message']}" for h in diff.hazards]
    if diff.dangerous:
        lines += ["", "> [!CAUTION]", "> **Stateful or expensive resources would be replaced or deleted:**"]
        for change in diff.dangerous:
            why = ", ".join(_md_code(p.path) for p in change.properties if p.forces_replacement)
            reason = f" — {why} forces replacement" if why else ""
            order = f", {change.replacement}" if change.replacement else ""
            lines.append(f"> - **{change.action}** {_md_code(change.type)} **{change.name}** ({change.region}): "
                         f"{change.stateful}{reason}{order}")
    lines += render_pins(diff.pins, markdown=True)
    lines += ["", "| DR estimate | base | head |", "|---|---|---|"]
    lines += [f"| {what} | {b} | {h} |" for what, b, h in estimate_rows(diff)]
    unpriced = _unpriced(diff)
    if unpriced:
        lines += ["", "_" + "; ".join(unpriced) + "_"]
    if diff.resources:
        lines += ["", "| | action | type | name | region | changed properties | replacement |",
                  "|---|---|---|---|---|---|---|"]
        for change in diff.resources:
            emoji = "⚠️" if change.dangerous else ACTION_EMOJI[change.action]
            changed = len(change.properties) if change.properties else ""
            lines.append(f"| {emoji} | {change.action} | {_md_code(change.type)} | {change.name} | {change.region} | "
                         f"{changed} | {change.replacement or ''} |")
        detailed = [c for c in diff.resources if c.properties]
        if detailed:
            lines += ["", "<details><summary>Property changes</summary>", ""]
            for change in detailed:
                lines += [f"**{change.action}** {_md_code(change.type)} **{change.name}** ({change.region})", "",
                          "| property | base | head | |", "|---|---|---|---|"]
                for prop in change.properties:
                    note = "forces replacement" if prop.forces_replacement else ""
                    lines.append(f"| {_md_code(prop.path)} | {_md_value(prop.old)} | {_md_value(prop.new)} | {note} |")
                for prop in change.ignored:
                    lines.append(f"| {_md_code(prop.path)} | {_md_value(prop.old)} | {_md_value(prop.new)} | ignored (ignoreChanges) |")
                lines.append("")
            lines.append("</details>")
    else:
        lines += ["", "No resource changes."]
    if diff.ignored:
        lines += ["", "Ignored — `ignoreChanges`, so Pulumi changes nothing: " + "; ".join(
            f"{c.name} {_md_code(p.path)} {_md_value(p.old)} → {_md_value(p.new)}" for c in diff.ignored for p in c.ignored)]
    if diff.secrets_changed:
        lines += ["", "**Secrets changed** (values not visible offline; what is built from them updates too): "
                  + ", ".join(_md_code(k) for k in diff.secrets_changed)]
    if diff.outputs:
        lines += ["", "<details><summary>Stack outputs</summary>", "", "| output | base | head |", "|---|---|---|"]
        for prop in diff.outputs:
            lines.append(f"| {_md_code(prop.path)} | {_md_value(prop.old)} | {_md_value(prop.new)} |")
        lines += ["", "</details>"]
    lines += _policy_lines(diff, markdown=True)
    if graph:
        lines += ["", "<details><summary>Resource graph (head)</summary>", "", "```mermaid", graph.rstrip("\n"), "```",
                  "", "</details>"]
    lines += ["", "<sub>Rendered offline by `recsys-dr plan` under Pulumi's mock runtime: values computed at deploy "
              "time show as (known after deploy), secrets are masked; costs are on-demand list prices of "
              f"{diff.head_estimate.get('pricesAsOf', '?')}.</sub>"]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_MARKDOWN_CHARS:
        text = text[:MAX_MARKDOWN_CHARS] + "\n\n…(truncated; run `recsys-dr diff` locally for the full diff)\n"
    return text


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
