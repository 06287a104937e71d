"""Plain (not tool-use) rows as training examples: a prompt with its answer, a preference pair, a KTO label.

Any recipe's rows are read through the same columns (``docs/export.md``, "Which columns are read"):

* **the prompt** — ``--prompt-column`` when given (text, or a list of chat messages); else ``prompt_messages``
  (the chat list of pair and KTO rows with a multi-turn prompt); else the first non-empty text among
  :data:`PROMPT_COLUMNS` (an ``instruction`` with a non-empty ``input`` column is the two a blank line apart,
  Alpaca's convention); else the turns of ``messages`` before its last assistant message;
* **the system prompt** — the ``system`` column when it is non-empty text, else a leading system message;
* **the answer** (SFT formats) — ``--response-column`` when given; else, without ``--prompt-column``, the last
  assistant message of ``messages``; else the first non-empty text among :data:`RESPONSE_COLUMNS`.
  Self-Instruct rows (``instruction`` and ``instances`` of ``{"input", "output"}``) give one example per instance.
  A row labelled undesirable (``label`` false, a KTO row) is no SFT target;
* **a preference pair** — ``chosen`` and ``rejected`` (text), the pair-row contract;
* **a KTO label** — ``completion`` (or ``--response-column``) with a boolean ``label``; a pair row gives two
  (chosen desirable, rejected undesirable).

A row that lacks what is asked raises :class:`Unusable` with a reason from :data:`REASONS`; the export counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROMPT_COLUMNS = ("prompt", "instruction", "query", "question", "problem")
RESPONSE_COLUMNS = ("response", "output", "completion", "chosen", "solution", "rationale", "answer")
MODEL_COLUMNS = {"chosen": "chosen_model"}  # whose text an answer column holds, when not ``response_model``/``model``

NO_PROMPT, NO_RESPONSE, NO_PAIR, NO_LABEL = "no_prompt", "no_response", "no_pair", "no_label"
UNDESIRABLE, MULTI_TURN, TOOL_USE, MALFORMED_CHAT = "undesirable", "multi_turn", "tool_use", "malformed"
#: reason -> what the skipped rows were, as the export reports them ("skipped 3 rows: 3 without a prompt ...")
REASONS = {
    NO_PROMPT: "without a prompt (--prompt-column names it)",
    NO_RESPONSE: "without a response (--response-column names it)",
    NO_PAIR: "without a chosen/rejected pair",
    NO_LABEL: "without a KTO label (a boolean `label` with a `completion`) or a pair",
    UNDESIRABLE: "labelled undesirable (label false), which is no SFT target",
    MULTI_TURN: "with a multi-turn prompt, which this layout cannot hold",
    TOOL_USE: "tool-use rows, which this layout cannot hold (--format openai, openai-chat, trl-sft, sharegpt or hermes)",
}


class Unusable(ValueError):
    """The row lacks what the format needs; ``reason`` is a key of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or REASONS.get(reason, reason))
        self.reason = reason


@dataclass(frozen=True)
class Columns:
    """The user's column choices (``--prompt-column``, ``--response-column``); None = the defaults above."""

    prompt: str | None = None
    response: str | None = None


@dataclass(frozen=True)
class Prompt:
    """What the answer answers: an optional system prompt and the chat turns (user and assistant, ending with the
    user). ``instruction`` / ``input`` keep an Alpaca-style prompt's two parts (the last turn is both joined)."""

    system: str | None
    turns: tuple[dict[str, str], ...]
    instruction: str = ""
    input: str = ""

    @property
    def multi_turn(self) -> bool:
        return len(self.turns) > 1

    def messages(self) -> list[dict[str, str]]:
        """The chat messages: the system prompt (when there is one), then the turns."""
        return ([{"role": "system", "content": self.system}] if self.system else []) + [dict(t) for t in self.turns]

    def text(self) -> str:
        """The prompt as one string (standard forms): the system prompt and the user's text a blank line apart.
        A multi-turn prompt has no such string: :class:`Unusable` (``multi_turn``)."""
        if self.multi_turn:
            raise Unusable(MULTI_TURN)
        user = self.turns[0]["content"]
        return f"{self.system}\n\n{user}" if self.system else user


@dataclass(frozen=True)
class Example:
    """One SFT example: the prompt, the answer and the model that wrote it (None when not recorded)."""

    prompt: Prompt
    response: str
    model: str | None = None
    pair_rule: str | None = None


@dataclass(frozen=True)
class Pair:
    """One preference pair with the models that wrote each side and the rule that paired them."""

    prompt: Prompt
    chosen: str
    rejected: str
    chosen_model: str | None = None
    rejected_model: str | None = None
    pair_rule: str | None = None


@dataclass(frozen=True)
class Labelled:
    """One KTO example: a completion and whether it is desirable."""

    prompt: Prompt
    completion: str
    label: bool
    model: str | None = None
    pair_rule: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _chat(value: Any, column: str) -> list[dict[str, str]]:
    """A chat message list as ``{"role", "content"}`` dicts; :class:`Unusable` (malformed) otherwise."""
    if not isinstance(value, list) or not value:
        raise Unusable(MALFORMED_CHAT, f"column {column!r} is not a list of chat messages")
    out = []
    for i, m in enumerate(value):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("system", "user", "assistant"):
            raise Unusable(MALFORMED_CHAT, f"{column}[{i}] has role {role!r}; plain chat rows hold system, user and "
                                           f"assistant messages")
        if role == "system" and i:
            raise Unusable(MALFORMED_CHAT, f"{column}[{i}] is a system message; only the first may be one")
        content = m.get("content")
        if not isinstance(content, str):
            raise Unusable(MALFORMED_CHAT, f"{column}[{i}] has no text content")
        out.append({"role": role, "content": content})
    return out


def _split_system(messages: list[dict[str, str]], row: dict[str, Any]) -> tuple[str | None, list[dict[str, str]]]:
    lead = messages[0]["content"] if messages[0]["role"] == "system" else None
    rest = messages[1:] if lead is not None else messages
    return _text(row.get("system")) or _text(lead), rest


def _turns(turns: list[dict[str, str]], column: str) -> tuple[dict[str, str], ...]:
    if not turns or turns[-1]["role"] != "user":
        raise Unusable(MALFORMED_CHAT, f"the prompt in {column!r} does not end with a user message")
    return tuple(turns)


def read_prompt(row: dict[str, Any], cols: Columns) -> Prompt:
    """The row's prompt (see the module docstring); :class:`Unusable` (``no_prompt``) when it has none."""
    system = _text(row.get("system"))
    if cols.prompt is not None:
        value = row.get(cols.prompt)
        if isinstance(value, list):
            system, turns = _split_system(_chat(value, cols.prompt), row)
            return Prompt(system, _turns(turns, cols.prompt))
        text = _text(value)
        if text is None:
            raise Unusable(NO_PROMPT, f"column {cols.prompt!r} holds no prompt text")
        return Prompt(system, ({"role": "user", "content": text},), instruction=text)
    if row.get("prompt_messages") is not None:
        system, turns = _split_system(_chat(row["prompt_messages"], "prompt_messages"), row)
        return Prompt(system, _turns(turns, "prompt_messages"))
    for column in PROMPT_COLUMNS:
        text = _text(row.get(column))
        if text is not None:
            extra = _text(row.get("input")) if column == "instruction" else None
            joined = f"{text}\n\n{extra}" if extra else text
            return Prompt(system, ({"role": "user", "content": joined},), instruction=text, input=extra or "")
    if row.get("messages") is not None:
        system, turns = _conversation(row)
        return Prompt(system, _turns(turns[:-1], "messages"))
    raise Unusable(NO_PROMPT)


def _conversation(row: dict[str, Any]) -> tuple[str | None, list[dict[str, str]]]:
    """``messages`` split into the system prompt and the turns, which must end with an assistant message."""
    system, turns = _split_system(_chat(row["messages"], "messages"), row)
    if not turns or turns[-1]["role"] != "assistant" or not any(t["role"] == "user" for t in turns):
        raise Unusable(NO_RESPONSE, "the conversation in 'messages' does not end with an assistant message after a user one")
    return system, turns


def _model_of(row: dict[str, Any], column: str) -> str | None:
    own = MODEL_COLUMNS.get(column)
    if own is not None:
        return _name(row.get(own))
    return _name(row.get("response_model")) or _name(row.get("model"))


def sft_examples(row: dict[str, Any], cols: Columns) -> list[Example]:
    """The SFT examples of a row (one, or one per Self-Instruct instance); :class:`Unusable` when it has none."""
    if row.get("label") is False:
        raise Unusable(UNDESIRABLE)
    rule = _name(row.get("pair_rule"))
    if cols.prompt is None and cols.response is None and row.get("messages") is not None:
        try:
            system, turns = _conversation(row)
            return [Example(Prompt(system, _turns(turns[:-1], "messages")), turns[-1]["content"],
                            _model_of(row, "messages"), rule)]
        except Unusable as e:
            try:  # the row may still have a prompt and an answer column
                return _from_columns(row, cols, rule)
            except Unusable:
                raise e from None
    return _from_columns(row, cols, rule)


def _from_columns(row: dict[str, Any], cols: Columns, rule: str | None) -> list[Example]:
    if cols.response is None and isinstance(row.get("instances"), list) and _text(row.get("instruction")):
        return _instances(row, read_prompt(row, Columns(prompt=cols.prompt)))
    prompt = read_prompt(row, cols)
    if cols.response is not None:
        text = _text(row.get(cols.response))
        if text is None:
            raise Unusable(NO_RESPONSE, f"column {cols.response!r} holds no response text")
        return [Example(prompt, text, _model_of(row, cols.response), rule)]
    for column in RESPONSE_COLUMNS:
        text = _text(row.get(column))
        if text is not None:
            return [Example(prompt, text, _model_of(row, column), rule)]
    raise Unusable(NO_RESPONSE)


def _instances(row: dict[str, Any], prompt: Prompt) -> list[Example]:
    out = []
    for inst in row["instances"]:
        output = _text(inst.get("output")) if isinstance(inst, dict) else None
        if output is None:
            continue
        extra = _text(inst.get("input")) or ""
        joined = f"{prompt.instruction}\n\n{extra}" if extra else prompt.instruction
        out.append(Example(Prompt(prompt.system, ({"role": "user", "content": joined},), prompt.instruction, extra),
                           output, _model_of(row, "instances")))
    if not out:
        raise Unusable(NO_RESPONSE, "no instance has an output")
    return out


def read_pair(row: dict[str, Any], cols: Columns) -> Pair:
    """The row's preference pair; :class:`Unusable` (``no_pair``, ``no_prompt``) when it has none."""
    chosen, rejected = _text(row.get("chosen")), _text(row.get("rejected"))
    if chosen is None or rejected is None:
        raise Unusable(NO_PAIR)
    return Pair(read_prompt(row, cols), chosen, rejected, _name(row.get("chosen_model")),
                _name(row.get("rejected_model")), _name(row.get("pair_rule")))


def kto_examples(row: dict[str, Any], cols: Columns) -> list[Labelled]:
    """The row's KTO examples: its labelled completion, or a pair's two sides."""
    if isinstance(row.get("label"), bool):
        column = cols.response or "completion"
        text = _text(row.get(column))
        if text is None:
            raise Unusable(NO_RESPONSE, f"column {column!r} holds no completion text")
        return [Labelled(read_prompt(row, cols), text, row["label"], _model_of(row, column))]
    if _text(row.get("chosen")) is None or _text(row.get("rejected")) is None:
        raise Unusable(NO_LABEL)
    pair = read_pair(row, cols)
    return [Labelled(pair.prompt, pair.chosen, True, pair.chosen_model, pair.pair_rule),
            Labelled(pair.prompt, pair.rejected, False, pair.rejected_model, pair.pair_rule)]


def missing_columns(row: dict[str, Any], needs: str, cols: Columns) -> list[str]:
    """What ``row`` lacks, as column names, for ``needs`` (``sft``, ``pair`` or ``kto``): for the one-line error
    when no row of a run can be exported."""
    missing = []
    prompt_cols = [cols.prompt] if cols.prompt else [*PROMPT_COLUMNS, "prompt_messages", "messages"]
    if not any(c in row for c in prompt_cols):
        missing.append(cols.prompt or "a prompt (" + ", ".join(PROMPT_COLUMNS) + " or messages)")
    if needs == "sft":
        answer_cols = [cols.response] if cols.response else [*RESPONSE_COLUMNS, "messages", "instances"]
        if not any(c in row for c in answer_cols):
            missing.append(cols.response or "a response (" + ", ".join(RESPONSE_COLUMNS) + " or messages)")
    elif needs == "pair" or (needs == "kto" and "label" not in row):
        absent = [c for c in ("chosen", "rejected") if c not in row]
        if absent:
            missing.append(", ".join(absent) if needs == "pair" else "label, completion or chosen, rejected")
    return missing
