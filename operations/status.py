"""`recsys-dr status`: can the standby (or, for failback, the primary) take traffic now?

The report runs every check in `operations.checks` (concurrently, so one unreachable region
costs one timeout, not one per call), then:

* `ready` is True only when no *blocking* check failed; the exit code is 0 then, else 1;
* `reasons` lists the blocking failures, `warnings` the non-blocking ones (e.g. the
  primary being down during an outage, replication lag, a budget above target).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

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

    @property
    def reasons(self) -> list[str]:
        return [f"{r.label}: {r.detail}" for r in self.results if r.blocks]

    @property
    def warnings(self) -> list[str]:
        return [f"{r.label}: {r.detail}" for r in self.results if not r.ok and not r.blocking]

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


def build_report(ctx: CheckContext, *, arc_controller=None, max_workers: int = 8,
                 target_only: bool = False) -> StatusReport:
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
    o = ctx.outputs
    # boto3 sessions are not thread-safe: create every client here, before the threads.
    for region in o.regions.values():
        ctx.clients.s3(region.region)
        ctx.clients.eks(region.region)
    ctx.clients.cloudwatch(o.primary.region)
    ctx.clients.route53()

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
        thunks.append(lambda r=region: c.check_capacity(ctx, r))
    thunks.append(lambda: c.check_dns_records(ctx))
    if arc_controller is not None:
        thunks.append(lambda: _arc_states_result(ctx, arc_controller))
    thunks.append(lambda: c.check_budget(ctx))

    def run(thunk: Callable[[], CheckResult]) -> CheckResult:
        try:
            return thunk()
        except Exception as exc:  # a bug or an unexpected answer must not hide the others
            return CheckResult(name="internal", ok=False, blocking=True,
                               detail=f"check crashed: {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        results = list(pool.map(run, thunks))
    results.sort(key=_order)
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
    return StatusReport(environment=o.environment, target=ctx.target, results=results,
                        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), facts=facts)


_GROUPS = ["model", "replication", "health", "dns", "serving", "capacity", "arc", "budget", "internal"]


def _order(result: CheckResult) -> tuple:
    group = result.name.split(".")[0]
    role_rank = {"primary": 0, "standby": 1, None: 2}[result.role]
    return (_GROUPS.index(group) if group in _GROUPS else 99, role_rank, result.name)


def render_table(report: StatusReport, console=None) -> None:
    """Print the report as a rich table, then the verdict and the reasons."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    f = report.facts
    title = (f"recsys-dr status: {report.environment}  model {f['model']['name']} v{f['model']['version']}  "
             f"standby {f['standbyMode']}  control {f['failoverControl']}  target {report.target}")
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("check")
    table.add_column("region")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for r in report.results:
        if r.ok:
            mark = "[green]ok[/green]"
        elif r.blocking:
            mark = "[bold red]FAIL[/bold red]"
        else:
            mark = "[yellow]warn[/yellow]"
        where = f"{r.role} {r.region}" if r.role and r.region else (r.region or r.role or "-")
        table.add_row(r.name, where, mark, r.detail, )
    console.print(table)
    if report.ready:
        console.print(f"[bold green]READY[/bold green]: the {report.target} can take traffic now.")
    else:
        console.print(f"[bold red]NOT READY[/bold red]: the {report.target} cannot take traffic now:")
        for reason in report.reasons:
            console.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
    if report.warnings:
        console.print("warnings:")
        for warning in report.warnings:
            console.print(f"  - {warning}", markup=False, highlight=False, soft_wrap=True)
