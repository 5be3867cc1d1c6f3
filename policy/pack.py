"""Wrap the pure rules of the `rules` package as pulumi_policy policies.

Imported by `__main__.py` (the pack's entry point) and by the pack tests; it never builds
a `PolicyPack` (that starts the analyzer's gRPC server and blocks).

Properties arrive as `pulumi_policy` gives them: the engine's property names (camelCase,
the same as the plan's inputs), numbers as floats, secrets unwrapped, and wrapped in
read-only proxies that raise `UnknownValueError` when a rule reads a value that is unknown
during preview; pulumi_policy turns that into an advisory "can't run during preview" note
instead of a false violation.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

try:  # the pack runs from its own folder (`pulumi preview --policy-pack policy`)
    import rules
except ImportError:  # imported as part of the repository's `policy` package
    from recsys_dr.policy import rules

try:
    from pulumi_policy.proxy import UnknownValueError
except ImportError:  # pragma: no cover - older pulumi_policy
    UnknownValueError = Exception  # type: ignore[misc,assignment]

LEVELS = {rules.MANDATORY: EnforcementLevel.MANDATORY, rules.ADVISORY: EnforcementLevel.ADVISORY}


def resource_validator(rule: rules.Rule):
    """A `ResourceValidation` callback that runs `rule` on the resource types it applies to."""

    def validate(args: ResourceValidationArgs, report_violation) -> None:
        if args.resource_type not in rule.resource_types:
            return
        for message in rule.check(args.resource_type, args.props):
            report_violation(message)

    return validate


def _provider_props(resource: Any) -> Any:
    provider = getattr(resource, "provider", None)
    return getattr(provider, "props", None) if provider is not None else None


def _region(resource: Any) -> str | None:
    try:
        return rules.resource_region(resource.resource_type, resource.props, _provider_props(resource))
    except UnknownValueError:
        return None


def _options(resource: Any) -> dict[str, Any]:
    """The resource options the rules read, named as in the plan (`PolicyResourceOptions`)."""
    opts = getattr(resource, "opts", None)
    return {"protect": True} if getattr(opts, "protect", False) else {}


def to_rule_resource(resource: Any) -> rules.Resource:
    """A `pulumi_policy.PolicyResource` as the stack rules expect it."""
    provider = getattr(resource, "provider", None)
    parent = getattr(resource, "parent", None)
    return rules.Resource(
        type=resource.resource_type,
        urn=resource.urn,
        name=resource.name,
        props=resource.props,
        provider=getattr(provider, "urn", None),
        parent=getattr(parent, "urn", None),
        region=_region(resource),
        property_dependencies={
            key: [dep.urn for dep in deps] for key, deps in (getattr(resource, "property_dependencies", None) or {}).items()
        },
        options=_options(resource),
    )


def stack_validator(rule: rules.StackRule):
    """A `StackValidation` callback that runs `rule` over every resource of the stack."""

    def validate(args: StackValidationArgs, report_violation) -> None:
        resources = [to_rule_resource(r) for r in args.resources]
        for urn, message in rule.check(resources):
            report_violation(message, urn)

    return validate


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """One pulumi_policy policy per rule, same names, descriptions and enforcement levels."""
    policies: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule in rules.RESOURCE_RULES:
        policies.append(ResourceValidationPolicy(
            name=rule.name, description=rule.description, validate=resource_validator(rule),
            enforcement_level=LEVELS[rule.enforcement],
        ))
    for stack_rule in rules.STACK_RULES:
        policies.append(StackValidationPolicy(
            name=stack_rule.name, description=stack_rule.description, validate=stack_validator(stack_rule),
            enforcement_level=LEVELS[stack_rule.enforcement],
        ))
    return policies
