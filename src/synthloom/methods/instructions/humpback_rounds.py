"""Humpback's iterative self-curation (Li et al. 2023, "Self-Alignment with Instruction
Backtranslation", arXiv:2308.06259, §2.2 and Algorithm 1).

In the paper the seed model M0 (fine-tuned on seed data) rates every augmented pair with the
5-point prompt; the pairs rated 5, A5(1), together with the seed data fine-tune M1, which rates
the augmented pairs again (A5(2)), and so on: each round's curated set makes the next round's
curator better. synthloom does not fine-tune, so the curated set teaches the curator in context
instead: round 1 shows the seed pairs as examples of perfect answers (what M0 was trained on);
round k+1 shows the best pairs of round k's curated set (highest score, ties drawn reproducibly),
never the pair being rated itself. Every pair is rated again in every round with the paper's
prompt (``humpback_curate.jinja``, verbatim); a pair is kept when its last round's score reaches
``min_score``. Each row keeps its score of every round (``round_scores``).

:class:`HumpbackSelfCuration` (``type: humpback_self_curation``) is a global step: a round needs
the whole of the previous round's curated set. Rows are spilled to a file once and read back per
round; memory holds the scores and the few examples.
"""

from __future__ import annotations

import asyncio
import heapq
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from ...curate.judges.constrained import constrained_value, verdict_schema
from ...io.row_spill import read_rows, row_chunks, write_rows
from ...pipeline.model_step import ModelCalls, chat
from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from ...records import ID, add_lineage
from .humpback import CITATION, WEB_TAG, load_examples
from .samplers import stable_int
from .taxonomy_parsing import parse_score, score_explanation

#: rows rated at once (the model's own limits bound what is in flight)
CHUNK = 64


def read_rating(text: str, schema: dict[str, Any]) -> tuple[int | None, str]:
    """``(score, reasoning)`` of one curation reply: the constrained JSON object, else the paper's
    free-text ``Score: N`` (``None`` when there is none)."""
    value = constrained_value(text, schema)
    if isinstance(value, dict):
        return value["score"], str(value.get("reasoning") or "").strip()
    return parse_score(text or "", range(1, 6)), score_explanation(text or "")


class HumpbackSelfCuration(ModelCalls, GlobalStep):
    """Iterative self-curation over ``rounds`` rounds (see the module doc): rates every
    (``instruction``, ``output``) pair with the paper's 5-point prompt, showing ``n_examples``
    examples of perfect answers in the system message — the seed pairs (``examples``) in round 1,
    the best pairs of the previous round's curated set (score >= ``min_score``) after it; a round
    whose curated set is empty keeps the previous examples. Keeps the pairs whose last score is >=
    ``min_score``. Writes ``score`` (last round), ``round_scores`` (every round; ``None`` where the
    reply held no score), ``curation_reasoning`` and, with ``source_tag``, ``system`` = the paper's
    tag for augmented data. Example outputs are cut to ``max_example_chars``."""

    type_name = "humpback_self_curation"
    default_sampling = {"temperature": 0.0, "max_tokens": 256}

    def __init__(self, name: str, *, rounds: int = 2, min_score: float = 5, examples: list[dict[str, str]] | str | None = None,
                 n_examples: int = 2, max_example_chars: int = 600, source_tag: bool = True, model: str = "default",
                 inputs: list[str] | None = None, **sampling: Any) -> None:
        if int(rounds) < 1:
            raise ValueError(f"humpback_self_curation {name!r}: rounds must be >= 1, not {rounds}")
        if not 1 <= float(min_score) <= 5:
            raise ValueError(f"humpback_self_curation {name!r}: min_score must be between 1 and 5, got {min_score}")
        if int(n_examples) < 0 or int(max_example_chars) < 1:
            raise ValueError(f"humpback_self_curation {name!r}: n_examples must be >= 0 and max_example_chars >= 1")
        GlobalStep.__init__(self, name, inputs=inputs or (), reads=["instruction", "output"],
                            writes=["score", "round_scores", "curation_reasoning"] + (["system"] if source_tag else []),
                            citations=[CITATION], models=[model])
        self._init_model(model, sampling)
        self.rounds, self.min_score, self.n_examples = int(rounds), float(min_score), int(n_examples)
        self.max_example_chars, self.source_tag = int(max_example_chars), bool(source_tag)
        self.seed_examples = [{**e, "score": 5} for e in load_examples(examples)]
        self.prompt = self.load_template("humpback_curate.jinja").rstrip("\n")
        self.system = self.load_template("humpback_curate_examples.jinja").strip()
        self.schema = verdict_schema("score", (1, 5), reason_key="reasoning", max_tokens=self.sampling.get("max_tokens"))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "examples": self.seed_examples}  # the seed pairs a file option names

    def messages(self, record: dict[str, Any], examples: list[dict[str, Any]], round_no: int) -> list[dict[str, str]]:
        """The round's request for ``record``: the examples (not the record itself) as the system
        message, the paper's prompt as the user message."""
        shown = [{**e, "output": _cut(e["output"], self.max_example_chars)}
                 for e in examples if e.get(ID) is None or e.get(ID) != record.get(ID)][:self.n_examples]
        user = self.render(self.prompt, {"instruction": record["instruction"], "output": record["output"]})
        system = self.render(self.system, {"examples": shown, "round": round_no}).strip() if shown else None
        return chat(user, system)

    async def rate(self, record: dict[str, Any], examples: list[dict[str, Any]], round_no: int) -> tuple[float | int | None, str, dict]:
        """One rating of ``record`` in round ``round_no``: ``(score or None, reasoning, lineage entry)``;
        with ``n > 1`` samples the score is their mean (the paper's A5 is a mean >= 4.5)."""
        response, entry = await self.call_constrained(record, self.messages(record, examples, round_no), json_schema=self.schema,
                                                      salt=f":round{round_no}", lineage={"round": round_no})
        read = [read_rating(c.text or "", self.schema) for c in response.choices]
        valid = [(s, why) for s, why in read if s is not None]
        if not valid:
            return None, "", entry
        score = valid[0][0] if len(read) == 1 else sum(s for s, _ in valid) / len(valid)  # n > 1: the mean
        return score, valid[0][1], entry

    def run(self, rows: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any] | RejectedRow]:  # type: ignore[override]
        return self._rounds(rows)

    async def _rounds(self, rows: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any] | RejectedRow]:
        loop = asyncio.get_running_loop()
        folder = self.ctx.spill_dir if self.ctx is not None and self.ctx.state_dir is not None else Path(tempfile.mkdtemp())
        spill = folder / "pairs.jsonl"
        await loop.run_in_executor(None, write_rows, rows, spill)
        scores: dict[str, list[float | int | None]] = {}
        reasons: dict[str, str] = {}
        lineage: dict[str, list[dict]] = {}
        examples = list(self.seed_examples)
        for round_no in range(1, self.rounds + 1):
            best: list[tuple[float, int, str, dict[str, Any]]] = []  # a min-heap of the round's best pairs
            chunks = row_chunks(spill, CHUNK)
            while chunk := await loop.run_in_executor(None, next, chunks, None):
                rated = await asyncio.gather(*(self.rate(r, examples, round_no) for r in chunk))
                for r, (score, why, entry) in zip(chunk, rated):
                    scores.setdefault(r[ID], []).append(score)
                    reasons[r[ID]] = why
                    lineage.setdefault(r[ID], []).append(entry)
                    if score is not None and score >= self.min_score:
                        key = (score, -(stable_int(r[ID], self.name, round_no) >> 1), r[ID])
                        item = (*key, {ID: r[ID], "instruction": r["instruction"], "output": r["output"], "score": score})
                        (heapq.heappush if len(best) <= self.n_examples else heapq.heappushpop)(best, item)
            if best:  # one more than shown: a pair is never its own example
                examples = [item[-1] for item in sorted(best, reverse=True)]
        for r in read_rows(spill):
            for entry in lineage.get(r[ID], []):
                add_lineage(r, entry)
            history = scores.get(r[ID], [])
            last = history[-1] if history else None
            if last is None:
                yield RejectedRow(r, Rejected(f"no 'Score: 1-5' in the round-{self.rounds} self-curation reply"))
            elif last < self.min_score:
                yield RejectedRow({**r, "round_scores": history},
                                  Rejected(f"self-curation score {last:g} < {self.min_score:g} (round {self.rounds})", float(last)))
            else:
                out = {**r, "score": last, "round_scores": history, "curation_reasoning": reasons.get(r[ID], "")}
                yield {**out, "system": WEB_TAG} if self.source_tag else out
        spill.unlink(missing_ok=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
