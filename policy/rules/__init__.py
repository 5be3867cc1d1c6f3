"""Guardrails for the two-region recommender, as plain functions, one file per concern.

Pure Python (standard library only) so that the same rules run in two places:

* offline, against the plan (`recsys-dr plan` calls `check_resource` and `check_stack`);
* in a real `pulumi preview --policy-pack policy`, where `policy/__main__.py` wraps each
  rule in a `pulumi_policy.ResourceValidationPolicy` or `StackValidationPolicy`.

A rule is found by its name's prefix: `s3-*` in `storage.py`, `kms-*` in `keys.py`,
`eks-*` in `cluster.py`, `k8s-*` in `serving.py`, `ec2-*` in `network.py`, `elb-*` in
`balancer.py`, `route53-*` in
`dns.py`, `iam-*` in `iam.py`, `dr-*` (relations across the two regions) in `dr.py`; what
they share is in `core.py`, and what a list of CIDRs covers in `cidrs.py` (which the settings
validators import too). Each module lists its own `RESOURCE_RULES` and `STACK_RULES`;
this file joins them (the registry lives here, not in core, because core is what the
modules import).
Imports inside the package are relative, so it loads both as `recsys_dr.policy.rules`
and as `rules` from the pack's own folder (how the Pulumi CLI runs the pack).

Properties use the engine's names (camelCase, e.g. `versioningConfiguration`), which is
what both the plan's inputs and `pulumi_policy`'s `args.props` contain. Values may be
read-only mappings/sequences (pulumi_policy wraps them in proxies that raise when an
unknown preview value is read); the helpers only use `Mapping`/`Sequence` access.

A resource rule is `check(resource_type, props) -> list[str]` (one message per
violation). A stack rule is `check(resources) -> list[(urn | None, message)]` over
`Resource` records, for relations that need the whole stack (a PDB per Deployment,
replication into another region).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import balancer, cidrs, cluster, dns, dr, iam, keys, network, serving, storage
from .balancer import *  # noqa: F403 - the package's public API is the union of its modules'
from .cluster import *  # noqa: F403
from .core import (
    ADVISORY,
    GLOBAL_TYPE_PREFIXES,
    MANDATORY,
    PACK_NAME,
    Resource,
    Rule,
    StackRule,
    Violation,
    is_production,
    kubeconfig_region,
    resource_region,
    stack_of,
)
from .dns import *  # noqa: F403
from .dr import *  # noqa: F403
from .iam import *  # noqa: F403
from .keys import *  # noqa: F403
from .network import *  # noqa: F403
from .serving import *  # noqa: F403
from .storage import *  # noqa: F403

_MODULES = (storage, keys, cluster, serving, network, balancer, dns, iam, dr)

RESOURCE_RULES: tuple[Rule, ...] = tuple(rule for module in _MODULES for rule in module.RESOURCE_RULES)
STACK_RULES: tuple[StackRule, ...] = tuple(rule for module in _MODULES for rule in module.STACK_RULES)
ALL_RULES: tuple[Rule | StackRule, ...] = RESOURCE_RULES + STACK_RULES


def rule_named(name: str) -> Rule | StackRule:
    for rule in ALL_RULES:
        if rule.name == name:
            return rule
    raise KeyError(name)


def check_resource(resource_type: str, props: Mapping[str, Any], *, urn: str | None = None) -> list[Violation]:
    """Run every resource rule that applies to `resource_type`."""
    return [
        Violation(rule.name, rule.enforcement, urn, message, resource_type)
        for rule in RESOURCE_RULES
        if resource_type in rule.resource_types
        for message in rule.check(resource_type, props)
    ]


def check_stack(resources: Sequence[Resource]) -> list[Violation]:
    """Run every stack rule over all resources."""
    by_urn = {r.urn: r for r in resources}
    return [
        Violation(rule.name, rule.enforcement, urn, message, by_urn[urn].type if urn in by_urn else None)
        for rule in STACK_RULES
        for urn, message in rule.check(resources)
    ]
