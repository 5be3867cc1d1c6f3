"""The serving pods' IAM policy: read one model's prefix in one bucket, decrypt with one key."""

from __future__ import annotations


def model_reader_policy(*, bucket_arn: str, key_arn: str, model_name: str, region: str, prefix: str = "models") -> dict:
    """Least privilege for the init container of one region.

    Args:
        bucket_arn: the regional model bucket.
        key_arn: the regional KMS key of that bucket.
        model_name: only `<prefix>/<model_name>/` is listable and readable.
        region: KMS use is allowed only through S3 in this region.
        prefix: top-level key prefix of models. Default "models".
    """
    model_prefix = f"{prefix}/{model_name}/"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListModelVersions",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{model_prefix}*"]}},
            },
            {
                "Sid": "ReadModelFiles",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/{model_prefix}*",
            },
            {
                "Sid": "DecryptModelFiles",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            },
        ],
    }
