"""Spending caps for a run: requests, tokens and cost, shared by every model of the run.

The budget layer sits inside the cache, so replayed (cached) answers are free and a rerun with a
higher cap resumes where the capped run stopped.
"""

from __future__ import annotations

from typing import Any

from synthloom.llm.types import BudgetExceeded, ModelBackend, Request, Response

_RESUME_HINT = (
    "The run stopped cleanly and can be resumed: rerun the same command with a higher cap "
    "(answers already received are replayed from the cache for free)."
)


class Budget:
    """Caps on model requests sent, tokens used and money spent by one run (None = no cap).

    A request counts against ``max_requests`` from the moment it is sent (so concurrent requests
    cannot overshoot the cap); tokens and cost are counted when its answer arrives, so a run may
    overshoot ``max_tokens``/``max_cost`` by what was in flight when the cap was reached.
    """

    def __init__(self, max_requests: int | None = None, max_tokens: int | None = None, max_cost: float | None = None) -> None:
        for name, cap in (("max_requests", max_requests), ("max_tokens", max_tokens), ("max_cost", max_cost)):
            if cap is not None and cap < 0:
                raise ValueError(f"budget {name} must be >= 0, got {cap}")
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.requests = 0  # sent, including those still in flight
        self.in_flight = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def check(self, model: str) -> None:
        """Raise :class:`BudgetExceeded` if one more request to ``model`` would break a cap."""
        if self.max_requests is not None and self.requests >= self.max_requests:
            raise BudgetExceeded(
                f"request budget reached: max_requests={self.max_requests} requests already sent "
                f"({self.in_flight} still in flight); not sending a request to {model}. {_RESUME_HINT}"
            )
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise BudgetExceeded(
                f"token budget reached: {self.tokens} tokens used of max_tokens={self.max_tokens}; "
                f"not sending a request to {model}. {_RESUME_HINT}"
            )
        if self.max_cost is not None and self.cost >= self.max_cost:
            raise BudgetExceeded(
                f"cost budget reached: {self.cost:.4f} spent of max_cost={self.max_cost}; "
                f"not sending a request to {model}. {_RESUME_HINT}"
            )

    def start(self, model: str) -> None:
        """Check the caps and count one request as sent."""
        self.check(model)
        self.requests += 1
        self.in_flight += 1

    def finish(self, prompt_tokens: int = 0, completion_tokens: int = 0, cost: float = 0.0) -> None:
        """Count a finished request (failed ones finish with zero tokens; they still were sent)."""
        self.in_flight -= 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost += cost

    def snapshot(self) -> dict[str, Any]:
        """Caps and spending so far, for ``run.json`` and the progress display."""
        return {
            "max_requests": self.max_requests,
            "max_tokens": self.max_tokens,
            "max_cost": self.max_cost,
            "requests": self.requests,
            "in_flight": self.in_flight,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 6),
        }


class BudgetedBackend:
    """Layer that refuses to send a request once the run's :class:`Budget` is spent.

    ``price_in`` / ``price_out`` are the model's prices per million prompt / completion tokens.
    """

    def __init__(self, inner: ModelBackend, budget: Budget, price_in: float = 0.0, price_out: float = 0.0, *,
                 cache_prices: tuple[float, float] | None = None) -> None:
        self.inner = inner
        self.budget = budget
        self.price_in = price_in
        self.price_out = price_out
        self.cache_prices = cache_prices  # (prompt-cache write, read) per million tokens; None: price_in
        self.identity = inner.identity

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def cost_of(self, response: Response) -> float:
        return response.usage.cost(self.price_in, self.price_out, self.cache_prices)

    async def complete(self, request: Request) -> Response:
        self.budget.start(self.identity)
        try:
            response = await self.inner.complete(request)
        except BaseException:
            self.budget.finish()
            raise
        u = response.usage
        self.budget.finish(u.prompt_tokens, u.completion_tokens, self.cost_of(response))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
