"""Route 53 ARC Region switch: start a plan execution, follow its events, read the plan's evaluation.

The data-plane operations used here (StartPlanExecution, GetPlanExecution, ListPlanExecutionEvents,
GetPlanEvaluationStatus) have no `UseControlPlaneEndpoint` in botocore's `arc-region-switch` model,
so they are served by a regional endpoint in each of the plan's two Regions. Every call goes first
to the Region being activated (the healthy one in an outage), then to the other; a connection
error, a timeout, a throttle or a 5xx moves on, a definitive answer (access denied, conflict,
validation, not found) stops at once. One attempt per endpoint, like the routing-control client.

`activate` for `--to standby|primary`: `action=activate`, `targetRegion=<that Region>`. `graceful`
by default; `--ungraceful` when the Region being left is impaired (Region switch then skips or
shortens the steps that need it). A `clientToken` makes a retried start idempotent.

Terminal execution states (botocore waiter `PlanExecutionCompleted`): completed and
completedWithExceptions succeed; failed, canceled and planExecutionTimedOut fail. An execution
waiting in `pendingManualApproval` is reported with the approve command and followed until the
bound; it is never approved by this tool.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from recsys_dr.operations.arc import ArcError, _retryable
from recsys_dr.operations.errors import error_text
from recsys_dr.operations.outputs import RegionSwitchOutputs

SUCCEEDED = ("completed", "completedWithExceptions", "completedMonitoringApplicationHealth")
FAILED = ("failed", "canceled", "planExecutionTimedOut")
EVALUATION_OK = "passed"


@dataclass
class ExecutionResult:
    execution_id: str | None
    region: str | None
    state: str | None
    events: list[dict] = field(default_factory=list)
    seconds: float | None = None
    actual_recovery_time: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCEEDED

    def to_dict(self) -> dict:
        return {"executionId": self.execution_id, "region": self.region, "state": self.state,
                "seconds": self.seconds, "actualRecoveryTime": self.actual_recovery_time, "events": self.events}


@dataclass(kw_only=True)
class RegionSwitch:
    """One plan, reached through the regional endpoints of its two Regions.

    Args:
        plan: RegionSwitchOutputs.
        regions: dict role -> Region name (the plan's two Regions).
        client_for: callable(region) -> boto3 `arc-region-switch` client (one attempt per call).
        clock, sleep: time functions. log: progress lines.
    """

    plan: RegionSwitchOutputs
    regions: dict[str, str]
    client_for: Callable[[str], Any]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = lambda _m: None
    attempts: list[dict] = field(default_factory=list)

    def call(self, operation: str, first: str, **kwargs) -> tuple[dict, str]:
        """Run `operation` in Region `first`, then in the plan's other Region. Returns (answer, Region)."""
        order = [first] + [r for r in self.regions.values() if r != first]
        tried: list[dict] = []
        for region in order:
            try:
                answer = getattr(self.client_for(region), operation)(**kwargs)
            except Exception as exc:
                entry = {"operation": operation, "region": region, "error": error_text(exc)}
                tried.append(entry)
                self.attempts.append(entry)
                if not _retryable(exc):
                    raise ArcError(f"Region switch {operation} refused in {region}: {error_text(exc)}", tried,
                                   definitive=True) from exc
                self.log(f"Region switch endpoint in {region} failed: {error_text(exc)}; trying the other Region")
                continue
            self.attempts.append({"operation": operation, "region": region, "error": None})
            return answer, region
        raise ArcError(f"Region switch {operation} failed in every Region: "
                       + "; ".join(f"{t['region']}: {t['error']}" for t in tried), tried)

    def evaluation(self, first: str) -> dict:
        """`GetPlanEvaluationStatus`: evaluationState (passed | actionRequired | pendingEvaluation | unknown),
        and the active warnings."""
        answer, region = self.call("get_plan_evaluation_status", first, planArn=self.plan.plan_arn)
        warnings = [w for w in answer.get("warnings", []) if w.get("warningStatus") == "active"]
        return {"state": answer.get("evaluationState", "unknown"), "region": region,
                "lastEvaluationTime": str(answer.get("lastEvaluationTime") or ""),
                "warnings": [f"{w.get('stepName') or (w.get('workflow') or {}).get('action') or 'plan'}: "
                             f"{w.get('warningMessage', '')}" for w in warnings]}

    def start(self, target_region: str, *, ungraceful: bool = False, comment: str = "") -> tuple[str, str]:
        """StartPlanExecution(activate target_region). Returns (executionId, Region that took it)."""
        answer, region = self.call("start_plan_execution", target_region, planArn=self.plan.plan_arn,
                                   targetRegion=target_region, action="activate",
                                   mode="ungraceful" if ungraceful else "graceful",
                                   comment=comment[:1024], clientToken=uuid.uuid4().hex)
        return answer["executionId"], region

    def follow(self, execution_id: str, region: str, *, timeout: float, poll_interval: float) -> ExecutionResult:
        """Print new events as they come until the execution ends or `timeout` passes."""
        result = ExecutionResult(execution_id=execution_id, region=region, state=None)
        seen: set[str] = set()
        start = self.clock()
        approval_hint = False
        while True:
            events, token = [], None
            while True:  # every page; events arrive in order of their eventId chain
                kwargs = {"planArn": self.plan.plan_arn, "executionId": execution_id, "maxResults": 100}
                if token:
                    kwargs["nextToken"] = token
                page, region = self.call("list_plan_execution_events", region, **kwargs)
                events += page.get("items", [])
                token = page.get("nextToken")
                if not token:
                    break
            for event in events:
                if event["eventId"] in seen:
                    continue
                seen.add(event["eventId"])
                line = {"type": event.get("type"), "step": event.get("stepName"),
                        "block": event.get("executionBlockType"), "error": event.get("error"),
                        "description": event.get("description"), "at": str(event.get("timestamp") or "")}
                result.events.append(line)
                self.log(f"  {line['at'][11:19] or '--:--:--'} {line['type']}"
                         + (f" [{line['step']}]" if line["step"] else "")
                         + (f": {line['error']}" if line["error"] else "")
                         + (f" - {line['description']}" if line["description"] and not line["error"] else ""))
            execution, region = self.call("get_plan_execution", region, planArn=self.plan.plan_arn,
                                          executionId=execution_id, maxResults=100)
            result.state = execution.get("executionState")
            result.region = region
            result.actual_recovery_time = execution.get("actualRecoveryTime")
            now = self.clock()
            if result.state in SUCCEEDED or result.state in FAILED:
                result.seconds = round(now - start, 3)
                return result
            if result.state == "pendingManualApproval" and not approval_hint:
                approval_hint = True
                step = self.plan.approval_step_name or "<step name>"
                self.log(f"waiting for approval: aws arc-region-switch approve-plan-execution-step --region {region} "
                         f"--plan-arn {self.plan.plan_arn} --execution-id {execution_id} --step-name {step} "
                         "--approval approve")
            if now - start >= timeout:
                result.seconds = round(now - start, 3)
                return result
            self.sleep(max(0.0, min(poll_interval, start + timeout - now)))


@dataclass(kw_only=True)
class PlanSwitcher:
    """The drill's switcher for `failoverControl: region-switch`: each move is one plan execution.

    Region switch keeps no "current Region" to read, so `states` reports the plan's evaluation and
    the drill's own preflight (Route 53 answering the primary) establishes the normal state. The
    plan scales the standby itself (`scales_standby`); the drill only puts it back at rest after.

    Args:
        switch: RegionSwitch for the plan.
        regions: role -> Region.
        timeout: float, bound per execution. poll_interval: float.
        ungraceful: bool, start executions in ungraceful mode. Default False.
    """

    switch: RegionSwitch
    regions: dict[str, str]
    timeout: float = 3600.0
    poll_interval: float = 15.0
    ungraceful: bool = False
    kind: str = "Region switch plan"
    scales_standby: bool = True
    phase: dict | None = None

    def states(self) -> dict[str, str]:
        return {"evaluation": self.switch.evaluation(self.regions["standby"])["state"]}

    def is_normal(self, states: dict[str, str]) -> bool:
        return states.get("evaluation") == EVALUATION_OK

    def activate(self, target: str) -> dict[str, str]:
        """Run the plan to activate `target`'s Region; {target: "On"} once the execution completed."""
        region = self.regions[target]
        execution_id, where = self.switch.start(region, ungraceful=self.ungraceful,
                                                comment=f"recsys-dr drill: activate {target}")
        result = self.switch.follow(execution_id, where, timeout=self.timeout, poll_interval=self.poll_interval)
        self.phase = {"phase": f"plan execution ({target})", "ok": result.succeeded, "seconds": result.seconds,
                      "budgetSeconds": (self.switch.plan.recovery_time_objective_minutes or 0) * 60 or None,
                      "detail": f"{execution_id} {result.state}"}
        if not result.succeeded:
            raise RuntimeError(f"plan execution {execution_id} to activate {region} is {result.state}")
        other = "primary" if target == "standby" else "standby"
        return {target: "On", other: "Off"}

    def undo_commands(self) -> list[str]:
        primary = self.regions["primary"]
        return ["Run the plan to activate the primary Region again:",
                f"  aws arc-region-switch start-plan-execution --region {primary} --plan-arn "
                f"{self.switch.plan.plan_arn} --target-region {primary} --action activate"]
