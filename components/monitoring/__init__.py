"""Alarms that tell on-call the DR posture changed: a region failing its health check,
replication falling behind its 15-minute SLA."""

# Exports load on first use (PEP 562), so that the settings can import this package's
# pure tables without importing the components, which import the settings.
from importlib import import_module

_EXPORTS = {
    "DrAlarms": "dr_alarms",
    "DrAlarmsArgs": "dr_alarms",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
