"""Model artifact storage: one KMS-encrypted bucket per region, replicated primary -> standby."""

from typing import TYPE_CHECKING

from recsys_dr.components.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from recsys_dr.components.storage.model_bucket import (
        ModelBucketArgs as ModelBucketArgs,
        RegionalBucket as RegionalBucket,
        ReplicatedModelBucket as ReplicatedModelBucket,
    )

__all__, __getattr__ = lazy_exports(__name__, {
    "ModelBucketArgs": "model_bucket",
    "RegionalBucket": "model_bucket",
    "ReplicatedModelBucket": "model_bucket",
})
