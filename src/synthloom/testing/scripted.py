"""A scripted model for unit and engine tests: requests are answered by a Python function.

``ScriptedModel(reply)`` answers a :class:`~synthloom.llm.types.Request` with ``reply``, called in
one of two conventions (told apart by how many positional arguments ``reply`` takes):

* ``reply(request)`` returns a str (every one of the ``n`` choices says it) or a list of ``n`` strs;
* ``reply(request, j)`` is called once per choice ``j`` and returns a str or a
  ``(text, reasoning, finish_reason)`` tuple.

In both, a choice may also be a :class:`~synthloom.llm.types.Choice`, e.g. one made by
:func:`tool_calls` (``reply = lambda req: tool_calls(("get_weather", {"city": "Oslo"}))``): calls
without an id get one derived from the request, as the real backends do.

Every request is recorded in ``model.requests``. :func:`scripted_context` and :func:`run_step` set a
step up on such a model without a server; :func:`install_scripted_backend` swaps the ``openai``
backend of engine runs (``synthloom run``) for a scripted one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from synthloom.engine.worker_state import SHIPPED_STATE
from synthloom.llm import client
from synthloom.llm.tools import ToolCall, stable_call_id
from synthloom.llm.types import Choice, Request, Response, Usage
from synthloom.pipeline.context import StepContext

Reply = Callable[..., Any]


def _per_choice(reply: Reply) -> bool:
    """Whether ``reply`` takes ``(request, j)`` rather than ``(request)``."""
    try:
        params = inspect.signature(reply).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= 2


class ScriptedModel:
    """A model whose answers are ``reply(request)`` or ``reply(request, j)`` (see the module doc);
    records every request in ``requests``."""

    identity = "scripted"

    def __init__(self, reply: Reply, *, usage: Usage | None = None):
        self.reply = reply
        self.per_choice = _per_choice(reply)
        self.usage = usage or Usage(10, 20)
        self.requests: list[Request] = []

    async def complete(self, req: Request) -> Response:
        self.requests.append(req)
        if self.per_choice:
            choices = []
            for j in range(req.n):
                r = self.reply(req, j)
                if isinstance(r, Choice):
                    choices.append(_with_ids(r, req, j))
                    continue
                text, reasoning, finish = (r, None, "stop") if isinstance(r, str) else r
                choices.append(Choice(text=text, finish_reason=finish, reasoning=reasoning))
        else:
            out = self.reply(req)
            texts = [out] * req.n if isinstance(out, (str, Choice)) else list(out)
            choices = [_with_ids(t, req, j) if isinstance(t, Choice) else Choice(text=t, finish_reason="stop")
                       for j, t in enumerate(texts)]
        usage = Usage(self.usage.prompt_tokens, self.usage.completion_tokens)  # a fresh one per response
        return Response(choices=choices, usage=usage, model=self.identity)

    async def aclose(self) -> None:
        pass


def tool_calls(*calls: tuple[str, dict[str, Any]] | ToolCall, text: str = "") -> Choice:
    """A scripted choice that calls tools: each call a ``(name, arguments)`` pair (or a
    :class:`ToolCall`, e.g. one with broken arguments); several make parallel calls."""
    made = [c if isinstance(c, ToolCall) else ToolCall.parse("", c[0], c[1]) for c in calls]
    return Choice(text=text, finish_reason="tool_calls", tool_calls=made)


def _with_ids(choice: Choice, req: Request, j: int) -> Choice:
    """A copy of a scripted ``choice`` (replies may return the same one twice), ids filled in."""
    calls = [ToolCall(c.id or stable_call_id(req.fingerprint(), j, i), c.name, dict(c.arguments),
                      c.raw_arguments, c.error) for i, c in enumerate(choice.tool_calls)]
    return Choice(choice.text, choice.finish_reason, choice.logprobs, choice.reasoning, calls)


def _as_model(model_or_reply: ScriptedModel | Reply | Any) -> Any:
    """A model as given, or a :class:`ScriptedModel` around a reply function."""
    return model_or_reply if hasattr(model_or_reply, "complete") else ScriptedModel(model_or_reply)


class Models:
    """The run's model lookup, where every name is the one model."""

    def __init__(self, model: Any):
        self.model = model

    def get(self, name: str) -> Any:
        return self.model


def scripted_context(model_or_reply: Any, step: str = "t") -> StepContext:
    """A :class:`StepContext` whose every model is ``model_or_reply`` (a model, or a reply function
    wrapped in a :class:`ScriptedModel`)."""
    return StepContext(step=step, models=Models(_as_model(model_or_reply)))


def run_step(step: Any, model: Any, records: Iterable[dict]) -> list:
    """Set ``step`` up on ``model`` (or a reply function), process each record in turn and close
    the step; returns the outputs of ``process``."""
    step.setup(scripted_context(model, step=step.name))

    async def go():
        try:
            return [await step.process(r) for r in records]
        finally:
            await step.aclose()

    return asyncio.run(go())


def user_text(req: Request) -> str:
    """The content of the request's last user message."""
    return [m for m in req.messages if m["role"] == "user"][-1]["content"]


# -- engine runs -----------------------------------------------------------------------------------
_SCRIPT: dict[str, Reply] = {}
SHIPPED_STATE["scripted"] = (lambda: dict(_SCRIPT), _SCRIPT.update)  # Ray workers answer with the same reply


class ScriptedBackend(ScriptedModel):
    """Stands in for a backend class in engine runs; answers with the reply that
    :func:`install_scripted_backend` installed."""

    def __init__(self, config: Any):
        super().__init__(_SCRIPT["reply"])
        self.config = config


def install_scripted_backend(monkeypatch: Any, reply: Reply, url: str) -> str:
    """Make the ``openai`` backend a :class:`ScriptedBackend` answering with ``reply`` (undone with
    ``monkeypatch``); returns the model spec to run with. ``url`` only has to pass the pre-flight
    connection check (the fake server's URL does)."""
    monkeypatch.setitem(_SCRIPT, "reply", reply)
    monkeypatch.setitem(client.BACKEND_CLASSES, "openai", (__name__, "ScriptedBackend"))
    return f"openai:scripted@{url}"
