"""ModelKeyPolicies: the explicit key policy of each model bucket key.

A separate step from the buckets because the policy names roles made after the keys (the
serving pods' roles need the bucket and key first) and KMS refuses a policy naming a
principal that does not exist yet ("MalformedPolicyDocumentException ... invalid
principals"); an `aws.kms.KeyPolicy` that takes those roles' ARNs waits for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.storage.policies import KeyGrant, model_key_policy

DECRYPT = ("kms:Decrypt",)
ENCRYPT = ("kms:Encrypt", "kms:GenerateDataKey")


@dataclass(frozen=True, kw_only=True)
class KeyAccess:
    """Who may use one region's key, always only through S3 in that region.

    Attributes:
        region: the key's region.
        key_id: the key.
        decrypters: roles that read objects under the key (serving pods, replication source,
            the release role's multipart uploads).
        encrypters: roles that write objects under the key (release role, replication target).
    """

    region: str
    key_id: pulumi.Input[str]
    decrypters: Sequence[pulumi.Input[str]] = ()
    encrypters: Sequence[pulumi.Input[str]] = ()


@dataclass(frozen=True, kw_only=True)
class ModelKeyPoliciesArgs:
    """Arguments of `ModelKeyPolicies`.

    Attributes:
        keys: the keys, keyed by role ("primary"/"standby").
        break_glass_arns: roles that alone may disable or delete the keys. Default none
            (nobody may, until the policy changes).
    """

    keys: Mapping[str, KeyAccess]
    break_glass_arns: Sequence[str] = field(default_factory=tuple)


class ModelKeyPolicies(pulumi.ComponentResource):
    """One `aws.kms.KeyPolicy` per key (the account statement, grants, break-glass deny)."""

    policies: dict[str, aws.kms.KeyPolicy]

    def __init__(self, name: str, args: ModelKeyPoliciesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("recsys-dr:components:ModelKeyPolicies", name, None, opts)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.policies = {}
        for role, access in sorted(args.keys.items()):
            document = pulumi.Output.all(
                account_id, pulumi.Output.all(*access.decrypters), pulumi.Output.all(*access.encrypters)
            ).apply(lambda values, access=access: json.dumps(model_key_policy(
                account_id=values[0], region=access.region, break_glass_arns=list(args.break_glass_arns),
                grants=[KeyGrant("DecryptViaS3", tuple(values[1]), DECRYPT), KeyGrant("EncryptViaS3", tuple(values[2]), ENCRYPT)],
            )))
            self.policies[role] = aws.kms.KeyPolicy(
                f"{name}-{role}", region=access.region, key_id=access.key_id, policy=document,
                # Never skip KMS's lockout check: the account statement must keep the key manageable.
                bypass_policy_lockout_safety_check=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"keyPolicyIds": {role: policy.id for role, policy in self.policies.items()}})
