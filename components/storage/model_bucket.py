"""ReplicatedModelBucket: a KMS-encrypted model bucket per region, replicated primary -> standby."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.iam import service_trust_policy
from recsys_dr.components.storage import defaults
from recsys_dr.components.storage.policies import model_bucket_policy, replication_role_policy, replication_rule
from recsys_dr.components.settings.regions import RegionPair
from recsys_dr.components.settings.storage import StorageSettings


@dataclass(frozen=True, kw_only=True)
class ModelBucketArgs:
    """Arguments of `ReplicatedModelBucket`.

    Regions are plain values, not Inputs: they decide which resources exist where.

    Attributes:
        regions: the pair; the primary receives publishes (source of replication), the
            standby receives replicas.
        storage: the `storage` settings (`forceDestroy`, `releaseRoleArn`, `breakGlassRoleArn`,
            `objectLockDays`).
        model_prefix: key prefix that is replicated and served. Default "models/".
        publisher_arns: roles besides `storage.releaseRoleArn` that may create model files in the
            primary bucket (the training Job's). Default none.
        tags: tags added to every taggable resource. Default none.

    Model versions never expire: a noncurrent version is the evidence of what ran.
    """

    regions: RegionPair
    storage: StorageSettings = field(default_factory=StorageSettings)
    model_prefix: str = defaults.MODEL_PREFIX
    publisher_arns: Sequence[pulumi.Input[str]] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegionalBucket:
    """The bucket and key of one region."""

    region: str
    bucket: aws.s3.Bucket
    key: aws.kms.Key
    versioning: aws.s3.BucketVersioning
    object_lock: aws.s3.BucketObjectLockConfiguration


class ReplicatedModelBucket(pulumi.ComponentResource):
    """Model artifact buckets in two regions with Replication Time Control between them.

    Each region gets its own KMS key (so the standby never depends on the primary's KMS),
    versioning, SSE-KMS with bucket keys, blocked public access, Object Lock in governance
    mode, and a policy that allows TLS only, writes by the release role (primary) or the
    replication role (standby) only, no overwrites, and deletes by the break-glass role only.
    Buckets and keys are protected unless `forceDestroy`. Objects under `model_prefix` replicate from
    the primary to the standby within the 15-minute RTC SLA, re-encrypted with the
    standby key. Delete markers are not replicated (see `defaults.DELETE_MARKER_REPLICATION`).
    """

    primary: RegionalBucket
    standby: RegionalBucket
    replication_role: aws.iam.Role
    replication: aws.s3.BucketReplicationConfig

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("recsys-dr:components:ReplicatedModelBucket", name, None, opts)
        tags = {"recsys-dr:component": name, **args.tags}
        # First: the bucket policies name it as the standby's only replica writer.
        self.replication_role = self._replication_role(name, tags)
        release = [args.storage.release_role_arn] if args.storage.release_role_arn else []
        self.primary = self._regional_bucket(f"{name}-primary", args.regions.primary, args, tags,
                                             writers=[*release, *args.publisher_arns], replicators=[])
        self.standby = self._regional_bucket(
            f"{name}-standby", args.regions.standby, args, tags, writers=[], replicators=[self.replication_role.arn]
        )
        self.replication = self._replication(name, args)
        self.register_outputs({
            "primaryBucket": self.primary.bucket.bucket,
            "primaryBucketArn": self.primary.bucket.arn,
            "primaryKeyArn": self.primary.key.arn,
            "standbyBucket": self.standby.bucket.bucket,
            "standbyBucketArn": self.standby.bucket.arn,
            "standbyKeyArn": self.standby.key.arn,
            "replicationRoleArn": self.replication_role.arn,
        })

    def _replication_role(self, name: str, tags: Mapping[str, str]) -> aws.iam.Role:
        """The role S3 replication assumes: for this account's buckets only (aws:SourceAccount: the IAM
        user guide's cross-service confused-deputy protection, which S3 replication supports)."""
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        return aws.iam.Role(
            f"{name}-replication",
            assume_role_policy=account_id.apply(lambda account: json.dumps(service_trust_policy("s3.amazonaws.com", source_account=account))),
            description="S3 replication of model artifacts to the standby region",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _replication(self, name: str, args: ModelBucketArgs) -> aws.s3.BucketReplicationConfig:
        """The replication role's policy and the primary's rule copying `model_prefix` to the standby."""
        policy = pulumi.Output.all(
            self.primary.bucket.arn, self.standby.bucket.arn, self.primary.key.arn, self.standby.key.arn
        ).apply(
            lambda arns: json.dumps(
                replication_role_policy(
                    source_bucket_arn=arns[0],
                    destination_bucket_arn=arns[1],
                    source_key_arn=arns[2],
                    destination_key_arn=arns[3],
                    source_region=args.regions.primary,
                    destination_region=args.regions.standby,
                    prefix=args.model_prefix,
                )
            )
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-replication", role=self.replication_role.id, policy=policy, opts=pulumi.ResourceOptions(parent=self)
        )
        rule = pulumi.Output.all(self.standby.bucket.arn, self.standby.key.arn).apply(
            lambda arns: replication_rule(
                destination_bucket_arn=arns[0],
                destination_key_arn=arns[1],
                rule_id=defaults.REPLICATION_RULE_ID,
                prefix=args.model_prefix,
                minutes=defaults.REPLICATION_TIME_MINUTES,
                delete_markers=defaults.DELETE_MARKER_REPLICATION,
            )
        )
        return aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            region=args.regions.primary,
            bucket=self.primary.bucket.id,
            role=self.replication_role.arn,
            rules=[rule],
            # S3 rejects replication until versioning is on at both ends.
            # A locked source replicates only into a locked destination (S3 replication failure
            # reason DstBucketObjectLockConfigMissing).
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.primary.versioning, self.standby.versioning, role_policy,
                                         self.primary.object_lock, self.standby.object_lock]
            ),
        )

    def _regional_bucket(
        self, name: str, region: str, args: ModelBucketArgs, tags: Mapping[str, str], *,
        writers: list[pulumi.Input[str]], replicators: list[pulumi.Input[str]],
    ) -> RegionalBucket:
        """One region's key and bucket with its settings, policy and retention."""
        key, bucket = self._key_and_bucket(name, region, args, tags)
        public_access, versioning = self._bucket_settings(name, region, bucket, key)
        self._bucket_policy(name, region, bucket, args, writers=writers, replicators=replicators, after=public_access)
        object_lock = self._retention(name, region, bucket, args, versioning)
        return RegionalBucket(region=region, bucket=bucket, key=key, versioning=versioning, object_lock=object_lock)

    def _key_and_bucket(self, name: str, region: str, args: ModelBucketArgs,
                        tags: Mapping[str, str]) -> tuple[aws.kms.Key, aws.s3.Bucket]:
        # Losing a bucket or key loses every version in the region: `pulumi destroy` must be
        # asked to twice (unprotect first), unless the stack says the buckets may go.
        kept = pulumi.ResourceOptions(parent=self, protect=not args.storage.force_destroy)
        key = aws.kms.Key(
            f"{name}-key",
            region=region,
            description=f"Model artifacts in {region}",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
            tags=dict(tags),
            opts=kept,
        )
        bucket = aws.s3.Bucket(
            name, region=region, force_destroy=args.storage.force_destroy, tags=dict(tags), opts=kept
        )
        return key, bucket

    def _bucket_settings(self, name: str, region: str, bucket: aws.s3.Bucket,
                         key: aws.kms.Key) -> tuple[aws.s3.BucketPublicAccessBlock, aws.s3.BucketVersioning]:
        """Owner-enforced objects, blocked public access, versioning and SSE-KMS with bucket keys."""
        child = pulumi.ResourceOptions(parent=self)
        aws.s3.BucketOwnershipControls(
            name, region=region, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            name, region=region, bucket=bucket.id, **defaults.PUBLIC_ACCESS_BLOCK, opts=child
        )
        versioning = aws.s3.BucketVersioning(
            name, region=region, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            region=region,
            bucket=bucket.id,
            rules=[{
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                # Bucket keys cut KMS requests (and cost) for the many small SavedModel files.
                "bucket_key_enabled": True,
            }],
            opts=child,
        )
        return public_access, versioning

    def _bucket_policy(self, name: str, region: str, bucket: aws.s3.Bucket, args: ModelBucketArgs, *,
                       writers: list[pulumi.Input[str]], replicators: list[pulumi.Input[str]],
                       after: aws.s3.BucketPublicAccessBlock) -> None:
        """TLS only, writes by `writers` or `replicators` only, no overwrites, deletes by break-glass only."""
        break_glass = [args.storage.break_glass_role_arn] if args.storage.break_glass_role_arn else []
        aws.s3.BucketPolicy(
            name,
            region=region,
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, pulumi.Output.all(*replicators), pulumi.Output.all(*writers)).apply(
                lambda values: json.dumps(model_bucket_policy(
                bucket_arn=values[0], writer_arns=values[2], replicator_arns=values[1], break_glass_arns=break_glass,
                prefix=args.model_prefix,
            ))),
            # The account-level block must settle first or S3 refuses the policy call.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[after]),
        )

    def _retention(self, name: str, region: str, bucket: aws.s3.Bucket, args: ModelBucketArgs,
                   versioning: aws.s3.BucketVersioning) -> aws.s3.BucketObjectLockConfiguration:
        """Object Lock's default retention and the lifecycle rule clearing abandoned uploads."""
        # Governance mode: every new version is locked for `objectLockDays`; only a principal
        # with s3:BypassGovernanceRetention (the bucket policy keeps it to break-glass) can lift
        # it. This resource also turns Object Lock on for a bucket that exists already
        # (PutObjectLockConfiguration on a versioned bucket); it cannot be turned off again.
        object_lock = aws.s3.BucketObjectLockConfiguration(
            name,
            region=region,
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule={"default_retention": {"mode": defaults.OBJECT_LOCK_MODE, "days": args.storage.object_lock_days}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            region=region,
            bucket=bucket.id,
            rules=[{
                "id": "abort-incomplete-uploads",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "abort_incomplete_multipart_upload": {"days_after_initiation": defaults.ABORT_INCOMPLETE_MULTIPART_DAYS},
            }],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        return object_lock
