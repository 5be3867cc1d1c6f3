"""S3 model buckets: encryption, versioning, public access, replication (rules `s3-*`)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from .core import (
    production_twins,
    MANDATORY,
    unprotected,
    Resource,
    Rule,
    StackRule,
    is_map,
    get,
    items,
    num,
    enabled,
    as_list,
    policy_document,
    statements,
    of,
    depends_on,
    linked,
)

__all__ = [
    "BUCKET",
    "BUCKET_ACL",
    "BUCKET_POLICY",
    "BUCKET_SSE",
    "BUCKET_VERSIONING",
    "BUCKET_PAB",
    "BUCKET_REPLICATION",
    "BUCKET_LIFECYCLE",
    "BUCKET_OBJECT_LOCK",
    "MODELS_PREFIX",
    "RTC_MINUTES",
    "PUBLIC_ACLS",
    "PUBLIC_GRANTEE_URIS",
    "check_bucket_acl",
    "check_sse_kms",
    "check_versioning",
    "check_public_access_block",
    "check_bucket_policy_not_public",
    "check_replication_rtc",
    "check_replication_kms",
    "check_buckets_guarded",
    "check_replication_cross_region",
    "check_model_versions_kept",
    "check_object_lock",
    "check_model_versions_immutable",
]


BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
# Where `model publish` writes versions and the init container reads them (MODEL_PREFIX).
MODELS_PREFIX = "models/"
RTC_MINUTES = 15
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GRANTEE_URIS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def check_bucket_acl(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    acl = get(props, "acl")
    if acl in PUBLIC_ACLS:
        problems.append(f"bucket ACL {acl!r} makes objects readable outside the account; use 'private' or no ACL")
    grants = items(get(props, "grants")) + items(get(props, "accessControlPolicy", "grants"))
    for grant in grants:
        uri = get(grant, "uri") or get(grant, "grantee", "uri")
        if uri in PUBLIC_GRANTEE_URIS:
            problems.append(f"ACL grant to {uri} makes the bucket public")
    return problems


def check_sse_kms(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    rules = items(get(props, "rules"))
    if not rules:
        return ["bucket encryption has no rule; set applyServerSideEncryptionByDefault with sseAlgorithm 'aws:kms'"]
    problems = []
    for index, rule in enumerate(rules):
        algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        key = get(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            problems.append(f"rules[{index}] encrypts with {algorithm!r}; must be 'aws:kms' with a customer-managed key")
        elif not key:
            problems.append(f"rules[{index}] uses aws:kms without kmsMasterKeyId (AWS-managed key cannot be shared with the replica)")
    return problems


def check_versioning(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    status = get(props, "versioningConfiguration", "status")
    if status != "Enabled":
        return [f"versioningConfiguration.status is {status!r}; must be 'Enabled' (replication and rollback need versions)"]
    return []


def check_public_access_block(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [flag for flag in flags if get(props, flag) is not True]
    if off:
        return [f"public access block must set all four flags to true; not true: {', '.join(off)}"]
    return []


def check_bucket_policy_not_public(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    document = policy_document(get(props, "policy"))
    problems = []
    for index, statement in enumerate(statements(document)):
        if get(statement, "Effect") != "Allow" or get(statement, "Condition"):
            continue
        principal = get(statement, "Principal")
        aws_principals = as_list(get(principal, "AWS")) if is_map(principal) else as_list(principal)
        if "*" in aws_principals:
            sid = get(statement, "Sid") or f"#{index}"
            problems.append(f"statement {sid} allows Principal '*' without a condition: the bucket would be public")
    return problems


def check_replication_rtc(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    rules = [r for r in items(get(props, "rules")) if get(r, "status") == "Enabled"]
    if not rules:
        return ["replication configuration has no enabled rule"]
    problems = []
    for rule in rules:
        rule_id = get(rule, "id") or "?"
        destination = get(rule, "destination", default={})
        if not enabled(get(destination, "replicationTime", "status")):
            problems.append(f"rule {rule_id!r}: Replication Time Control is off; set destination.replicationTime.status 'Enabled'")
        elif num(get(destination, "replicationTime", "time", "minutes")) != RTC_MINUTES:
            minutes = get(destination, "replicationTime", "time", "minutes")
            problems.append(f"rule {rule_id!r}: replicationTime.time.minutes is {minutes!r}; RTC requires {RTC_MINUTES}")
        if not enabled(get(destination, "metrics", "status")):
            problems.append(f"rule {rule_id!r}: replication metrics are off; RTC lag cannot be monitored (destination.metrics.status)")
    return problems


def check_replication_kms(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for rule in items(get(props, "rules")):
        if get(rule, "status") != "Enabled":
            continue
        rule_id = get(rule, "id") or "?"
        if not enabled(get(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "status")):
            problems.append(f"rule {rule_id!r}: KMS-encrypted objects are not replicated (sourceSelectionCriteria.sseKmsEncryptedObjects)")
        if not get(rule, "destination", "encryptionConfiguration", "replicaKmsKeyId"):
            problems.append(f"rule {rule_id!r}: no destination.encryptionConfiguration.replicaKmsKeyId (replicas need the standby region's key)")
    return problems


def bucket_for(resource: Resource, buckets: Sequence[Resource]) -> Resource | None:
    """The bucket a bucket-configuration resource (versioning, SSE, ...) applies to."""
    return linked(resource, "bucket", buckets, "bucket", "id")


def check_buckets_guarded(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    buckets = of(resources, BUCKET)
    guards = {BUCKET_SSE: "KMS default encryption", BUCKET_VERSIONING: "versioning", BUCKET_PAB: "a public access block"}
    covered: dict[str, set[str]] = {b.urn: set() for b in buckets}
    for resource in of(resources, *guards):
        bucket = bucket_for(resource, buckets)
        if bucket is not None:
            covered[bucket.urn].add(resource.type)
    problems = []
    for bucket in buckets:
        missing = [label for token, label in guards.items() if token not in covered[bucket.urn]]
        if missing:
            problems.append((bucket.urn, f"bucket {bucket.name!r} has no {', no '.join(missing)}"))
    return problems


def bucket_by_arn(arn: Any, buckets: Sequence[Resource]) -> Resource | None:
    for bucket in buckets:
        name = get(bucket.props, "bucket")
        if arn and (arn == get(bucket.props, "arn") or (name and arn == f"arn:aws:s3:::{name}")):
            return bucket
    return None


def _replication_destination(config: Resource, rule: Any, buckets: Sequence[Resource],
                             source: Resource | None) -> Resource | None:
    """The bucket of this stack a replication rule writes to: by ARN, else the one other bucket
    the rules depend on (an auto-named bucket's ARN is unknown in a preview)."""
    destination = bucket_by_arn(get(rule, "destination", "bucket"), buckets)
    if destination is None:
        candidates = [b for b in depends_on(config, "rules", buckets) if source is None or b.urn != source.urn]
        destination = candidates[0] if len(candidates) == 1 else None
    return destination


def check_replication_cross_region(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    buckets = of(resources, BUCKET)
    problems: list[tuple[str | None, str]] = []
    for config in of(resources, BUCKET_REPLICATION):
        source = bucket_for(config, buckets)
        source_region = (source.region if source else None) or get(config.props, "region")
        for rule in items(get(config.props, "rules")):
            if get(rule, "status") != "Enabled":
                continue
            arn = get(rule, "destination", "bucket")
            destination = _replication_destination(config, rule, buckets, source)
            if destination is None:
                problems.append((config.urn, f"rule {get(rule, 'id')!r}: destination {arn!r} is not a bucket of this stack"))
            elif source_region and destination.region == source_region:
                problems.append(
                    (config.urn, f"rule {get(rule, 'id')!r}: replicates into {destination.name!r} in the same region "
                                 f"({source_region}); the copy must survive a regional outage")
                )
    return problems


# --------------------------------------------------------------------------- model versions
# Published versions must survive a mistaken `pulumi destroy` and whoever can write the bucket.


def _lifecycle_prefix(rule: Any) -> str:
    """The key prefix a lifecycle rule applies to ("" = every object): `filter.prefix`,
    `filter.and.prefix`, or the deprecated rule-level `prefix`."""
    flt = get(rule, "filter")
    if is_map(flt):
        return str(get(flt, "prefix", default=None) or get(flt, "and", "prefix", default=None) or "")
    return str(get(rule, "prefix") or "")


def check_model_versions_kept(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for rule in items(get(props, "rules")):
        prefix = _lifecycle_prefix(rule)
        if get(rule, "status") != "Enabled" or not (MODELS_PREFIX.startswith(prefix) or prefix.startswith(MODELS_PREFIX)):
            continue
        rule_id = get(rule, "id") or "?"
        noncurrent = get(rule, "noncurrentVersionExpiration")
        if is_map(noncurrent) and noncurrent:
            days = get(noncurrent, "noncurrentDays")
            problems.append(f"lifecycle rule {rule_id!r} (prefix {prefix!r}) expires noncurrent versions of {MODELS_PREFIX} "
                            f"after {days!r} days: an overwritten or deleted model version is gone for good; scope it to "
                            f"other prefixes")
        expiration = get(rule, "expiration")
        if is_map(expiration) and (get(expiration, "days") is not None or get(expiration, "date")):
            problems.append(f"lifecycle rule {rule_id!r} (prefix {prefix!r}) expires current objects under {MODELS_PREFIX}: "
                            f"published model versions would disappear")
    return problems


def _buckets_protected(resources: Sequence[Resource], *, production: bool) -> list[tuple[str | None, str]]:
    return unprotected(resources, BUCKET, "bucket", "a `pulumi destroy` or a refactor that drops it from the program deletes it",
                       production=production)



def _object_lock_enabled(bucket: Resource, resources: Sequence[Resource], buckets: Sequence[Resource]) -> bool:
    if get(bucket.props, "objectLockEnabled") is True:
        return True
    for config in of(resources, BUCKET_OBJECT_LOCK):
        # objectLockEnabled defaults to (and only allows) "Enabled" (pulumi-aws BucketObjectLockConfiguration).
        if bucket_for(config, buckets) is bucket and get(config.props, "objectLockEnabled", default="Enabled") == "Enabled":
            return True
    return False


def check_object_lock(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    buckets = of(resources, BUCKET)
    replicas: dict[str, Resource] = {}
    for config in of(resources, BUCKET_REPLICATION):
        source = bucket_for(config, buckets)
        for rule in items(get(config.props, "rules")):
            destination = _replication_destination(config, rule, buckets, source)
            if destination is not None:
                replicas[destination.urn] = destination
    # The replica (standby) at least; a stack without replication: every bucket.
    targets = list(replicas.values()) if replicas else buckets
    return [
        (bucket.urn, f"bucket {bucket.name!r} has no Object Lock (objectLockEnabled, or a BucketObjectLockConfiguration): "
                     f"anyone who can write it can delete or overwrite published model versions; lock them in "
                     f"GOVERNANCE mode")
        for bucket in targets
        if not _object_lock_enabled(bucket, resources, buckets)
    ]


def _arn_of(bucket: Resource) -> str | None:
    name = get(bucket.props, "bucket")
    return get(bucket.props, "arn") or (f"arn:aws:s3:::{name}" if name else None)


def _model_buckets(resources: Sequence[Resource], buckets: Sequence[Resource]) -> list[Resource]:
    """The buckets replication links (source and replica); without replication, every bucket."""
    replicated: dict[str, Resource] = {}
    for config in of(resources, BUCKET_REPLICATION):
        source = bucket_for(config, buckets)
        if source is not None:
            replicated[source.urn] = source
        for rule in items(get(config.props, "rules")):
            destination = _replication_destination(config, rule, buckets, source)
            if destination is not None:
                replicated[destination.urn] = destination
    return [b for b in buckets if b.urn in replicated] if replicated else list(buckets)


def _denies_everyone(statement: Any, action: str, resource: str) -> bool:
    if get(statement, "Effect") != "Deny":
        return False
    principal = get(statement, "Principal")
    if "*" not in [str(p) for p in (as_list(get(principal, "AWS")) if is_map(principal) else as_list(principal))]:
        return False
    actions = [str(a).lower() for a in as_list(get(statement, "Action"))]
    resources = [str(r) for r in as_list(get(statement, "Resource"))]
    return (any(fnmatch.fnmatchcase(action.lower(), a) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources))


def _requires_if_none_match(statement: Any) -> bool:
    # S3 user guide, "Enforce conditional writes": deny when the `s3:if-none-match` key is Null.
    null = get(statement, "Condition", "Null", default={})
    return is_map(null) and any(str(k).lower() == "s3:if-none-match" and str(v).lower() == "true" for k, v in null.items())


def check_model_versions_immutable(resources: Sequence[Resource]) -> list[tuple[str | None, str]]:
    buckets = of(resources, BUCKET)
    documents: dict[str, list[Any]] = {}
    for policy in of(resources, BUCKET_POLICY):
        bucket = bucket_for(policy, buckets)
        if bucket is not None:
            documents.setdefault(bucket.urn, []).append(policy_document(get(policy.props, "policy")))
    problems: list[tuple[str | None, str]] = []
    for bucket in _model_buckets(resources, buckets):
        arn = _arn_of(bucket)
        if not arn:
            continue
        probe = f"{arn}/{MODELS_PREFIX}some-model/1/saved_model.pb"
        bucket_statements = [st for doc in documents.get(bucket.urn, []) + [policy_document(get(bucket.props, "policy"))]
                      for st in statements(doc)]
        if not any(_denies_everyone(st, "s3:DeleteObjectVersion", probe) for st in bucket_statements):
            problems.append((bucket.urn, f"bucket {bucket.name!r}: no bucket policy statement denies s3:DeleteObjectVersion "
                                         f"on {MODELS_PREFIX}* to every principal (but a break-glass role); IAM allows "
                                         f"alone cannot stop an administrator deleting published versions"))
        if not any(_denies_everyone(st, "s3:PutObject", probe) and _requires_if_none_match(st) for st in bucket_statements):
            problems.append((bucket.urn, f"bucket {bucket.name!r}: no bucket policy statement denies s3:PutObject on "
                                         f"{MODELS_PREFIX}* without If-None-Match (Condition Null s3:if-none-match); a "
                                         f"published file could be overwritten in place"))
    return problems


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("s3-bucket-no-public-acl", "S3 buckets carry no public-read/-write or authenticated-read ACL or grant.",
         MANDATORY, (BUCKET, BUCKET_ACL), check_bucket_acl),
    Rule("s3-encryption-kms", "Bucket default encryption uses aws:kms with a customer-managed key.",
         MANDATORY, (BUCKET_SSE,), check_sse_kms),
    Rule("s3-versioning-enabled", "Bucket versioning is Enabled (required by replication, allows rollback).",
         MANDATORY, (BUCKET_VERSIONING,), check_versioning),
    Rule("s3-public-access-blocked", "Public access blocks set all four flags to true.",
         MANDATORY, (BUCKET_PAB,), check_public_access_block),
    Rule("s3-bucket-policy-not-public", "Bucket policies allow no unconditioned Principal '*'.",
         MANDATORY, (BUCKET_POLICY,), check_bucket_policy_not_public),
    Rule("s3-replication-rtc", "Replication rules use Replication Time Control (15 min) with metrics.",
         MANDATORY, (BUCKET_REPLICATION,), check_replication_rtc),
    Rule("s3-replication-kms", "Replication copies KMS-encrypted objects and re-encrypts with the replica region's key.",
         MANDATORY, (BUCKET_REPLICATION,), check_replication_kms),
    Rule("s3-model-versions-kept", "No lifecycle rule expires model versions (current or noncurrent) under models/.",
         MANDATORY, (BUCKET_LIFECYCLE,), check_model_versions_kept),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule("s3-bucket-guarded", "Every bucket has KMS default encryption, versioning and a public access block.",
              MANDATORY, (BUCKET, BUCKET_SSE, BUCKET_VERSIONING, BUCKET_PAB), check_buckets_guarded),
    StackRule("s3-replication-cross-region", "Replication targets a bucket of this stack in another region.",
              MANDATORY, (BUCKET, BUCKET_REPLICATION), check_replication_cross_region),
    # `storage.forceDestroy` (a throw-away stack) turns protect off: refused in production only.
    *production_twins(
        "s3-bucket-protected", resource_types=(BUCKET,), check=_buckets_protected,
        production="In production stacks, every bucket carries the protect resource option.",
        elsewhere="Outside production, a bucket without the protect resource option is reported.",
    ),
    StackRule("s3-object-lock", "Replica buckets (every bucket, without replication) have Object Lock enabled.",
              MANDATORY, (BUCKET, BUCKET_REPLICATION, BUCKET_OBJECT_LOCK), check_object_lock),
    StackRule("s3-model-versions-immutable", "Model buckets' policies deny every principal deleting versions and overwriting objects under models/.",
              MANDATORY, (BUCKET, BUCKET_POLICY, BUCKET_REPLICATION), check_model_versions_immutable),
)
