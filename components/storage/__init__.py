"""Model artifact storage: one KMS-encrypted bucket per region, replicated primary -> standby."""

# Exports load on first use (PEP 562), so that the settings can import this package's
# pure tables without importing the components, which import the settings.
from importlib import import_module

_EXPORTS = {
    "ModelBucketArgs": "model_bucket",
    "RegionalBucket": "model_bucket",
    "ReplicatedModelBucket": "model_bucket",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
