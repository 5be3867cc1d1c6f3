"""Model serving per region: TF Serving behind an NLB, fed by a verifying init container."""

# Exports load on first use (PEP 562), so that the settings can import this package's
# pure tables without importing the components, which import the settings.
from importlib import import_module

_EXPORTS = {
    "ModelServing": "model_serving",
    "ModelServingArgs": "model_serving",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
