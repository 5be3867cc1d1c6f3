"""Defer SIGINT/SIGTERM while something must not be cut short (the drill's fail-back).

A second Ctrl-C, or the second SIGTERM a CI runner or orchestrator sends when it cancels a
job, must not stop a fail-back half-way and leave traffic on the standby. Inside
`SignalShield` both signals are recorded (and logged) instead of acting; the previous
handlers are restored on exit. The caller bounds the shielded work by its own time limit
and decides what to do with `received` afterwards.

Signal handlers can only be installed from the main thread; elsewhere the shield does
nothing and the caller's own `except KeyboardInterrupt` handling is all there is.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any, Callable

SHIELDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises KeyboardInterrupt, as Ctrl-C does, so the work's own interrupt
    handling (a drill's fail-back, a release's rollback) runs when a CI runner or orchestrator stops
    the job. Outside the main thread nothing is installed."""
    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class SignalShield:
    """Context manager: while active, SIGINT/SIGTERM are recorded in `received`, not acted on.

    Args:
        log: callable(str), told about every deferred signal.
        note: str, appended to the log line (e.g. how long the shielded work may still take).
    """

    def __init__(self, *, log: Callable[[str], None] = lambda _m: None, note: str = ""):
        self.log = log
        self.note = note
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def _defer(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)
        name = signal.Signals(signum).name
        self.log(f"{name} received: deferred until fail-back finishes{self.note}")

    def __enter__(self) -> "SignalShield":
        if threading.current_thread() is threading.main_thread():
            for sig in SHIELDED_SIGNALS:
                try:
                    self._previous[sig] = signal.signal(sig, self._defer)
                except (ValueError, OSError):  # pragma: no cover - platform without the signal
                    pass
        return self

    def __exit__(self, *_exc: Any) -> bool:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        return False
