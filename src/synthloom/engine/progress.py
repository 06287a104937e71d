"""Live progress per step: rows done, rate, ETA, tokens, rejected and errors.

A ``rich`` live table on a terminal; plain periodic lines otherwise (CI, logs); nothing with
``quiet``. Counts here are live (they include work that a crash would redo); the exact
accounting comes from the journal at the end of the run.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table


class Progress:
    """Collects live counters from the engine and renders them every ``interval`` seconds."""

    def __init__(self, pipeline: Any, usage: Any, registry: Any, *, mode: str = "auto",
                 totals: dict[str, int] | None = None, plain_interval: float = 10.0) -> None:
        if mode == "auto":
            mode = "rich" if sys.stderr.isatty() else "plain"
        self.mode = mode
        self.steps = [s.name for s in pipeline.topological()]
        self.kinds = {s.name: s.kind for s in pipeline.steps}
        self.usage = usage
        self.registry = registry
        self.totals = totals or {}
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: {"out": 0, "rejected": 0, "errors": 0})
        self.started = time.monotonic()
        self.plain_interval = plain_interval
        self._task: asyncio.Task | None = None
        self._live: Live | None = None
        self._console = Console(stderr=True)

    def bump(self, step: str, what: str, n: int) -> None:
        self.counts[step][what] += n

    def start(self) -> None:
        if self.mode == "quiet":
            return
        if self.mode == "rich":
            self._live = Live(self.table(), console=self._console, refresh_per_second=4, transient=False)
            self._live.start()
            self._task = asyncio.get_running_loop().create_task(self._refresh(0.25))
        else:
            self._task = asyncio.get_running_loop().create_task(self._refresh(self.plain_interval))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._live is not None:
            self._live.update(self.table())
            self._live.stop()
        elif self.mode == "plain":
            self._print_plain()

    async def _refresh(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            if self._live is not None:
                self._live.update(self.table())
            else:
                self._print_plain()

    def _usage_by_step(self) -> tuple[dict[str, int], dict[str, float]]:
        tokens: dict[str, int] = defaultdict(int)
        cost: dict[str, float] = defaultdict(float)
        for row in self.usage.snapshot()["by_step"]:
            tokens[row["step"]] += row["total_tokens"]
            cost[row["step"]] += row["cost"]
        return tokens, cost

    def rows(self) -> list[dict[str, Any]]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        tokens, cost = self._usage_by_step()
        rows = []
        for step in self.steps:
            c = self.counts[step]
            done = c["out"] + c["rejected"] + c["errors"]
            rate = done / elapsed
            total = self.totals.get(step)
            eta = (total - done) / rate if total and rate > 0 and done < total else None
            rows.append({"step": step, "kind": self.kinds.get(step, ""), "done": done, "total": total,
                         "rate": rate, "eta": eta, "tokens": tokens.get(step, 0), "cost": cost.get(step, 0.0), **c})
        return rows

    def table(self) -> Table:
        rows = self.rows()
        priced = any(r["cost"] for r in rows)
        t = Table(title=f"synthloom · {time.monotonic() - self.started:.0f}s", expand=False)
        cols = ["step", "kind", "done", "rate/s", "ETA", "tokens", *(["cost"] if priced else []), "rejected", "errors"]
        for col in cols:
            t.add_column(col, justify="left" if col in ("step", "kind") else "right")
        for r in rows:
            done = f"{r['done']}/{r['total']}" if r["total"] else str(r["done"])
            eta = f"{r['eta']:.0f}s" if r["eta"] is not None else ""
            cells = [r["step"], r["kind"], done, f"{r['rate']:.1f}", eta, str(r["tokens"])]
            if priced:
                cells.append(f"${r['cost']:.4f}")
            cells += [str(r["rejected"]), f"[red]{r['errors']}[/red]" if r["errors"] else "0"]
            t.add_row(*cells)
        return t

    def _print_plain(self) -> None:
        parts = []
        for r in self.rows():
            part = f"{r['step']} {r['done']}" + (f"/{r['total']}" if r["total"] else "") + f" ({r['rate']:.1f}/s"
            if r["tokens"]:
                part += f", {r['tokens']} tok"
            if r["cost"]:
                part += f", ${r['cost']:.4f}"
            if r["rejected"]:
                part += f", {r['rejected']} rejected"
            if r["errors"]:
                part += f", {r['errors']} errors"
            parts.append(part + ")")
        print(f"[{time.monotonic() - self.started:6.0f}s] " + " | ".join(parts), file=sys.stderr, flush=True)
