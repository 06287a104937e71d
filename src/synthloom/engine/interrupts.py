"""SIGTERM and SIGINT during a run: stop the work, never the cleanup.

While the run works (segments streaming), the first signal cancels the run's main task: workers
stop, committed partitions stay, and the run ends as ``interrupted``. Once the run is shutting
down (closing steps and model backends, writing ``run.json`` and the card) a signal is only
recorded: cancelling there would abandon a half-closed backend and leave ``run.json`` saying
"running" (the ``CancelledError`` that escaped while the embedded backend shut down). A run that
received any signal ends ``interrupted``, so the exit status says so, and a rerun resumes.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupts:
    """The signal handlers of one run, installed on its event loop for the run's lifetime."""

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task | None) -> None:
        self.loop = loop
        self.task = task
        self.received: list[int] = []
        self._working = True
        self._previous: dict[int, Any] = {}

    def install(self) -> RunInterrupts:
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            try:
                self.loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: nothing to catch
                continue
            self._previous[sig] = previous
        return self

    def remove(self) -> None:
        """Give the signals back to whatever handled them before the run (the CLI's, or Python's)."""
        for sig, previous in self._previous.items():
            try:
                self.loop.remove_signal_handler(sig)
                if previous is not None:
                    signal.signal(sig, previous)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        self._previous.clear()

    def _on_signal(self, sig: int) -> None:
        self.received.append(sig)
        task = self.task
        if self._working and task is not None and not task.done() and not task.cancelling():
            task.cancel()

    def shutting_down(self) -> None:
        """From now on signals are recorded, not acted on: the cleanup that follows must finish."""
        self._working = False

    def absorb_cancel(self) -> None:
        """After the run caught the cancellation a signal caused: later awaits (and timeouts) work normally."""
        if self.task is not None:
            while self.task.cancelling():
                self.task.uncancel()

    @property
    def interrupted(self) -> bool:
        return bool(self.received)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.received[0]).name if self.received else ""
