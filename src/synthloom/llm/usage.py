"""Token usage and cost per (step, model), for ``run.json``, ``card.md`` and live progress.

The engine names the step that is calling a model with :func:`step_scope` (a context variable,
so concurrent tasks of different steps are told apart); :class:`UsageRecordingBackend`, the
outermost layer of every model built with a tracker, records each call under that step.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from synthloom.llm.types import BudgetExceeded, ModelBackend, Request, Response

current_step: contextvars.ContextVar[str] = contextvars.ContextVar("synthloom_current_step", default="")


@contextlib.contextmanager
def step_scope(step: str) -> Iterator[None]:
    """Attribute model calls made inside this block (and tasks it starts) to ``step``."""
    token = current_step.set(step)
    try:
        yield
    finally:
        current_step.reset(token)


@dataclass(slots=True)
class UsageCounts:
    """Counters for one (step, model) pair. ``requests`` reached the model; ``cached`` were
    answered from the cache (no tokens or cost counted); ``errors`` failed after all retries."""

    requests: int = 0
    cached: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cache_creation_tokens: int = 0  # of prompt_tokens: written to the provider's prompt cache
    cache_read_tokens: int = 0  # of prompt_tokens: read from it

    def add(self, other: UsageCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["cost"] = round(self.cost, 6)
        d["total_tokens"] = self.prompt_tokens + self.completion_tokens
        if not (self.cache_creation_tokens or self.cache_read_tokens):
            del d["cache_creation_tokens"], d["cache_read_tokens"]
        return d


class UsageTracker:
    """Counts requests, cache hits, errors, tokens and cost per (step, model) for one run.

    Prices are per million tokens, registered per model name (the recipe's model names, e.g.
    ``default``, ``judge``). Safe to update from several threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], UsageCounts] = {}
        self._prices: dict[str, tuple[float, float]] = {}
        self._cache_prices: dict[str, tuple[float, float]] = {}
        self._specs: dict[str, str] = {}

    def register_model(self, name: str, price_in_per_mtok: float = 0.0, price_out_per_mtok: float = 0.0, spec: str = "",
                       cache_prices: tuple[float, float] | None = None) -> None:
        """Prices per million tokens; ``cache_prices`` = (cache write, cache read), default the input price."""
        with self._lock:
            self._prices[name] = (price_in_per_mtok, price_out_per_mtok)
            if cache_prices is not None:
                self._cache_prices[name] = cache_prices
            if spec:
                self._specs[name] = spec

    def _slot(self, step: str | None, model: str) -> UsageCounts:
        key = (current_step.get() if step is None else step, model)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = UsageCounts()
        return counts

    def record_response(self, model: str, response: Response, step: str | None = None) -> None:
        with self._lock:
            counts = self._slot(step, model)
            if response.cached:
                counts.cached += 1
                return
            price_in, price_out = self._prices.get(model, (0.0, 0.0))
            u = response.usage
            counts.requests += 1
            counts.prompt_tokens += u.prompt_tokens
            counts.completion_tokens += u.completion_tokens
            counts.cache_creation_tokens += u.cache_creation_tokens
            counts.cache_read_tokens += u.cache_read_tokens
            counts.cost += u.cost(price_in, price_out, self._cache_prices.get(model))

    def record_error(self, model: str, step: str | None = None) -> None:
        with self._lock:
            self._slot(step, model).errors += 1

    def drain(self) -> dict[tuple[str, str], UsageCounts]:
        """Take the counts so far and start again from zero (a Ray worker ships them to the driver)."""
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def merge(self, counts: dict[tuple[str, str], UsageCounts]) -> None:
        """Add counts drained from another tracker (a Ray worker's)."""
        with self._lock:
            for key, c in counts.items():
                slot = self._counts.get(key)
                if slot is None:
                    slot = self._counts[key] = UsageCounts()
                slot.add(c)

    def totals(self) -> UsageCounts:
        total = UsageCounts()
        with self._lock:
            for counts in self._counts.values():
                total.add(counts)
        return total

    def snapshot(self) -> dict[str, Any]:
        """Plain-dict copy: ``by_step`` rows, ``by_model`` sums and a ``total``."""
        with self._lock:
            items = sorted((k, UsageCounts(**{f.name: getattr(v, f.name) for f in fields(v)})) for k, v in self._counts.items())
        by_model: dict[str, UsageCounts] = {}
        total = UsageCounts()
        for (_, model), counts in items:
            by_model.setdefault(model, UsageCounts()).add(counts)
            total.add(counts)
        models = {}
        for model, counts in by_model.items():
            entry = counts.to_dict()
            if model in self._specs:
                entry["spec"] = self._specs[model]
            models[model] = entry
        return {
            "by_step": [{"step": step, "model": model, **counts.to_dict()} for (step, model), counts in items],
            "by_model": models,
            "total": total.to_dict(),
        }


class UsageRecordingBackend:
    """Outermost layer: records every call (cache hits included) in a :class:`UsageTracker`
    under the model's recipe name and the calling step."""

    def __init__(self, inner: ModelBackend, usage: UsageTracker, model: str) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.usage = usage
        self.model = model

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def complete(self, request: Request) -> Response:
        try:
            response = await self.inner.complete(request)
        except BudgetExceeded:
            raise  # the run stops; not a failure of the model
        except Exception:
            self.usage.record_error(self.model)
            raise
        self.usage.record_response(self.model, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
