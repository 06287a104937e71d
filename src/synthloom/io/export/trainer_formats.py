"""Rows of any run as the records trainers read: TRL's SFT, DPO, KTO and reward trainers, OpenAI fine-tuning
chat, ShareGPT and Alpaca.

The column layouts follow the trainers' documentation (TRL "Dataset formats and types"; each trainer's
"Expected dataset type and format"):

* ``trl-sft`` — conversational ``{"messages": [...]}`` (language modeling), or standard
  ``{"prompt": str, "completion": str}`` (prompt-completion); tool-use rows: ``{"messages", "tools"}``
  (:func:`~synthloom.io.export.tool_formats.to_openai`, TRL's tool-calling layout; conversational only);
* ``trl-dpo`` — ``{"prompt", "chosen", "rejected"}``: the prompt as its system and user messages and each answer
  as one assistant message (conversational, explicit prompt), or three strings (standard);
* ``trl-kto`` — ``{"prompt", "completion", "label"}`` (unpaired preference, ``label`` a bool), conversational or
  standard; a pair row gives two records (chosen ``True``, rejected ``False``);
* ``trl-rm`` — ``{"chosen", "rejected"}`` with an *implicit* prompt, the layout every RewardTrainer version reads:
  each side is the whole conversation (conversational) or the prompt and the answer a blank line apart (standard);
* ``openai-chat`` — ``{"messages": [...]}`` for OpenAI's fine-tuning API; tool-use rows add ``tools`` and give
  call arguments as JSON text (:func:`~synthloom.io.export.tool_formats.to_openai_finetune`);
* ``sharegpt`` — ``{"conversations": [{"from": "system" | "human" | "gpt", "value"}]}``; tool-use rows get
  LLaMA-Factory's tool layout (:func:`~synthloom.io.export.tool_formats.to_sharegpt`);
* ``alpaca`` — ``{"instruction", "input", "output", "system"}`` (``system`` is ``""`` without a system prompt).

Standard forms have no system role and hold one prompt string: the system prompt goes before the user's text, a
blank line apart, and a multi-turn prompt cannot be written (skipped as ``multi_turn``). SFT formats take a pair
row's chosen answer as the target. Each converter returns :class:`Written` records with what the dataset card
counts: the model behind each text and the pair rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .chat_rows import (
    MULTI_TURN,
    TOOL_USE,
    Columns,
    Example,
    Prompt,
    Unusable,
    kto_examples,
    read_pair,
    sft_examples,
)
from .tool_formats import to_openai, to_openai_finetune, to_sharegpt

STYLES = ("conversational", "standard")
TRAINER_FORMATS = ("trl-sft", "trl-dpo", "trl-kto", "trl-rm", "openai-chat", "sharegpt", "alpaca")
STYLED = ("trl-sft", "trl-dpo", "trl-kto", "trl-rm")
#: format -> what its records are made of: ``sft`` (a prompt and its answer), ``pair`` or ``kto``
NEEDS = {"trl-sft": "sft", "trl-dpo": "pair", "trl-kto": "kto", "trl-rm": "pair", "openai-chat": "sft",
         "sharegpt": "sft", "alpaca": "sft"}


@dataclass
class Written:
    """One output record and its provenance for the card: ``sources`` holds a ``(model, role)`` per text it
    carries (role ``response``, ``chosen``, ``rejected``, ``desirable`` or ``undesirable``; model None when the
    row does not record one)."""

    record: dict[str, Any]
    sources: list[tuple[str | None, str]] = field(default_factory=list)
    pair_rule: str | None = None


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def _sft(examples: list[Example], make: Callable[[Example], dict[str, Any]]) -> list[Written]:
    return [Written(make(e), [(e.model, "response")], e.pair_rule) for e in examples]


def _single_turn(prompt: Prompt) -> Prompt:
    if prompt.multi_turn:
        raise Unusable(MULTI_TURN)
    return prompt


# -- SFT formats ------------------------------------------------------------------------------------


def trl_sft(row: dict[str, Any], cols: Columns, style: str, tool_row: bool) -> list[Written]:
    """TRL SFTTrainer: ``{"messages"}`` (conversational) or ``{"prompt", "completion"}`` (standard)."""
    if tool_row:
        if style == "standard":
            raise Unusable(TOOL_USE, "tool-use rows have no standard form (--style conversational keeps them)")
        return [Written(to_openai(row))]
    if style == "standard":
        return _sft(sft_examples(row, cols), lambda e: {"prompt": e.prompt.text(), "completion": e.response})
    return _sft(sft_examples(row, cols), lambda e: {"messages": [*e.prompt.messages(), _assistant(e.response)]})


def openai_chat(row: dict[str, Any], cols: Columns, style: str, tool_row: bool) -> list[Written]:
    """OpenAI fine-tuning chat JSONL: ``{"messages"}`` (tool-use rows: ``{"messages", "tools"}``)."""
    if tool_row:
        return [Written(to_openai_finetune(row))]
    return _sft(sft_examples(row, cols), lambda e: {"messages": [*e.prompt.messages(), _assistant(e.response)]})


_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def sharegpt(row: dict[str, Any], cols: Columns, style: str, tool_row: bool) -> list[Written]:
    """ShareGPT ``{"conversations": [{"from", "value"}]}`` (tool-use rows: LLaMA-Factory's tool layout)."""
    if tool_row:
        return [Written(to_sharegpt(row))]

    def make(e: Example) -> dict[str, Any]:
        turns = [*e.prompt.messages(), _assistant(e.response)]
        return {"conversations": [{"from": _FROM[m["role"]], "value": m["content"]} for m in turns]}

    return _sft(sft_examples(row, cols), make)


def alpaca(row: dict[str, Any], cols: Columns, style: str, tool_row: bool) -> list[Written]:
    """Alpaca ``{"instruction", "input", "output", "system"}`` (one instruction: single-turn prompts only)."""
    if tool_row:
        raise Unusable(TOOL_USE)

    def make(e: Example) -> dict[str, Any]:
        p = _single_turn(e.prompt)
        instruction = p.instruction or p.turns[0]["content"]
        return {"instruction": instruction, "input": p.input, "output": e.response, "system": p.system or ""}

    return _sft(sft_examples(row, cols), make)


# -- preference formats -------------------------------------------------------------------------------


def trl_dpo(row: dict[str, Any], cols: Columns, style: str, tool_row: bool) -> list[Written]:
    """TRL DPOTrainer: ``{"prompt", "chosen", "rejected"}``, explicit prompt, conversational or standard."""
    if tool_row:
        raise Unusable(TOOL_USE)
    pair = read_pair(row, cols)
    if style == "standard":
        record: dict[str, Any] = {"prompt": pair.prompt.text(), "chosen": pair.chosen, "rejected": pair.rejected}
    else:
        record = {"prompt": pair.prompt.messages(), "chosen": [_assistant(pair.chosen)],
                  "rejected": [_assistant(pair.rejected)]}
    return [Written(record, [(pair.chosen_model, "chosen"), (pair.rejected_model, "rejected")], pair.pair_rule)]


def trl_rm(row: dict[str, Any], cols: Columns, style: str, tool_row: bool) -> list[Written]:
    """TRL RewardTrainer: ``{"chosen", "rejected"}`` with the prompt inside each (implicit prompt)."""
    if tool_row:
        raise Unusable(TOOL_USE)
    pair = read_pair(row, cols)
    if style == "standard":
        text = pair.prompt.text()
        record: dict[str, Any] = {"chosen": f"{text}\n\n{pair.chosen}", "rejected": f"{text}\n\n{pair.rejected}"}
    else:
        record = {"chosen": [*pair.prompt.messages(), _assistant(pair.chosen)],
                  "rejected": [*pair.prompt.messages(), _assistant(pair.rejected)]}
    return [Written(record, [(pair.chosen_model, "chosen"), (pair.rejected_model, "rejected")], pair.pair_rule)]


def trl_kto(row: dict[str, Any], cols: Columns, style: str, tool_row: bool) -> list[Written]:
    """TRL KTOTrainer: ``{"prompt", "completion", "label"}`` (unpaired preference)."""
    if tool_row:
        raise Unusable(TOOL_USE)
    out = []
    for ex in kto_examples(row, cols):
        if style == "standard":
            record: dict[str, Any] = {"prompt": ex.prompt.text(), "completion": ex.completion, "label": ex.label}
        else:
            record = {"prompt": ex.prompt.messages(), "completion": [_assistant(ex.completion)], "label": ex.label}
        out.append(Written(record, [(ex.model, "desirable" if ex.label else "undesirable")], ex.pair_rule))
    return out


Converter = Callable[[dict[str, Any], Columns, str, bool], list[Written]]
CONVERTERS: dict[str, Converter] = {"trl-sft": trl_sft, "trl-dpo": trl_dpo, "trl-kto": trl_kto, "trl-rm": trl_rm,
                                    "openai-chat": openai_chat, "sharegpt": sharegpt, "alpaca": alpaca}
