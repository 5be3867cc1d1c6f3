"""Compare two plan documents: what a pull request changes (rendered by `review.diff_text`,
`review.diff_markdown` and `review.diff_json`).

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
from recsys_dr.review.replacements import forces_replacement, stateful_label

MISSING = object()
ACTION_ORDER = {"replace": 0, "delete": 1, "create": 2, "update": 3}
ACTIONS = ("create", "update", "replace", "delete")
ACTION_SYMBOL = {"create": "+", "delete": "-", "update": "~", "replace": "+-"}
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
        if self.old is MISSING:
            return "added"
        if self.new is MISSING:
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
    return None if value is MISSING else value


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
        a, b = before.get(path, MISSING), after.get(path, MISSING)
        if a != b or (a is MISSING) != (b is MISSING) or b == unknowns.PREVIEW_UNKNOWN:
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

    _require_plans(base, head)
    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    custom = [urn for urn in sorted(set(old) | set(new)) if (new.get(urn) or old.get(urn)).get("custom", True)]
    props, ignored = _input_changes(old, new, custom)
    _propagate_unknowns(old, new, props)
    changes, only_ignored = _resource_changes(old, new, custom, props, ignored)
    new_violations, resolved_violations = _violation_changes(base, head)
    result = PlanDiff(
        base_environment=str(base.get("environment", "?")),
        head_environment=str(head.get("environment", "?")),
        resources=changes,
        outputs=_output_changes(base, head, old, new, changes),
        new_violations=new_violations,
        resolved_violations=resolved_violations,
        head_policy=head.get("policy") or {},
        ignored=only_ignored,
        # A plan written before the estimate existed gets one computed here, from its resources;
        # the head's counts what Pulumi would deploy, so ignored changes do not move it.
        base_estimate=base.get("estimate") or estimate(base),
        head_estimate=(estimate(_as_deployed(head, old)) if any(ignored.values())
                       else (head.get("estimate") or estimate(head))),
    )
    result.hazards = find_hazards(result, base, head)
    result.pins = pin_changes(base, head)
    result.secrets_changed = _secret_changes(base, head)
    return result


def _require_plans(base: Any, head: Any) -> None:
    for label, document in (("base", base), ("head", head)):
        if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
            raise ValueError(f"{label} is not a recsys-dr plan (no `resources` list)")


def _ignore_patterns(resource: dict[str, Any]) -> list[Any]:
    return [unknowns.ignore_pattern(p) for p in (resource.get("options") or {}).get("ignoreChanges", [])]


def _input_changes(old: dict[str, Any], new: dict[str, Any], custom: list[str]
                   ) -> tuple[dict[str, list[PropertyChange]], dict[str, list[PropertyChange]]]:
    """Phase 1: the input changes of each resource in both plans, split into effective and ignored."""
    props: dict[str, list[PropertyChange]] = {}
    ignored: dict[str, list[PropertyChange]] = {}
    for urn in custom:
        a, b = old.get(urn), new.get(urn)
        if a is None or b is None:
            continue
        patterns = _ignore_patterns(b)
        changes = property_changes(b["type"], a.get("inputs") or {}, b.get("inputs") or {})
        ignored[urn] = [c for c in changes if unknowns.is_ignored(c.path, patterns)]
        props[urn] = [c for c in changes if not unknowns.is_ignored(c.path, patterns)]
        if a.get("provider") != b.get("provider"):
            props[urn].append(PropertyChange("(provider)", a.get("provider"), b.get("provider"), True))
    return props, ignored


def _replaced(urn: str, old: dict[str, Any], props: dict[str, list[PropertyChange]]) -> bool:
    """Created (not in base) or replaced (a changed input forces it)."""
    return urn not in old or any(c.forces_replacement for c in props.get(urn, []))


def _propagate_unknowns(old: dict[str, Any], new: dict[str, Any], props: dict[str, list[PropertyChange]]) -> None:
    """Phase 2: whatever a created or replaced resource computes is unknown in a preview, and so is
    every input built from it; such an input may force a replacement in turn: iterate to a fixpoint."""
    while True:
        fresh = {urn for urn in new if _replaced(urn, old, props)}
        for urn in props:
            _mark_unknown_inputs(urn, old, new, props, fresh)
        for urn in props:
            _replaced_with_provider(urn, old, new, props)
        if {urn for urn in new if _replaced(urn, old, props)} == fresh:
            return


def _mark_unknown_inputs(urn: str, old: dict[str, Any], new: dict[str, Any], props: dict[str, list[PropertyChange]],
                         fresh: set[str]) -> None:
    """Mark the inputs of `urn` built from a `fresh` (created or replaced) resource as known after deploy."""
    b = new[urn]
    patterns = _ignore_patterns(b)
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
            change = PropertyChange(path, _deployed(before.get(path, MISSING), needles), UNKNOWN,
                                    forces_replacement(b["type"], path.replace(JSON_MARK, "")))
            props[urn] = sorted([c for c in props[urn] if c.path != path] + [change], key=lambda c: c.path)


def _replaced_with_provider(urn: str, old: dict[str, Any], new: dict[str, Any],
                            props: dict[str, list[PropertyChange]]) -> None:
    # A resource whose provider is replaced is replaced with it (a new provider instance
    # manages a new copy); Pulumi shows the provider reference as the cause.
    provider = new[urn].get("provider")
    if provider and provider in new and provider in old and _replaced(provider, old, props) and not any(
            c.path == "(provider)" for c in props[urn]):
        props[urn].append(PropertyChange("(provider)", provider.split("::")[-1], "(replaced)", True))


def _resource_changes(old: dict[str, Any], new: dict[str, Any], custom: list[str],
                      props: dict[str, list[PropertyChange]], ignored: dict[str, list[PropertyChange]]
                      ) -> tuple[list[ResourceChange], list[ResourceChange]]:
    """Phase 3: one change per resource (create, delete, update, replace), dangerous ones first; and
    the resources whose only changes are ignored."""
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
            action = "replace" if _replaced(urn, old, props) else "update"
            changes.append(ResourceChange(
                action=action, properties=tuple(props[urn]), ignored=tuple(ignored[urn]),
                replacement=unknowns.replacement_order(b["type"], a, b) if action == "replace" else None, **common))
        elif ignored[urn]:
            only_ignored.append(ResourceChange(action="update", ignored=tuple(ignored[urn]), **common))
    changes.sort(key=lambda c: (not c.dangerous, ACTION_ORDER[c.action], c.type, c.urn))
    return changes, only_ignored


def _output_changes(base: dict[str, Any], head: dict[str, Any], old: dict[str, Any], new: dict[str, Any],
                    changes: list[ResourceChange]) -> list[PropertyChange]:
    """Phase 4: the stack outputs that change, those built from a created or replaced resource
    known after deploy."""
    fresh = {c.urn for c in changes if c.action in ("create", "replace")}
    needles = set().union(*(unknowns.stand_ins(new.get(u)) | unknowns.stand_ins(old.get(u)) for u in fresh)) if fresh else set()
    outputs = [
        PropertyChange(p.path, _deployed(p.old, needles), UNKNOWN) if unknowns.contains_any(p.new, needles) else p
        for p in property_changes("", base.get("outputs") or {}, head.get("outputs") or {})
    ]
    changed_outputs = {p.path for p in outputs}
    base_flat = flatten(base.get("outputs") or {})
    for path, value in flatten(head.get("outputs") or {}).items():
        if path not in changed_outputs and unknowns.contains_any(value, needles):
            outputs.append(PropertyChange(path, _deployed(base_flat.get(path, MISSING), needles), UNKNOWN))
    return sorted(outputs, key=lambda p: p.path)


def _violation_changes(base: dict[str, Any], head: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Phase 5: policy violations new in head and resolved since base."""
    def key(v: dict[str, Any]) -> tuple:
        return (v.get("rule"), v.get("urn"), v.get("message"))

    base_violations = {key(v): v for v in (base.get("policy") or {}).get("violations", [])}
    head_violations = {key(v): v for v in (head.get("policy") or {}).get("violations", [])}
    return ([head_violations[k] for k in sorted(set(head_violations) - set(base_violations), key=str)],
            [base_violations[k] for k in sorted(set(base_violations) - set(head_violations), key=str)])


def _secret_changes(base: dict[str, Any], head: dict[str, Any]) -> list[str]:
    """Config keys whose secret value changed (an older plan has no digests to compare)."""
    if "configSecretDigests" not in base or "configSecretDigests" not in head:
        return []
    base_secrets, head_secrets = base["configSecretDigests"], head["configSecretDigests"]
    return sorted(k for k in set(base_secrets) | set(head_secrets) if base_secrets.get(k) != head_secrets.get(k))


def _restore_ignored(new: Any, old: Any, path: str, patterns: list[Any]) -> Any:
    """`new` with the old value put back wherever an ignore pattern matches (as the engine does)."""
    if path and any(p.match(path) and p.match(path).end() == len(path) for p in patterns):
        return old
    if isinstance(new, dict):
        old_dict = old if isinstance(old, dict) else {}
        return {k: _restore_ignored(v, old_dict.get(k, MISSING), f"{path}.{k}" if path else k, patterns)
                for k, v in new.items()}
    if isinstance(new, list):
        old_list = old if isinstance(old, list) else []
        return [_restore_ignored(v, old_list[i] if i < len(old_list) else MISSING, f"{path}[{i}]", patterns)
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
        return {k: _drop_missing(v) for k, v in value.items() if v is not MISSING}
    if isinstance(value, list):
        return [_drop_missing(v) for v in value if v is not MISSING]
    return value
