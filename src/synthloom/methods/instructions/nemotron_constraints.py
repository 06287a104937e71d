"""Nemotron-4's synthetic instruction-following prompts (NVIDIA 2024, "Nemotron-4 340B Technical
Report", arXiv:2406.11704, §3.2.1): a synthetic prompt is joined with one or more *verifiable*
instructions in the style of IFEval (Zhou et al. 2023, "Instruction-Following Evaluation for Large
Language Models", arXiv:2311.07911) — "Your response should contain 3 paragraphs", "Answer in all
lowercase letters" — with one of a few hand-written joining templates.

Every instruction here has a checker, so the constraint is checkable: :class:`NemotronConstraints`
(``type: nemotron_if_constraints``) attaches instructions to prompts and records their spec per
row (``constraints``: ``[{"id", "text", "kwargs"}]``); :class:`NemotronCheckConstraints`
(``type: nemotron_check_constraints``) checks a reply against the row's spec. The catalogue is a
subset of IFEval's verifiable instructions, written for synthloom; instructions that contradict
each other (all lowercase and all capitals, JSON and an end phrase) are never drawn together.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...pipeline.step import MapStep, Rejected
from .nemotron import CITATION
from .samplers import stable_int

IFEVAL = "Zhou et al. 2023, Instruction-Following Evaluation for Large Language Models (IFEval), arXiv:2311.07911"
JOINS = ("{prompt}\n\n{instructions}", "{instructions}\n\n{prompt}", "{prompt} {instructions}")
END_PHRASES = ("Is there anything else I can help with?", "Let me know if you have additional questions.")
_STOP = frozenset("about above after again their there these those which while would could should other every where "
                  "write explain describe please words within without being because".split())
FALLBACK_WORDS = ("history", "energy", "example", "future", "balance", "practice", "community", "design")


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)


def prompt_keywords(prompt: str, rng: random.Random, k: int) -> list[str]:
    """``k`` distinct content words (five letters or more) of the prompt, else common words."""
    pool = list(dict.fromkeys(w.lower() for w in _words(prompt) if len(w) >= 5 and w.lower() not in _STOP))
    pool = pool if len(pool) >= k else list(dict.fromkeys(pool + list(FALLBACK_WORDS)))
    return rng.sample(pool, k)


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def _sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()])


def _json_body(text: str) -> bool:
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Instruction:
    """One kind of verifiable instruction: its ``group`` (one per group per prompt), how to draw its
    arguments for a prompt, its wording, and its checker."""

    id: str
    group: str
    draw: Callable[[random.Random, str], dict[str, Any]]
    text: Callable[[dict[str, Any]], str]
    check: Callable[[str, dict[str, Any]], bool]


CATALOGUE: dict[str, Instruction] = {i.id: i for i in [
    Instruction("length:number_words", "length",
                lambda r, p: {"relation": r.choice(["at least", "less than"]), "num": r.choice([50, 80, 120, 200])},
                lambda k: f"Answer with {k['relation']} {k['num']} words.",
                lambda t, k: (len(_words(t)) >= k["num"]) if k["relation"] == "at least" else (len(_words(t)) < k["num"])),
    Instruction("length:number_sentences", "length",
                lambda r, p: {"relation": r.choice(["at least", "less than"]), "num": r.choice([3, 5, 8])},
                lambda k: f"Your response should contain {k['relation']} {k['num']} sentences.",
                lambda t, k: (_sentences(t) >= k["num"]) if k["relation"] == "at least" else (_sentences(t) < k["num"])),
    Instruction("length:number_paragraphs", "length", lambda r, p: {"num": r.choice([2, 3, 4])},
                lambda k: f"There should be {k['num']} paragraphs. Paragraphs are separated with the markdown divider: ***",
                lambda t, k: len([x for x in t.split("***") if x.strip()]) == k["num"]),
    Instruction("format:number_bullets", "format", lambda r, p: {"num": r.choice([2, 3, 4, 5])},
                lambda k: f"Your answer must contain exactly {k['num']} bullet points. Use the markdown bullet points such "
                          "as:\n* This is point 1.",
                lambda t, k: len(re.findall(r"^\s*[*-]\s", t, re.MULTILINE)) == k["num"]),
    Instruction("format:title", "format", lambda r, p: {},
                lambda k: "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
                lambda t, k: re.search(r"<<[^\n]+>>", t) is not None),
    Instruction("format:highlighted_sections", "format", lambda r, p: {"num": r.choice([1, 2, 3])},
                lambda k: f"Highlight at least {k['num']} sections in your answer with markdown, i.e. *highlighted section*.",
                lambda t, k: len(re.findall(r"\*[^\n*]+\*", t)) >= k["num"]),
    Instruction("format:json", "wrap", lambda r, p: {},
                lambda k: "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.",
                lambda t, k: _json_body(t)),
    Instruction("startend:quotation", "wrap", lambda r, p: {},
                lambda k: "Wrap your entire response with double quotation marks.",
                lambda t, k: len(t.strip()) > 1 and t.strip()[0] == t.strip()[-1] == '"'),
    Instruction("startend:end_phrase", "wrap", lambda r, p: {"phrase": r.choice(END_PHRASES)},
                lambda k: f"Finish your response with this exact phrase: {k['phrase']} No other words should follow it.",
                lambda t, k: t.strip().endswith(k["phrase"])),
    Instruction("detectable_content:postscript", "wrap", lambda r, p: {"marker": r.choice(["P.S.", "P.P.S"])},
                lambda k: f"At the end of your response, please explicitly add a postscript starting with {k['marker']}",
                lambda t, k: re.search(rf"^\s*{re.escape(k['marker'])}", t, re.MULTILINE) is not None),
    Instruction("case:lowercase", "case", lambda r, p: {},
                lambda k: "Your entire response should be in English, and in all lowercase letters. No capital letters are "
                          "allowed.",
                lambda t, k: t == t.lower()),
    Instruction("case:uppercase", "case", lambda r, p: {},
                lambda k: "Your entire response should be in English, and in all capital letters.",
                lambda t, k: t == t.upper()),
    Instruction("punctuation:no_comma", "punctuation", lambda r, p: {},
                lambda k: "In your entire response, refrain from the use of any commas.",
                lambda t, k: "," not in t),
    Instruction("keywords:include", "keywords", lambda r, p: {"keywords": prompt_keywords(p, r, 2)},
                lambda k: f"Include the keywords {', '.join(repr(w) for w in k['keywords'])} in the response.",
                lambda t, k: all(_has_word(t, w) for w in k["keywords"])),
    Instruction("keywords:forbidden", "keywords", lambda r, p: {"keywords": prompt_keywords(p, r, 1)},
                lambda k: f"Do not include the word {k['keywords'][0]!r} in the response.",
                lambda t, k: not any(_has_word(t, w) for w in k["keywords"])),
]}
#: pairs that cannot both be followed (besides two of one group): JSON or all capitals break the others' shapes
CONFLICTS = {frozenset(p) for p in [("format:json", "format:title"), ("format:json", "length:number_paragraphs"),
                                     ("format:json", "format:number_bullets"), ("case:lowercase", "format:title"),
                                     ("format:json", "format:highlighted_sections"), ("case:uppercase", "keywords:include"),
                                     ("case:lowercase", "keywords:include")]}


def draw_constraints(prompt: str, key: Any, kinds: Sequence[str], low: int, high: int) -> list[dict[str, Any]]:
    """Between ``low`` and ``high`` instructions of distinct groups that do not conflict, drawn from
    ``kinds`` reproducibly by ``key``: ``[{"id", "text", "kwargs"}]``."""
    rng = random.Random(stable_int(key, "constraints"))
    wanted = rng.randint(low, high)
    picked: list[Instruction] = []
    for kind in rng.sample(list(kinds), len(kinds)):
        inst = CATALOGUE[kind]
        if len(picked) < wanted and all(p.group != inst.group and frozenset((p.id, inst.id)) not in CONFLICTS for p in picked):
            picked.append(inst)
    out = []
    for inst in picked:
        kwargs = inst.draw(rng, prompt)
        out.append({"id": inst.id, "text": inst.text(kwargs), "kwargs": kwargs})
    return out


def check_constraints(response: str, constraints: Sequence[dict[str, Any]]) -> list[bool]:
    """Whether ``response`` follows each constraint of a row's spec (an unknown id raises)."""
    results = []
    for c in constraints:
        if c.get("id") not in CATALOGUE:
            raise ValueError(f"unknown constraint {c.get('id')!r}; known: {', '.join(CATALOGUE)}")
        kwargs = {k: v for k, v in (c.get("kwargs") or {}).items() if v is not None}
        results.append(bool(CATALOGUE[c["id"]].check(response, kwargs)))
    return results


class NemotronConstraints(MapStep):
    """Turns a share (``fraction``, chosen by row id) of the prompts of ``prompt_types`` (all when
    empty) into instruction-following prompts: ``min_constraints``–``max_constraints`` verifiable
    instructions from ``kinds`` joined to the prompt with one of Nemotron-style templates. Writes
    ``prompt`` (joined), ``base_prompt`` (before) and ``constraints`` (the spec; ``[]`` for rows
    left as they were)."""

    type_name = "nemotron_if_constraints"

    def __init__(self, name: str, *, fraction: float = 0.5, min_constraints: int = 1, max_constraints: int = 2,
                 kinds: list[str] | None = None, prompt_types: list[str] | None = None, prompt_column: str = "prompt",
                 type_column: str = "prompt_type") -> None:
        self.kinds = list(kinds) if kinds else list(CATALOGUE)
        unknown = [k for k in self.kinds if k not in CATALOGUE]
        if unknown:
            raise ValueError(f"nemotron_if_constraints {name!r}: unknown kind(s) {unknown}; known: {', '.join(CATALOGUE)}")
        if not 0 <= float(fraction) <= 1 or not 1 <= int(min_constraints) <= int(max_constraints):
            raise ValueError(f"nemotron_if_constraints {name!r}: need 0 <= fraction <= 1 and 1 <= min_constraints <= max_constraints")
        reads = [prompt_column] + ([type_column] if prompt_types else [])
        super().__init__(name, reads=reads, writes=[prompt_column, "base_prompt", "constraints"], citations=[CITATION, IFEVAL])
        self.fraction, self.low, self.high = float(fraction), int(min_constraints), int(max_constraints)
        self.prompt_types, self.prompt_column, self.type_column = list(prompt_types or []), prompt_column, type_column

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        prompt = str(record[self.prompt_column])
        key = (record.get("id", ""), self.name)
        eligible = not self.prompt_types or record.get(self.type_column) in self.prompt_types
        if not eligible or stable_int(*key, "pick") % 10_000 >= self.fraction * 10_000:
            return {**record, "base_prompt": prompt, "constraints": []}
        constraints = draw_constraints(prompt, key, self.kinds, self.low, self.high)
        join = JOINS[stable_int(*key, "join") % len(JOINS)]
        joined = join.format(prompt=prompt.strip(), instructions=" ".join(c["text"] for c in constraints))
        return {**record, self.prompt_column: joined, "base_prompt": prompt, "constraints": constraints}


class NemotronCheckConstraints(MapStep):
    """Checks a reply against the row's ``constraints``: the first assistant turn of ``messages``, or
    ``response_column`` when set. Writes ``constraint_results`` (one bool per constraint) and
    ``constraints_followed`` (``None`` for a row without constraints); with ``require`` a row that
    does not follow them all is rejected, naming the instructions missed."""

    type_name = "nemotron_check_constraints"

    def __init__(self, name: str, *, response_column: str | None = None, require: bool = False) -> None:
        super().__init__(name, reads=["constraints", response_column or "messages"],
                         writes=["constraint_results", "constraints_followed"], citations=[CITATION, IFEVAL])
        self.response_column, self.require = response_column, bool(require)

    def reply(self, record: dict[str, Any]) -> str:
        if self.response_column:
            return str(record.get(self.response_column) or "")
        return next((str(m.get("content") or "") for m in record.get("messages") or [] if m.get("role") == "assistant"), "")

    def map(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:
        constraints = record.get("constraints") or []
        if not constraints:
            return {**record, "constraint_results": [], "constraints_followed": None}
        results = check_constraints(self.reply(record), constraints)
        if self.require and not all(results):
            missed = [c["id"] for c, ok in zip(constraints, results) if not ok]
            return Rejected(f"the reply does not follow {', '.join(missed)}", score=sum(results) / len(results))
        return {**record, "constraint_results": results, "constraints_followed": all(results)}
