"""Model artifact storage: one KMS-encrypted bucket per region, replicated primary -> standby."""

from recsys_dr.components.lazy_exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "ModelBucketArgs": "model_bucket",
    "RegionalBucket": "model_bucket",
    "ReplicatedModelBucket": "model_bucket",
})
