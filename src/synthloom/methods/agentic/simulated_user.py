"""Simulated-user conversations: a user model with a persona and a goal talks to an assistant for N turns,
every turn is judged, and the conversation is kept when its turns score high enough.

Ding et al. 2023, "Enhancing Chat Language Models by Scaling High-quality Instructional Conversations"
(UltraChat, arXiv:2305.14233): two models play the user and the assistant, the user model carefully
prompted to imitate a human user — to stay in role and ask follow-up questions on the reply — over
several rounds. NVIDIA 2024, "Nemotron-4 340B Technical Report" (arXiv:2406.11704, §3.2.1 "Synthetic
dialogue"): the simulated user is the instruct model prompted with the conversation and a user
personality (the user styles of :mod:`..instructions.nemotron`), and dialogues are filtered by a
per-turn quality score (the paper's reward model; here an LLM judge).

:class:`SimulatedUser` (``simulated_user``) per row:

1. the user's goal: the row's ``goal_column``, or written by the user model from the persona;
2. ``turns`` rounds: the user model (shown its persona, goal, style and the conversation so far, and told
   never to act as the assistant) writes the next user message, the assistant model answers it, and a judge
   scores the turn with a JSON-schema-constrained ``{"rationale", "score"}`` on a rubric preset's scale
   (:mod:`synthloom.curate.judges.rubrics`);
3. kept when the ``aggregate`` (``min``: every turn, or ``mean``) of the turn scores reaches ``threshold``.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from typing import Any

from ...curate.judges.base import number
from ...curate.judges.rubrics import PRESETS, get_rubric
from ...pipeline.model_step import ModelStep, RowError, reply_text
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from ..instructions.nemotron import USER_STYLES, format_conversation
from ..instructions.samplers import stable_int

ULTRACHAT = ("Ding et al. 2023, Enhancing Chat Language Models by Scaling High-quality Instructional Conversations "
             "(UltraChat), arXiv:2305.14233")
NEMOTRON = "NVIDIA (2024). Nemotron-4 340B Technical Report. arXiv:2406.11704"
AGGREGATES = ("min", "mean")
_USER_LABEL = re.compile(r"^\s*(?:\*\*)?(?:user|me|human|customer)(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.IGNORECASE)
_ASSISTANT_VOICE = re.compile(r"^\W*(?:(?:ai\s+)?assistant\s*:|ai\s*:|as an ai\b|as a language model\b|"
                              r"i am an ai\b|i'?m an ai\b)", re.IGNORECASE)
_GOAL_LABEL = re.compile(r"^\W*goal\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’"


def user_message(text: str) -> str:
    """The simulated user's message without a "User:" label or quotes wrapped around the whole of it."""
    text = _USER_LABEL.sub("", text.strip(), count=1).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def speaks_as_assistant(text: str) -> bool:
    """Whether the simulated user broke role: an "Assistant:" label or an "as an AI" voice."""
    return bool(_ASSISTANT_VOICE.match(text))


class SimulatedUser(ModelStep):
    """Simulated-user conversations (UltraChat, Ding et al. 2023; Nemotron-4's synthetic dialogue, NVIDIA
    2024). Per row: a goal (column ``goal_column``, or written by the user model from ``persona_column``),
    then ``turns`` rounds of a simulated user (``user_model``, default the step's model; persona, goal and a
    user style drawn per row from ``styles``: ``normal``, ``complex``, ``concise``) and the assistant (the
    step's model, with an optional ``system`` prompt), each turn scored by a judge (``judge_model``;
    ``rubric`` a score preset of the judges: its criteria, unless ``criteria``, and scale) through a JSON
    schema. Kept when the ``aggregate`` (``min`` or ``mean``) of the turn scores is at least ``threshold``;
    writes ``goal``, ``user_style``, ``messages`` (multi-turn SFT chat), ``turn_scores``,
    ``turn_rationales``, ``score`` and ``turns``. Rejected with the reason: a low score, an empty message,
    a message cut by ``max_tokens``, a simulated user that speaks as the assistant."""

    type_name = "simulated_user"
    default_sampling = {"temperature": 0.7, "max_tokens": 1024}

    def __init__(self, name: str, *, persona_column: str = "persona", goal_column: str | None = None, turns: int = 3,
                 styles: list[str] | None = None, system: str | None = None, user_model: str | None = None,
                 user_temperature: float | None = None, user_max_tokens: int = 256, judge_model: str | None = None,
                 rubric: str = "default", criteria: str | None = None, threshold: float = 4.0, aggregate: str = "min",
                 judge_max_tokens: int = 384, user_template: str | None = None, goal_template: str | None = None,
                 judge_template: str | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"simulated_user {name!r}"
        for opt, v in (("turns", turns), ("user_max_tokens", user_max_tokens), ("judge_max_tokens", judge_max_tokens)):
            if int(v) < 1:
                raise ValueError(f"{where}: {opt} must be >= 1, not {v}")
        self.styles = list(USER_STYLES) if styles is None else list(styles)
        unknown = [s for s in self.styles if s not in USER_STYLES]
        if unknown or not self.styles:
            raise ValueError(f"{where}: styles must be a non-empty list of {', '.join(USER_STYLES)}; got {styles!r}")
        if aggregate not in AGGREGATES:
            raise ValueError(f"{where}: aggregate must be 'min' (every turn) or 'mean', not {aggregate!r}")
        preset = get_rubric(rubric, where)
        if preset.mode != "score" or preset.raw:
            usable = ", ".join(k for k, r in PRESETS.items() if r.mode == "score" and not r.raw)
            raise ValueError(f"{where}: rubric {rubric!r} does not give one score to a chat prompt; use one of {usable}")
        if not preset.lo <= float(threshold) <= preset.hi:
            raise ValueError(f"{where}: threshold {threshold} is outside the scale of rubric {rubric!r} "
                             f"({number(preset.lo)}-{number(preset.hi)})")
        reads = [persona_column] + ([goal_column] if goal_column else [])
        super().__init__(name, reads=reads, writes=["goal", "user_style", "messages", "turn_scores", "turn_rationales",
                                                    "score", "turns"],
                         citations=[ULTRACHAT, NEMOTRON, *citations], **kwargs)
        for extra in (user_model, judge_model):
            if extra and extra not in self.models:
                self.models.append(extra)
        self.persona_column, self.goal_column, self.turns, self.system = persona_column, goal_column, int(turns), system
        self.user_model, self.user_temperature, self.user_max_tokens = user_model, user_temperature, int(user_max_tokens)
        self.judge_model, self.judge_max_tokens = judge_model, int(judge_max_tokens)
        self.threshold, self.aggregate = float(threshold), aggregate
        self.lo, self.hi = preset.lo, preset.hi
        self.judge_view = {"criteria": preset.criteria if criteria is None else criteria, "lo": number(self.lo),
                           "hi": number(self.hi), "score_descriptions": dict(preset.score_descriptions)}
        self.user_template = user_template or self.load_template("simulated_user.jinja")
        self.goal_template = goal_template or self.load_template("simulated_user_goal.jinja")
        self.judge_template = judge_template or self.load_template("simulated_user_judge.jinja")
        self.read_columns(self.user_template, self.goal_template, self.judge_template,
                          not_columns={"persona", "goal", "conversation", "style_instruction", "history", "user",
                                       "response", "criteria", "lo", "hi", "score_descriptions"})

    def judge_schema(self) -> dict[str, Any]:
        """The judge's answer: a short rationale, then an integer score on the rubric's scale."""
        return {"type": "object", "properties": {
            "rationale": {"type": "string", "maxLength": 400},
            "score": {"type": "integer", "minimum": number(self.lo), "maximum": number(self.hi)}},
            "required": ["rationale", "score"]}

    def style_of(self, record: dict[str, Any]) -> str:
        return self.styles[stable_int(record.get("id", ""), self.name) % len(self.styles)]

    # -- the conversation ---------------------------------------------------------------------------
    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        lineage: list[dict[str, Any]] = []
        persona = str(record[self.persona_column]).strip()
        goal = await self.goal(record, persona, lineage)
        if isinstance(goal, Rejected):
            return goal
        style = self.style_of(record)
        messages: list[dict[str, str]] = [{"role": "system", "content": self.system}] if self.system else []
        scores: list[float] = []
        rationales: list[str] = []
        for turn in range(1, self.turns + 1):
            said = await self.user_says(record, persona, goal, style, messages, turn, lineage)
            if isinstance(said, Rejected):
                return said
            messages.append({"role": "user", "content": said})
            answer = await self.assistant_says(record, messages, turn, lineage)
            if isinstance(answer, Rejected):
                return answer
            messages.append({"role": "assistant", "content": answer})
            score, rationale = await self.judge(record, messages, turn, lineage)
            scores.append(score)
            rationales.append(rationale)
            if self.aggregate == "min" and score < self.threshold:
                return Rejected(f"low_turn_score: turn {turn} scored {number(score)} < threshold {number(self.threshold)} "
                                f"({rationale[:120]!r})", score)
        overall = min(scores) if self.aggregate == "min" else statistics.fmean(scores)
        if overall < self.threshold:
            return Rejected(f"low_turn_score: the mean turn score {overall:.2f} < threshold {number(self.threshold)} "
                            f"(turn scores {[number(s) for s in scores]})", overall)
        row = {**user_columns(record), "goal": goal, "user_style": style, "messages": messages, "turn_scores": scores,
               "turn_rationales": rationales, "score": overall, "turns": len(scores)}
        return adopt_rows(record, row, self.name, lineage)

    async def goal(self, record: dict[str, Any], persona: str, lineage: list[dict[str, Any]]) -> str | Rejected:
        """The user's goal: the row's, or the user model's for the persona."""
        if self.goal_column:
            goal = str(record.get(self.goal_column) or "").strip()
            if not goal:
                raise ValueError(f"simulated_user {self.name!r}: column {self.goal_column!r} is empty; give every row a goal "
                                 "or leave goal_column out to have the user model write one")
            return goal
        prompt = self.render(self.goal_template, {**user_columns(record), "persona": persona})
        response, entry = await self.call(record, prompt, model=self.user_model, salt="goal",
                                          temperature=self.user_temperature, max_tokens=self.user_max_tokens,
                                          lineage={"role": "user_goal"})
        lineage.append(entry)
        text = reply_text(response, "user goal")
        if isinstance(text, Rejected):
            return text
        return " ".join(_GOAL_LABEL.sub("", text).split())

    async def user_says(self, record: dict[str, Any], persona: str, goal: str, style: str, messages: list[dict[str, str]],
                        turn: int, lineage: list[dict[str, Any]]) -> str | Rejected:
        view = {**user_columns(record), "persona": persona, "goal": goal, "style_instruction": USER_STYLES[style],
                "conversation": format_conversation(messages)}
        response, entry = await self.call(record, self.render(self.user_template, view).strip(), model=self.user_model,
                                          salt=f"user{turn}", temperature=self.user_temperature,
                                          max_tokens=self.user_max_tokens, lineage={"role": "simulated_user", "turn": turn})
        lineage.append(entry)
        text = user_message(response.text or "")
        if not text:
            return Rejected(f"empty_message: the simulated user's message at turn {turn} is empty")
        if speaks_as_assistant(text):
            return Rejected(f"role_break: the simulated user spoke as the assistant at turn {turn}: {text[:80]!r}")
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected(f"cut: the simulated user's message at turn {turn} hit user_max_tokens ({self.user_max_tokens})")
        return text

    async def assistant_says(self, record: dict[str, Any], messages: list[dict[str, str]], turn: int,
                             lineage: list[dict[str, Any]]) -> str | Rejected:
        response, entry = await self.call(record, list(messages), salt=f"assistant{turn}",
                                          lineage={"role": "assistant", "turn": turn})
        lineage.append(entry)
        text = (response.text or "").strip()
        if not text:
            return Rejected(f"empty_message: the assistant's reply at turn {turn} is empty")
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected(f"cut: the assistant's reply at turn {turn} hit max_tokens")
        return text

    async def judge(self, record: dict[str, Any], messages: list[dict[str, str]], turn: int,
                    lineage: list[dict[str, Any]]) -> tuple[float, str]:
        """The turn's score and rationale (the last user message and the reply, with the history before)."""
        view = {**user_columns(record), **self.judge_view, "history": format_conversation(messages[:-2]),
                "user": messages[-2]["content"], "response": messages[-1]["content"]}
        response, entry = await self.call(record, self.render(self.judge_template, view).strip(), model=self.judge_model,
                                          salt=f"judge{turn}", json_schema=self.judge_schema(), temperature=0.0,
                                          max_tokens=self.judge_max_tokens, lineage={"role": "judge", "turn": turn})
        lineage.append(entry)
        value = response.parsed if isinstance(response.parsed, dict) else {}
        if not isinstance(value.get("score"), (int, float)):
            raise RowError(f"simulated_user {self.name!r}: the judge's answer for turn {turn} has no score",
                           raw_text=response.text)
        return float(value["score"]), str(value.get("rationale") or "").strip()
