"""Entry point of the recsys-dr policy pack: `pulumi preview --policy-pack policy`.

The rules live in the `rules` package (pure Python; `recsys-dr plan` runs the same functions
offline). This file only hands them to pulumi_policy; constructing `PolicyPack` starts the
analyzer server, so tests import `pack.py` instead of this file.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

try:  # run from the pack folder by the Pulumi CLI
    from pack import build_policies
    from rules import PACK_NAME
except ImportError:  # `python -m policy` from the repository root
    from recsys_dr.policy.pack import build_policies
    from recsys_dr.policy.rules import PACK_NAME

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,  # each policy sets its own level; this is the default
    policies=build_policies(),
)
