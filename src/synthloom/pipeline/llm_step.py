"""LLM steps: a request built from a record, a response parsed back into records.

The smallest custom step is two functions::

    step = LLMStep("poem", prompt=lambda r: f"Write a poem about {r['topic']}",
                   parse=lambda r, resp: {**r, "poem": resp.text}, reads=["topic"], writes=["poem"])

or a subclass overriding :meth:`LLMStep.prompt` and :meth:`LLMStep.parse`. Responses are cached by
the model layer, so editing ``parse`` and rerunning re-parses without new model calls. The model
call itself is :meth:`ModelStep.call` (one seed derivation, one lineage format for every step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..llm.types import Request, Response
from ..records import adopt_rows
from .model_step import ModelStep, RowError, chat, lineage_entry
from .step import Rejected
from .templates import render, template_columns

__all__ = ["LLMStep", "RowError", "TemplateLLMStep", "lineage_entry"]

PromptFn = Callable[[dict[str, Any]], "Request | str | list[dict[str, str]] | None"]
ParseFn = Callable[[dict[str, Any], Response], "dict[str, Any] | list[dict[str, Any]] | Rejected | None"]


class LLMStep(ModelStep):
    """A step that asks a model once per record (``n`` samples per request) and parses the answer.

    ``prompt(record)`` returns a :class:`Request`, a chat message list, a string (one user message,
    or a raw completion prompt when ``raw=True``), or ``None`` to pass the record through untouched.
    ``parse(record, response)`` returns the updated record, a list of records (expansion: each gets
    an id derived from the parent), a :class:`Rejected`, or ``None`` (an error row: unparseable).
    Without ``parse`` the first choice's text goes into column ``output``; with ``n > 1`` each choice
    becomes its own record. With ``json_schema`` the response is validated (and re-asked on failure)
    and the value is ``response.parsed``; without ``parse`` its fields are merged into the record
    (or stored under ``output`` when the schema is not an object).
    Sampling without a fixed seed and temperature > 0 gets a seed derived from the record id, so
    every record has its own reproducible request.
    """

    python_only_options = ("prompt", "parse")

    def __init__(
        self,
        name: str,
        *,
        prompt: PromptFn | None = None,
        parse: ParseFn | None = None,
        model: str = "default",
        output: str = "response",
        system: str | None = None,
        raw: bool = False,
        json_schema: dict[str, Any] | None = None,
        structured_attempts: int = 3,
        reject_truncated: bool = False,
        reads: Iterable[str] = (),
        writes: Iterable[str] = (),
        inputs: Iterable[str] = (),
        citations: Iterable[str] = (),
        **sampling: Any,
    ) -> None:
        default_parse = parse is None and type(self).parse is LLMStep.parse
        default_writes = [output] if default_parse else []
        if json_schema and default_parse and json_schema.get("type") == "object" and "properties" in json_schema:
            default_writes = list(json_schema["properties"])
        super().__init__(name, model=model, inputs=inputs, reads=reads, writes=[*writes, *default_writes],
                         citations=citations, **sampling)
        self._prompt_fn = prompt
        self._parse_fn = parse
        self.output = output
        self.system = system
        self.raw = raw
        self.json_schema = json_schema
        self.structured_attempts = structured_attempts
        self.reject_truncated = reject_truncated

    # -- the two functions a user writes ------------------------------------------------------
    def prompt(self, record: dict[str, Any]) -> Request | str | list[dict[str, str]] | None:
        if self._prompt_fn is None:
            raise NotImplementedError(f"LLM step {self.name!r} needs a prompt function or a prompt() method")
        return self._prompt_fn(record)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        if self._parse_fn is not None:
            return self._parse_fn(record, response)
        if response.parsed is not None:
            value = response.parsed
            if isinstance(value, dict) and (self.json_schema or {}).get("type") == "object":
                return {**record, **value}
            return {**record, self.output: value}
        if len(response.choices) > 1:
            return [{**record, self.output: c.text} for c in response.choices]
        return {**record, self.output: response.text}

    def constrained_schema(self) -> dict[str, Any] | None:
        """The JSON schema to ask for where the backend can enforce it (:meth:`ModelStep.call_constrained`:
        one request; ``parse`` gets ``response.parsed`` or, on a backend that cannot, the free text).
        ``None`` (the default): no such schema; judges and taggers override it."""
        return None

    # -- engine side -----------------------------------------------------------------------------
    def build_request(self, record: dict[str, Any]) -> Request | None:
        """The request for ``record`` (``None``: the prompt passes the record through)."""
        made = self.prompt(record)
        if made is None:
            return None
        if isinstance(made, str) and not self.raw and self.system:
            made = chat(made, system=self.system)
        return self.request(record, made, raw=self.raw)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        req = self.build_request(record)
        if req is None:
            return [record]
        constrained = None if self.json_schema else self.constrained_schema()
        if constrained is not None:
            response, lineage = await self.call_constrained(record, req, json_schema=constrained)
        else:
            response, lineage = await self.call(record, req, json_schema=self.json_schema,
                                                structured_attempts=self.structured_attempts)
        if self.reject_truncated and any(c.finish_reason == "length" for c in response.choices):
            return Rejected("truncated: the model hit max_tokens (finish_reason=length)")
        try:
            parsed = self.parse(record, response)
        except RowError:
            raise
        except Exception as e:
            raise RowError(f"parse failed: {type(e).__name__}: {e}", raw_text=response.text) from e
        if parsed is None:
            raise RowError("parse returned nothing for this response", raw_text=response.text)
        if isinstance(parsed, Rejected):
            return parsed
        return adopt_rows(record, parsed, self.name, [lineage])


class TemplateLLMStep(LLMStep):
    """The recipe form of an LLM step (``type: llm``): Jinja2 ``prompt`` and optional ``system``
    templates over the record's columns; the reply goes into column ``output``."""

    type_name = "llm"
    python_only_options = ("parse",)

    def __init__(self, name: str, *, prompt: str, system: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, system=system, **kwargs)
        self.template_source = prompt
        self.system_template = system
        self.reads |= template_columns(prompt)
        if system:
            self.reads |= template_columns(system)

    def prompt(self, record: dict[str, Any]) -> list[dict[str, str]] | str | None:
        params = self.ctx.params if self.ctx else {}
        text = render(self.template_source, record, params)
        if self.raw:
            return text
        return chat(text, system=render(self.system_template, record, params) if self.system_template else None)
