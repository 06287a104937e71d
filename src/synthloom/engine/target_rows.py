"""Runs that keep drawing from the sources until N rows are kept (``synthloom run --rows N``).

``-n L`` caps every source at ``L`` records; how many rows survive the filters is known only
afterwards. :func:`run_to_target` runs the pipeline in rounds, each an ordinary run with ``-n L``
into the same run directory, growing ``L`` from the yield seen so far (rows kept per record drawn)
until the dataset holds at least ``rows`` rows, the sources run out, or ``L`` reaches
``max_attempts`` (the most records drawn from each source).

* The dataset is exactly the dataset of ``-n L`` for the last round's ``L``: every row a plain
  run with that ``-n`` keeps, in source order, so it holds *at least* ``rows`` rows. The next
  ``L`` aims at ``rows`` with a 10% margin, so the surplus is a small share of the last round's
  new rows (expansions, which make several rows of one record, can add more); take the first
  ``rows`` rows of ``data/`` when an exact count matters.
* Rounds reuse each other's work: model answers replay from the response cache, and the local
  engine keeps the committed full partitions of source-headed segments whose records are the same
  (see :mod:`.segment_runner`); only new records reach the model.
* Resumable and deterministic: after each round ``.state/rows_target.json`` records its ``L``, rows
  kept and records drawn. A rerun of the same command (killed at any point) picks the schedule up
  where it stopped; as each ``L`` follows from the rounds before it, it ends with the same ``L``
  and so the same rows as an uninterrupted run (given the same model answers: the cache, or a
  deterministic model).

The engine is a parameter (``run=run_pipeline``), so the same rounds drive any engine with that
signature.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import xxhash

from ..io.rundir import RunDir, atomic_write_text
from .run import RunOptions, RunResult, run_pipeline

#: default --max-attempts: this many records drawn per row asked for. A recipe whose filters keep
#: fewer than 1 record in 10 has a step worth looking at before spending more (the end message
#: says which one), and ten times the target bounds the model calls of a try to a known multiple.
ATTEMPTS_PER_ROW = 10
#: the next round aims this much above the estimated number of records needed
MARGIN = 0.1
#: a round draws at most this many times the records of the round before
MAX_GROWTH = 8
#: growth of a round after a round that kept nothing (no yield to estimate from)
BLIND_GROWTH = 4
STATE_FILE = "rows_target.json"

#: why the rounds stopped short of the target
CAP_REACHED = "max attempts reached"
SOURCES_EXHAUSTED = "sources exhausted"


def default_max_attempts(rows: int) -> int:
    """The default cap on records drawn from each source for ``--rows rows``."""
    return rows * ATTEMPTS_PER_ROW


@dataclass
class Round:
    """One round: its source limit, the rows it kept and the records it drew (per source, the most)."""

    limit: int
    kept: int
    drawn: int


@dataclass
class TargetOutcome:
    """The last round's :class:`RunResult` and how the rounds went."""

    result: RunResult
    rows: int
    max_attempts: int
    rounds: list[Round] = field(default_factory=list)
    stopped: str | None = None  # CAP_REACHED or SOURCES_EXHAUSTED when the target was not reached

    @property
    def reached(self) -> bool:
        return self.result.ok and self.result.rows["data"] >= self.rows

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "max_attempts": self.max_attempts, "kept": self.result.rows["data"],
                "reached": self.reached, "stopped": self.stopped,
                "rounds": [{"limit": r.limit, "kept": r.kept, "drawn": r.drawn} for r in self.rounds]}

    def end_message(self) -> str:
        """One line for a run that stopped short of its target: kept, tried, why, what to do."""
        last = self.rounds[-1]
        kept = self.result.rows["data"]
        if self.stopped == SOURCES_EXHAUSTED:
            why = f"the sources ran out after {last.drawn} records"
            fix = "add input records (or a larger source), or loosen the step that removes most"
        else:
            why = f"the cap of {self.max_attempts} records drawn (--max-attempts) was reached"
            fix = "raise --max-attempts, loosen the step that removes most, or use a stronger --model"
        top = self.top_remover()
        most = f"; step {top[0]!r} removed most ({top[1]})" if top else ""
        return (f"--rows {self.rows}: kept {kept} of the {self.rows} rows asked for, from {last.drawn} records tried: "
                f"{why}{most}; fix: {fix}")

    def top_remover(self) -> tuple[str, int] | None:
        """The step that removed most rows (rejected + errors) in the last round, and how many."""
        removed = [(name, c.rejected + c.errors) for name, c in self.result.counts.items() if c.rejected + c.errors]
        return max(removed, key=lambda x: x[1]) if removed else None

    def card_lines(self) -> list[str]:
        lines = ["## Rows target", "",
                 f"Asked for {self.rows} rows (`--rows {self.rows}`, at most {self.max_attempts} records drawn per source); "
                 + (f"kept {self.result.rows['data']}." if self.reached else self.end_message() + "."),
                 "", "| round | -n | records drawn | rows kept |", "|---|---|---|---|"]
        lines += [f"| {i} | {r.limit} | {r.drawn} | {r.kept} |" for i, r in enumerate(self.rounds, 1)]
        lines += ["", f"The rows are exactly those of a run with `-n {self.rounds[-1].limit}`.", ""]
        return lines


def next_limit(rows: int, max_attempts: int, rounds: list[Round]) -> int | None:
    """The source limit of the next round, or None when the rounds are over (target reached,
    sources exhausted or cap reached; :func:`stop_reason` says which)."""
    if not rounds:
        return min(rows, max_attempts)
    last = rounds[-1]
    if stop_reason(rows, max_attempts, rounds) is not None or last.kept >= rows:
        return None
    if last.kept == 0:
        want = last.limit * BLIND_GROWTH
    else:
        records_per_row = last.drawn / last.kept
        want = last.limit + math.ceil((rows - last.kept) * records_per_row * (1 + MARGIN))
        want = min(want, last.limit * MAX_GROWTH)
    return min(max(want, last.limit + 1), max_attempts)


def stop_reason(rows: int, max_attempts: int, rounds: list[Round]) -> str | None:
    """Why the rounds stop short of ``rows`` (None while they go on or once the target is reached)."""
    if not rounds or rounds[-1].kept >= rows:
        return None
    last = rounds[-1]
    if last.drawn < last.limit:
        return SOURCES_EXHAUSTED
    if last.limit >= max_attempts:
        return CAP_REACHED
    return None


def run_to_target(
    build: Callable[[int], tuple[Any, str | None]],
    out: str | os.PathLike[str],
    options: RunOptions,
    *,
    rows: int,
    max_attempts: int | None = None,
    run: Callable[..., RunResult] = run_pipeline,
) -> TargetOutcome:
    """Run rounds of ``run(pipeline, out, options)`` with a growing ``options.limit`` until the
    dataset holds ``rows`` rows (see the module doc). ``build(limit)`` gives the pipeline to run
    with ``-n limit`` and its resolved recipe text (None: the engine describes the pipeline).
    Returns after the first round that does not complete (interrupted, budget), with its result."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    max_attempts = max_attempts or default_max_attempts(rows)
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    out = Path(out)
    state_path = RunDir(out).state / STATE_FILE
    log = options.log
    rounds: list[Round] = []
    fresh = options.fresh
    key = None
    limit = next_limit(rows, max_attempts, rounds)
    result: RunResult | None = None
    while limit is not None:
        pipeline, recipe_text = build(limit)
        if key is None:
            key = _state_key(pipeline, recipe_text, rows, max_attempts, options)
            if not fresh:
                rounds = _load_rounds(state_path, key)
                resumed = next_limit(rows, max_attempts, rounds) if rounds else None
                if rounds:
                    limit = resumed if resumed is not None else rounds[-1].limit
                    log(f"--rows {rows}: resuming after {len(rounds)} round(s); drawing up to {limit} records")
                    pipeline, recipe_text = build(limit)
        round_options = replace(options, limit=limit, fresh=fresh, recipe_text=recipe_text,
                                log=log if result is None else _round_log(log))
        result = run(pipeline, out, round_options)
        fresh = False
        if not result.ok:
            return TargetOutcome(result, rows, max_attempts, rounds)
        done = Round(limit, result.rows["data"], _drawn(result, pipeline))
        if not rounds or rounds[-1].limit != limit:
            rounds.append(done)
        else:
            rounds[-1] = done
        _save_rounds(state_path, key, rounds)
        limit = next_limit(rows, max_attempts, rounds)
        if limit is not None:
            log(f"--rows {rows}: kept {done.kept} from {done.drawn} records; drawing up to {limit} records")
    assert result is not None
    outcome = TargetOutcome(result, rows, max_attempts, rounds, stop_reason(rows, max_attempts, rounds))
    _record_outcome(RunDir(out), outcome)
    return outcome


#: what the engine says when a round starts under a new -n; the rounds say it themselves ("drawing up to ...")
_ROUND_NOISE = ("the recipe or its inputs changed since the last run", "resuming the run in")


def _round_log(log: Callable[[str], None]) -> Callable[[str], None]:
    """The log of a round after the first, without the engine's lines about resuming."""
    return lambda message: None if str(message).startswith(_ROUND_NOISE) else log(message)


def _drawn(result: RunResult, pipeline: Any) -> int:
    """Records drawn from the sources in a round: the most any one source produced."""
    sources = [s.name for s in pipeline.steps if getattr(s, "kind", "") == "source"]
    return max((result.counts[s].rows_out for s in sources if s in result.counts), default=0)


def _state_key(pipeline: Any, recipe_text: str | None, rows: int, max_attempts: int, options: RunOptions) -> str:
    """What the recorded rounds depend on: the recipe (as built for the first round), the target,
    the cap and the run's layout. A different key starts the schedule over."""
    recipe = recipe_text if recipe_text is not None else pipeline.describe()
    return xxhash.xxh3_128_hexdigest(orjson.dumps(
        [recipe, rows, max_attempts, options.partition_size, options.data_format, options.use_cache], default=str))


def _load_rounds(path: Path, key: str) -> list[Round]:
    try:
        state = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    if not isinstance(state, dict) or state.get("key") != key:
        return []
    try:
        return [Round(int(r["limit"]), int(r["kept"]), int(r["drawn"])) for r in state.get("rounds", [])]
    except (KeyError, TypeError, ValueError):
        return []


def _save_rounds(path: Path, key: str | None, rounds: list[Round]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, orjson.dumps({"key": key, "rounds": [r.__dict__ for r in rounds]}))


def _record_outcome(rundir: RunDir, outcome: TargetOutcome) -> None:
    """Add the target to ``run.json`` (``rows_target``) and ``card.md`` (a ``## Rows target`` section)."""
    from .card import add_card_section

    info = rundir.read_run_json()
    if info is not None:
        info["rows_target"] = outcome.to_dict()
        rundir.write_run_json(info)
    add_card_section(rundir, outcome.card_lines())
