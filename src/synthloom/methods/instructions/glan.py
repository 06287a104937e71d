"""GLAN — Generalized Instruction Tuning (Li et al. 2024, "Synthetic Data (Almost) from Scratch:
Generalized Instruction Tuning for Language Models", arXiv:2402.13064).

GLAN mirrors how people are taught: a taxonomy of disciplines (built by the model and reviewed by
people, :mod:`.glan_taxonomy`) → the subjects of each discipline
→ a syllabus per subject, made of class sessions each with key concepts → homework questions built
from sampled sessions and a combination of their key concepts, their difficulty set by how many
class sessions they span → answers. No seed examples are needed.

Steps (each its own recipe type):

* :class:`GlanSubjects`        ``discipline`` → one row per subject (``subject``, ``level``)
* :class:`GlanSyllabus`        → ``sessions``: ``[{"title", "key_concepts": [...]}, ...]``
* :class:`GlanSampleSessions`  → ``questions_per_syllabus`` rows, each with ``session_titles``,
                                 ``key_concepts``, ``difficulty`` and ``sessions_spanned``: as in
                                 the paper, a basic question draws on one class session, a
                                 challenging one combines the key concepts of several (deterministic,
                                 no repeated combination within a syllabus while unused ones remain)
* :class:`GlanHomework`        → ``question``
* answers: any LLM step (the built-in recipe uses ``type: llm``).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Sequence
from typing import Any

from ...llm.types import Response
from ...pipeline.model_step import RowError, reply_text
from ...pipeline.step import ExpandStep, Rejected
from .samplers import stable_int
from .taxonomy_parsing import clean_item, parse_list, strip_label
from .taxonomy_prompt_step import BundledPromptStep

CITATION = ("Li, H. et al. (2024). Synthetic Data (Almost) from Scratch: Generalized Instruction Tuning for "
            "Language Models (GLAN). arXiv:2402.13064")
LEVELS = ("introductory", "undergraduate", "graduate")
DIFFICULTIES = ("basic", "challenging")
#: how many class sessions a question of each difficulty spans, ``[min, max]`` (the paper: one for a
#: basic question, several for a challenging one); other difficulties use ``n_sessions``
SESSIONS_PER_DIFFICULTY = {"basic": [1, 1], "challenging": [2, 3]}
DIFFICULTY_HINTS = {
    "basic": "A basic question covers the key concepts of this one class session.",
    "challenging": "A challenging question combines the key concepts of these class sessions and needs several steps of reasoning.",
    "easy": "An easy question checks that the student remembers and understands the concepts.",
    "medium": "A medium question asks the student to apply the concepts to a concrete case.",
    "hard": "A hard question needs several steps of reasoning that combine the concepts.",
}

_LEVEL_SUFFIX = re.compile(r"^(.*?)\s*(?:[\(\[]\s*([^()\[\]]+?)\s*[\)\]]|[-–—:|]\s*(?:level:?\s*)?([A-Za-z ]+))\s*$")
_SESSION_HEAD = re.compile(
    r"^\s*(?:[-*#]+\s*)?(?:class\s+)?(?:session|lecture|class|week|module|unit)\s*(\d{1,3})\s*[:.)\-–—]?\s*(.*)$",
    re.IGNORECASE,
)
_CONCEPTS = re.compile(r"^\s*(?:[-*]\s*)?key\s+concepts?\s*[:\-–]\s*(.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.*)$")
_ANSWER_START = re.compile(r"\n\s*(?:\*\*)?\s*(?:answer|solution|hint|explanation)s?\s*(?:\*\*)?\s*:", re.IGNORECASE)


def parse_subjects(text: str, *, truncated: bool = False, default_level: str = "undergraduate",
                   max_items: int | None = None) -> list[tuple[str, str]]:
    """``(subject, level)`` pairs from a numbered list such as ``1. Linear Algebra (undergraduate)``.
    A level the model did not give (or one that is not a known level) becomes ``default_level``."""
    out = []
    for item in parse_list(text, truncated=truncated, labels=("subject",)):
        subject, level = item, default_level
        m = _LEVEL_SUFFIX.match(item)
        if m:
            found = (m.group(2) or m.group(3) or "").strip().lower()
            known = next((lv for lv in LEVELS if lv in found or (lv == "introductory" and "intro" in found)), None)
            if known:
                subject, level = m.group(1).strip(), known
            elif m.group(2) and "level" in found:  # "(Level 2)": drop it, keep the default level
                subject = m.group(1).strip()
        subject = clean_item(subject.rstrip(" .:-"))
        if subject and len(subject.split()) <= 12:
            out.append((subject, level))
        if max_items is not None and len(out) >= max_items:
            break
    return out


def _split_concepts(text: str) -> list[str]:
    parts = re.split(r";|,(?![^()]*\))", text)
    return [clean_item(p).rstrip(".") for p in parts if clean_item(p).rstrip(".")]


def parse_syllabus(text: str, *, truncated: bool = False) -> list[dict[str, Any]]:
    """Class sessions from ``Session N: title`` headers, each followed by a ``Key concepts:`` line
    (``;``/``,``-separated) or bulleted concepts; without any header, the items of a numbered or
    bulleted list are the session titles. A session the model gave no concepts for gets its title
    as its one key concept. When the reply was cut off the last session is dropped."""
    sessions: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        head = _SESSION_HEAD.match(line)
        if head:
            title = clean_item(head.group(2).strip(" :-–"))
            current = {"title": title or f"Session {head.group(1)}", "key_concepts": []}
            sessions.append(current)
            continue
        if current is None:
            continue
        concepts = _CONCEPTS.match(line)
        if concepts:
            current["key_concepts"].extend(_split_concepts(concepts.group(1)))
            continue
        bullet = _BULLET.match(line)
        if bullet and current["key_concepts"] is not None:
            current["key_concepts"].extend(_split_concepts(bullet.group(1)))
    if not sessions:  # no "Session N" headers: a plain list of session titles
        sessions = [{"title": t, "key_concepts": []} for t in parse_list(text, fallback_lines=False)]
    if truncated and sessions:
        sessions = sessions[:-1]
    out = []
    for s in sessions:
        concepts = list(dict.fromkeys(c for c in s["key_concepts"] if c))
        out.append({"title": s["title"], "key_concepts": concepts or [s["title"]]})
    return out


def parse_question(text: str) -> str:
    """One homework question: the reply without a preamble line, a ``Question:`` label, or an
    answer/solution the model added after it."""
    body = _ANSWER_START.split("\n" + text.strip(), maxsplit=1)[0].strip()
    lines = [ln for ln in body.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].rstrip().endswith(":") and len(lines[0].split()) <= 12:
        body = "\n".join(lines[1:])
    return strip_label(clean_item(body), ("question", "homework question", "homework"))


class GlanSubjects(BundledPromptStep):
    """GLAN step 1: lists the subjects of a ``discipline`` (one output row per subject, with its
    ``level``). Reads ``discipline``; writes ``subject``, ``level``."""

    type_name = "glan_subjects"
    template_file = "glan_subjects.jinja"
    provided = frozenset({"n_subjects"})
    writes_columns = frozenset({"subject", "level"})
    citation = CITATION

    def __init__(self, name: str, *, n_subjects: int = 10, max_subjects: int | None = None,
                 default_level: str = "undergraduate", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.n_subjects, self.max_subjects, self.default_level = int(n_subjects), max_subjects, default_level

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"n_subjects": self.n_subjects}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        truncated = response.choices[0].finish_reason == "length"
        pairs = parse_subjects(response.text, truncated=truncated, default_level=self.default_level,
                               max_items=self.max_subjects or self.n_subjects)
        if not pairs:
            raise RowError("no subjects could be parsed from the reply", raw_text=response.text)
        return [{**record, "subject": s, "level": lv} for s, lv in pairs]


class GlanSyllabus(BundledPromptStep):
    """GLAN step 2: the syllabus of a subject — class sessions with key concepts. Reads
    ``discipline``, ``subject``, ``level``; writes ``sessions`` (a list of ``{title, key_concepts}``)."""

    type_name = "glan_syllabus"
    template_file = "glan_syllabus.jinja"
    provided = frozenset({"n_sessions"})
    writes_columns = frozenset({"sessions"})
    citation = CITATION

    def __init__(self, name: str, *, n_sessions: int = 6, min_sessions: int = 1, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.n_sessions, self.min_sessions = int(n_sessions), int(min_sessions)

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"n_sessions": self.n_sessions}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        sessions = parse_syllabus(response.text, truncated=response.choices[0].finish_reason == "length")
        if len(sessions) < self.min_sessions:
            return Rejected(f"syllabus has {len(sessions)} class session(s); at least {self.min_sessions} needed",
                            score=float(len(sessions)))
        return {**record, "sessions": sessions}


def sample_sessions(sessions: list[dict[str, Any]], count: int, *, seed: int, difficulties: list[str],
                    n_sessions: tuple[int, int] = (1, 2), n_concepts: tuple[int, int] = (1, 3),
                    spans: dict[str, Sequence[int]] | None = None, attempts: int = 20) -> list[dict[str, Any]]:
    """``count`` homework specs from a syllabus: difficulty ``j % len(difficulties)``, a number of
    sessions from that difficulty's range in ``spans`` (else ``n_sessions``) and a combination of
    their key concepts, each drawn from ``seed``. A difficulty whose fewest sessions the syllabus
    does not have gives way to the next one that fits. A combination already used is redrawn (up
    to ``attempts`` times) so specs do not repeat while new ones exist."""
    if not sessions:
        return []
    spans = spans or {}
    fits = [d for d in difficulties if min(spans.get(d, n_sessions)) <= len(sessions)] or list(difficulties)
    seen: set[tuple] = set()
    out = []
    for j in range(count):
        difficulty = difficulties[j % len(difficulties)]
        if difficulty not in fits:
            difficulty = fits[j % len(fits)]
        low, high = spans.get(difficulty, n_sessions)
        spec = None
        for attempt in range(attempts):
            rng = random.Random(stable_int(seed, j, attempt))
            k = rng.randint(min(low, len(sessions)), min(high, len(sessions)))
            picked = sorted(rng.sample(range(len(sessions)), k))
            pool = list(dict.fromkeys(itertools.chain.from_iterable(sessions[i]["key_concepts"] for i in picked)))
            c = rng.randint(min(n_concepts[0], len(pool)), min(n_concepts[1], len(pool)))
            concepts = [pool[i] for i in sorted(rng.sample(range(len(pool)), c))]
            key = (difficulty, tuple(picked), tuple(concepts))
            spec = {"session_titles": [sessions[i]["title"] for i in picked], "key_concepts": concepts,
                    "difficulty": difficulty, "sessions_spanned": len(picked)}
            if key not in seen:
                seen.add(key)
                break
        out.append(spec)
    return out


class GlanSampleSessions(ExpandStep):
    """GLAN step 3: samples ``questions_per_syllabus`` homework specs per syllabus — a difficulty
    from ``difficulties`` (cycled), as many class sessions as that difficulty spans
    (``sessions_per_difficulty``: basic 1, challenging 2–3, as in the paper; a difficulty not listed
    there spans ``n_sessions``), and a combination of ``n_concepts`` of their key concepts.
    Deterministic in the record id. Reads ``sessions``; writes ``session_titles``,
    ``key_concepts``, ``difficulty``, ``sessions_spanned``."""

    type_name = "glan_sample_sessions"

    def __init__(self, name: str, *, questions_per_syllabus: int = 6, difficulties: Sequence[str] = DIFFICULTIES,
                 sessions_per_difficulty: dict[str, list[int]] | None = None,
                 n_sessions: Sequence[int] = (1, 2), n_concepts: Sequence[int] = (1, 3),
                 sessions_column: str = "sessions") -> None:
        super().__init__(name, reads=[sessions_column],
                         writes=["session_titles", "key_concepts", "difficulty", "sessions_spanned"], citations=[CITATION])
        self.count = int(questions_per_syllabus)
        self.difficulties = list(difficulties)
        self.spans = {k: tuple(v) for k, v in (SESSIONS_PER_DIFFICULTY if sessions_per_difficulty is None
                                               else sessions_per_difficulty).items()}
        self.n_sessions = tuple(n_sessions)
        self.n_concepts = tuple(n_concepts)
        ranges = [("n_sessions", self.n_sessions), ("n_concepts", self.n_concepts),
                  *((f"sessions_per_difficulty.{k}", v) for k, v in self.spans.items())]
        for label, rng in ranges:
            if len(rng) != 2 or not 1 <= rng[0] <= rng[1]:
                raise ValueError(f"{label} must be [min, max] with 1 <= min <= max, got {list(rng)}")
        if self.count < 1 or not self.difficulties:
            raise ValueError("questions_per_syllabus must be >= 1 and difficulties non-empty")
        self.sessions_column = sessions_column

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        sessions = record.get(self.sessions_column) or []
        specs = sample_sessions(list(sessions), self.count, seed=stable_int(record.get("id", ""), self.name),
                                difficulties=self.difficulties, n_sessions=self.n_sessions,
                                n_concepts=self.n_concepts, spans=self.spans)
        return [{**record, **spec} for spec in specs]


class GlanHomework(BundledPromptStep):
    """GLAN step 4: one homework question for sampled sessions, key concepts and difficulty.
    Reads ``discipline``, ``subject``, ``level``, ``session_titles``, ``key_concepts``,
    ``difficulty``; writes ``question``. Refusals are rejected."""

    type_name = "glan_homework"
    template_file = "glan_homework.jinja"
    provided = frozenset({"difficulty_hint"})
    writes_columns = frozenset({"question"})
    citation = CITATION

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"difficulty_hint": DIFFICULTY_HINTS.get(str(record.get("difficulty", "")).lower(), "")}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = reply_text(response, "homework question")
        if isinstance(text, Rejected):
            return text
        question = parse_question(text)
        if not question:
            raise RowError("the reply holds no question", raw_text=response.text)
        return {**record, "question": question}
