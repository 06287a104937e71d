"""Where a run's rows went: which steps removed them, their top reasons, and what to do next.

A run that keeps few rows (none, or under half of what its sources produced) should not end on a
bare count. :func:`summarize_run` reads the per-step counts of a :class:`RunResult` and the
``_reason`` / ``_error`` columns of the rejected and error shards, groups similar reasons (numbers
and quoted text aside) and says where to look; on the embedded model it says that it is a small
demo model and how to point ``--model`` at a real one. The CLI prints :meth:`RunSummary.lines`
at the end of ``synthloom run``; ``card.md`` gets :meth:`RunSummary.card_lines`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: a run "keeps few rows" below this share of the rows its sources produced
FEW_KEPT_SHARE = 0.5
#: reasons read per side output (rejected, errors): enough to rank them, bounded for huge runs
MAX_REASON_ROWS = 200_000

EMBEDDED_HINT = ("the embedded model (SmolLM2-135M) is a small demo model: most of its answers fail the judges "
                 "and filters. Point --model at a real one, e.g. --model openai:MODEL@http://HOST:PORT/v1 "
                 "(any OpenAI-compatible server: vLLM, llama.cpp, Ollama) or --model gguf:/path/model.gguf")


@dataclass
class Removal:
    """Rows one step removed: rejected (with reasons) and error rows (with messages), grouped."""

    step: str
    rejected: int
    errors: int
    reasons: list[tuple[str, int]] = field(default_factory=list)  # (example reason, count), most first

    @property
    def removed(self) -> int:
        return self.rejected + self.errors


@dataclass
class RunSummary:
    """What came in, what was kept, and which steps removed the rest (most first)."""

    out: Path
    came_in: int
    kept: int
    removals: list[Removal]
    embedded: bool

    @property
    def few_kept(self) -> bool:
        return self.came_in > 0 and (self.kept == 0 or self.kept < FEW_KEPT_SHARE * self.came_in)

    def lines(self, top_steps: int = 3, top_reasons: int = 3) -> list[str]:
        """The end-of-run lines (plain text): the steps that removed rows, their top reasons,
        where to look, and the embedded-model hint."""
        share = f"{self.kept / self.came_in:.0%}" if self.came_in else "0%"
        lines = [f"only {self.kept} of the {self.came_in} records the sources produced made it to data/ ({share})"
                 if self.kept else f"no rows were kept: all {self.came_in} records the sources produced were removed"]
        for r in self.removals[:top_steps]:
            what = ", ".join(part for part in (f"{r.rejected} rejected" if r.rejected else "",
                                               f"{r.errors} errors" if r.errors else "") if part)
            lines.append(f"  step {r.step!r} removed {r.removed} ({what}):")
            lines += [f"    {count} × {reason}" for reason, count in r.reasons[:top_reasons]]
        where = []
        if any(r.rejected for r in self.removals):
            where.append(f"synthloom view {self.out} --what rejected")
        if any(r.errors for r in self.removals):
            where.append(f"synthloom view {self.out} --what errors")
        if where:
            lines.append("look at them: " + "   ".join(where))
        if self.embedded:
            lines.append(EMBEDDED_HINT)
        return lines

    def card_lines(self) -> list[str]:
        """The ``## Rows removed`` section of ``card.md`` (Markdown)."""
        if not self.removals:
            return []
        lines = ["## Rows removed", ""]
        if self.few_kept:
            lines += [f"Few rows were kept: {self.kept} of the {self.came_in} records the sources produced.", ""]
        lines += ["| step | rejected | errors | top reasons |", "|---|---|---|---|"]
        for r in self.removals:
            reasons = "<br>".join(f"{count} × {_cell(reason)}" for reason, count in r.reasons[:3])
            lines.append(f"| {r.step} | {r.rejected} | {r.errors} | {reasons} |")
        lines += ["", "See them with `synthloom view RUN --what rejected` (and `--what errors`)."]
        if self.embedded and self.few_kept:
            lines += ["", EMBEDDED_HINT[0].upper() + EMBEDDED_HINT[1:] + "."]
        return lines + [""]


def summarize_run(result: Any, pipeline: Any) -> RunSummary:
    """The summary of a finished run (a :class:`~synthloom.engine.run.RunResult`) of ``pipeline``."""
    out = Path(result.out)
    sources = [s.name for s in pipeline.steps if getattr(s, "kind", "") == "source"]
    came_in = sum(result.counts[s].rows_out for s in sources if s in result.counts)
    reasons = _read_reasons(out)
    removals = []
    for name in result.steps:
        c = result.counts.get(name)
        if c is None or not (c.rejected or c.errors):
            continue
        removals.append(Removal(name, c.rejected, c.errors, reasons.get(name, [])))
    removals.sort(key=lambda r: -r.removed)
    return RunSummary(out=out, came_in=came_in, kept=result.rows.get("data", 0), removals=removals,
                      embedded=uses_embedded_model(pipeline))


def uses_embedded_model(pipeline: Any) -> bool:
    """Whether a step of ``pipeline`` calls the embedded demo model."""
    used = {m for s in pipeline.steps for m in s.models} | {m for s in pipeline.steps for b in s.substeps() for m in b.models}
    configs = getattr(pipeline, "model_configs", {})
    return any(getattr(configs.get(m), "spec", None) == "embedded" or getattr(configs.get(m), "model", None) == "embedded"
               for m in used)


# -- reading and grouping reasons -------------------------------------------------------------------
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def reason_group(reason: str) -> str:
    """The key under which similar reasons count together: quoted text and numbers blanked out,
    whitespace collapsed, cut to 160 characters."""
    text = _QUOTED.sub("'…'", str(reason))
    text = _NUMBER.sub("#", text)
    return _SPACE.sub(" ", text).strip()[:160]


def group_reasons(reasons: list[str]) -> list[tuple[str, int]]:
    """``(example, count)`` per group of similar reasons, most frequent first; the example is
    the group's first reason (cut to 160 characters), marked ``(and similar)`` when they differ."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    varied: set[str] = set()
    for reason in reasons:
        text = _SPACE.sub(" ", str(reason or "(no reason given)")).strip()
        key = reason_group(text)
        counts[key] += 1
        if key not in first:
            first[key] = text
        elif first[key] != text:
            varied.add(key)
    out = []
    for key, count in counts.most_common():
        example = first[key] if len(first[key]) <= 160 else first[key][:159] + "…"
        out.append((example + (" (and similar)" if key in varied else ""), count))
    return out


def _read_reasons(out: Path) -> dict[str, list[tuple[str, int]]]:
    """``{step: grouped reasons}`` from ``rejected/*`` (``_rejected_by``, ``_reason``) and
    ``errors/*`` (``_step``, ``_error``) of the run directory."""
    by_step: dict[str, list[str]] = {}
    for folder, step_col, reason_col in ((out / "rejected", "_rejected_by", "_reason"), (out / "errors", "_step", "_error")):
        read = 0
        for step, reason in _columns(folder, step_col, reason_col):
            by_step.setdefault(str(step), []).append(reason)
            read += 1
            if read >= MAX_REASON_ROWS:
                break
    return {step: group_reasons(reasons) for step, reasons in by_step.items()}


def _columns(folder: Path, step_col: str, reason_col: str):
    """``(step, reason)`` of every row of the shard folders under ``folder`` (two columns read)."""
    import pyarrow.parquet as pq

    from ..io.shards import list_shards, read_shards

    if not folder.is_dir():
        return
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for _, path in list_shards(sub):
            if path.suffix != ".parquet":
                for row in read_shards(sub):
                    yield row.get(step_col), row.get(reason_col)
                break
            try:
                names = set(pq.read_schema(path).names)
                cols = [c for c in (step_col, reason_col) if c in names]
                table = pq.read_table(path, columns=cols).to_pydict()
            except (OSError, ValueError):  # a shard that cannot be read: the counts still tell the story
                continue
            n = len(next(iter(table.values()), []))
            steps = table.get(step_col, [sub.name] * n)
            reasons = table.get(reason_col, [None] * n)
            yield from zip(steps, reasons)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
