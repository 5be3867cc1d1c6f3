"""`recsys-dr drill`: a bounded game day against a real environment.

Traffic is moved by a *switcher*: the ARC routing controls (`failoverControl: arc`), or,
in a health-check environment and only with `--via-health-check-inversion`, by inverting
the primary's Route 53 health check (`operations.inversion`). Steps, each timed:

1. preflight: the standby passes `status` and the primary serves and passes its health
   check (it is where the drill fails back to); traffic is in the normal state (routing
   controls primary On / standby Off, or the primary's check not inverted); Route 53
   answers the primary endpoint. Anything else aborts with no change.
2. switch: standby On and primary Off in one atomic ARC call (or invert the primary's check).
3. poll every `poll_interval` s until `timeout`: Route 53's authoritative answer for the
   record (`TestDNSAnswer`) is the standby endpoint AND the standby's
   `/v1/models/<model>` serves the pinned version. That moment is the measured switch time.
4. optional hold: keep checking the standby for `hold` seconds.
5. fail back: primary On / standby Off (or restore the check); poll until Route 53 answers
   the primary again (bounded by `failback_timeout`).

Any error, timeout or Ctrl-C/SIGTERM after step 2 fails back before returning. ARC flips
are always "one On, the other Off" in a single call, and the inversion never touches the
standby's check, so both regions are never off.

The measured time is Route 53's authoritative answer; resolvers may keep the old answer
for up to the record TTL, so the report shows `measured + TTL` (client-visible worst case)
beside the computed budget (health-check interval x threshold + TTL) and the target. With
ARC there is no detection delay (the flip is explicit); with the inversion the measurement
includes it, so it checks the automatic path's budget end to end.

Exit codes: 0 passed (switched within the target and failed back); 1 failed or aborted
(failed back, reasons listed); 2 bad input; 3 no way to move traffic (health-check
environment without --via-health-check-inversion); 5 fail-back NOT confirmed - traffic may
still go to the standby: act now; 130 interrupted (Ctrl-C / SIGTERM) after failing back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from operations.failover import dns_answer, manual_instructions
from operations.outputs import StackOutputs

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_NO_ARC = 3
EXIT_FAILBACK_FAILED = 5
EXIT_INTERRUPTED = 130


class DrillAborted(Exception):
    """Raised inside the drill to stop it; the fail-back still runs."""


class DrillTimeout(DrillAborted):
    """The standby did not answer within the drill's timeout."""


@dataclass(frozen=True, kw_only=True)
class DrillSettings:
    """Time bounds of a drill, in seconds.

    Args:
        timeout: float, max wait for the standby to answer after the flip. Default 300.
        failback_timeout: float, max wait for Route 53 to answer the primary again. Default 300.
        poll_interval: float, pause between polls. Default 5.
        hold: float, time to keep traffic on the standby once it answers. Default 0.
    """

    timeout: float = 300.0
    failback_timeout: float = 300.0
    poll_interval: float = 5.0
    hold: float = 0.0


@dataclass
class DrillResult:
    exit_code: int = EXIT_FAILED
    outcome: str = "aborted"  # passed | over-target | not-ready | aborted | timeout | failback-failed | no-arc
    steps: list[dict] = field(default_factory=list)
    switch_seconds: float | None = None
    dns_seconds: float | None = None
    failback_seconds: float | None = None
    budget_seconds: float = 0.0
    target_seconds: float = 0.0
    ttl_seconds: int = 0
    failed_back: bool | None = None
    method: str | None = None
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    status: dict | None = None
    polls: int = 0

    @property
    def client_visible_seconds(self) -> float | None:
        return None if self.switch_seconds is None else self.switch_seconds + self.ttl_seconds

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "exitCode": self.exit_code,
            "method": self.method,
            "measured": {
                "dnsSwitchSeconds": self.dns_seconds,
                "switchSeconds": self.switch_seconds,
                "clientVisibleSeconds": self.client_visible_seconds,
                "failbackSeconds": self.failback_seconds,
                "polls": self.polls,
            },
            "budget": {"seconds": self.budget_seconds, "targetSeconds": self.target_seconds,
                       "ttlSeconds": self.ttl_seconds},
            "failedBack": self.failed_back,
            "reasons": self.reasons,
            "messages": self.messages,
            "steps": self.steps,
            "status": self.status,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


def run_drill(
    outputs: StackOutputs,
    *,
    build_status: Callable[[str], Any],
    switcher: Any,
    route53: Any,
    probe_standby: Callable[[], tuple[bool, str]],
    probe_primary: Callable[[], tuple[bool, str]] | None = None,
    settings: DrillSettings = DrillSettings(),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda _m: None,
) -> DrillResult:
    """Run the game day. See the module docstring for the steps and exit codes.

    Args:
        outputs: StackOutputs of the environment.
        build_status: callable(target) -> StatusReport.
        switcher: how traffic is moved and moved back: an `ArcController` (routing
            controls), a `HealthCheckInversion` (health-check environments, opt-in), or
            None (no way to drill: exit 3).
        route53: boto3 Route 53 client (us-east-1), used for `test_dns_answer`.
        probe_standby / probe_primary: callables -> (ok, detail) for the serving endpoints.
        settings: DrillSettings, the time bounds.
        clock, sleep: injectable time functions (tests).
        log: callable(str), progress lines.
    """
    res = DrillResult(budget_seconds=outputs.failover_budget_seconds,
                      target_seconds=outputs.failover_budget_target_seconds, ttl_seconds=outputs.dns.ttl)
    start = clock()

    def step(name: str, ok: bool, detail: str, *, since: float | None = None) -> None:
        """Record a step: `atSeconds` since the drill started, `phaseSeconds` since its phase began."""
        now = clock()
        entry = {"step": name, "ok": ok, "atSeconds": round(now - start, 3),
                 "phaseSeconds": None if since is None else round(now - since, 3), "detail": detail}
        res.steps.append(entry)
        log(f"[{entry['atSeconds']:>7.1f}s] {'ok  ' if ok else 'FAIL'} {name}: {detail}")

    if switcher is None:
        res.outcome, res.exit_code = "no-arc", EXIT_NO_ARC
        res.messages = ["drill needs failoverControl: arc (routing controls it can flip and flip back), or, in a "
                        "health-check environment, --via-health-check-inversion (inverts the primary's health "
                        "check for the drill and restores it)."]
        res.messages += manual_instructions(outputs, "standby")
        return res
    res.method = getattr(switcher, "kind", "routing controls")

    # 1. preflight - nothing changed yet, so any failure just returns.
    report = build_status("standby")
    res.status = report.to_dict()
    if not report.ready:
        res.outcome = "not-ready"
        res.reasons = report.reasons
        step("preflight.status", False, "standby not ready: " + "; ".join(report.reasons))
        return res
    primary_down = [f"{r.label}: {r.detail}" for r in getattr(report, "results", [])
                    if r.role == "primary" and r.name in ("serving", "health") and not r.ok]
    if primary_down:
        res.outcome = "not-ready"
        res.reasons = ["the primary must be healthy to drill (the drill fails back to it)"] + primary_down
        step("preflight.status", False, "; ".join(res.reasons))
        return res
    step("preflight.status", True, "standby ready, primary healthy")
    try:
        before = switcher.states()
    except Exception as exc:
        res.reasons = [f"cannot read the {res.method} state: {type(exc).__name__}: {exc}"]
        step("preflight.control", False, res.reasons[0])
        return res
    if not _is_normal(switcher, before):
        res.reasons = [f"{res.method} state is {before}, expected traffic on the primary (primary On"
                       f"{', standby Off' if res.method == 'routing controls' else ''}); "
                       "not drilling outside the normal state"]
        step("preflight.control", False, res.reasons[0])
        return res
    step("preflight.control", True, f"{res.method}: " + ", ".join(f"{k} {v}" for k, v in before.items()))
    try:
        answer = dns_answer(outputs, route53)
    except Exception as exc:
        res.reasons = [f"cannot ask Route 53 for the record: {type(exc).__name__}: {exc}"]
        step("preflight.dns", False, res.reasons[0])
        return res
    if answer["role"] != "primary":
        res.reasons = [f"Route 53 answers {answer['records']} ({answer['role']}), expected the primary endpoint"]
        step("preflight.dns", False, res.reasons[0])
        return res
    step("preflight.dns", True, f"Route 53 answers {', '.join(answer['records'])} (primary)")

    # 2-4. switch, poll, hold - from here on, every exit path fails back.
    flip_at = None
    try:
        flip_at = clock()
        states = switcher.activate("standby")
        step("switch", True, f"{res.method} now {states}", since=flip_at)
        deadline = flip_at + settings.timeout
        while True:
            res.polls += 1
            dns_ok, serve_ok, detail = _poll(outputs, route53, probe_standby, "standby")
            now = clock()
            if dns_ok and res.dns_seconds is None:
                res.dns_seconds = round(now - flip_at, 3)
                step("dns.standby", True, "Route 53 answers the standby endpoint", since=flip_at)
            if dns_ok and serve_ok:
                res.switch_seconds = round(now - flip_at, 3)
                step("standby.answers", True, detail, since=flip_at)
                break
            if now >= deadline:
                raise DrillTimeout(f"standby did not answer within {settings.timeout:g}s ({detail})")
            sleep(max(0.0, min(settings.poll_interval, deadline - now)))
        if settings.hold > 0:
            hold_end = clock() + settings.hold
            while clock() < hold_end:
                sleep(max(0.0, min(settings.poll_interval, hold_end - clock())))
                ok, detail = probe_standby()
                if not ok:
                    raise DrillAborted(f"standby stopped answering during the hold: {detail}")
            step("hold", True, f"standby served for {settings.hold:g}s", since=flip_at)
    except DrillAborted as exc:
        res.outcome = "timeout" if isinstance(exc, DrillTimeout) else "aborted"
        res.reasons.append(str(exc))
        step("abort", False, str(exc), since=flip_at)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into KeyboardInterrupt by the CLI
        res.outcome = "interrupted"
        res.reasons.append(f"interrupted ({exc or 'Ctrl-C'})")
        step("abort", False, res.reasons[-1], since=flip_at)
    except Exception as exc:  # ARC/Route 53 refusals, unreachable APIs, bugs: fail back and report
        res.outcome = "aborted"
        res.reasons.append(f"{type(exc).__name__}: {exc}")
        step("abort", False, res.reasons[-1], since=flip_at)
    except BaseException as exc:  # SystemExit and the like: fail back, then let it surface
        res.reasons.append(f"stopped: {type(exc).__name__}: {exc}")
        step("abort", False, res.reasons[-1], since=flip_at)
        _fail_back(outputs, res, switcher, route53, probe_primary, settings, clock, sleep, step)
        raise
    _fail_back(outputs, res, switcher, route53, probe_primary, settings, clock, sleep, step)

    if res.failed_back is False:
        res.outcome, res.exit_code = "failback-failed", EXIT_FAILBACK_FAILED
        return res
    if res.outcome == "interrupted":
        res.exit_code = EXIT_INTERRUPTED
        return res
    if res.switch_seconds is None:
        res.exit_code = EXIT_FAILED
        return res
    visible = res.client_visible_seconds
    if visible > res.target_seconds:
        res.outcome, res.exit_code = "over-target", EXIT_FAILED
        res.reasons.append(f"switch {res.switch_seconds:g}s + TTL {res.ttl_seconds}s = {visible:g}s exceeds the "
                           f"target {res.target_seconds:g}s")
    else:
        res.outcome, res.exit_code = "passed", EXIT_PASSED
    return res


def _poll(outputs: StackOutputs, route53: Any, probe: Callable[[], tuple[bool, str]], role: str):
    try:
        answer = dns_answer(outputs, route53)
        dns_ok = answer["role"] == role
        dns_detail = f"DNS -> {', '.join(answer['records']) or '-'}"
    except Exception as exc:
        dns_ok, dns_detail = False, f"DNS query failed: {type(exc).__name__}: {exc}"
    try:
        serve_ok, serve_detail = probe()
    except Exception as exc:
        serve_ok, serve_detail = False, f"{type(exc).__name__}: {exc}"
    return dns_ok, serve_ok, f"{dns_detail}; serving: {serve_detail}"


def _is_normal(switcher: Any, states: dict[str, str]) -> bool:
    if hasattr(switcher, "is_normal"):
        return switcher.is_normal(states)
    return states.get("primary") == "On" and states.get("standby") == "Off"


def _fail_back(outputs, res: DrillResult, switcher, route53, probe_primary, settings: DrillSettings,
               clock, sleep, step) -> None:
    """Traffic back to the primary (retrying until the deadline), then wait for Route 53 to answer it."""
    started = clock()
    deadline = started + settings.failback_timeout
    last_error = None
    while True:
        try:
            states = switcher.activate("primary")
        except Exception as exc:
            last_error = exc
            if clock() >= deadline:
                break
            sleep(max(0.0, min(settings.poll_interval, deadline - clock())))
            continue
        if states.get("primary") == "On":
            last_error = None
            step("failback", True, f"{res.method} now {states}", since=started)
            break
        last_error = RuntimeError(f"primary control reads {states.get('primary')} after the update")
        if clock() >= deadline:
            break
        sleep(max(0.0, min(settings.poll_interval, deadline - clock())))
    if last_error is not None:
        res.failed_back = False
        res.reasons.append(f"FAIL-BACK FAILED: {last_error}")
        step("failback", False, str(last_error), since=started)
        res.messages += (switcher.manual_failback() if hasattr(switcher, "manual_failback")
                         else _manual_failback(outputs))
        return
    res.failed_back = True
    while True:
        dns_ok, serve_ok, detail = _poll(outputs, route53, probe_primary or (lambda: (True, "not checked")), "primary")
        if dns_ok:
            res.failback_seconds = round(clock() - started, 3)
            step("dns.primary", True, detail, since=started)
            if not serve_ok:
                res.messages.append(f"primary back in DNS but its serving check fails: {detail}")
            return
        if clock() >= deadline:
            res.messages.append(f"routing controls are back on the primary, but Route 53 did not answer the "
                                f"primary within {settings.failback_timeout:g}s ({detail}); keep watching")
            res.reasons.append("fail-back DNS answer not confirmed in time")
            step("dns.primary", False, detail, since=started)
            return
        sleep(max(0.0, min(settings.poll_interval, deadline - clock())))


def _manual_failback(outputs: StackOutputs) -> list[str]:
    arc = outputs.arc
    lines = ["MANUAL ACTION REQUIRED: traffic may still go to the standby. Set primary On and standby Off "
             "with one call, trying each cluster endpoint in turn:"]
    entries = (f"RoutingControlArn={arc.routing_controls['primary']},RoutingControlState=On "
               f"RoutingControlArn={arc.routing_controls['standby']},RoutingControlState=Off")
    for ep in arc.cluster_endpoints:
        lines.append(f"  aws route53-recovery-cluster update-routing-control-states --region {ep.region} "
                     f"--endpoint-url {ep.endpoint} --update-routing-control-state-entries {entries}")
    return lines


def render(result: DrillResult, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="recsys-dr drill", title_justify="left")
    table.add_column("t (s)", justify="right")
    table.add_column("phase (s)", justify="right")
    table.add_column("step")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for s in result.steps:
        phase = "" if s.get("phaseSeconds") is None else f"{s['phaseSeconds']:.1f}"
        table.add_row(f"{s['atSeconds']:.1f}", phase, s["step"], "[green]ok[/green]" if s["ok"] else "[bold red]FAIL[/bold red]",
                      s["detail"])
    console.print(table)

    def fmt(value):
        return "-" if value is None else f"{value:g}s"

    summary = Table(title="switch time vs budget", title_justify="left")
    summary.add_column("measure")
    summary.add_column("seconds", justify="right")
    summary.add_row("Route 53 answers standby", fmt(result.dns_seconds))
    summary.add_row("standby answers (DNS + serving)", fmt(result.switch_seconds))
    summary.add_row(f"client-visible worst case (+ TTL {result.ttl_seconds}s)", fmt(result.client_visible_seconds))
    summary.add_row("computed budget (interval x threshold + TTL)", fmt(result.budget_seconds))
    summary.add_row("target", fmt(result.target_seconds))
    summary.add_row("fail-back (Route 53 answers primary)", fmt(result.failback_seconds))
    console.print(summary)
    style = "bold green" if result.exit_code == 0 else "bold red"
    console.print(f"[{style}]{result.outcome}[/{style}] (exit {result.exit_code})")
    for reason in result.reasons:
        console.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
    for message in result.messages:
        console.print(message, markup=False, highlight=False, soft_wrap=True)
