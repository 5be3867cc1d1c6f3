"""ModelAuditTrail: who wrote or deleted what under `models/`, per region.

One single-region CloudTrail trail per model-bucket region, with its own log bucket there (so
the standby's record survives the primary region), logging
  * S3 data events that write under the model prefix (PutObject, CompleteMultipartUpload,
    DeleteObject, retention changes ... - the reads of serving pods are left out), and
  * write management events, so key, bucket and trail calls reach EventBridge for `TamperAlarms`.
Log file validation is on: CloudTrail signs hourly digest files, so a removed or edited log
file is detectable (CloudTrail user guide, "Validating CloudTrail log file integrity"). The logs
are encrypted with a key of their own (SSE-KMS, the trail's `kms_key_id` and the bucket default).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.storage.defaults import KMS_DELETION_WINDOW_DAYS, MODEL_PREFIX, PUBLIC_ACCESS_BLOCK
from recsys_dr.components.storage.policies import model_key_policy, tls_only_bucket_policy

DEFAULT_LOG_RETENTION_DAYS = 365
# CloudTrail writes its log files under this prefix only; lifecycle rules stay inside it.
LOG_PREFIX = "AWSLogs/"


def trail_event_selectors(*, bucket_arn: str, prefix: str = MODEL_PREFIX) -> list[dict]:
    """Advanced event selectors: write management events, and write data events on the
    model objects of one bucket (`resources.ARN` StartsWith `<bucket ARN>/<prefix>`)."""
    return [
        {
            "name": "Write management events",
            "field_selectors": [
                {"field": "eventCategory", "equals": ["Management"]},
                {"field": "readOnly", "equals": ["false"]},
            ],
        },
        {
            "name": "Writes and deletes of model versions",
            "field_selectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                {"field": "readOnly", "equals": ["false"]},
                {"field": "resources.ARN", "starts_withs": [f"{bucket_arn}/{prefix}"]},
            ],
        },
    ]


def trail_arn(*, region: str, account_id: str, trail_name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{trail_name}"


def trail_bucket_policy(*, bucket_arn: str, account_id: str, source_trail_arn: str) -> dict:
    """TLS only, plus CloudTrail's delivery statements scoped to this one trail
    (CloudTrail user guide, "Amazon S3 bucket policy for CloudTrail", `aws:SourceArn`)."""
    only_this_trail = {"StringEquals": {"aws:SourceArn": source_trail_arn}}
    return {
        "Version": "2012-10-17",
        "Statement": tls_only_bucket_policy(bucket_arn)["Statement"] + [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": only_this_trail,
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": source_trail_arn}},
            },
        ],
    }


def trail_key_policy(*, account_id: str, source_trail_arn: str, break_glass_arns: list[str]) -> dict:
    """The log key: the account statement and break-glass deny of the model keys, and CloudTrail
    may encrypt for this one trail (CloudTrail user guide, "Configure AWS KMS key policies for
    CloudTrail": `kms:GenerateDataKey*` with `aws:SourceArn` and the cloudtrail encryption context)."""
    policy = model_key_policy(account_id=account_id, region="", grants=[], break_glass_arns=break_glass_arns)
    policy["Statement"] += [
        {
            "Sid": "CloudTrailEncryptsThisTrail",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": source_trail_arn},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"},
            },
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": source_trail_arn}},
        },
    ]
    return policy


@dataclass(frozen=True, kw_only=True)
class ModelAuditTrailArgs:
    """Arguments of `ModelAuditTrail`.

    Attributes:
        trail_name: name of the trail created in each region (trail names are per region).
        model_bucket_arns: the model bucket of each region, keyed by region.
        log_retention_days: days the log files are kept. Default 365.
        break_glass_arns: roles that alone may disable or delete the log keys. Default none.
        protect: refuse `pulumi destroy` of the log buckets and keys. Default True.
        tags: tags on every taggable resource. Default none.
    """

    trail_name: str
    model_bucket_arns: Mapping[str, pulumi.Input[str]]
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    break_glass_arns: tuple[str, ...] = ()
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


class ModelAuditTrail(pulumi.ComponentResource):
    """A trail and a log bucket per region (versioned, TLS only, public access blocked)."""

    trails: dict[str, aws.cloudtrail.Trail]
    keys: dict[str, aws.kms.Key]

    def __init__(self, name: str, args: ModelAuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not 1 <= args.log_retention_days <= 3653:
            raise ValueError(f"`log_retention_days` must be an integer from 1 to 3653. Received: {args.log_retention_days!r}")
        super().__init__("recsys-dr:components:ModelAuditTrail", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        tags = dict(args.tags)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.trails, self.keys = {}, {}
        for region, model_bucket_arn in sorted(args.model_bucket_arns.items()):
            prefix = f"{name}-{region}"
            source_arn = account_id.apply(
                lambda account, region=region: trail_arn(region=region, account_id=account, trail_name=args.trail_name)
            )
            key = aws.kms.Key(
                prefix, region=region, description=f"CloudTrail logs of the model buckets in {region}", enable_key_rotation=True,
                deletion_window_in_days=KMS_DELETION_WINDOW_DAYS, tags=tags,
                policy=pulumi.Output.all(account_id, source_arn).apply(lambda values: json.dumps(trail_key_policy(
                    account_id=values[0], source_trail_arn=values[1], break_glass_arns=list(args.break_glass_arns),
                ))),
                opts=kept,
            )
            self.keys[region] = key
            bucket = aws.s3.Bucket(prefix, region=region, tags=tags, opts=kept)
            aws.s3.BucketOwnershipControls(prefix, region=region, bucket=bucket.id,
                                           rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
            public_access = aws.s3.BucketPublicAccessBlock(prefix, region=region, bucket=bucket.id, **PUBLIC_ACCESS_BLOCK, opts=child)
            versioning = aws.s3.BucketVersioning(prefix, region=region, bucket=bucket.id,
                                                 versioning_configuration={"status": "Enabled"}, opts=child)
            aws.s3.BucketServerSideEncryptionConfiguration(
                prefix, region=region, bucket=bucket.id,
                rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                        "bucket_key_enabled": True}],
                opts=child,
            )
            aws.s3.BucketLifecycleConfiguration(
                prefix, region=region, bucket=bucket.id,
                rules=[{
                    "id": "expire-audit-logs", "status": "Enabled", "filter": {"prefix": LOG_PREFIX},
                    "expiration": {"days": args.log_retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": args.log_retention_days},
                }],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
            )
            policy = aws.s3.BucketPolicy(
                prefix, region=region, bucket=bucket.id,
                policy=pulumi.Output.all(bucket.arn, account_id, source_arn).apply(
                    lambda values: json.dumps(trail_bucket_policy(bucket_arn=values[0], account_id=values[1], source_trail_arn=values[2]))
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
            )
            self.trails[region] = aws.cloudtrail.Trail(
                prefix, name=args.trail_name, region=region, s3_bucket_name=bucket.id, kms_key_id=key.arn,
                is_multi_region_trail=False, include_global_service_events=False, enable_log_file_validation=True,
                advanced_event_selectors=pulumi.Output.from_input(model_bucket_arn).apply(
                    lambda arn: trail_event_selectors(bucket_arn=arn)
                ),
                tags=tags,
                # CloudTrail checks it may write to the bucket when the trail is created.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
        self.register_outputs({"trailArns": {region: trail.arn for region, trail in self.trails.items()}})
