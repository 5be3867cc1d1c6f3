"""Model artifact storage: one KMS-encrypted bucket per region, replicated primary -> standby."""

from recsys_dr.components.storage.model_bucket import ModelBucketArgs, RegionalBucket, ReplicatedModelBucket

__all__ = ["ModelBucketArgs", "RegionalBucket", "ReplicatedModelBucket"]
