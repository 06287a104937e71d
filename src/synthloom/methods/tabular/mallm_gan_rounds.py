"""MALLM-GAN's bookkeeping: a generated row, one round's result, the choice of the best round, and the files
that record every round (``OUT/mallm_gan/STEP/rounds.json``, ``rounds.md`` for the dataset card,
``best_prompt.txt``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ...io.rundir import atomic_write_text
from .mallm_gan_discriminator import Verdict

ROUNDS_DIR = "mallm_gan"


@dataclass
class GeneratedRow:
    """One generator reply: the row (schema columns, coerced) when the reply held one, what is wrong with
    it (empty when it matches the schema), the reply's text and the call's lineage entry."""

    values: dict[str, Any] | None
    problems: list[str]
    raw: str
    lineage: dict[str, Any]

    @property
    def valid(self) -> bool:
        return self.values is not None and not self.problems


@dataclass
class RoundResult:
    """One round: the instructions the generator had, its rows, the discriminator's verdict, and what the
    optimizer did after it."""

    round: int
    instructions: str
    rows: list[GeneratedRow]
    verdict: Verdict
    copies: int = 0
    optimizer_note: str = ""
    next_instructions: str | None = None

    @property
    def score(self) -> float:
        """The discriminator's accuracy (lower is better); 1.0 when the round could not be scored."""
        return self.verdict.accuracy if self.verdict.accuracy is not None else 1.0

    @property
    def valid_rows(self) -> list[dict[str, Any]]:
        return [g.values for g in self.rows if g.valid and g.values is not None]

    @property
    def invalid(self) -> list[GeneratedRow]:
        return [g for g in self.rows if not g.valid]

    def reasons(self, top: int = 3) -> list[str]:
        """The most frequent schema problems of the round's invalid rows."""
        counts = Counter(p for g in self.invalid for p in g.problems[:1])
        return [reason for reason, _ in counts.most_common(top)]

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "score": self.score, "accuracy": self.verdict.accuracy, "auc": self.verdict.auc,
                "valid": len(self.valid_rows), "invalid": len(self.invalid), "copies": self.copies, "invalid_reasons": self.reasons(5),
                "instructions": self.instructions, "discriminator": self.verdict.to_dict(),
                "optimizer": {"note": self.optimizer_note, "next_instructions": self.next_instructions},
                "rows": self.valid_rows}


@dataclass
class RoundsRecord:
    """Everything the loop did, as written to the run directory."""

    step: str
    rounds: list[RoundResult]
    best: RoundResult
    causal: dict[str, Any]
    final: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "best_round": self.best.round, "best_score": self.best.score,
                "best_instructions": self.best.instructions, "causal_structure": self.causal,
                "rounds": [r.to_dict() for r in self.rounds], "final": self.final}

    def markdown(self) -> list[str]:
        """The rounds as a Markdown table (the dataset card's section)."""
        lines = [f"## MALLM-GAN rounds ({self.step})", "",
                 "Discriminator accuracy per round (lower is better; 0.5 = it cannot tell synthetic rows from real ones).",
                 "", "| round | accuracy | AUC | valid rows | invalid rows | kept |", "|---|---|---|---|---|---|"]
        for r in self.rounds:
            acc = "—" if r.verdict.accuracy is None else f"{r.verdict.accuracy:.3f}"
            auc = "—" if r.verdict.auc is None else f"{r.verdict.auc:.3f}"
            lines.append(f"| {r.round} | {acc} | {auc} | {len(r.valid_rows)} | {len(r.invalid)} | "
                         f"{'best' if r is self.best else ''} |")
        if self.final:
            lines += ["", f"Kept: round {self.best.round}'s rows, then {self.final.get('top_up_calls', 0)} more generated with "
                      f"its instructions; {self.final.get('valid', 0)} valid rows out, {self.final.get('invalid', 0)} rejected."]
        return lines + ["", f"Every round: [mallm_gan/{self.step}/rounds.json](mallm_gan/{self.step}/rounds.json)", ""]


def rank(r: RoundResult) -> tuple[float, int, int]:
    """A round's place, best first: the lower discriminator score, then more valid rows, then the earlier round."""
    return (r.score, -len(r.valid_rows), r.round)


def best_round(rounds: list[RoundResult]) -> RoundResult:
    """The round whose rows the discriminator told apart least (see :func:`rank`)."""
    return min(rounds, key=rank)


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """One line per round of a ``rounds.json`` document, for the end of a run."""
    out = []
    for r in doc["rounds"]:
        acc = "not scored" if r["accuracy"] is None else f"discriminator accuracy {r['accuracy']:.3f}"
        out.append(f"mallm_gan {doc['step']!r} round {r['round']}: {acc}, {r['valid']} valid / {r['invalid']} invalid rows"
                   + (" (best)" if r["round"] == doc["best_round"] else ""))
    return out


def write_record(folder: Path, record: RoundsRecord, best_prompt: str) -> None:
    """``rounds.json``, ``rounds.md`` and ``best_prompt.txt`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "rounds.json", orjson.dumps(record.to_dict(), option=orjson.OPT_INDENT_2, default=str))
    atomic_write_text(folder / "rounds.md", "\n".join(record.markdown()) + "\n")
    atomic_write_text(folder / "best_prompt.txt", best_prompt)
