"""Magpie: instructions from nothing but an aligned model's pre-query template.

Xu et al. 2024, "Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with
Nothing" (arXiv 2406.08464; reference code magpie-align/magpie).

An aligned chat model, given only the text that precedes a user message — ``<|im_start|>user\\n``
for ChatML (Qwen2, SmolLM2), ``<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n``
for Llama-3 — as a *raw completion* (no chat formatting around it), writes a plausible user query.
The pipeline:

* :class:`MagpieSlots` (``type: magpie``) yields ``num_rows`` empty slots (``-n`` caps them), each
  with the steering system prompt to use (none, or the math / code / translation variants);
* :class:`MagpieInstruction` (``type: magpie_instruction``) raw-completes the pre-query template at
  T=1, top_p=1, stopping at the end of the user turn (the format's end-of-turn and header tokens)
  and, by default as in the reference code, at the first newline; it rejects empty, too short,
  truncated and trailing-":" instructions (reason = the filter). The format comes from the model's
  GGUF chat template (``template: auto``), from the model name for a server, or is named;
* :class:`MagpieResponse` (``type: magpie_response``) answers with the full chat template, greedily;
* :class:`MagpieTurns` (``type: magpie_turns``) extends the pair to a multi-turn conversation
  (Magpie-MT): the conversation so far plus the next user header is raw-completed again.

Tagging (quality, difficulty, category by a judge) and the neighbour-distance filter are in
``magpie_tagging.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...llm.types import Request, Response
from ...pipeline.llm_step import LLMStep
from ...pipeline.model_step import ModelStep, RowError, chat
from ...pipeline.step import Rejected, SourceStep
from ...records import adopt_rows
from .magpie_templates import (
    SYSTEM_PROMPTS,
    TEMPLATES,
    MagpieTemplate,
    gguf_magpie_template,
    template_from_model_name,
)

CITATION = ("Xu et al. 2024, Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing, "
            "arXiv:2406.08464")


def system_prompt(value: str | None) -> str:
    """A built-in steering prompt by name (general, math, code, translation) or the text itself."""
    if not value:
        return ""
    return SYSTEM_PROMPTS.get(value, value)


class MagpieSlots(SourceStep):
    """``num_rows`` slots for Magpie to fill (Xu et al. 2024): columns ``magpie_index`` and
    ``magpie_system`` (the steering system prompt: a name from general / math / code / translation,
    any other text as is, or none). ``systems`` cycles through several prompts."""

    type_name = "magpie"
    columns = ("magpie_index", "magpie_system")

    def __init__(self, name: str, *, num_rows: int = 100, system: str | None = None,
                 systems: list[str] | None = None) -> None:
        super().__init__(name, citations=[CITATION])
        if num_rows < 1:
            raise ValueError("num_rows must be >= 1")
        if system and systems:
            raise ValueError("give `system` or `systems`, not both")
        self.num_rows = num_rows
        self.systems = [system_prompt(s) for s in (systems or [system or ""])]

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        n = self.num_rows if limit is None else min(limit, self.num_rows)
        for i in range(n):
            yield {"magpie_index": i, "magpie_system": self.systems[i % len(self.systems)]}

    def count(self, limit: int | None = None) -> int | None:
        return self.num_rows if limit is None else min(limit, self.num_rows)

    def fingerprint(self) -> str:
        return f"magpie:{self.num_rows}"


class _TemplateMixin:
    """Finds the Magpie template of a step's model once: named, or ``auto`` (GGUF chat template
    metadata for in-process models, the model name for servers)."""

    template_name: str
    model_name: str
    stop_at_newline: bool
    ctx: Any
    _template: MagpieTemplate | None = None

    def query_stop(self) -> list[str]:
        """Where a generated user query ends: the format's end of turn (and a newline)."""
        return [*self.magpie_template().stop, *(["\n"] if self.stop_at_newline else [])]

    def magpie_template(self) -> MagpieTemplate:
        if self._template is not None:
            return self._template
        if self.template_name != "auto":
            self._template = TEMPLATES[self.template_name]
            return self._template
        configs = getattr(getattr(self.ctx, "models", None), "configs", {})
        config = configs.get(self.model_name)
        if config is None:
            raise RowError(f"cannot detect the chat format of model {self.model_name!r}; set `template:` to one of "
                           f"{', '.join(sorted(TEMPLATES))}")
        if config.backend == "llamacpp":
            from ...llm.backends.llamacpp import resolve_gguf_path

            self._template = gguf_magpie_template(resolve_gguf_path(config))
            return self._template
        name = template_from_model_name(config.model or "")
        if name is None:
            raise RowError(f"cannot tell the chat format of {config.model!r} from its name; set the step's "
                           f"`template:` to one of {', '.join(sorted(TEMPLATES))}")
        self._template = TEMPLATES[name]
        return self._template


def _check_template(name: str) -> None:
    if name != "auto" and name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; use auto or one of {', '.join(sorted(TEMPLATES))}")


def instruction_reason(text: str, finish_reason: str | None, min_words: int) -> str | None:
    """Magpie's checks on a generated query: ``"<filter>: detail"`` or ``None`` to keep it."""
    if not text:
        return "empty: the model ended the turn at once"
    if finish_reason == "length":
        return "truncated: the query hit max_tokens"
    if len(text.split()) < min_words:
        return f"too_short: {len(text.split())} words (< {min_words})"
    if text.endswith(":"):
        return "trailing_colon: the query ends with ':' (it announces content that never came)"
    return None


class MagpieInstruction(_TemplateMixin, LLMStep):
    """Writes ``instruction`` by raw-completing the model's pre-query template (Magpie, Xu et al.
    2024). Rejected rows keep the generated text in ``instruction`` and name the filter in
    ``rejected_filter``. ``stop_at_newline`` follows the reference code's early stopping."""

    type_name = "magpie_instruction"

    def __init__(self, name: str, *, template: str = "auto", model: str = "default", stop_at_newline: bool = True,
                 min_words: int = 3, temperature: float = 1.0, top_p: float = 1.0, max_tokens: int = 256,
                 **sampling: Any) -> None:
        _check_template(template)
        super().__init__(name, model=model, raw=True, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                         reads=["magpie_system"], writes=["instruction", "pre_query_template"],
                         citations=[CITATION], **sampling)
        self.template_name, self.stop_at_newline, self.min_words = template, stop_at_newline, min_words

    def prompt(self, record: dict[str, Any]) -> Request:
        pre_query = self.magpie_template().pre_query(record.get("magpie_system") or None)
        return self.request(record, pre_query, raw=True, stop=self.query_stop())

    def parse(self, record: dict[str, Any], response: Response) -> dict[str, Any] | Rejected:
        choice = response.choices[0]
        text = choice.text.strip()
        reason = instruction_reason(text, choice.finish_reason, self.min_words)
        record["instruction"] = text
        record["pre_query_template"] = self.magpie_template().name
        if reason is not None:
            record["rejected_filter"] = reason.split(":", 1)[0]
            return Rejected(reason)
        return {**record}


class MagpieResponse(LLMStep):
    """Answers each ``instruction`` through the model's chat template, greedily (Magpie, Xu et al.
    2024); with ``use_system`` the slot's steering system prompt is sent too. Writes ``response``;
    rejects empty and (with ``reject_truncated``) truncated answers."""

    type_name = "magpie_response"

    def __init__(self, name: str, *, model: str = "default", use_system: bool = True, temperature: float = 0.0,
                 max_tokens: int = 1024, reject_truncated: bool = False, **sampling: Any) -> None:
        super().__init__(name, model=model, temperature=temperature, max_tokens=max_tokens,
                         reject_truncated=reject_truncated, reads=["instruction"], writes=["response"],
                         citations=[CITATION], **sampling)
        self.use_system = use_system

    def prompt(self, record: dict[str, Any]) -> list[dict[str, str]]:
        return chat(record["instruction"], record.get("magpie_system") if self.use_system else None)

    def parse(self, record: dict[str, Any], response: Response) -> dict[str, Any] | Rejected:
        text = response.text.strip()
        if not text:
            return Rejected("empty_response: the model returned nothing")
        return {**record, "response": text}


class MagpieTurns(_TemplateMixin, ModelStep):
    """Magpie-MT: extends ``instruction``/``response`` to ``turns`` user turns. Each further user
    query is a raw completion of the conversation so far plus the next user header (sampled with
    ``temperature``, ``top_p``, ``max_tokens``); each answer goes through the chat template,
    greedily (``response_max_tokens``). Writes ``conversation`` (role/content messages) and
    ``num_turns``; a turn whose query fails Magpie's checks ends the conversation there (the
    reason is kept in ``turns_stopped``)."""

    type_name = "magpie_turns"
    takes_sampling = False

    def __init__(self, name: str, *, turns: int = 2, template: str = "auto", model: str = "default",
                 stop_at_newline: bool = True, min_words: int = 3, temperature: float = 1.0, top_p: float = 1.0,
                 max_tokens: int = 256, response_max_tokens: int = 1024, use_system: bool = True) -> None:
        _check_template(template)
        if turns < 2:
            raise ValueError("turns must be >= 2 (the first turn is the instruction and its response)")
        super().__init__(name, model=model, reads=["instruction", "response", "magpie_system"],
                         writes=["conversation", "num_turns", "turns_stopped"], citations=[CITATION],
                         temperature=temperature, top_p=top_p, max_tokens=max_tokens)
        self.turns, self.template_name, self.stop_at_newline = turns, template, stop_at_newline
        self.min_words, self.use_system, self.response_max_tokens = min_words, use_system, response_max_tokens

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        t = self.magpie_template()
        system = record.get("magpie_system") or None
        pairs = [(record["instruction"], record["response"])]
        stopped = None
        calls = []
        for turn in range(2, self.turns + 1):
            resp, entry = await self.call(record, t.conversation(pairs, system), raw=True, salt=f":{turn}",
                                          stop=self.query_stop(), lineage={"turn": turn, "call": "query"})
            calls.append(entry)
            query = resp.text.strip()
            reason = instruction_reason(query, resp.choices[0].finish_reason, self.min_words)
            if reason is not None:
                stopped = f"turn {turn}: {reason}"
                break
            steer = [{"role": "system", "content": system}] if system and self.use_system else []
            answer, entry = await self.call(record, [*steer, *_messages(pairs), {"role": "user", "content": query}],
                                            temperature=0.0, max_tokens=self.response_max_tokens,
                                            lineage={"turn": turn, "call": "response"})
            calls.append(entry)
            if not answer.text.strip():
                stopped = f"turn {turn}: empty_response"
                break
            pairs.append((query, answer.text.strip()))
        out = {**record, "conversation": _messages(pairs), "num_turns": len(pairs), "turns_stopped": stopped}
        return adopt_rows(record, out, self.name, calls)


def _messages(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """(user, assistant) turns as chat messages."""
    return [m for u, a in pairs for m in ({"role": "user", "content": u}, {"role": "assistant", "content": a})]
