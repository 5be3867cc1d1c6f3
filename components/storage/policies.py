"""Bucket and replication-role policy documents (plain functions over ARNs)."""

from __future__ import annotations

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
                "Action": [
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
