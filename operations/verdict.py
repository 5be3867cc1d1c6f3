"""The closing lines of an operator command's report, the same for failover, drill and release."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def print_verdict(console: Any, outcome: str, exit_code: int, *, reasons: Iterable[str] = (),
                  messages: Iterable[str] = (), style: str | None = None) -> None:
    """`<outcome> (exit N)` (green when 0, red otherwise, unless `style`), then `  - <reason>` lines and
    the messages, printed as given (no Rich markup read from them)."""
    style = style or ("bold green" if exit_code == 0 else "bold red")
    console.print(f"[{style}]{outcome}[/{style}] (exit {exit_code})")
    for reason in reasons:
        console.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
    for message in messages:
        console.print(message, markup=False, highlight=False, soft_wrap=True)
