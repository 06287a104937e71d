"""A fact table (subject, relation, object triples) and the programmatic faithfulness check of an
answer against one fact — the grounding half of knowledge-infused generation (ClinGen, Xu et al. 2023,
arXiv:2311.00287; see :mod:`.knowledge_qa`).

An answer is *faithful* to a fact when it states the fact's object (a word-bounded, accent- and
case-insensitive match; objects of one or two characters, such as chemical symbols, match with their
case). It is *contradicted* when it also names a rival: the object another subject has for the same
one-to-one relation (every subject one object, no object shared: capitals, not continents), so
"The capital of Australia is Canberra, not Sydney" passes only if Sydney is not another row's capital.
Rivals that are numbers or shorter than three characters are not looked for: they turn up in ordinary
text (25 °C, "O" in a formula) far more often than as a wrong answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FACT_COLUMNS = ("subject", "relation", "object")


def fold(text: str) -> str:
    """``text`` without accents, case-folded, with runs of white space made one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def mentions(text: str, value: str) -> bool:
    """Whether ``text`` states ``value`` as a whole word or phrase (see the module docstring)."""
    value = " ".join(str(value).split())
    if not value:
        return False
    if len(value) <= 2:
        return re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", text) is not None
    return re.search(rf"(?<![\w]){re.escape(fold(value))}(?![\w])", fold(text)) is not None


def load_facts(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a fact table (``.jsonl``, ``.csv``, ``.parquet``), each with a non-empty
    ``subject``, ``relation`` and ``object``; a clear ``ValueError`` naming the row otherwise."""
    from ...io.sources import read_records

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"fact table {str(path)!r} does not exist; give a .jsonl with subject, relation and object "
                         "columns (recipes can use ${recipe_dir})")
    rows = [row for batch in read_records(path) for row in batch]
    for i, row in enumerate(rows, 1):
        missing = [c for c in FACT_COLUMNS if not str(row.get(c) or "").strip()]
        if missing:
            raise ValueError(f"{path.name} row {i}: no {', '.join(missing)}; every fact needs subject, relation and object")
    if not rows:
        raise ValueError(f"{path.name} holds no facts")
    return rows


class FactTable:
    """The rival objects of each one-to-one relation of a fact table (see the module docstring)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        objects: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for row in rows:
            objects[str(row["relation"])][str(row["subject"])].add(str(row["object"]))
        self.one_to_one: dict[str, dict[str, str]] = {}
        for relation, by_subject in objects.items():
            values = [next(iter(v)) for v in by_subject.values() if len(v) == 1]
            if len(values) == len(by_subject) and len({fold(v) for v in values}) == len(values):
                self.one_to_one[relation] = {s: next(iter(v)) for s, v in by_subject.items()}

    def rivals(self, relation: str, subject: str) -> list[str]:
        """Other subjects' objects of ``relation`` that an answer about ``subject`` must not name."""
        table = self.one_to_one.get(relation, {})
        mine = fold(table.get(subject, ""))
        return [o for s, o in table.items() if s != subject and len(o) >= 3 and not o.strip().isdigit()
                and fold(o) != mine and fold(o) not in mine]


def check_question(question: str, subject: str, obj: str) -> str | None:
    """Why a generated question is not grounded in its fact (``None`` when it is): it must name the
    subject and must not give the answer away."""
    if not question.strip():
        return "empty question"
    if not mentions(question, subject):
        return f"ungrounded question: it does not name the fact's subject {subject!r}"
    if mentions(question, obj) and not mentions(subject, obj):
        return f"the question gives the answer away: it states {obj!r}"
    return None


def check_answer(answer: str, obj: str, rivals: Sequence[str] = ()) -> str | None:
    """Why an answer is not faithful to its fact (``None`` when it is): it must state the fact's
    object ``obj`` (else *unsupported*) and name none of ``rivals`` (else *contradicted*)."""
    if not answer.strip():
        return "unsupported: empty answer"
    if not mentions(answer, obj):
        return f"unsupported: the answer does not state the fact's object {obj!r}"
    named = [r for r in rivals if mentions(answer, r) and not mentions(obj, r)]
    if named:
        return f"contradicted: the answer also names {named[0]!r}, the value of another subject"
    return None
