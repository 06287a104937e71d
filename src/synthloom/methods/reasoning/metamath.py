"""MetaMath: bootstrap math questions by rewriting them forward and backward.

Yu et al. 2023, "MetaMath: Bootstrap Your Own Mathematical Questions for Large Language Models",
ICLR 2024, arXiv:2309.12284 (MetaMathQA: 395K records from GSM8K and MATH with gpt-3.5-turbo,
T=0.7). Four augmentations of each seed problem, every answer checked against a known gold:

- **AnsAug** — few-shot chain-of-thought answers to the question, kept if the answer is correct.
- **Rephrasing** — the model rephrases the question (few-shot); the rephrasing is solved with CoT
  and kept (with that solution) only if the solution reaches the original gold answer.
- **SV** (self-verification, after Weng et al. 2023) — a number in the question is masked as
  ``x`` (deterministic code, :func:`mask_number`); the model rewrites the masked question and its
  answer as a declarative statement; "What is the value of unknown variable x?" is appended; the
  masked number is the new gold.
- **FOBAR** (forward-backward reasoning, Jiang et al. 2023) — the masked question gets "If we
  know the answer to the above question is {gold}, what is the value of unknown variable x?"
  appended; the masked number is the new gold.

The step ``metamath`` emits one row per candidate (``augmentation`` = AnsAug / Rephrasing / SV /
FOBAR, ``query``, ``response``, verdict columns, ``verified_rank`` within the problem's
augmentation); follow it with ``keep_verified`` (as MetaMath keeps only correct answers), which
rejects the rest with the verifier's reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import xxhash

from ...pipeline.step import Rejected
from ...records import ID, adopt_rows
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = ("Yu et al. 2023, MetaMath: Bootstrap Your Own Mathematical Questions for Large Language Models, "
            "ICLR 2024, arXiv:2309.12284")
AUGMENTATIONS = ("AnsAug", "Rephrasing", "SV", "FOBAR")
_ALIASES = {"ansaug": "AnsAug", "answer": "AnsAug", "answer_augmentation": "AnsAug", "rephrasing": "Rephrasing",
            "rephrase": "Rephrasing", "sv": "SV", "self_verification": "SV", "fobar": "FOBAR"}
COLUMNS = ("augmentation", "query", "response", "reasoning", "sample_index", "masked_value", "correct",
           "verify_status", "pred_answer", "gold_answer", "verify_reason", "verified_rank")
FOBAR_SUFFIX = "If we know the answer to the above question is {gold}, what is the value of unknown variable x?"
SV_SUFFIX = "What is the value of unknown variable x?"
MASK_PICKS = ("first", "last", "random")

# a number standing alone: 12, 1,234, 3.5 (not inside a word, not a piece of 1,234 or 3.5)
_NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w]|[.,]\d)")
_HAS_X = re.compile(r"(?<![\w\\])x(?![\w])")


def find_numbers(question: str) -> list[re.Match[str]]:
    """The numbers written in digits in ``question`` (``$18`` → 18, ``1,200`` → 1,200, ``3.5``)."""
    return list(_NUMBER.finditer(question))


def mask_number(question: str, pick: str = "first", seed: str = "") -> tuple[str, str] | None:
    """``(masked_question, value)``: one number of ``question`` replaced by ``x``; ``value`` is that
    number without thousands separators. Numbers whose value occurs once in the question are
    preferred (masking one of two equal numbers would leave it readable). ``pick``: ``first``,
    ``last`` or ``random`` (chosen by a hash of ``seed``, so the same problem always gets the same
    mask). ``None`` when the question has no number or already uses a variable ``x``."""
    if pick not in MASK_PICKS:
        raise ValueError(f"mask must be one of {MASK_PICKS}, not {pick!r}")
    if _HAS_X.search(question):
        return None
    found = find_numbers(question)
    if not found:
        return None
    values = [m.group().replace(",", "") for m in found]
    unique = [m for m, v in zip(found, values) if values.count(v) == 1]
    pool = unique or found
    if pick == "first":
        m = pool[0]
    elif pick == "last":
        m = pool[-1]
    else:
        m = pool[xxhash.xxh32_intdigest(seed.encode()) % len(pool)]
    return question[: m.start()] + "x" + question[m.end():], m.group().replace(",", "")


def fobar_question(masked_question: str, gold: Any) -> str:
    """The FOBAR backward question: the masked question plus the known answer."""
    return f"{masked_question.rstrip()} {FOBAR_SUFFIX.format(gold=gold)}"


def first_paragraph(text: str, labels: Iterable[str] = ()) -> str:
    """The model's rewrite without chatter: its first non-empty paragraph, a leading label
    (``Statement:``, ``Rephrased question:``) and wrapping quotes removed."""
    text = (text or "").strip()
    for label in labels:
        text = re.sub(rf"^\s*{label}\s*:\s*", "", text, flags=re.IGNORECASE)
    para = re.split(r"\n\s*\n", text, maxsplit=1)[0].strip()
    para = re.split(r"\n\s*(?:Question|Q|Answer|A)\s*:", para, maxsplit=1)[0].strip()
    return para.strip('"“” ').strip()


def sv_question(statement: str) -> str | None:
    """The SV backward question from the declarative statement, or ``None`` when the statement
    lost the unknown ``x``."""
    statement = statement.strip()
    if not statement or not _HAS_X.search(statement):
        return None
    if statement[-1] not in ".!?":
        statement += "."
    return f"{statement} {SV_SUFFIX}"


def normalize_augmentations(augmentations: Iterable[str] | str) -> list[str]:
    if isinstance(augmentations, str):
        augmentations = [a.strip() for a in augmentations.split(",") if a.strip()]
    out = []
    for a in augmentations:
        name = _ALIASES.get(str(a).lower())
        if name is None:
            raise ValueError(f"unknown MetaMath augmentation {a!r}; choose from {list(AUGMENTATIONS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError(f"augmentations is empty; choose some of {list(AUGMENTATIONS)}")
    return out


class MetaMath(VerifiedSampler):
    """The four MetaMath augmentations of each problem, every candidate verified. Options:
    ``augmentations`` (default all four), ``k`` (answers per augmentation; rephrasings for
    Rephrasing, each solved once), ``mask`` (which number SV/FOBAR mask: first / last / random,
    random seeded by the problem id), ``rephrase_template`` and ``sv_template`` (Jinja2), plus the
    :class:`VerifiedSampler` options (the solve ``template`` defaults to a few-shot CoT prompt)."""

    type_name = "metamath"
    default_template = "metamath_solve.jinja"

    def __init__(self, name: str, *, augmentations: Iterable[str] | str = AUGMENTATIONS, k: int = 2,
                 mask: str = "random", rephrase_template: str | None = None, sv_template: str | None = None,
                 temperature: float = 0.7, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if mask not in MASK_PICKS:
            raise ValueError(f"mask must be one of {MASK_PICKS}, not {mask!r}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(COLUMNS)
        self.augmentations = normalize_augmentations(augmentations)
        self.mask = mask
        self.rephrase_template = rephrase_template or self.load_template("metamath_rephrase.jinja")
        self.sv_template = sv_template or self.load_template("metamath_sv_rewrite.jinja")

    def _row(self, aug: str, query: str, s: Sample | None, masked_value: str | None = None,
             reason: str | None = None) -> dict[str, Any]:
        if s is None:  # the augmentation failed before anything could be solved
            return {"augmentation": aug, "query": query, "response": None, "reasoning": None, "sample_index": None,
                    "masked_value": masked_value, "correct": False, "verify_status": "skipped",
                    "pred_answer": None, "gold_answer": masked_value, "verify_reason": reason}
        return {"augmentation": aug, "query": query, "response": s.text, "reasoning": s.reasoning,
                "sample_index": s.index, "masked_value": masked_value, **s.columns(),
                "verify_reason": None if s.correct else reason_for(s.verdict)}

    async def _solve(self, record: dict[str, Any], question: str, gold: Any, k: int, salt: str,
                     lineage: list[dict[str, Any]]) -> list[Sample]:
        msgs = self.messages({**record, self.question_column: question})
        raw, lin = await self.sample(record, msgs, k, salt=salt, lineage={"augmentation": salt.split(":")[0]})
        lineage.extend(lin)
        return await self.verify(raw, gold)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        question = str(record.get(self.question_column) or "")
        gold = record.get(self.gold_column)
        rows: list[dict[str, Any]] = []
        lineage: list[dict[str, Any]] = []
        if "AnsAug" in self.augmentations:
            for s in await self._solve(record, question, gold, self.k, "AnsAug", lineage):
                rows.append(self._row("AnsAug", question, s))
        if "Rephrasing" in self.augmentations:
            raw, lin = await self.sample(record, self.messages(record, template=self.rephrase_template), self.k,
                                         salt="Rephrasing", lineage={"augmentation": "Rephrasing"})
            lineage.extend(lin)
            for j, (text, _, _) in enumerate(raw):
                rephrased = first_paragraph(text, ["Rephrase the above question", "Rephrased question", "Question"])
                if not rephrased:
                    rows.append(self._row("Rephrasing", rephrased, None, reason="the rephrasing is empty"))
                    continue
                [s] = await self._solve(record, rephrased, gold, 1, f"Rephrasing:{j}", lineage)
                s.index = j
                rows.append(self._row("Rephrasing", rephrased, s))
        backward = [a for a in ("SV", "FOBAR") if a in self.augmentations]
        if backward:
            masked = mask_number(question, self.mask, seed=str(record.get(ID, question)))
            for aug in backward:
                if masked is None:
                    why = ("the question already uses a variable x" if _HAS_X.search(question)
                           else "no number in the question to mask")
                    rows.append(self._row(aug, question, None, reason=f"{aug}: {why}"))
                    continue
                masked_q, value = masked
                if aug == "FOBAR":
                    query = fobar_question(masked_q, gold)
                else:
                    view = {**record, "masked_question": masked_q}
                    raw, lin = await self.sample(record, self.messages(view, template=self.sv_template), 1,
                                                 salt="SV-rewrite", lineage={"augmentation": "SV"})
                    lineage.extend(lin)
                    statement = first_paragraph(raw[0][0], ["Statement"])
                    query = sv_question(statement)
                    if query is None:
                        rows.append(self._row("SV", statement, None, value,
                                              reason="SV: the declarative rewrite lost the unknown x"))
                        continue
                for s in await self._solve(record, query, value, self.k, aug, lineage):
                    rows.append(self._row(aug, query, s, value))
        ranks: dict[str, int] = {}
        for row in rows:
            if row["correct"]:
                row["verified_rank"] = ranks.get(row["augmentation"], 0)
                ranks[row["augmentation"]] = row["verified_rank"] + 1
            else:
                row["verified_rank"] = None
        base = self.base_columns(record)
        return adopt_rows(record, [{**base, **row} for row in rows], self.name, lineage)
