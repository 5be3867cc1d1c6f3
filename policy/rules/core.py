"""What every rule module shares: the rule and resource records, enforcement levels, the
readers for engine properties, and the region of a resource as the plan defines it.

Standard library only (the pack's venv has pulumi_policy and nothing of this project).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from dataclasses import dataclass, field
from typing import Any

PACK_NAME = "recsys-dr-guardrails"
MANDATORY = "mandatory"
ADVISORY = "advisory"


@dataclass(frozen=True)
class Resource:
    """One resource as a stack rule sees it.

    Attributes:
        type: type token, e.g. `aws:s3/bucket:Bucket`.
        urn: the resource's URN.
        name: logical name.
        props: output properties (camelCase).
        provider: URN of its provider, or None.
        parent: URN of its parent, or None.
        region: AWS region, "global", or None when not known.
        property_dependencies: `{property: [URNs it depends on]}`.
        options: the resource options the engine acts on that were set, camelCase
            (`{"protect": True}`); the plan records them from the registration, the pack
            from `PolicyResource.opts`.
    """

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    provider: str | None = None
    parent: str | None = None
    region: str | None = None
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    rule: str
    enforcement: str
    urn: str | None
    message: str
    resource_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "enforcement": self.enforcement,
            "urn": self.urn,
            "resourceType": self.resource_type,
            "message": self.message,
        }


@dataclass(frozen=True)
class Rule:
    """A rule on one resource at a time."""

    name: str
    description: str
    enforcement: str
    resource_types: tuple[str, ...]
    check: Callable[[str, Mapping[str, Any]], list[str]]
    scope: str = "resource"


@dataclass(frozen=True)
class StackRule:
    """A rule over all resources of a stack (relations between resources)."""

    name: str
    description: str
    enforcement: str
    resource_types: tuple[str, ...]
    check: Callable[[Sequence[Resource]], list[tuple[str | None, str]]]
    scope: str = "stack"


def production_twins(name: str, *, production: str, elsewhere: str, resource_types: tuple[str, ...],
                     check: Callable[..., list[tuple[str | None, str]]]) -> tuple[StackRule, StackRule]:
    """`<name>-prod`, mandatory in production stacks, and `<name>`, advisory in the others.

    `check(resources, production=...)` reports only the resources of the stacks it is asked about
    (`is_production(stack_of(urn))`), so each finding comes from exactly one of the two rules.
    """
    return (
        StackRule(f"{name}-prod", production, MANDATORY, resource_types, partial(check, production=True)),
        StackRule(name, elsewhere, ADVISORY, resource_types, partial(check, production=False)),
    )


# Readers for engine properties (mappings, sequences, or pulumi_policy's read-only proxies): the
# common API of the rule modules, which import them by name (`from .core import get, items`).


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def get(value: Any, *path: Any, default: Any = None) -> Any:
    """Walk `path` through mappings (keys) and sequences (int indexes)."""
    for step in path:
        if isinstance(step, int) and is_list(value):
            if step >= len(value):
                return default
            value = value[step]
        elif is_map(value) and step in value:
            value = value[step]
        else:
            return default
    return default if value is None else value


def items(value: Any) -> list[Any]:
    return list(value) if is_list(value) else []


def num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def enabled(value: Any) -> bool:
    return value == "Enabled"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if is_list(value) else [value]


def kubeconfig_region(kubeconfig: Any) -> str | None:
    """The `--region` in a user's exec args of a kubeconfig (JSON/YAML string or mapping), or None.

    EKS kubeconfigs authenticate with `aws eks get-token --region <r> --cluster-name <n>`.
    """
    document = kubeconfig
    if isinstance(kubeconfig, str):
        try:
            document = json.loads(kubeconfig)
        except ValueError:
            try:  # kubeconfigs are often YAML; PyYAML comes with the pulumi SDK
                import yaml

                document = yaml.safe_load(kubeconfig)
            except Exception:  # noqa: BLE001 - unreadable kubeconfig: region unknown
                return None
    for user in items(get(document, "users")):
        args = [str(a) for a in items(get(user, "user", "exec", "args"))]
        for index, arg in enumerate(args):
            if arg == "--region" and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith("--region="):
                return arg.split("=", 1)[1]
    return None


# ARC Region switch plans are global too: plan CRUD goes to the partition's control plane
# (botocore arc-region-switch endpoint rules: arc-region-switch-control-plane.<global region>).
GLOBAL_TYPE_PREFIXES = ("pulumi:providers:", "aws:iam/", "aws:route53/", "aws:route53recoverycontrol/", "aws:arcregionswitch/")


def resource_region(resource_type: str, props: Mapping[str, Any], provider_props: Mapping[str, Any] | None) -> str | None:
    """Region of a resource as the plan defines it: "global" for providers, IAM, Route 53 and
    Route 53 ARC; a Kubernetes object's cluster region from its provider's kubeconfig; else the
    `region` property (pulumi-aws v7), falling back to the provider's. None when unknown."""
    if resource_type.startswith(GLOBAL_TYPE_PREFIXES):
        return "global"
    if resource_type.startswith("kubernetes:"):
        return kubeconfig_region(get(provider_props, "kubeconfig"))
    region = get(props, "region") or get(provider_props, "region")
    return str(region) if region else None


def policy_document(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if is_map(value) else None


def statements(document: Any) -> list[Any]:
    return as_list(get(document, "Statement"))


def of(resources: Sequence[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def depends_on(resource: Resource, prop: str, candidates: Sequence[Resource]) -> list[Resource]:
    deps = set(items(get(resource.property_dependencies, prop)))
    return [c for c in candidates if c.urn in deps]


def linked(resource: Resource, prop: str, candidates: Sequence[Resource], *value_keys: str) -> Resource | None:
    """The one candidate `resource.props[prop]` refers to: by property dependency first (known
    in a preview, when an auto-named resource's name or id is not), then by value."""
    by_dependency = depends_on(resource, prop, candidates)
    if len(by_dependency) == 1:
        return by_dependency[0]
    value = get(resource.props, prop)
    for candidate in candidates:
        if value and value in [get(candidate.props, key) for key in value_keys]:
            return candidate
    return None


# --------------------------------------------------------------------------- environments

# Stacks named like this are production: rules with a `-prod` twin are mandatory there.
PRODUCTION_STACKS = ("prod", "production")


def stack_of(urn: str | None) -> str | None:
    """The stack name in a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`, the format the
    engine gives every resource, in the plan and in `pulumi preview` alike), or None."""
    if not urn or not str(urn).startswith("urn:pulumi:"):
        return None
    return str(urn)[len("urn:pulumi:"):].split("::", 1)[0] or None


def is_production(stack: str | None) -> bool:
    """`prod`, `production`, or one of them with a suffix (`prod-eu`); an `org/` prefix is ignored."""
    name = (stack or "").rsplit("/", 1)[-1].lower()
    return any(name == p or name.startswith(p + "-") for p in PRODUCTION_STACKS)


def unprotected(resources: Sequence[Resource], type_token: str, noun: str, consequence: str, *,
                production: bool) -> list[tuple[str | None, str]]:
    """Resources of `type_token` without the `protect` option, in production stacks or outside them."""
    return [
        (r.urn, f"{noun} {r.name!r} is not protected (resource option protect): {consequence}")
        for r in of(resources, type_token)
        if get(r.options, "protect") is not True and is_production(stack_of(r.urn)) == production
    ]
