"""`recsys-dr drill --scenario gpu-tiers-down`: both GPU tiers out of DNS, the fallback tier answers.

The fallback is exercised where it matters: the DNS cascade (primary GPU -> standby GPU -> fallback)
must reach it, and it must answer a prediction, within its budget (two detections + TTL,
`fallback.budgetSeconds`). Steps, each timed, as in `operations.drill`:

1. preflight: the fallback serves its pinned version and answers a prediction, the primary serves
   (it is where the drill fails back to), no GPU tier's check is inverted, Route 53 answers the
   primary. Anything else stops the drill with no change.
2. switch: invert the health check of each GPU tier that passes now (`inversion.GpuTiersInversion`).
3. poll until Route 53's authoritative answer is the fallback's balancer and a prediction through it
   names items: the measured time (with the detection delay of both hops in it).
4. optional hold, then fail back: restore the checks, wait until Route 53 answers the primary
   (`drill.fail_back`, under the same signal shield).

Exit codes as `recsys-dr drill`: 0 passed, 1 failed or over the budget, 3 no way to move traffic
(needs --via-health-check-inversion), 5 fail-back not confirmed, 130 interrupted after failing back.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from recsys_dr.operations.drill import (DrillAborted, DrillSettings, DrillTimeout, await_answer, fail_back, hold, is_normal,
                                       poll, undo_commands)
from recsys_dr.operations.drill_report import (
    EXIT_FAILBACK_FAILED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_ARC, EXIT_PASSED, DrillResult,
)
from recsys_dr.operations.failover import dns_answer
from recsys_dr.operations.outputs import StackOutputs
from recsys_dr.operations.shield import SignalShield


def run_fallback_drill(
    outputs: StackOutputs,
    *,
    switcher: Any,
    route53: Any,
    probe_fallback: Callable[[], tuple[bool, str]],
    probe_primary: Callable[[], tuple[bool, str]],
    settings: DrillSettings = DrillSettings(),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda _m: None,
    shield: Callable[..., Any] = SignalShield,
) -> DrillResult:
    """Run the scenario (see the module docstring). `switcher` is a `GpuTiersInversion` or None."""
    fallback = outputs.fallback
    budget = fallback.budget_seconds if fallback else 0.0
    res = DrillResult(budget_seconds=budget, target_seconds=budget, ttl_seconds=outputs.dns.ttl, target="fallback")
    start = clock()

    def step(name: str, ok: bool, detail: str, *, since: float | None = None) -> None:
        now = clock()
        entry = {"step": name, "ok": ok, "atSeconds": round(now - start, 3),
                 "phaseSeconds": None if since is None else round(now - since, 3), "detail": detail}
        res.steps.append(entry)
        log(f"[{entry['atSeconds']:>7.1f}s] {'ok  ' if ok else 'FAIL'} {name}: {detail}")

    if fallback is None:
        res.reasons = ["the stack has no fallback tier (`fallback` outputs): nothing to drill"]
        return res
    if switcher is None:
        res.outcome, res.exit_code = "no-arc", EXIT_NO_ARC
        res.messages = ["the gpu-tiers-down scenario moves traffic by inverting the GPU tiers' health checks: "
                        "add --via-health-check-inversion (health-check environments only)"]
        return res
    res.method = switcher.kind
    if not _preflight(res, outputs, switcher, route53, probe_fallback, probe_primary, step):
        return res

    for line in ["if this drill is killed before it fails back, undo it by hand:"] + undo_commands(switcher, outputs):
        log(line)
    caught = _switch_and_measure(res, outputs, switcher, route53, probe_fallback, settings, clock, sleep, step)
    with shield(log=log, note=f" (at most {settings.failback_timeout:g}s)") as guard:
        if caught is not None:
            res.outcome = "timeout" if isinstance(caught, DrillTimeout) else (
                "interrupted" if isinstance(caught, KeyboardInterrupt) else "aborted")
            res.reasons.append(str(caught) if isinstance(caught, DrillAborted) else f"{type(caught).__name__}: {caught}")
            step("abort", False, res.reasons[-1])
        interrupts = fail_back(outputs, res, switcher, route53, probe_primary, settings, clock, sleep, step, log, guard)
    return _verdict(res, caught, interrupts)


def _preflight(res: DrillResult, outputs: StackOutputs, switcher, route53, probe_fallback, probe_primary, step) -> bool:
    """Nothing changes unless the fallback answers, the primary serves and traffic is on the primary."""
    checks = (("preflight.fallback", probe_fallback), ("preflight.primary", probe_primary))
    for name, probe in checks:
        ok, detail = probe()
        if not ok:
            res.outcome, res.reasons = "not-ready", [f"{name.split('.')[1]} must answer before the drill: {detail}"]
            step(name, False, detail)
            return False
        step(name, True, detail)
    try:
        states = switcher.states()
        answer = dns_answer(outputs, route53)
    except Exception as exc:
        res.reasons = [f"cannot read the health checks or ask Route 53: {type(exc).__name__}: {exc}"]
        step("preflight.dns", False, res.reasons[0])
        return False
    if not is_normal(switcher, states) or answer["role"] != "primary":
        res.reasons = [f"traffic is not in the normal state (checks {states}, Route 53 answers {answer['role']}): "
                       "not drilling outside it"]
        step("preflight.dns", False, res.reasons[0])
        return False
    step("preflight.dns", True, f"Route 53 answers {', '.join(answer['records'])} (primary); checks {states}")
    return True


def _switch_and_measure(res: DrillResult, outputs, switcher, route53, probe_fallback, settings: DrillSettings,
                        clock, sleep, step) -> BaseException | None:
    """Take both GPU tiers out and time the cascade to the fallback; the exception that stopped it, if any."""
    flip_at = clock()
    try:
        step("switch", True, f"{res.method}: {switcher.activate('fallback')}", since=flip_at)
        await_answer(res, "fallback", lambda: poll(outputs, route53, probe_fallback, "fallback"), settings, flip_at,
                     clock, sleep, step, name="the fallback", dns_phase="DNS answer (two hops)",
                     dns_detail=("Route 53 answers the fallback tier's balancer", "Route 53 answers the fallback tier"),
                     answer_phase="fallback answers")
        hold(probe_fallback, settings, flip_at, clock, sleep, step, name="the fallback")
    except BaseException as exc:  # noqa: BLE001 - the fail-back runs whatever stopped the drill
        return exc
    return None


def _verdict(res: DrillResult, caught: BaseException | None, interrupts: list[str]) -> DrillResult:
    if interrupts and res.outcome != "interrupted":
        res.outcome = "interrupted"
        res.reasons.append(f"interrupted during fail-back ({', '.join(interrupts)}; deferred until it finished)")
    if res.failed_back is False:
        res.outcome, res.exit_code = "failback-failed", EXIT_FAILBACK_FAILED
        return res
    if caught is not None and not isinstance(caught, (Exception, KeyboardInterrupt)):
        raise caught
    if res.outcome == "interrupted":
        res.exit_code = EXIT_INTERRUPTED
        return res
    if res.switch_seconds is None:
        res.exit_code = EXIT_FAILED
        return res
    if res.client_visible_seconds > res.target_seconds:
        res.outcome, res.exit_code = "over-target", EXIT_FAILED
        res.reasons.append(f"the fallback answered after {res.switch_seconds:g}s + TTL {res.ttl_seconds}s = "
                           f"{res.client_visible_seconds:g}s, over its budget {res.target_seconds:g}s")
    else:
        res.outcome, res.exit_code = "passed", EXIT_PASSED
    return res
