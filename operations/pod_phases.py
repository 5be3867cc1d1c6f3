"""How long a new serving pod spent on each phase of its start, from the timestamps Kubernetes records.

A serving pod starts in three steps (components/serving/manifests.py): the kubelet pulls the images,
the init container fetches and verifies the model, then TF Serving loads it and replays its warm-up
requests; the pod turns Ready when the model is AVAILABLE. The pod's status holds when each happened
(Kubernetes API reference, PodStatus: `conditions[].lastTransitionTime`, `initContainerStatuses[].state.
terminated.startedAt/finishedAt`, `containerStatuses[].state.running.startedAt`):

* image pull: scheduled -> init container started, plus init container finished -> serving container
  started (each container's image is pulled just before it starts);
* model fetch: the init container's run;
* model load: serving container started -> Ready.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _condition(pod: dict, kind: str) -> datetime | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return _time(condition.get("lastTransitionTime"))
    return None


def pod_phase_seconds(pod: dict) -> dict[str, float] | None:
    """{"image pull", "model fetch", "model load": seconds} of a Ready pod, or None when a timestamp is missing."""
    status = pod.get("status") or {}
    init = next(iter(status.get("initContainerStatuses") or []), {})
    serving = next(iter(status.get("containerStatuses") or []), {})
    terminated = ((init.get("state") or {}).get("terminated")) or {}
    running = ((serving.get("state") or {}).get("running")) or {}
    marks = [_condition(pod, "PodScheduled"), _time(terminated.get("startedAt")), _time(terminated.get("finishedAt")),
             _time(running.get("startedAt")), _condition(pod, "Ready")]
    if None in marks:
        return None
    scheduled, init_started, init_finished, serving_started, ready = marks
    return {
        "image pull": round((init_started - scheduled).total_seconds() + (serving_started - init_finished).total_seconds(), 3),
        "model fetch": round((init_finished - init_started).total_seconds(), 3),
        "model load": round((ready - serving_started).total_seconds(), 3),
    }


def slowest_pod_phases(pods: list[dict]) -> tuple[str, dict[str, float]] | None:
    """(pod name, phases) of the Ready pod that took longest from scheduling to Ready, or None."""
    timed = [(p.get("metadata", {}).get("name", "?"), phases) for p in pods if (phases := pod_phase_seconds(p))]
    return max(timed, key=lambda item: sum(item[1].values()), default=None)
