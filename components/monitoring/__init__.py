"""Alarms that tell on-call the DR posture changed: a region failing its health check,
replication falling behind its 15-minute SLA."""

from recsys_dr.components.lazy_exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "DrAlarms": "dr_alarms",
    "DrAlarmsArgs": "dr_alarms",
})
