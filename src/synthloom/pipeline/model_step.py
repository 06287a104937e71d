"""The one way a step talks to a model: :meth:`ModelStep.call`.

Every model-calling step (``LLMStep``, judges, the instruction, reasoning and code methods,
LLM decontamination) derives from :class:`ModelStep` and asks its model through
``await self.call(record, messages, n=, salt=, model=, **sampling) -> (Response, lineage entry)``.
That one coroutine owns the things each step used to do its own way:

* the request: chat messages (or a raw prompt), the step's sampling options with per-call
  overrides, a JSON schema (validated and re-asked, see :mod:`synthloom.llm.structured`), tools
  and ``tool_choice`` (the calls come back on ``response.tool_calls``);
* the seed: sampling without a fixed seed gets ``seed_for(record, salt)``, derived from the record
  id, the salt and the step name, so reruns send the same requests and distinct calls differ;
* the lineage entry: step, model identity, prompt hash, sampling params, usage, finish reason
  (and, when tools were offered or called, the names of the tools called).

Around it: one template loader (Jinja files beside the method's module, :meth:`ModelStep.load_template`),
one renderer with the run's params (:meth:`ModelStep.render`), one message builder
(:func:`chat`), and one reading of a reply (:func:`reply_text`: empty is an error row, a refusal a
rejected row).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import xxhash

from ..llm.types import Request, Response
from ..records import ID
from .config import SAMPLING_KEYS
from .step import LoopBody, Rejected, SourceStep, StreamStep
from .templates import render, template_columns


class RowError(Exception):
    """A step failed on one record; ``raw_text`` keeps the model output that could not be used."""

    def __init__(self, message: str, raw_text: str | None = None):
        super().__init__(message)
        self.raw_text = raw_text


@functools.lru_cache(maxsize=256)
def read_template(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def chat(user: str, system: str | None = None) -> list[dict[str, str]]:
    """A chat message list: an optional system message, then one user message."""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}] if system else \
        [{"role": "user", "content": user}]


_REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|i am sorry|sorry,|i apologi[sz]e|i cannot|i can'?t|i can not|i'?m unable|i am unable|"
    r"i'?m not able|i am not able|as an ai\b|as a language model|i won'?t be able)",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """Whether a reply opens with a refusal or an "as an AI" disclaimer."""
    return bool(_REFUSAL.match(text.lstrip("*_`\"'“”‘’ \t\n")))


def reply_text(response: Response | str | None, what: str = "reply") -> str | Rejected:
    """The stripped text of a reply: a :class:`Rejected` when the model refused, a :class:`RowError`
    (an error row keeping the raw text) when it said nothing."""
    text = response if isinstance(response, str) or response is None else response.text
    if not text or not text.strip():
        raise RowError(f"the model's {what} is empty", raw_text=text)
    if is_refusal(text):
        return Rejected(f"the model refused ({what}): {text.strip()[:80]!r}")
    return text.strip()


def lineage_entry(step: str, model: Any, model_name: str, req: Request, resp: Response,
                  **extra: Any) -> dict[str, Any]:
    """One ``_lineage`` entry for a model call made by step ``step`` (``model_name``: the model's
    name in the recipe, used when the model has no ``identity``), plus ``extra`` fields."""
    entry = {
        "step": step,
        "model": getattr(model, "identity", model_name),
        "prompt_hash": req.fingerprint()[:16],
        "params": req.sampling_params(),
        "usage": resp.usage.to_dict(),
        "finish_reason": resp.choices[0].finish_reason if resp.choices else None,
    }
    called = [call.name for choice in resp.choices for call in choice.tool_calls]
    if req.tools is not None or called:
        entry["tool_calls"] = called  # every choice's calls, in order
    return {**entry, **extra}


class ModelCalls:
    """What every model-calling step has: a ``model`` (a name under the recipe's ``models:``), the
    sampling options (``temperature``, ``max_tokens``, ``top_p``, ``stop``, ``seed``, ``n``,
    ``logprobs``, ``top_logprobs``) over the class's ``default_sampling``, packaged templates, and
    :meth:`call`. Mixed into :class:`ModelStep` (a streaming step) and :class:`ModelSource`."""

    takes_sampling = True
    #: sampling defaults of this step type (a recipe's options override them)
    default_sampling: ClassVar[dict[str, Any]] = {}
    name: str
    ctx: Any

    def _init_model(self, model: str, sampling: dict[str, Any]) -> None:
        unknown = set(sampling) - set(SAMPLING_KEYS)
        if unknown:
            raise TypeError(f"step {self.name!r}: unknown option(s) {sorted(unknown)}; sampling options: "
                            f"{', '.join(SAMPLING_KEYS)}")
        self.model_name = model
        given = {k: v for k, v in sampling.items() if v is not None}
        self.sampling: dict[str, Any] = {**self.default_sampling, **given}
        self.templates_used: dict[str, str] = {}

    def describe(self) -> dict[str, Any]:
        d = super().describe()  # type: ignore[misc]
        d["sampling"] = self.sampling  # the class's default_sampling merged with the options
        if self.templates_used:  # packaged prompt files: editing one recomputes
            d["templates"] = {k: xxhash.xxh3_64_hexdigest(v.encode()) for k, v in sorted(self.templates_used.items())}
        return d

    # -- prompts ----------------------------------------------------------------------------------
    def load_template(self, name: str) -> str:
        """The source of ``name``, a Jinja file beside this step's module (e.g. ``"star.jinja"``) or,
        for a subclass defined elsewhere, beside the module of the class that ships it."""
        for klass in type(self).__mro__:
            file = getattr(sys.modules.get(klass.__module__), "__file__", None)
            path = Path(file).parent / name if file else None
            if path is not None and path.is_file():
                source = read_template(str(path))
                self.templates_used[name] = source
                return source
        raise FileNotFoundError(f"step {self.name!r}: no template {name!r} beside {type(self).__module__}")

    def read_columns(self, *sources: str | None, not_columns: Iterable[str] = ()) -> None:
        """Declare the columns the given templates read (minus names the step fills itself)."""
        skip = set(not_columns)
        for source in sources:
            if source:
                self.reads |= set(template_columns(source)) - skip

    def render(self, source: str, view: dict[str, Any]) -> str:
        """Render a Jinja template over ``view`` with the run's ``params`` in scope."""
        return render(source, view, self.ctx.params if self.ctx else {})

    # -- the call ---------------------------------------------------------------------------------
    def seed_for(self, record: dict[str, Any], salt: str = "") -> int:
        """The seed of a sampled call for ``record``: distinct per record, step and ``salt``."""
        return xxhash.xxh32_intdigest(f"{record.get(ID, '')}{salt}\x1f{self.name}".encode()) & 0x7FFFFFFF

    def request(self, record: dict[str, Any], messages: list[dict[str, str]] | str | Request, *, n: int | None = None,
                salt: str = "", raw: bool = False, tools: list[dict[str, Any]] | None = None,
                tool_choice: str | dict[str, Any] | None = None, **sampling: Any) -> Request:
        """The request :meth:`call` sends: the step's sampling options, then ``sampling`` (``None``
        leaves a value as it is), ``tools`` and ``tool_choice``, a per-record seed when sampling
        without one. A ``Request`` keeps the fields it sets; a ``str`` is a raw completion prompt
        with ``raw=True``, else one user message."""
        params = {**self.sampling, **{k: v for k, v in sampling.items() if v is not None}}
        if n is not None:
            params["n"] = n
        if tools is not None:
            params["tools"] = tools
        if tool_choice is not None:
            params["tool_choice"] = tool_choice
        if isinstance(messages, Request):
            fill = {k: v for k, v in params.items() if k == "n" or getattr(messages, k) is None or getattr(messages, k) is False}
            req = messages.replace(**fill) if fill else messages
            if req.seed is None and req.temperature != 0:
                req = req.replace(seed=self.seed_for(record, salt))
            return req
        if params.get("seed") is None and params.get("temperature") != 0:  # set before building: one validation
            params["seed"] = self.seed_for(record, salt)
        if isinstance(messages, str):
            return Request.completion(messages, **params) if raw else Request.chat(chat(messages), **params)
        return Request.chat(list(messages), **params)

    async def call(self, record: dict[str, Any], messages: list[dict[str, str]] | str | Request, *,
                   n: int | None = None, salt: str = "", model: str | None = None, raw: bool = False,
                   json_schema: dict[str, Any] | None = None, structured_attempts: int = 3,
                   tools: list[dict[str, Any]] | None = None, tool_choice: str | dict[str, Any] | None = None,
                   lineage: dict[str, Any] | None = None, **sampling: Any) -> tuple[Response, dict[str, Any]]:
        """Ask ``model`` (default: the step's) once for ``record``; returns the response and its
        lineage entry (``lineage`` adds fields to it). With ``json_schema`` the value is validated
        (re-asked up to ``structured_attempts`` times) and set on ``response.parsed``. ``tools``
        (OpenAI function tools) and ``tool_choice`` go on the request; the model's calls are on
        ``response.tool_calls`` (each choice's on ``choice.tool_calls``), their names in the lineage."""
        assert self.ctx is not None, f"step {self.name!r} used before setup()"
        name = model or self.model_name
        client = self.ctx.model(name)
        req = self.request(record, messages, n=n, salt=salt, raw=raw, tools=tools, tool_choice=tool_choice,
                           **sampling)
        if json_schema is not None:
            from ..llm.structured import complete_structured

            value, response = await complete_structured(client, req, json_schema, max_attempts=structured_attempts)
            response.parsed = value
        else:
            response = await client.complete(req)
        return response, lineage_entry(self.name, client, name, req, response, **(lineage or {}))

    def json_schema_support(self, model: str | None = None) -> bool | None:
        """Whether ``model``'s backend constrains decoding to a JSON schema: ``True`` (llama.cpp by a
        grammar; a server set ``supports_json_schema: true`` or seen to accept ``response_format``),
        ``False`` (it cannot), ``None`` (not known yet: the OpenAI backend finds out on the first try)."""
        assert self.ctx is not None, f"step {self.name!r} used before setup()"
        return getattr(self.ctx.model(model or self.model_name), "supports_json_schema", None)

    async def call_constrained(self, record: dict[str, Any], messages: list[dict[str, str]] | str | Request, *,
                               json_schema: dict[str, Any], model: str | None = None,
                               lineage: dict[str, Any] | None = None, **kwargs: Any) -> tuple[Response, dict[str, Any]]:
        """:meth:`call` for a reply a step reads a score or a label from: the request carries
        ``json_schema`` unless the backend is known not to enforce one, so a model that can be
        constrained (a grammar, ``response_format``) always answers in that shape. One request, no
        re-asks: ``response.parsed`` is the value when the first choice's text matches the schema,
        else ``None`` and the step reads ``response.text`` as free text (a backend that cannot
        constrain, or a server that turned the schema down, answers the prompt's own format)."""
        req = self.request(record, messages, **kwargs)
        if self.json_schema_support(model) is not False and req.json_schema is None:
            req = req.replace(json_schema=json_schema)
        response, entry = await self.call(record, req, model=model, lineage=lineage)
        if req.json_schema is not None and response.choices:
            from ..llm.structured import JSONParseError, SchemaValidationError, parse_and_validate

            try:
                response.parsed = parse_and_validate(response.choices[0].text or "", json_schema)
            except (JSONParseError, SchemaValidationError):
                response.parsed = None
        return response, entry

    async def texts(self, record: dict[str, Any], messages: list[dict[str, str]] | str, *, n: int = 1,
                    salt: str = "", **kwargs: Any) -> tuple[list[str], dict[str, Any]]:
        """The ``n`` reply texts of one call (``""`` for an empty choice) and its lineage entry."""
        response, entry = await self.call(record, messages, n=n, salt=salt, **kwargs)
        return [c.text or "" for c in response.choices][:n], entry


class ModelStep(ModelCalls, StreamStep, LoopBody):
    """Base of every streaming step that calls a model; subclasses implement :meth:`process` with
    :meth:`call` (see the module doc)."""

    kind = "llm"

    def __init__(self, name: str, *, model: str = "default", reads: Iterable[str] = (),
                 writes: Iterable[str] = (), inputs: Iterable[str] = (), citations: Iterable[str] = (),
                 **sampling: Any) -> None:
        StreamStep.__init__(self, name, inputs=inputs, reads=reads, writes=writes, citations=citations,
                            models=[model])
        self._init_model(model, sampling)


class ModelSource(ModelCalls, SourceStep):
    """Base of a source that calls a model to make its records (Self-Instruct's bootstrap): it
    implements :meth:`SourceStep.aread`, which the engine iterates on the event loop, and makes its
    calls with :meth:`call` (the engine attributes their usage to the source)."""

    def __init__(self, name: str, *, model: str = "default", citations: Iterable[str] = (), **sampling: Any) -> None:
        SourceStep.__init__(self, name, citations=citations, models=[model])
        self._init_model(model, sampling)
