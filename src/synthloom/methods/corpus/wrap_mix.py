"""WRAP's mix: real and rephrased text written together at a ratio of tokens, with a manifest.

Maini et al. 2024 (*Rephrasing the Web*, arXiv:2401.16380) pre-train on real C4 text and its
rephrasings sampled 1:1; :class:`WrapMix` (``type: wrap_mix``) writes that mixture as rows. Each input
row is a chunk holding its real text (``real``, default ``text``) and one or more rephrasings
(``synthetic``, default ``rephrased``); out come one row per text that goes in — ``text``, ``kind``
(``real`` or ``synthetic``), ``source_column``, ``tokens``, ``truncated``, ``chunk_id``, ``doc_id``,
``chunk_index`` — so that real tokens make ``real_fraction`` of the tokens written (0.5 is 1:1).

How the texts are chosen: the scarcer kind goes in whole; texts of the other kind are taken in an
order fixed by ``seed`` (a hash of each text's id, so no part of the corpus is favoured) while they
fit the target; then, with ``trim``, the first text that did not fit is cut at a word boundary to
fill what is left, so the achieved ratio is within a word's tokens of the target. A row none of whose
texts went in is a rejected row saying so. Tokens are counted with ``tokenizer`` (as the ``chunk``
step does) on the texts as written.

The manifest (``manifest``, a JSON file in the run directory) lists every chunk that went in, by
document, with its real and synthetic tokens, and the totals, target and achieved ratio.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import xxhash

from ...io.chunking import chunk_spans
from ...io.rundir import atomic_write_text
from ...io.text_tokenizers import TextTokenizer, load_tokenizer, tokenizer_problem
from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from ...records import ID, LINEAGE, add_lineage, derive_id
from .wrap import CITATION

MIX_COLUMNS = ("kind", "source_column", "tokens", "truncated", "chunk_id", "doc_id", "chunk_index")


@dataclass(frozen=True, slots=True)
class MixPlan:
    """Which texts go in: ``take[key]`` is the token budget of text ``key`` (its full count, or less where
    it is trimmed); keys are ``(row number, column)``."""

    take: dict[tuple[int, str], int]
    real_target: float
    synthetic_target: float


def plan_mix(real: dict[tuple[int, str], int], synthetic: dict[tuple[int, str], int], real_fraction: float,
             order_key: Any, trim: bool = True) -> MixPlan:
    """Choose texts so that real tokens are ``real_fraction`` of all tokens (see the module doc).
    ``order_key(key)`` orders the texts of the abundant kind."""
    real_total, synthetic_total = sum(real.values()), sum(synthetic.values())
    if not real_total or not synthetic_total:
        return MixPlan({}, 0.0, 0.0)
    if real_total / (real_total + synthetic_total) >= real_fraction:  # real text is abundant
        whole, partial = synthetic, real
        target = synthetic_total * real_fraction / (1 - real_fraction)
        targets = (target, float(synthetic_total))
    else:
        whole, partial = real, synthetic
        target = real_total * (1 - real_fraction) / real_fraction
        targets = (float(real_total), target)
    take = dict(whole)
    filled, first_left_out = 0, None
    for key in sorted(partial, key=order_key):
        tokens = partial[key]
        if filled + tokens <= target:
            take[key] = tokens
            filled += tokens
        elif first_left_out is None:
            first_left_out = key
    gap = int(target - filled)
    if trim and first_left_out is not None and gap > 0:
        take[first_left_out] = gap
    return MixPlan(take, *targets)


class WrapMix(GlobalStep):
    """Writes real text (column ``real``) and its rephrasings (columns ``synthetic``) as separate rows
    so real tokens are ``real_fraction`` of the tokens (0.5 = 1:1), with a JSON manifest in the run
    directory (``manifest``); see the module doc for how texts are chosen."""

    type_name = "wrap_mix"

    def __init__(self, name: str, *, real: str = "text", synthetic: list[str] | str = "rephrased", real_fraction: float = 0.5,
                 tokenizer: str = "embedded", output: str = "text", trim: bool = True, seed: int = 0,
                 manifest: str = "mix_manifest.json", **kwargs: Any) -> None:
        synthetic_columns = [synthetic] if isinstance(synthetic, str) else list(synthetic)
        if not synthetic_columns or real in synthetic_columns:
            raise ValueError(f"synthetic must name one or more columns other than real ({real!r}), not {synthetic!r}")
        if not 0 < real_fraction < 1:
            raise ValueError(f"real_fraction must be between 0 and 1 (0.5 is 1:1 real:synthetic), not {real_fraction!r}")
        if (problem := tokenizer_problem(tokenizer)) is not None:
            raise ValueError(problem)
        if not manifest or Path(manifest).name != manifest or manifest.startswith("."):
            raise ValueError(f"manifest must be a plain file name (written in the run directory), not {manifest!r}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=[real, *synthetic_columns], writes=[output, *MIX_COLUMNS], **kwargs)
        self.real, self.synthetic, self.real_fraction = real, synthetic_columns, real_fraction
        self.tokenizer_spec, self.output, self.trim, self.seed, self.manifest = tokenizer, output, trim, seed, manifest
        self.last_manifest: dict[str, Any] | None = None

    def output_columns(self, available: set[str]) -> set[str]:
        return {self.output, *MIX_COLUMNS}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "tokenizer_identity": self._tokenizer().identity}

    def _tokenizer(self) -> TextTokenizer:
        return load_tokenizer(self.tokenizer_spec)

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        tokenizer = self._tokenizer()
        with ExitStack() as stack:
            spill = self._spill_file(stack)
            real: dict[tuple[int, str], int] = {}
            synthetic: dict[tuple[int, str], int] = {}
            ids: list[str] = []
            with spill.open("wb") as out:
                for i, row in enumerate(rows):
                    out.write(orjson.dumps(row, default=str) + b"\n")
                    ids.append(str(row.get(ID, i)))
                    for column in (self.real, *self.synthetic):
                        text = row.get(column)
                        if isinstance(text, str) and text.strip():
                            (real if column == self.real else synthetic)[(i, column)] = tokenizer.count(text.strip())

            def order(key: tuple[int, str]) -> int:
                return xxhash.xxh3_64_intdigest(f"{self.seed}\x1f{ids[key[0]]}\x1f{key[1]}".encode())

            plan = plan_mix(real, synthetic, self.real_fraction, order, self.trim)
            manifest = _Manifest(self, plan, real, synthetic)
            with spill.open("rb") as lines:
                for i, line in enumerate(lines):
                    record = orjson.loads(line)
                    made = [row for slot, column in enumerate((self.real, *self.synthetic))
                            if (i, column) in plan.take
                            and (row := self._text_row(record, column, slot, plan.take[(i, column)], tokenizer)) is not None]
                    manifest.add(record, made)
                    if made:
                        yield from made
                    else:
                        yield RejectedRow(record, Rejected(manifest.left_out_reason(i)))
        self.last_manifest = manifest.finish()
        if self.ctx is not None and self.ctx.state_dir is not None:
            atomic_write_text(self.ctx.state_dir.parent / self.manifest,
                              orjson.dumps(self.last_manifest, option=orjson.OPT_INDENT_2))

    def _spill_file(self, stack: ExitStack) -> Path:
        if self.ctx is not None and self.ctx.state_dir is not None:
            return self.ctx.spill_dir / "rows.jsonl"
        return Path(stack.enter_context(tempfile.TemporaryDirectory())) / "rows.jsonl"

    def _text_row(self, record: dict[str, Any], column: str, slot: int, budget: int,
                  tokenizer: TextTokenizer) -> dict[str, Any] | None:
        text = record[column].strip()
        truncated = False
        if budget < tokenizer.count(text):
            spans = chunk_spans(text, tokenizer.token_starts(text), budget)
            if not spans or spans[0].word_split:
                return None  # not one whole word fits what is left
            text, truncated = text[spans[0].char_start:spans[0].char_end], True
        parent = str(record.get(ID, ""))
        row = {self.output: text, "kind": "real" if column == self.real else "synthetic", "source_column": column,
               "tokens": tokenizer.count(text), "truncated": truncated, "chunk_id": parent,
               "doc_id": record.get("doc_id"), "chunk_index": record.get("chunk_index"),
               ID: derive_id(parent, self.name, slot)}
        if record.get(LINEAGE):
            row[LINEAGE] = list(record[LINEAGE])
        add_lineage(row, {"step": self.name, "parent": parent})
        return row


class _Manifest:
    """What went into a mix, gathered while its rows are written."""

    def __init__(self, step: WrapMix, plan: MixPlan, real: dict, synthetic: dict) -> None:
        self.step, self.plan = step, plan
        self.available = {"real": sum(real.values()), "synthetic": sum(synthetic.values())}
        self.tokens = {"real": 0, "synthetic": 0}
        self.documents: dict[str, list[dict[str, Any]]] = {}
        self.rows_in = self.rows_out = self.truncated = 0

    def left_out_reason(self, i: int) -> str:
        if not self.available["real"] or not self.available["synthetic"]:
            kind = "real" if not self.available["real"] else "synthetic"
            return f"no {kind} text reached the mix, so no ratio can be kept (every {kind} text was empty or rejected)"
        return (f"not needed for the mix: real_fraction {self.step.real_fraction} was reached with other texts "
                f"(targets: {self.plan.real_target:.0f} real, {self.plan.synthetic_target:.0f} synthetic tokens)")

    def add(self, record: dict[str, Any], made: list[dict[str, Any]]) -> None:
        self.rows_in += 1
        if not made:
            return
        self.rows_out += len(made)
        entry = {"chunk_id": record.get(ID), "chunk_index": record.get("chunk_index"), "real_tokens": 0, "synthetic": {}}
        for row in made:
            self.tokens[row["kind"]] += row["tokens"]
            self.truncated += row["truncated"]
            if row["kind"] == "real":
                entry["real_tokens"] = row["tokens"]
            else:
                entry["synthetic"][row["source_column"]] = row["tokens"]
            if row["truncated"]:
                entry.setdefault("truncated", []).append(row["source_column"])
        self.documents.setdefault(str(record.get("doc_id", record.get(ID))), []).append(entry)

    def finish(self) -> dict[str, Any]:
        real, synthetic = self.tokens["real"], self.tokens["synthetic"]
        f = self.step.real_fraction
        target_ratio = f / (1 - f)
        achieved = real / synthetic if synthetic else None
        return {
            "step": self.step.name, "tokenizer": self.step.tokenizer_spec,
            "real_column": self.step.real, "synthetic_columns": self.step.synthetic,
            "target_real_fraction": f, "target_real_to_synthetic": target_ratio,
            "achieved_real_fraction": real / (real + synthetic) if real + synthetic else None,
            "achieved_real_to_synthetic": achieved,
            "ratio_error": abs(achieved / target_ratio - 1) if achieved else None,
            "tokens": {"real": real, "synthetic": synthetic, "real_available": self.available["real"],
                       "synthetic_available": self.available["synthetic"]},
            "rows": {"chunks_in": self.rows_in, "chunks_used": sum(map(len, self.documents.values())),
                     "rows_written": self.rows_out, "truncated": self.truncated},
            "documents": [{"doc_id": doc, "chunks": chunks} for doc, chunks in self.documents.items()],
        }
