"""KMS keys (rules `kms-*`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import MANDATORY, Rule, StackRule, _get

__all__ = [
    "KMS_KEY",
    "check_kms_rotation",
]


KMS_KEY = "aws:kms/key:Key"


def check_kms_rotation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    spec = _get(props, "customerMasterKeySpec") or _get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and _get(props, "enableKeyRotation") is not True:
        return ["enableKeyRotation must be true for symmetric keys"]
    return []


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("kms-key-rotation", "Symmetric KMS keys rotate yearly.",
         MANDATORY, (KMS_KEY,), check_kms_rotation),
)

STACK_RULES: tuple[StackRule, ...] = ()
