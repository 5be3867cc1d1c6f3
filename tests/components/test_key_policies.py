"""ModelKeyPolicies: explicit key policies naming the roles that use each key."""

from __future__ import annotations

import json

import pulumi
import pytest

from recsys_dr.components.storage.key_policies import KeyAccess, ModelKeyPolicies, ModelKeyPoliciesArgs
from tests.support import render

ROLE = "arn:aws:iam::123456789012:role/{}"


@pytest.fixture(scope="module")
def run():
    return render(lambda: ModelKeyPolicies("keys", ModelKeyPoliciesArgs(
        keys={
            "primary": KeyAccess(region="us-east-1", key_id="key-p", decrypters=[pulumi.Output.from_input(ROLE.format("reader-p")),
                                                                                  ROLE.format("replication"), ROLE.format("release")],
                                 encrypters=[ROLE.format("release")]),
            "standby": KeyAccess(region="us-west-2", key_id="key-s", decrypters=[ROLE.format("reader-s")], encrypters=[ROLE.format("replication")]),
        },
        break_glass_arns=[ROLE.format("break-glass")],
    )))


def _policies(run) -> dict[str, dict]:
    return {p.inputs["region"]: json.loads(p.inputs["policy"]) for p in run.of_type("aws:kms/keyPolicy:KeyPolicy")}


def test_each_key_gets_its_own_regions_grants(run):
    policies = _policies(run)
    primary = {s["Sid"]: s for s in policies["us-east-1"]["Statement"]}
    standby = {s["Sid"]: s for s in policies["us-west-2"]["Statement"]}
    assert primary["DecryptViaS3"]["Principal"]["AWS"] == sorted(ROLE.format(r) for r in ("reader-p", "replication", "release"))
    assert standby["EncryptViaS3"]["Principal"]["AWS"] == [ROLE.format("replication")]
    assert standby["EncryptViaS3"]["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-west-2.amazonaws.com"


def test_every_key_policy_keeps_the_account_statement_and_the_break_glass_deny(run):
    for policy in _policies(run).values():
        sids = {s["Sid"]: s for s in policy["Statement"]}
        assert sids["EnableIamPolicies"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert sids["DenyKeyDestructionButBreakGlass"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [ROLE.format("break-glass")]


def test_the_lockout_safety_check_is_never_bypassed(run):
    assert {p.inputs["bypassPolicyLockoutSafetyCheck"] for p in run.of_type("aws:kms/keyPolicy:KeyPolicy")} == {False}
