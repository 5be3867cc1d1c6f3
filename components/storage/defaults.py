"""Secure defaults of the model buckets, in one place (after AWS solutions constructs)."""

MODEL_PREFIX = "models/"
REPLICATION_RULE_ID = "models-to-standby"
# S3 Replication Time Control only offers a 15-minute SLA.
REPLICATION_TIME_MINUTES = 15
# Delete markers are NOT replicated: a delete in the primary (mistake, bad script,
# compromised credentials) must not also empty the standby, which exists for exactly
# the day the primary is in trouble. Retiring a version is done in both regions.
DELETE_MARKER_REPLICATION = "Disabled"
# Governance, not compliance: a break-glass role can still retire a poisoned version.
OBJECT_LOCK_MODE = "GOVERNANCE"
ABORT_INCOMPLETE_MULTIPART_DAYS = 7
KMS_DELETION_WINDOW_DAYS = 30
PUBLIC_ACCESS_BLOCK = {
    "block_public_acls": True,
    "block_public_policy": True,
    "ignore_public_acls": True,
    "restrict_public_buckets": True,
}
