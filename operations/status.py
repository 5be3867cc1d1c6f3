"""`recsys-dr status`: can the standby (or, for failback, the primary) take traffic now?

The report runs every check in `operations.checks` (concurrently, so one unreachable region
costs one timeout, not one per call), then:

* `ready` is True only when no *blocking* check failed; the exit code is 0 then, else 1;
* `reasons` lists the blocking failures, `warnings` the non-blocking ones (e.g. the
  primary being down during an outage, replication lag, a budget above target).

With a fallback tier the report also checks it every time (its version in the standby's bucket, its
health check, its endpoint's status and one prediction, its targets): a fallback nobody looks at
breaks unnoticed. Its findings never block, since it does not decide whether a GPU region can take
traffic; a failing fallback shows as warnings.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

from recsys_dr.operations import checks as c
from recsys_dr.operations.checks import CheckContext, CheckResult

EXIT_READY = 0
EXIT_NOT_READY = 1
EXIT_BAD_INPUT = 2


@dataclass
class StatusReport:
    environment: str
    target: str
    results: list[CheckResult]
    generated_at: str
    facts: dict = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not any(r.blocks for r in self.results)

    def blocking(self, *, ignore: Iterable[str] = ()) -> list[CheckResult]:
        """The results that make the target not ready, but those of the checks named in `ignore`."""
        return [r for r in self.results if r.blocks and r.name not in ignore]

    @property
    def reasons(self) -> list[str]:
        return [r.message for r in self.blocking()]

    @property
    def warnings(self) -> list[str]:
        return [r.message for r in self.results if not r.ok and not r.blocking]

    def to_dict(self) -> dict:
        return {
            "environment": self.environment,
            "target": self.target,
            "ready": self.ready,
            "generatedAt": self.generated_at,
            "reasons": self.reasons,
            "warnings": self.warnings,
            **self.facts,
            "checks": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


def _arc_states_result(ctx: CheckContext, arc_controller) -> CheckResult:
    from recsys_dr.operations.arc import ArcError

    try:
        states = arc_controller.states()
    except ArcError as exc:
        return CheckResult(name="arc.routing", ok=False, blocking=True,
                           detail=f"cannot read routing controls: {exc}",
                           data={"attempts": exc.attempts})
    on = [role for role, state in states.items() if state == "On"]
    if not on:
        return CheckResult(name="arc.routing", ok=False, blocking=False, data={"states": states},
                           detail="both routing controls are Off: no region receives traffic")
    return CheckResult(name="arc.routing", ok=True, blocking=False, data={"states": states},
                       detail=", ".join(f"{role} {state}" for role, state in states.items())
                       + f" (traffic -> {' + '.join(on)})")


def _region_switch_result(ctx: CheckContext, region_switch) -> CheckResult:
    """The plan's evaluation (Region switch re-evaluates every 30 min: permissions, resources, capacity)."""
    from recsys_dr.operations.arc import ArcError

    target = ctx.outputs.regions[ctx.target]
    try:
        ev = region_switch.evaluation(target.region)
    except ArcError as exc:
        return CheckResult(name="arc.plan", ok=False, blocking=True, region=target.region, role=ctx.target,
                           detail=f"cannot read the Region switch plan: {exc}", data={"attempts": exc.attempts})
    state = ev["state"]
    detail = f"plan evaluation {state}"
    if ev["warnings"]:
        detail += ": " + "; ".join(ev["warnings"][:3])
    # actionRequired means an execution is expected to fail (missing permission, resource, capacity).
    return CheckResult(name="arc.plan", ok=state == "passed", blocking=state == "actionRequired",
                       region=ev["region"], role=ctx.target, detail=detail, data=ev)


def build_report(ctx: CheckContext, *, arc_controller=None, max_workers: int = 8,
                 target_only: bool = False, region_switch=None) -> StatusReport:
    """Run every check for `ctx.target` and return the report.

    Args:
        ctx: CheckContext (outputs, clients, target, require_warm, ...).
        arc_controller: ArcController | None; when the environment uses ARC, its routing
            control states are read (through the data-plane endpoints) and reported.
        max_workers: int, threads running checks concurrently. Default 8.
        target_only: bool, run only the checks on the target region's own resources
            (its bucket copy, health check, serving, GPU pool) plus the DNS records, the
            routing controls and the budget; nothing is sent to the other region, so a dead
            region costs no timeouts. `failover` uses this. Default False (everything).
    """
    _create_clients(ctx)
    thunks = _checks(ctx, arc_controller=arc_controller, region_switch=region_switch, target_only=target_only)

    def run(thunk: Callable[[], CheckResult]) -> CheckResult:
        try:
            return thunk()
        except Exception as exc:  # a bug or an unexpected answer must not hide the others
            return CheckResult(name="internal", ok=False, blocking=True,
                               detail=f"check crashed: {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        results = list(pool.map(run, thunks))
    results.sort(key=_order)
    return StatusReport(environment=ctx.outputs.environment, target=ctx.target, results=results,
                        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        facts=_facts(ctx, target_only=target_only))


def _create_clients(ctx: CheckContext) -> None:
    """boto3 sessions are not thread-safe: create every client here, before the threads."""
    o = ctx.outputs
    for region in o.regions.values():
        ctx.clients.s3(region.region)
        ctx.clients.eks(region.region)
        if region.front_door is not None:
            ctx.clients.elbv2(region.region)
    if o.fallback is not None and o.fallback.front_door is not None:
        ctx.clients.elbv2(o.fallback.region)
    ctx.clients.cloudwatch(o.primary.region)
    ctx.clients.route53()


def _checks(ctx: CheckContext, *, arc_controller, region_switch, target_only: bool) -> list[Callable[[], CheckResult]]:
    """The checks to run, each a call of no arguments."""
    o = ctx.outputs
    roles = (ctx.target,) if target_only else ("standby", "primary")
    thunks: list[Callable[[], CheckResult]] = []
    for role in roles:
        region = o.regions[role]
        thunks.append(lambda r=region: c.check_model(ctx, r))
    if not target_only:
        thunks.append(lambda: c.check_model_parity(ctx))
        thunks += [lambda r=o.primary: c.check_versioning(ctx, r), lambda r=o.standby: c.check_versioning(ctx, r)]
        thunks.append(lambda: c.check_replication_rule(ctx))
        thunks.append(lambda: c.check_replication_metrics(ctx))
    for role in roles:
        region = o.regions[role]
        thunks.append(lambda r=region: c.check_health(ctx, r))
        thunks.append(lambda r=region: c.check_serving(ctx, r))
        if region.front_door is not None:
            thunks.append(lambda r=region: c.check_targets(ctx, r))
        thunks.append(lambda r=region: c.check_capacity(ctx, r))
    thunks.append(lambda: c.check_dns_records(ctx))
    if o.fallback is not None and not target_only:
        thunks += [lambda: c.check_model(ctx, o.fallback), lambda: c.check_health(ctx, o.fallback),
                   lambda: c.check_fallback_serving(ctx)]
        if o.fallback.front_door is not None:
            thunks.append(lambda: c.check_targets(ctx, o.fallback))
    if arc_controller is not None:
        thunks.append(lambda: _arc_states_result(ctx, arc_controller))
    if region_switch is not None:
        thunks.append(lambda: _region_switch_result(ctx, region_switch))
    thunks.append(lambda: c.check_budget(ctx))
    return thunks


def _facts(ctx: CheckContext, *, target_only: bool) -> dict:
    """What the report states beside the checks (JSON output)."""
    o = ctx.outputs
    facts = {
        "model": {"name": o.model_name, "version": o.model_version},
        "standbyMode": o.standby_mode,
        "requireWarm": ctx.require_warm,
        "failoverControl": o.failover_control,
        "regions": {role: r.region for role, r in o.regions.items()},
        "scope": "target" if target_only else "all",
        "budget": {"seconds": o.failover_budget_seconds, "targetSeconds": o.failover_budget_target_seconds,
                   "computedSeconds": c.computed_budget_seconds(o)},
    }
    if o.fallback is not None:
        facts["fallback"] = {"region": o.fallback.region, "model": {"name": o.fallback.model_name, "version": o.fallback.version},
                             "budgetSeconds": o.fallback.budget_seconds}
    return facts


_GROUPS = ["model", "replication", "health", "dns", "serving", "targets", "capacity", "arc", "budget", "internal"]


def _order(result: CheckResult) -> tuple:
    group = result.name.split(".")[0]
    role_rank = {"primary": 0, "standby": 1, "fallback": 2, None: 3}[result.role]
    return (_GROUPS.index(group) if group in _GROUPS else 99, role_rank, result.name)


def render_table(report: StatusReport, console=None) -> None:
    """Print every check once (result, check, region, detail wrapped to the terminal), then the verdict.

    Two columns, so it stays readable at 80 columns; long details (ARNs, URLs) fold. The verdict
    line counts the findings instead of repeating them.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    f = report.facts
    console.print(f"recsys-dr status: {report.environment}  model {f['model']['name']} v{f['model']['version']}  "
                  f"target {report.target}", markup=False, highlight=False)
    fallback = f.get("fallback")
    tier = (f", fallback {fallback['model']['name']} v{fallback['model']['version']} in {fallback['region']}"
            if fallback else ", no fallback tier")
    console.print(f"standby {f['standbyMode']}, control {f['failoverControl']}{tier}", markup=False, highlight=False)
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("result", no_wrap=True, min_width=4)
    table.add_column("check", overflow="fold", ratio=1)
    for r in report.results:
        if r.ok:
            mark = "[green]ok[/green]"
        elif r.blocking:
            mark = "[bold red]FAIL[/bold red]"
        else:
            mark = "[yellow]warn[/yellow]"
        where = r.region or ""
        table.add_row(mark, f"[bold]{escape(r.label)}[/bold] {escape(where)}\n{escape(r.detail)}")
    console.print(table)
    warnings = len(report.warnings)
    tail = f"; {warnings} warning{'s' if warnings != 1 else ''} (warn)" if warnings else ""
    if report.ready:
        console.print(f"[bold green]READY[/bold green]: the {report.target} can take traffic now{tail}.")
    else:
        n = len(report.reasons)
        console.print(f"[bold red]NOT READY[/bold red]: the {report.target} cannot take traffic now: "
                      f"{n} blocking finding{'s' if n != 1 else ''} (FAIL){tail}.")
