"""Model serving per region: TF Serving behind its front door (ALB + web ACL), fed by a verifying init container."""

from typing import TYPE_CHECKING

from recsys_dr.components.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from recsys_dr.components.serving.model_serving import ModelServing as ModelServing, ModelServingArgs as ModelServingArgs

__all__, __getattr__ = lazy_exports(__name__, {
    "ModelServing": "model_serving",
    "ModelServingArgs": "model_serving",
})
