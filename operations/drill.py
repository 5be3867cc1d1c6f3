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

Any error, timeout or Ctrl-C/SIGTERM after step 2 fails back before returning. During the
fail-back further SIGINT/SIGTERM are deferred (`operations.shield`) until it is confirmed or
`failback_timeout` expires; the undo commands are logged before the switch and again if
the fail-back is not confirmed. ARC flips
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
still go to the standby: act now (whatever interrupted the drill); 130 interrupted (Ctrl-C /
SIGTERM) and the fail-back was confirmed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from recsys_dr.operations.drill_report import (
    EXIT_FAILBACK_FAILED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_ARC, EXIT_PASSED, DrillResult, render,
)
from recsys_dr.operations.failover import ACTIVATION_FIXES, dns_answer, manual_instructions
from recsys_dr.operations.outputs import StackOutputs
from recsys_dr.operations.shield import SignalShield

__all__ = ["EXIT_FAILBACK_FAILED", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_NO_ARC", "EXIT_PASSED", "DrillAborted",
           "DrillResult", "DrillSettings", "DrillTimeout", "render", "run_drill"]


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
    shield: Callable[..., Any] = SignalShield,
    activator: Any = None,
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
        shield: context-manager factory `shield(log=..., note=...)` deferring SIGINT/SIGTERM
            during the fail-back. Default `SignalShield`.
        activator: `operations.activation.Activator` or None. When given, the standby is activated
            (GPU nodes, pods, health check; each phase timed) before the switch and put back at rest
            after the fail-back, so a pilot-light environment drills the real activation path.
    """
    res = DrillResult(budget_seconds=outputs.failover_budget_seconds,
                      target_seconds=outputs.failover_budget_target_seconds, ttl_seconds=outputs.dns.ttl)
    step = _step_recorder(res, clock, log)
    if switcher is None:
        res.outcome, res.exit_code = "no-arc", EXIT_NO_ARC
        res.messages = ["drill needs failoverControl: arc (routing controls it can flip and flip back), or, in a "
                        "health-check environment, --via-health-check-inversion (inverts the primary's health "
                        "check for the drill and restores it)."]
        res.messages += manual_instructions(outputs, "standby")
        return res
    res.method = getattr(switcher, "kind", "routing controls")

    # 1. preflight - nothing changed yet, so any failure just returns.
    if not _preflight_status(res, build_status("standby"), activator, step) or \
            not _preflight_traffic(outputs, res, switcher, route53, step):
        return res
    # A Region switch plan scales the standby itself (its EKS step); the drill only restores it after.
    if activator is not None and not getattr(switcher, "scales_standby", False) and \
            not _activate(res, activator, step, clock, log):
        return res

    # 2-4. switch, poll, hold - from here on, every exit path fails back.
    for line in ["if this drill is killed before it fails back, undo it by hand:"] + undo_commands(switcher, outputs):
        log(line)
    flip_at = None
    caught: BaseException | None = None
    try:
        flip_at = clock()
        _switch(outputs, res, switcher, route53, probe_standby, settings, flip_at, clock, sleep, step)
    except BaseException as exc:  # noqa: BLE001 - classified below, under the shield
        caught = exc

    # 5. fail back, with SIGINT/SIGTERM deferred until it is done or its time bound expires.
    with shield(log=log, note=f" (at most {settings.failback_timeout:g}s)") as guard:
        if caught is not None:
            _classify(res, caught)
            step("abort", False, res.reasons[-1], since=flip_at)
        interrupts = fail_back(outputs, res, switcher, route53, probe_primary, settings, clock, sleep, step, log,
                                guard)
    return _conclude(res, caught, interrupts, activator, step, log)


def _step_recorder(res: DrillResult, clock: Callable[[], float], log: Callable[[str], None]):
    """`step(name, ok, detail, since=None)`: record and log a step, timed from now on."""
    start = clock()

    def step(name: str, ok: bool, detail: str, *, since: float | None = None) -> None:
        """Record a step: `atSeconds` since the drill started, `phaseSeconds` since its phase began."""
        now = clock()
        entry = {"step": name, "ok": ok, "atSeconds": round(now - start, 3),
                 "phaseSeconds": None if since is None else round(now - since, 3), "detail": detail}
        res.steps.append(entry)
        log(f"[{entry['atSeconds']:>7.1f}s] {'ok  ' if ok else 'FAIL'} {name}: {detail}")

    return step


def _preflight_status(res: DrillResult, report: Any, activator: Any, step) -> bool:
    """The standby passes its checks (but what activation fixes, when the drill activates) and the
    primary serves and passes its health check (the drill fails back to it)."""
    res.status = report.to_dict()
    # What activation fixes (pods, nodes, its health check) may fail now when the drill activates.
    blocking = [r.message for r in report.blocking(ignore=ACTIVATION_FIXES if activator is not None else ())]
    if blocking:
        res.outcome = "not-ready"
        res.reasons = blocking
        step("preflight.status", False, "standby not ready: " + "; ".join(blocking))
        return False
    primary_down = [r.message for r in report.results
                    if r.role == "primary" and r.name in ("serving", "health") and not r.ok]
    if primary_down:
        res.outcome = "not-ready"
        res.reasons = ["the primary must be healthy to drill (the drill fails back to it)"] + primary_down
        step("preflight.status", False, "; ".join(res.reasons))
        return False
    step("preflight.status", True, "standby ready, primary healthy" if report.ready else
         "standby ready to activate, primary healthy")
    return True


def _preflight_traffic(outputs: StackOutputs, res: DrillResult, switcher: Any, route53: Any, step) -> bool:
    """Traffic is in the normal state (the switcher's reading) and Route 53 answers the primary."""
    try:
        before = switcher.states()
    except Exception as exc:
        res.reasons = [f"cannot read the {res.method} state: {type(exc).__name__}: {exc}"]
        step("preflight.control", False, res.reasons[0])
        return False
    if not is_normal(switcher, before):
        res.reasons = [f"{res.method} state is {before}, expected traffic on the primary (primary On"
                       f"{', standby Off' if res.method == 'routing controls' else ''}); "
                       "not drilling outside the normal state"]
        step("preflight.control", False, res.reasons[0])
        return False
    step("preflight.control", True, f"{res.method}: " + ", ".join(f"{k} {v}" for k, v in before.items()))
    try:
        answer = dns_answer(outputs, route53)
    except Exception as exc:
        res.reasons = [f"cannot ask Route 53 for the record: {type(exc).__name__}: {exc}"]
        step("preflight.dns", False, res.reasons[0])
        return False
    if answer["role"] != "primary":
        res.reasons = [f"Route 53 answers {answer['records']} ({answer['role']}), expected the primary endpoint"]
        step("preflight.dns", False, res.reasons[0])
        return False
    step("preflight.dns", True, f"Route 53 answers {', '.join(answer['records'])} (primary)")
    return True


def _switch(outputs: StackOutputs, res: DrillResult, switcher: Any, route53: Any, probe_standby, settings: DrillSettings,
            flip_at: float, clock, sleep, step) -> None:
    """Flip to the standby, poll until it answers (times measured from the flip), then hold.
    Raises DrillAborted (DrillTimeout) to stop; the caller fails back."""
    states = switcher.activate("standby")
    if getattr(switcher, "phase", None):
        res.phases.append(switcher.phase)
    step("switch", True, f"{res.method} now {states}", since=flip_at)
    await_answer(res, "standby", lambda: poll(outputs, route53, probe_standby, "standby"), settings, flip_at, clock,
                 sleep, step, name="standby", dns_phase="DNS answer",
                 dns_detail=("Route 53 answers the standby endpoint", "Route 53 answers the standby endpoint"))
    hold(probe_standby, settings, flip_at, clock, sleep, step, name="standby")


def await_answer(res: DrillResult, tier: str, poll_tier: Callable[[], tuple[bool, bool, str]], settings: DrillSettings,
                 flip_at: float, clock, sleep, step, *, name: str, dns_phase: str, dns_detail: tuple[str, str],
                 answer_phase: str | None = None) -> None:
    """Poll until Route 53 answers `tier` and it serves, times from the flip; DrillTimeout past the timeout.

    `dns_detail` is (the phase's detail, the step's message) of the first DNS answer; `answer_phase`,
    when given, records the serving answer as a phase too."""
    deadline = flip_at + settings.timeout
    while True:
        res.polls += 1
        dns_ok, serve_ok, detail = poll_tier()
        now = clock()
        if dns_ok and res.dns_seconds is None:
            res.dns_seconds = round(now - flip_at, 3)
            res.phases.append({"phase": dns_phase, "ok": True, "seconds": res.dns_seconds,
                               # the part of the budget before clients' caches expire (detection)
                               "budgetSeconds": res.budget_seconds - res.ttl_seconds, "detail": dns_detail[0]})
            step(f"dns.{tier}", True, dns_detail[1], since=flip_at)
        if dns_ok and serve_ok:
            res.switch_seconds = round(now - flip_at, 3)
            if answer_phase:
                res.phases.append({"phase": answer_phase, "ok": True, "seconds": res.switch_seconds,
                                   "budgetSeconds": res.budget_seconds, "detail": detail})
            step(f"{tier}.answers", True, detail, since=flip_at)
            return
        if now >= deadline:
            raise DrillTimeout(f"{name} did not answer within {settings.timeout:g}s ({detail})")
        sleep(max(0.0, min(settings.poll_interval, deadline - now)))


def hold(probe: Callable[[], tuple[bool, str]], settings: DrillSettings, flip_at: float, clock, sleep, step, *,
         name: str) -> None:
    """Keep probing for `settings.hold` seconds after the answer; DrillAborted if it stops answering."""
    if settings.hold <= 0:
        return
    hold_end = clock() + settings.hold
    while clock() < hold_end:
        sleep(max(0.0, min(settings.poll_interval, hold_end - clock())))
        ok, detail = probe()
        if not ok:
            raise DrillAborted(f"{name} stopped answering during the hold: {detail}")
    step("hold", True, f"{name} served for {settings.hold:g}s", since=flip_at)


def _classify(res: DrillResult, caught: BaseException) -> None:
    """The outcome and reason of what stopped the drill after the flip."""
    if isinstance(caught, DrillAborted):
        res.outcome = "timeout" if isinstance(caught, DrillTimeout) else "aborted"
        res.reasons.append(str(caught))
    elif isinstance(caught, KeyboardInterrupt):  # Ctrl-C, or SIGTERM turned into it by the CLI
        res.outcome = "interrupted"
        res.reasons.append(f"interrupted ({str(caught) or 'Ctrl-C'})")
    elif isinstance(caught, Exception):  # ARC/Route 53 refusals, unreachable APIs, bugs
        res.outcome = "aborted"
        res.reasons.append(f"{type(caught).__name__}: {caught}")
    else:  # SystemExit and the like: fail back, then let it surface
        res.reasons.append(f"stopped: {type(caught).__name__}: {caught}")


def _conclude(res: DrillResult, caught: BaseException | None, interrupts: list[str], activator: Any, step,
              log) -> DrillResult:
    """After the fail-back: put the standby back at rest, then the outcome and exit code."""
    if interrupts and res.outcome != "interrupted":
        res.outcome = "interrupted"
        res.reasons.append(f"interrupted during fail-back ({', '.join(interrupts)}; deferred until it finished)")
    if res.failed_back is False:  # never 130 (or a bare SystemExit) unless the fail-back was confirmed
        res.outcome, res.exit_code = "failback-failed", EXIT_FAILBACK_FAILED
        return res
    if activator is not None:  # traffic is back on the primary: put the standby back at rest
        _restore(res, activator, step, log)
    if caught is not None and not isinstance(caught, Exception):
        if not isinstance(caught, KeyboardInterrupt):
            raise caught
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


def _activate(res: DrillResult, activator: Any, step, clock, log) -> bool:
    """Activate the standby before the switch; on failure put it back and stop (traffic never moved)."""
    from recsys_dr.operations.activation import ActivationError
    from recsys_dr.operations.kube import KubeError

    started = clock()
    try:
        sizing = activator.activate()
    except (ActivationError, KubeError) as exc:
        res.phases += [p.to_dict() for p in activator.phases]
        res.reasons = [f"activation: {exc}"]
        step("activate", False, str(exc), since=started)
        _restore(res, activator, step, log, drain=False)  # traffic never moved
        return False
    res.phases += [p.to_dict() for p in activator.phases]
    step("activate", True, f"{sizing.replicas} pods on {sizing.nodes} GPU nodes ({sizing.source})", since=started)
    return True


def _restore(res: DrillResult, activator: Any, step, log, *, drain: bool = True) -> None:
    try:
        done = activator.restore(drain=drain)
    except Exception as exc:  # traffic is on the primary either way; say what is left scaled
        res.messages.append(f"the standby was NOT put back at rest: {type(exc).__name__}: {exc}; run "
                            "`recsys-dr failover --to primary` to restore it")
        step("restore", False, str(exc))
        return
    step("restore", True, "; ".join(done))


def poll(outputs: StackOutputs, route53: Any, probe: Callable[[], tuple[bool, str]], role: str):
    """(Route 53 answers `role`, `probe` passes, one line of detail)."""
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


def is_normal(switcher: Any, states: dict[str, str]) -> bool:
    """Traffic as it is outside a drill: the switcher's own test, else primary On and standby Off."""
    if hasattr(switcher, "is_normal"):
        return switcher.is_normal(states)
    return states.get("primary") == "On" and states.get("standby") == "Off"


def undo_commands(switcher: Any, outputs: StackOutputs) -> list[str]:
    """What to run by hand to undo the switch, from the switcher when it knows."""
    if hasattr(switcher, "undo_commands"):
        return switcher.undo_commands()
    return [f"  recsys-dr failover --to primary   # environment {outputs.environment}"]


def fail_back(outputs, res: DrillResult, switcher, route53, probe_primary, settings: DrillSettings,
              clock, sleep, step, log, guard) -> list[str]:
    """Traffic back to the primary (retrying until the deadline), then wait for Route 53 to answer it.

    Runs under `guard` (a SignalShield): signals are deferred, and a KeyboardInterrupt that still
    gets through (a signal outside the main thread, or one raised inside a call) counts as a failed
    attempt, not as the end of the fail-back. Returns the interrupts seen, e.g. ["SIGTERM"].
    When the switch back is not confirmed, `res.failed_back` is False and the manual commands are
    in `res.messages` and already logged.

    """
    window = _FailbackWindow(settings, clock, sleep, guard)
    if not _switch_back(outputs, res, switcher, window, step, log):
        return window.seen()
    res.failed_back = True
    _await_primary(outputs, res, route53, probe_primary, window, step)
    return window.seen()


class _FailbackWindow:
    """The fail-back's time bound, its pauses and the interrupts it has absorbed."""

    def __init__(self, settings: DrillSettings, clock, sleep, guard) -> None:
        self.settings, self.clock, self.sleep, self.guard = settings, clock, sleep, guard
        self.started = clock()
        self.deadline = self.started + settings.failback_timeout
        self.interrupts: list[str] = []

    def seen(self) -> list[str]:
        import signal

        return [signal.Signals(s).name for s in getattr(self.guard, "received", [])] + self.interrupts

    def expired(self) -> bool:
        return self.clock() >= self.deadline

    def pause(self) -> None:
        try:
            self.sleep(max(0.0, min(self.settings.poll_interval, self.deadline - self.clock())))
        except KeyboardInterrupt:
            self.interrupts.append("KeyboardInterrupt")


def _switch_back(outputs, res: DrillResult, switcher, window: _FailbackWindow, step, log) -> bool:
    """Primary On (retried until the deadline); when not confirmed, say so with the manual commands."""
    confirmed = False
    last_error: BaseException | None = None
    try:
        while True:
            try:
                states = switcher.activate("primary")
            except BaseException as exc:  # noqa: BLE001 - keep trying until the deadline
                if isinstance(exc, KeyboardInterrupt):
                    window.interrupts.append("KeyboardInterrupt")
                    log("interrupt during fail-back: retrying until it is confirmed or "
                        f"{window.settings.failback_timeout:g}s have passed")
                last_error = exc
            else:
                if states.get("primary") == "On":
                    confirmed, last_error = True, None
                    step("failback", True, f"{res.method} now {states}", since=window.started)
                    break
                last_error = RuntimeError(f"primary control reads {states.get('primary')} after the update")
            if window.expired():
                break
            window.pause()
    finally:
        if not confirmed:
            error = last_error or RuntimeError("fail-back did not complete")
            res.failed_back = False
            res.reasons.append(f"FAIL-BACK FAILED: {type(error).__name__}: {error}")
            step("failback", False, str(error), since=window.started)
            manual = (["MANUAL ACTION REQUIRED: traffic may still go to the standby."]
                      + undo_commands(switcher, outputs))
            res.messages += manual
            for line in manual:
                log(line)
    return confirmed


def _await_primary(outputs, res: DrillResult, route53, probe_primary, window: _FailbackWindow, step) -> None:
    """Poll until Route 53 answers the primary again, an operator asks to stop, or the deadline."""
    started = window.started
    while True:
        try:
            dns_ok, serve_ok, detail = poll(outputs, route53, probe_primary or (lambda: (True, "not checked")),
                                             "primary")
        except KeyboardInterrupt:
            window.interrupts.append("KeyboardInterrupt")
            dns_ok, serve_ok, detail = False, False, "interrupted"
        if dns_ok:
            res.failback_seconds = round(window.clock() - started, 3)
            step("dns.primary", True, detail, since=started)
            if not serve_ok:
                res.messages.append(f"primary back in DNS but its serving check fails: {detail}")
            return
        if window.seen():  # the switch back is confirmed; an operator asked to stop, so stop waiting for DNS
            res.messages.append(f"the switch back to the primary is confirmed ({res.method}); stopped waiting for "
                                f"Route 53 to answer the primary because of {', '.join(window.seen())}; keep watching")
            res.reasons.append("fail-back DNS answer not awaited (interrupted)")
            step("dns.primary", False, f"not awaited: {detail}", since=started)
            return
        if window.expired():
            res.messages.append(f"the switch back to the primary is confirmed ({res.method}), but Route 53 did not "
                                f"answer the primary within {window.settings.failback_timeout:g}s ({detail}); keep watching")
            res.reasons.append("fail-back DNS answer not confirmed in time")
            step("dns.primary", False, detail, since=started)
            return
        window.pause()
