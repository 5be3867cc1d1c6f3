"""The release report: every step and gate result, a table on a terminal and JSON for CI (like the drill's)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from recsys_dr.operations.verdict import print_verdict

EXIT_OK = 0
EXIT_REJECTED = 1  # the candidate failed a gate: nothing had traffic, or every share it got was rolled back
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3  # the environment is not ready for a release (or needs --accept-quality-drop): nothing changed
EXIT_HELD = 4  # not enough traffic to judge, an AWS call failed, or the stable pods still roll: nothing rolled back
EXIT_ROLLBACK_UNCONFIRMED = 5  # act now: the printed commands put the shares back
EXIT_WAITING = 6  # apply the printed stack-file change, `pulumi up`, re-export the outputs, then `advance`
EXIT_INTERRUPTED = 130

OUTCOMES = {
    "planned": EXIT_OK, "advanced": EXIT_OK, "promoted": EXIT_OK, "aborted": EXIT_OK, "status": EXIT_OK,
    "rejected": EXIT_REJECTED, "rolled-back": EXIT_REJECTED, "inconsistent": EXIT_REJECTED,
    "refused": EXIT_REFUSED, "held": EXIT_HELD, "rollback-unconfirmed": EXIT_ROLLBACK_UNCONFIRMED,
    "waiting": EXIT_WAITING, "interrupted": EXIT_INTERRUPTED,
}


@dataclass
class ReleaseReport:
    command: str
    outcome: str = "planned"
    steps: list[dict] = field(default_factory=list)  # {atSeconds, step, region, share, result, detail, gate?}
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    patch: dict | None = None  # {stage, commands, description}
    release: dict | None = None  # the record
    shares: dict = field(default_factory=dict)  # role -> live share, when read
    plan: list[dict] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return OUTCOMES[self.outcome]

    def add(self, at: float, step: str, result: str, detail: str, *, region: str | None = None,
            share: float | None = None, gate: dict | None = None) -> dict:
        row = {"atSeconds": round(at, 3), "step": step, "region": region, "share": share, "result": result, "detail": detail}
        if gate is not None:
            row["gate"] = gate
        self.steps.append(row)
        return row

    def to_dict(self) -> dict:
        return {"command": self.command, "outcome": self.outcome, "exitCode": self.exit_code, "reasons": self.reasons,
                "messages": self.messages, "plan": self.plan, "steps": self.steps, "shares": self.shares,
                "patch": self.patch, "release": self.release}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


_MARKS = {"ok": "[green]ok[/green]", "FAIL": "[bold red]FAIL[/bold red]", "hold": "[yellow]hold[/yellow]",
          "wait": "[yellow]wait[/yellow]", "info": "info", "undo": "[cyan]undo[/cyan]"}


def render(report: ReleaseReport, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if report.plan:
        plan = Table(title=f"recsys-dr release {report.command}: plan", title_justify="left")
        for column in ("#", "region", "step", "gate", "bake"):
            plan.add_column(column, justify="right" if column in ("#", "bake") else "left", overflow="fold")
        for index, step in enumerate(report.plan, start=1):
            plan.add_row(str(index), step.get("region") or "-", escape(step["step"]), escape(step.get("gate") or "-"),
                         f"{step['bakeSeconds']} s" if step.get("bakeSeconds") else "-")
        console.print(plan)
    if report.steps:
        table = Table(title=f"recsys-dr release {report.command}", title_justify="left")
        table.add_column("t (s)", justify="right")
        table.add_column("region")
        table.add_column("step")
        table.add_column("share", justify="right")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for row in report.steps:
            share = "" if row["share"] is None else f"{row['share']:g} %"
            table.add_row(f"{row['atSeconds']:.1f}", row["region"] or "", escape(row["step"]), share,
                          _MARKS.get(row["result"], row["result"]), escape(row["detail"]))
        console.print(table)
    if report.shares:
        console.print("candidate shares now: " + ", ".join(f"{role} {share:g} %" if share is not None else f"{role} mixed"
                                                             for role, share in report.shares.items()),
                      markup=False, highlight=False)
    print_verdict(console, report.outcome, report.exit_code, reasons=report.reasons, messages=report.messages)
    if report.patch:
        console.print(report.patch["description"], markup=False, highlight=False, soft_wrap=True)
        for command in report.patch["commands"]:
            console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
