"""Alarms that tell on-call the DR posture changed: a region failing its health check,
replication falling behind its 15-minute SLA."""

from recsys_dr.components.monitoring.dr_alarms import DrAlarms, DrAlarmsArgs

__all__ = ["DrAlarms", "DrAlarmsArgs"]
