"""The training Job's IAM policy: read the data prefix, create new versions of one model, nothing else."""

from __future__ import annotations


def _prefix_of(uri: str) -> tuple[str, str]:
    """`(bucket, key)` of `s3://bucket/key`."""
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def training_policy(*, interactions: str, catalog: str, model_bucket_arn: str, model_key_arn: str, model_name: str,
                    region: str, partition: str = "aws", prefix: str = "models") -> dict:
    """Least privilege for `python -m recsys_dr.model build` + `publish` in the Job.

    Args:
        interactions: `s3://bucket/prefix/` of the shards: listed and read.
        catalog: `s3://bucket/key` of the catalog (same bucket): read.
        model_bucket_arn / model_key_arn: the primary model bucket and its KMS key.
        model_name: only `<prefix>/<model_name>/` is listed, read and written.
        region: KMS use only through S3 in this region.
        partition: ARN partition. Default "aws".
        prefix: top-level key prefix of models. Default "models".

    Writes are creates only: `s3:PutObject` is allowed with the `If-None-Match` header present
    (`s3:if-none-match`, S3 user guide "Enforce conditional writes"), and without it only for the
    steps of a multipart upload that take no conditional header (`s3:ObjectCreationOperation`
    false: CreateMultipartUpload, UploadPart), whose CompleteMultipartUpload must carry it again.
    The model buckets' policy enforces the same for every principal (`storage.policies`).
    """
    data_bucket, data_prefix = _prefix_of(interactions)
    _, catalog_key = _prefix_of(catalog)
    data_arn = f"arn:{partition}:s3:::{data_bucket}"
    versions = f"{prefix}/{model_name}/"
    objects = f"{model_bucket_arn}/{versions}*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListData", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": data_arn,
             "Condition": {"StringLike": {"s3:prefix": [f"{data_prefix}*"]}}},
            {"Sid": "ReadData", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": [f"{data_arn}/{data_prefix}*", f"{data_arn}/{catalog_key}"]},
            {"Sid": "ListModelVersions", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": model_bucket_arn,
             "Condition": {"StringLike": {"s3:prefix": [f"{versions}*"]}}},
            {"Sid": "ReadModelVersions", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
            {"Sid": "CreateModelFiles", "Effect": "Allow", "Action": "s3:PutObject", "Resource": objects,
             "Condition": {"Null": {"s3:if-none-match": "false"}}},
            {"Sid": "UploadModelFileParts", "Effect": "Allow", "Action": "s3:PutObject", "Resource": objects,
             "Condition": {"Bool": {"s3:ObjectCreationOperation": "false"}}},
            {"Sid": "AbortModelFileParts", "Effect": "Allow", "Action": "s3:AbortMultipartUpload", "Resource": objects},
            {"Sid": "EncryptModelFiles", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
             "Resource": model_key_arn, "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
        ],
    }
