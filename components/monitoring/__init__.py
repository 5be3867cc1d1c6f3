"""Alarms that tell on-call the DR posture changed: a region failing its health check,
replication falling behind its 15-minute SLA."""

from typing import TYPE_CHECKING

from recsys_dr.components.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from recsys_dr.components.monitoring.dr_alarms import DrAlarms as DrAlarms, DrAlarmsArgs as DrAlarmsArgs

__all__, __getattr__ = lazy_exports(__name__, {
    "DrAlarms": "dr_alarms",
    "DrAlarmsArgs": "dr_alarms",
})
