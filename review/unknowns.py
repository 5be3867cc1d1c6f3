"""What a real `pulumi preview` would not know yet, and which replacements delete first.

Three engine rules the offline diff follows, each from Pulumi's own source:

* `ignoreChanges`: before diffing, the engine puts the old input back at every ignored path
  (pulumi/pkg/resource/deploy/step_generator.go, `processIgnoreChanges`), so a change there is no
  change; it does not apply to a resource being created. Paths use Pulumi's property-path syntax
  (`a.b`, `a[0]`, `a["k.with.dots"]`, `*` for any key or index: pkg/resource/properties_path.go).
* Unknowns: outputs the provider computes (ids, ARNs, hostnames) are unknown during a preview of
  the create or replace that produces them, and so is every input built from them; the CLI prints
  them as `output<string>`. The mocks answer with stand-ins instead; `stand_ins` finds them.
* Replacement order: create-before-delete unless `deleteBeforeReplace` is set or the provider
  asks for delete-first. pulumi-kubernetes asks when the object keeps a user-given
  `metadata.name` and namespace (provider/pkg/provider/provider.go, Diff); the Terraform bridge
  behind pulumi-aws asks when an auto-nameable field (`AUTONAMED` below) holds a user-given value,
  renamed or not
  (pkg/tfbridge/provider.go, `nameRequiresDeleteBeforeReplace`; pulumi-aws resources.go declares
  which fields auto-name).
"""

from __future__ import annotations

import re
from typing import Any

KNOWN_AFTER_DEPLOY = "(known after deploy)"
PREVIEW_UNKNOWN = "[unknown]"  # how `review.plan` writes a value that was unknown in the program
CREATE_BEFORE_DELETE = "create-before-delete"
DELETE_FIRST = "delete-first"
_MIN_STAND_IN = 8  # shorter computed values ("ACTIVE") are not distinctive enough to trace

# Fields pulumi-aws auto-names (so a value given in the program means delete-first on replace).
AUTONAMED: dict[str, str] = {
    "aws:eks/cluster:Cluster": "name",
    "aws:eks/nodeGroup:NodeGroup": "nodeGroupName",
    "aws:iam/role:Role": "name",
    "aws:iam/policy:Policy": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:kms/alias:Alias": "name",
}

_TOKEN = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+|\*)\]|\.?([^.\[\]]+)')


def _segments(path: str) -> list[tuple[str, str]]:
    """Pulumi property path -> [("key", k) | ("index", i) | ("any", "*")]."""
    out: list[tuple[str, str]] = []
    for quoted, index, key in _TOKEN.findall(path):
        if quoted:
            out.append(("key", quoted.replace('\\"', '"')))
        elif index:
            out.append(("any", "*") if index == "*" else ("index", index))
        else:
            out.append(("any", "*") if key == "*" else ("key", key))
    return out


def ignore_pattern(path: str) -> re.Pattern[str]:
    """A regex over `review.diff.flatten` paths matching `path` and everything below it."""
    parts = []
    for position, (kind, value) in enumerate(_segments(path)):
        dot = r"\." if position else ""
        if kind == "key":
            parts.append(dot + re.escape(value))
        elif kind == "index":
            parts.append(rf"\[{value}\]")
        else:
            parts.append(rf"(?:{dot}[^.\[{{]+|\[\d+\])")
    return re.compile("^" + "".join(parts) + r"(?:$|[.\[{])")


def is_ignored(flat_path: str, patterns: list[re.Pattern[str]]) -> bool:
    return any(p.match(flat_path) for p in patterns)


def stand_ins(resource: dict[str, Any] | None) -> set[str]:
    """Distinctive strings of a plan resource's `computed` values (and their tails: an ARN's
    last segment, a URL without its scheme), which the program may have copied into inputs."""
    found: set[str] = set()
    if not resource:
        return found

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and len(value) >= _MIN_STAND_IN and value not in ("[secret]", PREVIEW_UNKNOWN):
            found.add(value)
            bare = value.split("://", 1)[-1]
            found.add(bare)
            tail = bare.rstrip("/").rsplit("/", 1)[-1]
            if len(tail) >= _MIN_STAND_IN:
                found.add(tail)

    walk(resource.get("computed") or {})
    return found


def contains_any(value: Any, needles: set[str]) -> bool:
    return isinstance(value, str) and any(n in value for n in needles)


def replacement_order(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    """`delete-first` or `create-before-delete` for a resource being replaced (rules above)."""
    if (new.get("options") or {}).get("deleteBeforeReplace"):
        return DELETE_FIRST
    old_inputs, new_inputs = old.get("inputs") or {}, new.get("inputs") or {}
    if resource_type.startswith("kubernetes:"):
        old_meta, new_meta = old_inputs.get("metadata") or {}, new_inputs.get("metadata") or {}
        named = bool(new_meta.get("name"))
        if named and new_meta.get("name") == old_meta.get("name") and new_meta.get("namespace") == old_meta.get("namespace"):
            return DELETE_FIRST
        return CREATE_BEFORE_DELETE
    field = AUTONAMED.get(resource_type)
    if field and new_inputs.get(field):  # user-given: the bridge asks for delete-first, renamed or not
        return DELETE_FIRST
    return CREATE_BEFORE_DELETE
