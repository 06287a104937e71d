"""MALLM-GAN: an LLM as the generator of a GAN-like loop over a small real table.

Ling, Jiang & Kim 2024, "MALLM-GAN: Multi-Agent Large Language Model as Generative Adversarial Network for
Synthesizing Tabular Data" (arXiv:2406.10521; Findings of ACL 2026). The generator is an LLM prompted with
the data-generation process — a description of the table, its columns, a causal structure learnt from the
real rows — plus instructions and a few real rows; a classical classifier (the discriminator) learns to tell
its rows from real ones; an optimizer LLM reads the history of (instructions, discriminator accuracy) pairs
and the latest round's mistakes and writes better instructions (optimisation by prompting, OPRO: Yang et al.
2023). After the last round the best round's instructions and rows are kept.

Here, per round: ``rows_per_round`` concurrent generator calls, each with ``few_shot`` real training rows and
the row's JSON schema (a grammar on llama.cpp), every reply validated against the table's schema; the
discriminator (:mod:`.mallm_gan_discriminator`) scores the valid rows; the optimizer rewrites the
instructions. The output is the best round's rows followed by rows generated with its instructions until
``rows`` valid rows are out (at most ``3 × rows`` replies); a row that breaks the schema is a rejected row
whose reason is the schema problem. Every round is recorded in ``OUT/mallm_gan/STEP/`` and in the dataset
card. Where this departs from the paper: ``docs/methods/mallm-gan.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import xxhash

from ...llm.structured import JSONParseError, parse_json_text
from ...pipeline.model_step import ModelCalls, chat
from ...pipeline.step import Rejected, RejectedRow
from ...records import ID, add_lineage, derive_id
from ...tabular.generator_step import TableGenerator
from .mallm_gan_rounds import ROUNDS_DIR, GeneratedRow, RoundResult, RoundsRecord, best_round, rank, summary_lines, write_record

if TYPE_CHECKING:
    from ...llm.types import Response
    from ...tabular.schema import ColumnSchema

CITATION = ("Ling, Jiang & Kim 2024, MALLM-GAN: Multi-Agent Large Language Model as Generative Adversarial Network "
            "for Synthesizing Tabular Data, arXiv:2406.10521")
DEFAULT_INSTRUCTIONS = ("Write a realistic new row. Keep every value inside its column's range, follow the relationships "
                        "in the causal structure, and vary the values as much as the real rows do.")
OPTIMIZER_SCHEMA = {"type": "object", "properties": {"instructions": {"type": "string"}}, "required": ["instructions"],
                    "additionalProperties": False}
#: shortest optimizer answer taken as new instructions
MIN_INSTRUCTIONS = 10
#: most replies the final top-up asks for, as a multiple of ``rows``
TOP_UP_FACTOR = 3


class MallmGan(ModelCalls, TableGenerator):
    """MALLM-GAN over the real table ``real`` (see the module doc): ``rounds`` rounds of ``rows_per_round``
    rows (capped by ``-n``), ``few_shot`` real rows per prompt, the optimizer shown the last ``history``
    rounds and ``examples`` rows the discriminator got wrong and right. ``causal``: ``pc`` or ``none``;
    ``optimizer_model`` defaults to ``model``; ``instructions`` are the first round's."""

    type_name = "mallm_gan"
    default_sampling = {"temperature": 0.9, "max_tokens": 384}

    def __init__(self, name: str, *, real: str, rows: int = 100, rounds: int = 3, rows_per_round: int = 10,
                 few_shot: int = 5, description: str = "", instructions: str | None = None, causal: str = "pc",
                 alpha: float = 0.05, history: int = 5, examples: int = 3, optimizer_model: str | None = None,
                 optimizer_temperature: float = 0.7, optimizer_max_tokens: int = 300, holdout: float = 0.2,
                 seed: int = 0, schema: str | None = None, max_categories: int = 20, drop: list[str] | None = None,
                 target: str | None = None, model: str = "default", **sampling: Any) -> None:
        for option, value in (("rounds", rounds), ("rows_per_round", rows_per_round), ("few_shot", few_shot),
                              ("history", history), ("optimizer_max_tokens", optimizer_max_tokens)):
            if value < 1:
                raise ValueError(f"{option} must be at least 1, not {value}")
        if examples < 0:
            raise ValueError(f"examples must be 0 or more, not {examples}")
        if causal not in ("pc", "none"):
            raise ValueError(f"causal must be pc or none, not {causal!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
        models = [model] + ([optimizer_model] if optimizer_model and optimizer_model != model else [])
        TableGenerator.__init__(self, name, real=real, rows=rows, holdout=holdout, seed=seed, schema=schema,
                                max_categories=max_categories, drop=drop, target=target, citations=[CITATION], models=models)
        self._init_model(model, sampling)
        self.rounds, self.rows_per_round, self.few_shot = rounds, rows_per_round, few_shot
        self.description, self.first_instructions = description.strip(), (instructions or DEFAULT_INSTRUCTIONS).strip()
        self.causal, self.alpha, self.history, self.examples = causal, alpha, history, examples
        self.optimizer_model = optimizer_model or None
        self.optimizer_temperature, self.optimizer_max_tokens = optimizer_temperature, optimizer_max_tokens
        self.generate_prompt = self.load_template("mallm_gan_generate.jinja")
        self.generate_system = self.load_template("mallm_gan_generate_system.jinja").strip()
        self.optimize_prompt = self.load_template("mallm_gan_optimize.jinja")
        self.optimize_system = self.load_template("mallm_gan_optimize_system.jinja").strip()
        self.last_record: RoundsRecord | None = None

    # -- the loop -----------------------------------------------------------------------------
    async def aread(self, limit: int | None = None) -> AsyncIterator[dict[str, Any] | RejectedRow]:  # type: ignore[override]
        from .mallm_gan_causal import CausalStructure, learn_structure
        from .mallm_gan_discriminator import copies, discriminate

        table = self.prepare()
        wanted = self.count(limit) or 0
        if wanted == 0:
            return
        schema, loop = table.schema, asyncio.get_running_loop()
        structure = (await loop.run_in_executor(None, lambda: learn_structure(table.train, table.schema, alpha=self.alpha,
                                                                               seed=self.seed))
                     if self.causal == "pc" else CausalStructure(method="none", note="switched off (causal: none)"))
        context = {"description": self.description, "columns": [column_line(c) for c in schema.columns],
                   "causal": structure.lines()}
        real = [self.finish_row(r) for r in table.train.to_dict(orient="records")]
        order = _rng(self.seed, "discriminator").permutation(len(real))
        real_for_discriminator = [real[i] for i in order]
        per_round = min(self.rows_per_round, wanted)
        rounds: list[RoundResult] = []
        instructions = self.first_instructions
        for number in range(1, self.rounds + 1):
            rows = await self.generate_rows(context, real, instructions, f"round{number}", per_round)
            valid = [g.values for g in rows if g.valid and g.values is not None]
            verdict = await loop.run_in_executor(None, lambda v=valid, n=number: discriminate(
                real_for_discriminator, v, schema, seed=self.seed + n, examples=self.examples))
            rounds.append(RoundResult(number, instructions, rows, verdict, copies=copies(real, valid, schema)))
            if number < self.rounds:
                instructions = await self.optimize(context, rounds, real)
        best = best_round(rounds)
        record = RoundsRecord(self.name, rounds, best, structure.to_dict())
        self.last_record = record
        self._write(record, context, real, best)
        emitted, valid_out, calls = 0, 0, 0
        for g in best.rows:
            if valid_out >= wanted:
                break
            yield self.emit(g, emitted)
            emitted, valid_out = emitted + 1, valid_out + g.valid
        batch = 0
        while valid_out < wanted and calls < TOP_UP_FACTOR * wanted:
            batch += 1
            count = min(wanted - valid_out, per_round, TOP_UP_FACTOR * wanted - calls)
            for g in await self.generate_rows(context, real, best.instructions, f"final{batch}", count):
                yield self.emit(g, emitted)
                emitted, valid_out, calls = emitted + 1, valid_out + g.valid, calls + 1
        record.final = {"emitted": emitted, "valid": valid_out, "invalid": emitted - valid_out, "top_up_calls": calls}
        self._write(record, context, real, best)

    async def generate_rows(self, context: dict[str, Any], real: list[dict[str, Any]], instructions: str, tag: str,
                            count: int) -> list[GeneratedRow]:
        """``count`` concurrent generator calls with ``instructions`` (``tag`` names the round in seeds and lineage)."""
        schema = self.schema
        row_schema = schema.json_schema()

        async def one(slot: int) -> GeneratedRow:
            messages = chat(self.generator_prompt(context, real, instructions, tag, slot), system=self.generate_system)
            response, entry = await self.call_constrained({}, messages, json_schema=row_schema, salt=f"{self.seed}\x1f{tag}\x1f{slot}",
                                                          lineage={"role": "generator", "round": tag})
            value, problem = reply_object(response)
            if value is None:
                return GeneratedRow(None, [problem], response.text or "", entry)
            coerced = schema.coerce_row(value)
            problems = schema.validate_row(coerced)
            if problems and problem:
                problems.insert(0, problem)
            return GeneratedRow(self.finish_row(coerced) if not problems else coerced, problems, response.text or "", entry)

        return list(await asyncio.gather(*(one(slot) for slot in range(count))))

    def generator_prompt(self, context: dict[str, Any], real: list[dict[str, Any]], instructions: str, tag: str,
                         slot: int) -> str:
        """The generator's prompt for one call: the context, ``instructions`` and ``few_shot`` real rows drawn for it."""
        rng = _rng(self.seed, tag, slot)
        picks = rng.choice(len(real), size=min(self.few_shot, len(real)), replace=False)
        examples = [_json(real[int(i)]) for i in picks]
        return self.render(self.generate_prompt, {**context, "instructions": instructions, "examples": examples})

    async def optimize(self, context: dict[str, Any], rounds: list[RoundResult], real: list[dict[str, Any]]) -> str:
        """The optimizer's new instructions after the latest round (the best so far when its answer is unusable)."""
        latest = rounds[-1]
        shown = sorted(rounds, key=rank, reverse=True)[-self.history:]  # worst first, best last (OPRO)
        view = {**context, "history": [{"instructions": r.instructions, "score": f"{r.score:.3f}"} for r in shown],
                "latest": {"valid": len(latest.valid_rows), "invalid": len(latest.invalid), "reasons": latest.reasons(),
                           "copies": latest.copies,
                           "passed": [_json(e["row"]) for e in latest.verdict.passed_as_real],
                           "caught": [_json(e["row"]) for e in latest.verdict.caught]},
                "real": [_json(real[int(i)]) for i in _rng(self.seed, "contrast", latest.round).choice(
                    len(real), size=min(2, len(real)), replace=False)]}
        messages = chat(self.render(self.optimize_prompt, view), system=self.optimize_system)
        fallback = best_round(rounds).instructions
        response, _ = await self.call_constrained({}, messages, json_schema=OPTIMIZER_SCHEMA, model=self.optimizer_model,
                                                  salt=f"{self.seed}\x1foptimize{latest.round}",
                                                  temperature=self.optimizer_temperature, max_tokens=self.optimizer_max_tokens,
                                                  lineage={"role": "optimizer", "round": f"round{latest.round}"})
        value, problem = reply_object(response)
        text = " ".join(str((value or {}).get("instructions") or "").split())
        if len(text) < MIN_INSTRUCTIONS:
            latest.optimizer_note = (f"optimizer reply unusable ({problem or f'{len(text)} characters of instructions'}); "
                                     "kept the best instructions so far")
            text = fallback
        latest.next_instructions = text
        return text

    # -- rows out and records -----------------------------------------------------------------
    def emit(self, g: GeneratedRow, index: int) -> dict[str, Any] | RejectedRow:
        """A generated row as the run keeps it: a row, or a rejected row whose reason is the schema problem."""
        row = dict(g.values or {})
        if g.values is None:
            row["reply"] = g.raw
        row[ID] = derive_id("", self.name, index)
        add_lineage(row, g.lineage)
        if g.valid:
            return row
        return RejectedRow(row, Rejected("schema: " + "; ".join(g.problems[:5])
                                         + (f" (+{len(g.problems) - 5} more)" if len(g.problems) > 5 else "")))

    def rounds_dir(self) -> Path | None:
        """``OUT/mallm_gan/STEP`` of the run (``None`` outside a run)."""
        state = self.ctx.state_dir if self.ctx is not None else None
        return Path(state).parent / ROUNDS_DIR / self.name if state is not None else None

    def _write(self, record: RoundsRecord, context: dict[str, Any], real: list[dict[str, Any]], best: RoundResult) -> None:
        folder = self.rounds_dir()
        if folder is not None:
            prompt = self.generator_prompt(context, real, best.instructions, f"round{best.round}", 0)
            write_record(folder, record, f"# system\n{self.generate_system}\n\n# user (round {best.round}, call 0)\n{prompt}\n")

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        path = out / ROUNDS_DIR / self.name / "rounds.json"
        if path.is_file():
            for line in summary_lines(orjson.loads(path.read_bytes())):
                log(line)


def column_line(c: ColumnSchema) -> str:
    """One column as the prompts describe it: name, type, range or categories (with shares), nulls, target."""
    if c.type in ("integer", "number"):
        what = "whole number" if c.type == "integer" else "number"
        if c.min is not None and c.max is not None:
            what += f" from {c.min} to {c.max}"
        if c.type == "number" and c.decimals is not None:
            what += f" ({c.decimals} decimal{'' if c.decimals == 1 else 's'})"
    elif c.type == "categorical":
        shares = c.categories or {}
        what = "one of " + ", ".join(f"{_json(k)} ({v:.0%})" for k, v in list(shares.items())[:30])
    elif c.type == "boolean":
        what = "true or false"
    elif c.type == "datetime":
        what = f"{'date' if c.format == 'date' else 'date-time'} (ISO)" + (f" from {c.min} to {c.max}" if c.min and c.max else "")
    else:
        what = "text" + (f" of at most {c.max_length} characters" if c.max_length else "")
    if c.nullable:
        what += f", may be null ({c.null_share:.0%} of rows)"
    if c.target:
        what += ", the column a model would predict"
    return f"{c.name}: {what}" + (f" — {c.description}" if c.description else "")


def reply_object(response: Response) -> tuple[dict[str, Any] | None, str]:
    """The JSON object of a constrained reply (read leniently when the schema did not hold) and what was off."""
    truncated = bool(response.choices) and response.choices[0].finish_reason == "length"
    note = "the reply hit max_tokens" if truncated else ""
    if isinstance(response.parsed, dict):
        return response.parsed, note
    try:
        value = parse_json_text(response.text or "", expect="object")
    except JSONParseError:
        return None, note or f"the reply holds no JSON object: {(response.text or '').strip()[:80]!r}"
    if not isinstance(value, dict):
        return None, note or "the reply is JSON but not an object"
    return value, note


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _rng(*parts: Any) -> Any:
    from ...tabular.errors import need

    seed = xxhash.xxh64_intdigest("\x1f".join(map(str, parts)).encode())
    return need("numpy").random.default_rng(seed)
