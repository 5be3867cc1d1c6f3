"""The drill's result (`DrillResult`: measured times, budget, steps; JSON) and its table (`render`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from recsys_dr.operations.verdict import print_verdict

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_NO_ARC = 3
EXIT_FAILBACK_FAILED = 5
EXIT_INTERRUPTED = 130


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
    phases: list[dict] = field(default_factory=list)
    target: str = "standby"  # the tier the drill moves traffic to ("fallback": both GPU tiers down)

    @property
    def client_visible_seconds(self) -> float | None:
        return None if self.switch_seconds is None else self.switch_seconds + self.ttl_seconds

    def to_dict(self) -> dict:
        return {
            "scenario": "gpu-tiers-down" if self.target == "fallback" else "standby",
            "target": self.target,
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
            "phases": self.phases,
            "failedBack": self.failed_back,
            "reasons": self.reasons,
            "messages": self.messages,
            "steps": self.steps,
            "status": self.status,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


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

    if result.phases:
        phases = Table(title="phases: measured vs budget", title_justify="left")
        phases.add_column("phase")
        phases.add_column("measured", justify="right")
        phases.add_column("budget", justify="right")
        for p in result.phases:
            measured = fmt(p.get("seconds")) + ("" if p.get("ok") else " FAIL")
            phases.add_row(p["phase"], measured, fmt(p.get("budgetSeconds")))
        console.print(phases)

    summary = Table(title="switch time vs budget", title_justify="left")
    summary.add_column("measure")
    summary.add_column("seconds", justify="right")
    target = result.target
    summary.add_row(f"Route 53 answers {target}", fmt(result.dns_seconds))
    summary.add_row(f"{target} answers (DNS + {'a prediction' if target == 'fallback' else 'serving'})", fmt(result.switch_seconds))
    summary.add_row(f"client-visible worst case (+ TTL {result.ttl_seconds}s)", fmt(result.client_visible_seconds))
    summary.add_row("computed budget (interval x threshold" + (" x 2 hops" if target == "fallback" else "") + " + TTL)",
                    fmt(result.budget_seconds))
    summary.add_row("target", fmt(result.target_seconds))
    summary.add_row("fail-back (Route 53 answers primary)", fmt(result.failback_seconds))
    console.print(summary)
    print_verdict(console, result.outcome, result.exit_code, reasons=result.reasons, messages=result.messages)
