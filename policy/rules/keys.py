"""KMS keys (rules `kms-*`)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .core import (
    production_twins,
    MANDATORY,
    unprotected,
    Resource,
    Rule,
    StackRule,
    as_list,
    get,
    is_map,
    linked,
    of,
    policy_document,
    statements,
)

__all__ = [
    "KMS_KEY",
    "KMS_KEY_POLICY",
    "KEY_DESTRUCTION_ACTIONS",
    "check_kms_rotation",
    "check_key_policies_explicit",
]

KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
# An account's root principal, as key policies name it: "arn:aws:iam::<account>:root" or the bare account id.
_ROOT = re.compile(r"^(arn:aws[\w-]*:iam::\d{12}:root|\d{12})$")


def check_kms_rotation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    spec = get(props, "customerMasterKeySpec") or get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and get(props, "enableKeyRotation") is not True:
        return ["enableKeyRotation must be true for symmetric keys"]
    return []


# What makes every object under a key unreadable; a key policy must keep these to a break-glass role.
KEY_DESTRUCTION_ACTIONS = ("kms:DisableKey", "kms:ScheduleKeyDeletion")


def _matches(action: str, patterns: list[str]) -> bool:
    # IAM action names are case-insensitive and take * and ? wildcards.
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _principals(statement: Any) -> list[str]:
    principal = get(statement, "Principal")
    return [str(p) for p in (as_list(get(principal, "AWS")) if is_map(principal) else as_list(principal))]


def _destruction_open_to_account(document: Any) -> list[tuple[str, str]]:
    """(sid, action) for each destruction action an unconditioned Allow gives the account root or
    '*' (the default key policy's "Enable IAM User Permissions": any principal whose IAM policy
    allows it) while no Deny to every principal ('*', conditions allowed, e.g. all but a
    break-glass role) takes it back. Deny wins over Allow in KMS's policy evaluation."""
    listed = statements(document)
    denied = {
        action for action in KEY_DESTRUCTION_ACTIONS
        for st in listed
        if get(st, "Effect") == "Deny" and "*" in _principals(st)
        and _matches(action, [str(a) for a in as_list(get(st, "Action"))])
    }
    found = []
    for index, st in enumerate(listed):
        if get(st, "Effect") != "Allow" or get(st, "Condition"):
            continue
        if not any(p == "*" or _ROOT.match(p) for p in _principals(st)):
            continue
        actions = [str(a) for a in as_list(get(st, "Action"))]
        for action in KEY_DESTRUCTION_ACTIONS:
            if action not in denied and _matches(action, actions):
                found.append((str(get(st, "Sid") or f"#{index}"), action))
    return found


def check_key_policies_explicit(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    keys = of(resources, KMS_KEY)
    attached: dict[str, list[Resource]] = {}
    for key_policy in of(resources, KMS_KEY_POLICY):
        key = linked(key_policy, "keyId", keys, "keyId", "id", "arn")
        if key is not None:
            attached.setdefault(key.urn, []).append(key_policy)
    problems: list[tuple[str | None, str]] = []
    for key in keys:
        sources = [(key.urn, get(key.props, "policy"))] if get(key.props, "policy") else []
        sources += [(p.urn, get(p.props, "policy")) for p in attached.get(key.urn, [])]
        if not sources:
            # pulumi-aws Key.policy: "If a key policy is not specified, AWS gives the KMS key a default key
            # policy that gives all principals in the owning account unlimited access to all KMS operations".
            problems.append((key.urn, f"key {key.name!r} has no explicit policy, so AWS applies the default key policy: "
                                      f"every principal of the account whose IAM policy allows it may use, disable or "
                                      f"schedule deletion of the key"))
            continue
        for urn, policy in sources:
            for sid, action in _destruction_open_to_account(policy_document(policy)):
                problems.append((urn, f"key {key.name!r}: policy statement {sid} lets the account root (or '*') "
                                      f"{action} and no Deny takes it back, as in the default key policy; keep disable "
                                      f"and deletion to a break-glass role"))
    return problems


def _keys_protected(resources: Sequence[Resource], *, production: bool) -> list[tuple[str | None, str]]:
    return unprotected(resources, KMS_KEY, "key", "deleting it from the program schedules the deletion of the key, "
                       "and with it every object it encrypts", production=production)



RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("kms-key-rotation", "Symmetric KMS keys rotate yearly.",
         MANDATORY, (KMS_KEY,), check_kms_rotation),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("kms-key-policy-explicit", "KMS keys have an explicit key policy that keeps disable and deletion from the account at large.",
              MANDATORY, (KMS_KEY, KMS_KEY_POLICY), check_key_policies_explicit),
    # `storage.forceDestroy` (a throw-away stack) turns protect off: refused in production only.
    *production_twins(
        "kms-key-protected", resource_types=(KMS_KEY,), check=_keys_protected,
        production="In production stacks, KMS keys carry the protect resource option.",
        elsewhere="Outside production, a KMS key without the protect resource option is reported.",
    ),
)
