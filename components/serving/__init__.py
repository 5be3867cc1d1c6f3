"""Model serving per region: TF Serving behind an NLB, fed by a verifying init container."""

from recsys_dr.components.serving.model_serving import ModelServing, ModelServingArgs

__all__ = ["ModelServing", "ModelServingArgs"]
