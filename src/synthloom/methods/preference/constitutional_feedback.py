"""Constitutional AI, RL stage (RL-CAI): preference labels by AI feedback against a sampled principle.

Bai et al. 2022, *Constitutional AI: Harmlessness from AI Feedback*, arXiv:2212.08073, §4.1: a
feedback model sees the conversation and two responses as a multiple-choice question, under one of
the constitution's 16 RL-CAI principles sampled per comparison::

    Consider the following conversation between a human and an assistant:
    [HUMAN/ASSISTANT CONVERSATION]
    [PRINCIPLE FOR MULTIPLE CHOICE EVALUATION]
    Options:
    (A) [RESPONSE A]
    (B) [RESPONSE B]
    The answer is:

and the normalised probabilities of "(A)" and "(B)" are the (soft) preference label a preference
model is trained on. Here the answer is constrained to ``{"answer": "A" | "B"}`` (a JSON schema: a
grammar on the embedded model), and with ``soft_label`` the step asks for the answer token's
log-probabilities and normalises the mass of A and B among its top alternatives; without them (a
server that returns none) the label is hard (1 or 0). Which response is shown as (A) is drawn per
comparison (seeded from the row), recorded in ``feedback_order`` (``ab``: ``response_a`` is (A);
``ba``: swapped) and mapped back, so ``feedback_prob_a`` is always P(the ``response_a`` one is better).

The two responses come from two columns (``response_a``, ``response_b``; by default the
``initial_response`` and final ``response`` of the ``constitutional`` step — the paper instead
compares two samples of its SL-CAI model: point the columns there, or give ``completions``, a
completion pool column, to label every pair of its completions). Each labelled pair is a pair row
(chosen = the preferred response, ``chosen_score`` = its probability, ``pair_rule`` ``rl_cai``)
with ``principle``, ``feedback_order``, ``feedback_answer`` (the letter the model chose) and
``feedback_prob_a``. A comparison at exactly 0.5 is a tie and makes no pair (its row is rejected
when no pair of the row is left). Departures: no few-shot examples and no chain-of-thought variant.
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

from ...llm.types import Response
from ...pipeline.model_step import ModelStep, RowError
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .constitutional import CITATION, load_constitution
from .pair_row import pair_columns, pair_row
from .prompt_columns import PromptColumns

LETTERS = ("A", "B")
ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "enum": list(LETTERS)}},
                 "required": ["answer"]}
FEEDBACK_COLUMNS = ("principle", "feedback_order", "feedback_answer", "feedback_prob_a", "feedback_soft")


def letter_probability(response: Response) -> float | None:
    """P(A) from the first generated token that is the letter A or B: the mass of A over A + B among
    its top alternatives (``None`` when the reply carries no such token or no logprobs)."""
    choice = response.choices[0] if response.choices else None
    for token in (choice.logprobs or []) if choice else []:
        if token.token.strip(' "()') not in LETTERS:
            continue
        mass = dict.fromkeys(LETTERS, 0.0)
        for text, lp in [(token.token, token.logprob), *token.top]:
            letter = text.strip(' "()')
            if letter in mass and lp is not None and lp > -math.inf:
                mass[letter] = max(mass[letter], math.exp(lp))  # the same token listed twice counts once
        total = mass["A"] + mass["B"]
        return mass["A"] / total if total > 0 else None
    return None


def map_back(order: str, prob_shown_a: float) -> float:
    """P(the ``response_a`` response is better) from P(the one shown as (A) is better)."""
    return prob_shown_a if order == "ab" else 1.0 - prob_shown_a


class ConstitutionalFeedback(ModelStep):
    """RL-CAI AI feedback: which of two responses better follows a principle sampled from the
    constitution, asked as a multiple-choice question in a random order (see the module docstring)."""

    type_name = "constitutional_feedback"
    default_sampling = {"temperature": 0.0, "max_tokens": 16}

    def __init__(self, name: str, *, prompt: str = "prompt", prompt_messages: str | None = None,
                 system_column: str | None = None, response_a: str = "initial_response", response_b: str = "response",
                 completions: str | None = None, constitution: str | None = None, principles: list[str] | None = None,
                 soft_label: bool = True, **kwargs: Any) -> None:
        where = f"constitutional_feedback {name!r}"
        if completions is None and response_a == response_b:
            raise ValueError(f"{where}: response_a and response_b name the same column {response_a!r}")
        if kwargs.get("n") not in (None, 1):
            raise ValueError(f"{where}: n must be 1 (one label per comparison)")
        self.constitution = load_constitution(constitution)
        self.pool = self.constitution.pick("feedback", principles, where)
        if not self.pool:
            raise ValueError(f"{where}: the constitution has no feedback principles")
        kwargs.setdefault("citations", [CITATION])
        reads = [completions] if completions else [response_a, response_b]
        columns = PromptColumns(prompt, prompt_messages, system_column)
        super().__init__(name, reads=reads, writes=pair_columns(columns, "principle_text", *FEEDBACK_COLUMNS), **kwargs)
        self.columns = columns
        self.reads |= self.columns.reads()
        self.response_a, self.response_b, self.completions = response_a, response_b, completions
        self.soft_label = bool(soft_label)
        self.template = self.load_template("constitutional_feedback.jinja")

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["constitution_content"] = [p.__dict__ for p in self.pool]
        return d

    def candidates(self, record: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The pairs to label: ``({"text", "model"}, {"text", "model"})`` for each."""
        if self.completions is None:
            out = []
            for column in (self.response_a, self.response_b):
                text = record.get(column)
                if not isinstance(text, str) or not text.strip():
                    raise RowError(f"constitutional_feedback {self.name!r}: column {column!r} is empty or not text: {text!r:.80}")
                out.append({"text": text.strip(), "model": None})
            return [(out[0], out[1])]
        pool = record.get(self.completions)
        if not isinstance(pool, list) or not all(isinstance(c, dict) and isinstance(c.get("text"), str) for c in pool):
            raise RowError(f"constitutional_feedback {self.name!r}: column {self.completions!r} must hold a completion "
                           f"pool (a list of dicts with 'text'), got {pool!r:.80}")
        usable = [c for c in pool if c["text"].strip() and c.get("duplicate_of") is None]
        return [(a, b) for i, a in enumerate(usable) for b in usable[i + 1:]]

    def conversation(self, record: dict[str, Any]) -> str:
        """The conversation as the paper shows it: ``Human:`` / ``Assistant:`` turns."""
        turns = [m for m in self.columns.messages(record) if m.get("role") != "system"]
        return "\n\n".join(f"{'Human' if m['role'] == 'user' else 'Assistant'}: {m.get('content') or ''}" for m in turns)

    async def label(self, record: dict[str, Any], k: int, a: dict[str, Any], b: dict[str, Any],
                    conversation: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The pair row of comparison ``k`` (``None`` for a tie) and its lineage entry."""
        rng = random.Random(self.seed_for(record, f"feedback\x1f{k}"))
        principle = rng.choice(self.pool)
        order = rng.choice(("ab", "ba"))
        shown = (a, b) if order == "ab" else (b, a)
        text = self.render(self.template, {"conversation": conversation, "principle": principle.principle,
                                           "option_a": shown[0]["text"], "option_b": shown[1]["text"]})
        extra = {"logprobs": True, "top_logprobs": 5} if self.soft_label else {}
        response, entry = await self.call(record, [{"role": "user", "content": text}], salt=f"feedback{k}",
                                          json_schema=ANSWER_SCHEMA, lineage={"principle": principle.name, "order": order},
                                          **extra)
        answer = (response.parsed or {}).get("answer")
        if answer not in LETTERS:
            raise RowError(f"constitutional_feedback {self.name!r}: the feedback model answered {answer!r}, not A or B",
                           raw_text=response.text)
        soft = letter_probability(response) if self.soft_label else None
        prob_a = map_back(order, soft if soft is not None else float(answer == "A"))
        if prob_a == 0.5:
            return None, entry
        chosen, rejected = (a, b) if prob_a > 0.5 else (b, a)
        p = max(prob_a, 1.0 - prob_a)
        row = pair_row(record, self.columns, chosen=chosen["text"], rejected=rejected["text"], pair_rule="rl_cai",
                       chosen_score=p, rejected_score=1.0 - p, chosen_model=chosen.get("model"),
                       rejected_model=rejected.get("model"), principle=principle.name,
                       principle_text=principle.principle, feedback_order=order, feedback_answer=answer,
                       feedback_prob_a=prob_a, feedback_soft=soft is not None)
        return row, entry

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        pairs = self.candidates(record)
        if not pairs:
            return Rejected(f"no pair to compare: column {self.completions!r} holds fewer than two distinct completions")
        conversation = self.conversation(record)
        labelled = await asyncio.gather(*(self.label(record, k, a, b, conversation) for k, (a, b) in enumerate(pairs)))
        rows = [row for row, _ in labelled if row is not None]
        entries = [entry for _, entry in labelled]
        if not rows:
            return Rejected(f"the feedback model found every pair a tie (P = 0.5) in {len(pairs)} comparison(s)", score=0.5)
        if self.completions is None:
            return adopt_rows(record, rows[0], self.name, entries)
        return adopt_rows(record, rows, self.name, entries)
