"""The one async model interface: requests in, responses out.

Every backend (``openai``, ``llamacpp``) and every layer around a backend (cache, budget,
limits, retries) implements :class:`ModelBackend`. A layer wraps an inner ``ModelBackend`` and
is itself one, so the stack is built by composition (see ``llm/client.py``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import orjson
import xxhash

from synthloom.llm.tools import (
    ToolCall,
    message_tool_problem,
    tool_choice_problem,
    tools_problem,
)


@dataclass(frozen=True)
class Request:
    """One model request: chat ``messages`` or a raw ``prompt`` (exactly one of them).

    ``n`` asks for several completions of the same request. ``json_schema`` asks for output that
    validates against a JSON schema (server-side where the backend supports it). ``logprobs`` asks
    for per-token log probabilities of the output, ``top_logprobs`` for that many alternatives.
    ``prompt_logprobs`` asks for the log probability of every token of a raw ``prompt`` (scoring given
    text: IFD, perplexity; see ``llm/backends/prompt_logprobs.py``).
    ``extra`` carries backend-specific fields that are part of the request (they are hashed into
    the cache key); secrets never go here. ``tools`` offers OpenAI function tools
    (``{"type": "function", "function": {"name", "description", "parameters"}}``) and ``tool_choice``
    says whether the model may (``"auto"``), must not (``"none"``) or must (``"required"``, or
    ``{"type": "function", "function": {"name": NAME}}``) call one; both are part of the fingerprint
    and checked here (see ``llm/tools.py``). Messages may then be ``role: tool`` (with
    ``tool_call_id``) and assistant messages may carry ``tool_calls`` (content may be null).
    """

    messages: tuple[dict[str, str], ...] | None = None
    prompt: str | None = None
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    json_schema: dict[str, Any] | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: str | dict[str, Any] | None = None
    prompt_logprobs: bool = False

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a Request needs exactly one of `messages` (chat) or `prompt` (raw completion)")
        if self.prompt_logprobs and self.prompt is None:
            raise InvalidRequest("prompt log-probabilities need a raw prompt, not chat messages")
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise InvalidRequest(f"the prompt must be text, not {type(self.prompt).__name__} ({self.prompt!r:.60})")
        if self.messages is not None:
            _check_messages(self.messages)
        for name in _CHECKED_FIELDS:
            value = getattr(self, name)
            if value is not None and (problem := sampling_problem(name, value)) is not None:
                raise InvalidRequest(problem)
        if self.tools is not None:
            if self.messages is None:
                raise InvalidRequest("tools need a chat request (messages), not a raw prompt")
            problem = tools_problem(self.tools)
            if problem:
                raise InvalidRequest(problem)
        problem = tool_choice_problem(self.tool_choice, self.tools)
        if problem:
            raise InvalidRequest(problem)

    @staticmethod
    def chat(messages: list[dict[str, str]] | tuple[dict[str, str], ...], **params: Any) -> Request:
        """Build a chat request; ``params`` are the sampling fields of :class:`Request`."""
        return Request(messages=tuple(dict(m) for m in messages), **_normalise_params(params))

    @staticmethod
    def completion(prompt: str, **params: Any) -> Request:
        """Build a raw-completion request (e.g. Magpie's pre-query template)."""
        return Request(prompt=prompt, **_normalise_params(params))

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    def to_dict(self) -> dict[str, Any]:
        """Canonical plain-dict form (stable key order, no defaults) used for hashing and lineage."""
        cached = self.__dict__.get("_dict")
        if cached is not None:
            return dict(cached)
        out: dict[str, Any] = {}
        if self.messages is not None:
            out["messages"] = [dict(m) for m in self.messages]
        if self.prompt is not None:
            out["prompt"] = self.prompt
        if self.n != 1:
            out["n"] = self.n
        for name in ("temperature", "top_p", "max_tokens"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.stop is not None:
            out["stop"] = list(self.stop)
        if self.seed is not None:
            out["seed"] = self.seed
        if self.logprobs:
            out["logprobs"] = True
        if self.top_logprobs is not None:
            out["top_logprobs"] = self.top_logprobs
        if self.json_schema is not None:
            out["json_schema"] = self.json_schema
        if self.extra:
            out["extra"] = {k: v for k, v in self.extra}
        if self.tools is not None:
            out["tools"] = [dict(t) for t in self.tools]
        if self.tool_choice is not None:
            out["tool_choice"] = self.tool_choice
        if self.prompt_logprobs:
            out["prompt_logprobs"] = True
        object.__setattr__(self, "_dict", out)
        return dict(out)

    def fingerprint(self) -> str:
        """Stable hash of the full request (what the cache keys on, with the backend identity)."""
        fp = self.__dict__.get("_fp")
        if fp is None:
            fp = xxhash.xxh3_128_hexdigest(orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS))
            object.__setattr__(self, "_fp", fp)
        return fp

    def sampling_params(self) -> dict[str, Any]:
        """The sampling fields only (for lineage): no messages, no prompt, no tool schemas (their
        names only, under ``tools``), no JSON schema (its hash, under ``json_schema``: a tool grammar's
        schema can be many kilobytes, and the cached request holds it whole)."""
        d = self.to_dict()
        d.pop("messages", None)
        d.pop("prompt", None)
        if "tools" in d:
            d["tools"] = [t["function"]["name"] for t in d["tools"]]
        if d.get("json_schema") is not None:
            d["json_schema"] = "xxh3:" + xxhash.xxh3_64_hexdigest(orjson.dumps(d["json_schema"], option=orjson.OPT_SORT_KEYS))
        return d

    def replace(self, **changes: Any) -> Request:
        return dataclasses.replace(self, **_normalise_params(changes))


class InvalidRequest(ValueError):
    """A request field has a value no server accepts (``temperature='abc'``, ``max_tokens=-5``, a
    null message); raised when the request is built, so nothing invalid is ever sent."""


_CHECKED_FIELDS = ("n", "temperature", "top_p", "max_tokens", "seed", "top_logprobs", "stop", "logprobs", "prompt_logprobs")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _valid_stop(value: Any) -> bool:
    items = (value,) if isinstance(value, str) else value
    return isinstance(items, (list, tuple)) and all(isinstance(v, str) for v in items)


def _whole_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: _is_int(v) and v >= low


#: key -> (is the value valid, what a valid value is); None is always valid (the server's default)
_SAMPLING_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "temperature": (lambda v: _is_real(v) and v >= 0, "temperature must be a number >= 0 (e.g. 0.7)"),
    "top_p": (lambda v: _is_real(v) and 0 <= v <= 1, "top_p must be a number from 0 to 1"),
    "max_tokens": (_whole_at_least(1), "max_tokens must be a whole number >= 1"),
    "n": (_whole_at_least(1), "n must be a whole number >= 1"),
    "top_logprobs": (_whole_at_least(0), "top_logprobs must be a whole number >= 0"),
    "seed": (lambda v: _is_int(v) and -(2**63) <= v < 2**64, "seed must be a whole number"),
    "logprobs": (lambda v: isinstance(v, bool), "logprobs must be true or false"),
    "prompt_logprobs": (lambda v: isinstance(v, bool), "prompt_logprobs must be true or false"),
    "stop": (_valid_stop, "stop must be a string or a list of strings"),
}


def sampling_problem(key: str, value: Any) -> str | None:
    """Why ``value`` is not a valid sampling ``key`` (``"temperature must be a number >= 0, not 'abc'"``),
    or None when it is valid (None always is: the server's default)."""
    if value is None:
        return None
    rule = _SAMPLING_RULES.get(key)
    if rule is None or rule[0](value):
        return None
    shown = repr(value) if not isinstance(value, str) or len(value) < 40 else repr(value[:40] + "...")
    return f"{rule[1]}, not {shown}"


def check_sampling(params: dict[str, Any]) -> None:
    """Raise :class:`InvalidRequest` for the first invalid sampling value in ``params``."""
    for key, value in params.items():
        problem = sampling_problem(key, value)
        if problem is not None:
            raise InvalidRequest(problem)


def _check_messages(messages: tuple[dict[str, Any], ...]) -> None:
    if not messages:
        raise InvalidRequest("a chat request needs at least one message")
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if not isinstance(role, str) or not role:
            raise InvalidRequest(f"message {i} has no role (a dict with 'role' and 'content' is expected)")
        content = m.get("content")
        if content is None and not m.get("tool_calls"):
            raise InvalidRequest(f"message {i} ({role}) has no content (null): the row's value is missing")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidRequest(f"message {i} ({role}) content must be text, not {type(content).__name__}")
        problem = message_tool_problem(i, role, m)
        if problem:
            raise InvalidRequest(problem)


def _normalise_params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if isinstance(out.get("stop"), str):
        out["stop"] = (out["stop"],)
    elif out.get("stop") is not None:
        out["stop"] = tuple(out["stop"])
    if isinstance(out.get("extra"), dict):
        out["extra"] = tuple(sorted(out["extra"].items()))
    if isinstance(out.get("tools"), list):
        out["tools"] = tuple(out["tools"])
    return out


@dataclass(slots=True)
class Usage:
    """Token counts of one response (or a sum of many). ``cache_creation_tokens`` and
    ``cache_read_tokens`` are the part of ``prompt_tokens`` written to / read from the provider's
    prompt cache (Anthropic prices them apart)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cache_creation_tokens += other.cache_creation_tokens
        self.cache_read_tokens += other.cache_read_tokens

    def cost(self, price_in: float, price_out: float, cache_prices: tuple[float, float] | None = None) -> float:
        """Cost at prices per million tokens; ``cache_prices`` = (write, read), default ``price_in``."""
        write, read = cache_prices or (price_in, price_in)
        plain = self.prompt_tokens - self.cache_creation_tokens - self.cache_read_tokens
        return (plain * price_in + self.cache_creation_tokens * write + self.cache_read_tokens * read
                + self.completion_tokens * price_out) / 1_000_000

    def to_dict(self) -> dict[str, int]:
        d = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        if self.cache_creation_tokens or self.cache_read_tokens:
            d["cache_creation_tokens"] = self.cache_creation_tokens
            d["cache_read_tokens"] = self.cache_read_tokens
        return d


@dataclass(slots=True)
class TokenLogprob:
    """Log probability of one generated token, with the top alternatives when asked for."""

    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)


class PromptToken(NamedTuple):
    """One token of a scored prompt: its text and ``log p(token | the tokens before it)`` (None for a
    token nothing predicts, such as the first)."""

    token: str
    logprob: float | None


@dataclass(slots=True)
class Choice:
    """One completion of a request. ``reasoning`` holds a reasoning model's separate trace
    (``reasoning_content``) when the server returns one. ``tool_calls`` lists the function calls
    the model made (several for parallel calls; ``finish_reason`` is then ``"tool_calls"``).
    ``prompt_logprobs`` holds the prompt's tokens when the request asked for them."""

    text: str
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_logprobs: list[PromptToken] | None = None


@dataclass(slots=True)
class Response:
    """A model's answer to one :class:`Request`: ``choices`` has ``request.n`` entries."""

    choices: list[Choice]
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    cached: bool = False
    parsed: Any = None  # the validated value, when the request asked for structured output

    @property
    def text(self) -> str:
        return self.choices[0].text if self.choices else ""

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.choices]

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The calls of the first choice (empty when it answered in text)."""
        return self.choices[0].tool_calls if self.choices else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "choices": [
                {
                    "text": c.text,
                    "finish_reason": c.finish_reason,
                    "logprobs": None
                    if c.logprobs is None
                    else [[t.token, t.logprob, [list(x) for x in t.top]] for t in c.logprobs],
                    "reasoning": c.reasoning,
                    **({"tool_calls": [t.to_dict() for t in c.tool_calls]} if c.tool_calls else {}),
                    **({"prompt_logprobs": [list(t) for t in c.prompt_logprobs]} if c.prompt_logprobs is not None else {}),
                }
                for c in self.choices
            ],
            "usage": self.usage.to_dict(),
            "model": self.model,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Response:
        choices = []
        for c in d["choices"]:
            lp = c.get("logprobs")
            choices.append(
                Choice(
                    text=c["text"],
                    finish_reason=c.get("finish_reason"),
                    logprobs=None
                    if lp is None
                    else [TokenLogprob(t[0], t[1], [tuple(x) for x in t[2]]) for t in lp],
                    reasoning=c.get("reasoning"),
                    tool_calls=[ToolCall.from_dict(t) for t in c.get("tool_calls") or ()],
                    prompt_logprobs=None if c.get("prompt_logprobs") is None
                    else [PromptToken(t[0], t[1]) for t in c["prompt_logprobs"]],
                )
            )
        u = d.get("usage") or {}
        return Response(
            choices=choices,
            usage=Usage(u.get("prompt_tokens", 0), u.get("completion_tokens", 0),
                        u.get("cache_creation_tokens", 0), u.get("cache_read_tokens", 0)),
            model=d.get("model", ""),
        )


class ModelError(Exception):
    """A model call failed. ``retryable`` says whether the retry layer may try again;
    ``retry_after`` is a server-requested wait in seconds (HTTP ``Retry-After``)."""

    retryable: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class RateLimited(ModelError):
    """HTTP 429 or an equivalent back-off signal: retryable, shrinks adaptive concurrency."""

    retryable = True


class TransientError(ModelError):
    """5xx, timeouts, connection resets, truncated or unparseable bodies: retryable."""

    retryable = True


class Timeout(TransientError):
    """The request took longer than its deadline; shrinks adaptive concurrency like a 429."""


class PermanentError(ModelError):
    """4xx other than 429, bad model path, unsupported feature: retrying cannot help."""


class BudgetExceeded(ModelError):
    """A request, token or cost cap was reached. The run stops cleanly and can be resumed."""


@runtime_checkable
class ModelBackend(Protocol):
    """What every backend and every layer implements.

    ``identity`` names the backend and model in a way that is part of the cache key (e.g.
    ``openai:gpt-4o-mini@http://host:8000/v1`` or ``llamacpp:<sha256 of the gguf>``); it never
    contains secrets.
    """

    identity: str

    async def complete(self, request: Request) -> Response:
        """Answer one request (raise a :class:`ModelError` subclass on failure)."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and model memory."""
        ...
