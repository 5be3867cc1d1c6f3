"""Bucket and replication-role policy documents (plain functions over ARNs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recsys_dr.components.storage.defaults import MODEL_PREFIX


def tls_only_bucket_policy(bucket_arn: str) -> dict:
    """Deny every request to the bucket that does not use TLS 1.2 or newer."""
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOutdatedTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            },
        ],
    }


def replication_role_policy(
    *,
    source_bucket_arn: str,
    destination_bucket_arn: str,
    source_key_arn: str,
    destination_key_arn: str,
    source_region: str,
    destination_region: str,
    prefix: str = MODEL_PREFIX,
) -> dict:
    """Least privilege for S3 replication of `prefix` from source to destination.

    Reads only object versions under `prefix` of the source, writes only under `prefix`
    of the destination, decrypts only with the source key and encrypts only with the
    destination key, each only when S3 in that key's region asks. (No encryption-context
    condition: with S3 Bucket Keys the context is the bucket ARN, not the object's.)
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadReplicationConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": source_bucket_arn,
            },
            {
                "Sid": "ReadSourceVersions",
                "Effect": "Allow",
                # Retention and legal hold replicate with the object version (S3 FAQ: replicating
                # from Object Lock buckets needs s3:GetObjectRetention and s3:GetObjectLegalHold).
                "Action": [
                    "s3:GetObjectLegalHold",
                    "s3:GetObjectRetention",
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": f"{source_bucket_arn}/{prefix}*",
            },
            {
                "Sid": "WriteReplicas",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": f"{destination_bucket_arn}/{prefix}*",
            },
            {
                "Sid": "DecryptSource",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": source_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{source_region}.amazonaws.com"}},
            },
            {
                "Sid": "EncryptReplica",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": destination_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{destination_region}.amazonaws.com"}},
            },
        ],
    }


def replication_rule(*, destination_bucket_arn: str, destination_key_arn: str, rule_id: str, prefix: str,
                     minutes: int, delete_markers: str) -> dict:
    """One S3 replication rule with Replication Time Control and metrics, as pulumi-aws args."""
    return {
        "id": rule_id,
        "status": "Enabled",
        "priority": 1,
        "filter": {"prefix": prefix},
        "delete_marker_replication": {"status": delete_markers},
        "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
        "destination": {
            "bucket": destination_bucket_arn,
            "storage_class": "STANDARD",
            "encryption_configuration": {"replica_kms_key_id": destination_key_arn},
            "replication_time": {"status": "Enabled", "time": {"minutes": minutes}},
            "metrics": {"status": "Enabled", "event_threshold": {"minutes": minutes}},
        },
    }


def _except(principal_arns: Sequence[str]) -> dict:
    """A condition exempting these principals (role ARNs; a role session's `aws:PrincipalArn`
    is its role's ARN). No principals: the statement applies to everyone."""
    arns = sorted(set(principal_arns))
    return {"Condition": {"ArnNotEquals": {"aws:PrincipalArn": arns}}} if arns else {}


def model_bucket_policy(
    *,
    bucket_arn: str,
    writer_arns: Sequence[str] = (),
    replicator_arns: Sequence[str] = (),
    break_glass_arns: Sequence[str] = (),
    prefix: str = MODEL_PREFIX,
) -> dict:
    """TLS only, plus what keeps a published version as it was published.

    Under `prefix`:
      * only `writer_arns` (the release role, in the primary) may create objects, and only
        `replicator_arns` (the replication role, in the standby) may write replicas;
      * nobody overwrites: PutObject/CompleteMultipartUpload must carry `If-None-Match`
        (S3 user guide, "Enforce conditional writes": `s3:if-none-match`, with
        `s3:ObjectCreationOperation` exempting CreateMultipartUpload/UploadPart, which take no
        conditional header);
      * nobody but `break_glass_arns` deletes a version, places a delete marker, bypasses
        governance retention or changes retention and legal holds.
    Empty lists mean nobody. Deny statements bind every principal of every account, the
    bucket owner's administrators included, which IAM allows alone cannot.
    """
    objects = f"{bucket_arn}/{prefix}*"
    statements = tls_only_bucket_policy(bucket_arn)["Statement"] + [
        {
            "Sid": "DenyModelWritesButPublisher",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            **_except(writer_arns),
        },
        {
            "Sid": "DenyReplicaWritesButReplication",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": objects,
            **_except(replicator_arns),
        },
        {
            "Sid": "DenyOverwrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}},
        },
        {
            "Sid": "DenyVersionDeletesButBreakGlass",
            "Effect": "Deny",
            "Principal": "*",
            "Action": [
                "s3:BypassGovernanceRetention",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:PutObjectLegalHold",
                "s3:PutObjectRetention",
            ],
            "Resource": objects,
            **_except(break_glass_arns),
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class KeyGrant:
    """Principals allowed some KMS actions on a key, only through S3 in the key's region."""

    sid: str
    principal_arns: tuple[str, ...]
    actions: tuple[str, ...]


# What may only be done by the break-glass role: the operations that make every object
# under the key unreadable (disable, delete, delete imported material).
KEY_DESTRUCTION_ACTIONS = ("kms:DeleteImportedKeyMaterial", "kms:DisableKey", "kms:ScheduleKeyDeletion")


def model_key_policy(*, account_id: str, region: str, grants: Sequence[KeyGrant], break_glass_arns: Sequence[str] = ()) -> dict:
    """An explicit key policy for a model bucket key.

    Keeps the account statement of the KMS default key policy ("Allows access to the AWS
    account and enables IAM policies", KMS developer guide): without it only the principals
    named here could ever manage the key, and a mistake makes it unmanageable. Then each
    grant names its role and actions, usable only via S3 in `region`, and one deny keeps
    disable and deletion to `break_glass_arns` (everyone, if none: the policy itself must
    then change first, which the key alarms report).
    """
    statements: list[dict] = [
        {
            "Sid": "EnableIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "DenyKeyDestructionButBreakGlass",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": list(KEY_DESTRUCTION_ACTIONS),
            "Resource": "*",
            **_except(break_glass_arns),
        },
    ]
    for grant in grants:
        if not grant.principal_arns:
            continue
        statements.append({
            "Sid": grant.sid,
            "Effect": "Allow",
            "Principal": {"AWS": sorted(set(grant.principal_arns))},
            "Action": sorted(set(grant.actions)),
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        })
    return {"Version": "2012-10-17", "Statement": statements}
