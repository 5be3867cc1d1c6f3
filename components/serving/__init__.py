"""Model serving per region: TF Serving behind its front door (ALB + web ACL), fed by a verifying init container."""

from recsys_dr.components.lazy_exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "ModelServing": "model_serving",
    "ModelServingArgs": "model_serving",
})
