"""KMS keys (rules `kms-*`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .core import (
    ADVISORY,
    MANDATORY,
    Resource,
    Rule,
    StackRule,
    _as_list,
    _get,
    _is_map,
    _linked,
    _of,
    _policy_document,
    _statements,
)

__all__ = [
    "KMS_KEY",
    "KMS_KEY_POLICY",
    "check_kms_rotation",
    "check_key_policies_explicit",
    "check_keys_protected",
]

KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
# An account's root principal, as key policies name it: "arn:aws:iam::<account>:root" or the bare account id.
_ROOT = re.compile(r"^(arn:aws[\w-]*:iam::\d{12}:root|\d{12})$")


def check_kms_rotation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    spec = _get(props, "customerMasterKeySpec") or _get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and _get(props, "enableKeyRotation") is not True:
        return ["enableKeyRotation must be true for symmetric keys"]
    return []


def _delegates_everything(document: Any) -> list[str]:
    """Sids of statements that allow every key action to the account root or to anyone, without
    a condition: the default key policy's "Enable IAM User Permissions" statement, after which any
    principal whose IAM policy allows kms:* may disable the key or schedule its deletion."""
    found = []
    for index, statement in enumerate(_statements(document)):
        if _get(statement, "Effect") != "Allow" or _get(statement, "Condition"):
            continue
        actions = [str(a) for a in _as_list(_get(statement, "Action"))]
        if not any(a in ("*", "kms:*") for a in actions):
            continue
        principal = _get(statement, "Principal")
        principals = [str(p) for p in (_as_list(_get(principal, "AWS")) if _is_map(principal) else _as_list(principal))]
        if any(p == "*" or _ROOT.match(p) for p in principals):
            found.append(str(_get(statement, "Sid") or f"#{index}"))
    return found


def check_key_policies_explicit(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    keys = _of(resources, KMS_KEY)
    attached: dict[str, list[Resource]] = {}
    for key_policy in _of(resources, KMS_KEY_POLICY):
        key = _linked(key_policy, "keyId", keys, "keyId", "id", "arn")
        if key is not None:
            attached.setdefault(key.urn, []).append(key_policy)
    problems: list[tuple[str | None, str]] = []
    for key in keys:
        sources = [(key.urn, _get(key.props, "policy"))] if _get(key.props, "policy") else []
        sources += [(p.urn, _get(p.props, "policy")) for p in attached.get(key.urn, [])]
        if not sources:
            # pulumi-aws Key.policy: "If a key policy is not specified, AWS gives the KMS key a default key
            # policy that gives all principals in the owning account unlimited access to all KMS operations".
            problems.append((key.urn, f"key {key.name!r} has no explicit policy, so AWS applies the default key policy: "
                                      f"every principal of the account whose IAM policy allows it may use, disable or "
                                      f"schedule deletion of the key"))
            continue
        for urn, policy in sources:
            for sid in _delegates_everything(_policy_document(policy)):
                problems.append((urn, f"key {key.name!r}: policy statement {sid} allows kms:* to the account root (or "
                                      f"'*') without a condition, as the default key policy does; grant use to the "
                                      f"roles that need it, disable and deletion to a break-glass role"))
    return problems


def check_keys_protected(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    return [
        (key.urn, f"key {key.name!r} is not protected (resource option protect): deleting it from the program "
                  f"schedules the deletion of the key, and with it every object it encrypts")
        for key in _of(resources, KMS_KEY)
        if _get(key.options, "protect") is not True
    ]


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("kms-key-rotation", "Symmetric KMS keys rotate yearly.",
         MANDATORY, (KMS_KEY,), check_kms_rotation),
)

STACK_RULES: tuple[StackRule, ...] = (
    # Both advisory until the shipped keys carry explicit policies and protect (issue 12 item 4).
    StackRule("kms-key-policy-explicit", "KMS keys have an explicit key policy that does not hand kms:* to the whole account.",
              ADVISORY, (KMS_KEY, KMS_KEY_POLICY), check_key_policies_explicit),
    StackRule("kms-key-protected", "KMS keys carry the protect resource option.",
              ADVISORY, (KMS_KEY,), check_keys_protected),
)
