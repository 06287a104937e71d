"""Arena Learning's data products and ratings, from the battle rows of ``arena_battles``.

Luo et al. 2024, *Arena Learning*, arXiv:2407.10627, §2.3 and §3 (thresholds):

* ``arena_data`` with ``emit: sft`` keeps the battles the ``target`` model lost and makes an SFT row
  of the prompt and the *winner's* answer (``response``, ``response_model``) — the data that
  "highlights the weaknesses of the target model"; ``emit: pairs`` makes a DPO pair of every
  decided battle (chosen = the winner's answer, ``pair_rule`` ``arena_winner``; with ``target``
  only battles it fought). A battle whose score gap (winner − loser, mean of the games, 1–10
  scale) is below ``min_gap`` is rejected: the paper's best thresholds are 3.0 for SFT and 2.0 for
  DPO in the first iteration (its Figure 5), the defaults here. Ties — including battles whose two
  orders disagreed — never make data. Every battle not kept is a rejected row saying why.
* ``arena_ratings`` passes rows through; after the run it reads every battle row of the run
  (``data/`` and ``rejected/``: kept and rejected battles alike) and writes ``OUT/arena_ratings.json``
  (:func:`synthloom.curate.ratings.rating_table`: Bradley–Terry and online Elo ratings with
  bootstrap 95% intervals and each model's wins, losses and ties) and logs the table. The paper
  computes Bradley–Terry "Elo" with 100 bootstraps (the median is the rating) and anchors
  Llama-2-70B-Chat at 1100 (``anchor``, ``anchor_rating``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ...curate.ratings import OUTCOMES, TIE_RULES, Battle, rating_table
from ...io.shards import atomic_write, read_shards
from ...pipeline.step import MapStep, Rejected
from ...records import ID
from .arena import CITATION
from .pair_row import PAIR_COLUMNS, pair_row
from .prompt_columns import PromptColumns

EMITS = ("sft", "pairs")
DEFAULT_GAP = {"sft": 3.0, "pairs": 2.0}
BATTLE_READS = ("prompt", "model_a", "model_b", "response_a", "response_b", "score_a", "score_b", "winner")


class ArenaData(MapStep):
    """Turns battle rows into SFT rows (the winner's answer where ``target`` lost) or DPO pairs
    (winner chosen), rejecting ties and battles whose score gap is under ``min_gap``."""

    type_name = "arena_data"

    def __init__(self, name: str, *, emit: str = "sft", target: str | None = None, min_gap: float | None = None,
                 output: str = "response", inputs: list[str] | None = None) -> None:
        where = f"arena_data {name!r}"
        if emit not in EMITS:
            raise ValueError(f"{where}: emit must be 'sft' (the winner's answer where the target lost) or 'pairs' "
                             f"(winner chosen, loser rejected), not {emit!r}")
        if emit == "sft" and not target:
            raise ValueError(f"{where}: emit 'sft' needs `target:` (the model whose lost battles become SFT rows)")
        gap = DEFAULT_GAP[emit] if min_gap is None else min_gap
        if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not 0 <= gap <= 9:
            raise ValueError(f"{where}: min_gap must be a number from 0 to 9 (score points on the 1-10 scale), not {min_gap!r}")
        writes = [output, "response_model"] if emit == "sft" else list(PAIR_COLUMNS)
        super().__init__(name, inputs=inputs or (), reads=BATTLE_READS, writes=writes, citations=[CITATION])
        self.emit, self.target, self.min_gap, self.output = emit, target, float(gap), output

    def map(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:  # type: ignore[override]
        a, b, winner = record.get("model_a"), record.get("model_b"), record.get("winner")
        if self.target is not None and self.target not in (a, b):
            return Rejected(f"the target model {self.target!r} did not fight this battle ({a} vs {b})")
        if winner not in ("a", "b"):
            return Rejected(f"tie between {a} and {b}: no winner (the two orders disagreed or the scores were equal)")
        loser = "b" if winner == "a" else "a"
        won, lost = float(record[f"score_{winner}"]), float(record[f"score_{loser}"])
        if self.emit == "sft" and record[f"model_{winner}"] == self.target:
            return Rejected(f"the target model {self.target!r} won ({won:g} to {lost:g})", score=won - lost)
        if won - lost < self.min_gap:
            return Rejected(f"score gap {won - lost:g} ({won:g} to {lost:g}) is below min_gap {self.min_gap:g}",
                            score=won - lost)
        if self.emit == "sft":
            return {**record, self.output: record[f"response_{winner}"], "response_model": record[f"model_{winner}"]}
        multi_turn = isinstance(record.get("prompt_messages"), list)
        columns = PromptColumns("prompt", "prompt_messages" if multi_turn else None, "system")
        return pair_row(record, columns, chosen=record[f"response_{winner}"], rejected=record[f"response_{loser}"],
                        pair_rule="arena_winner", chosen_score=won, rejected_score=lost,
                        chosen_model=record[f"model_{winner}"], rejected_model=record[f"model_{loser}"])


def battle_rows(out: Path) -> list[Battle]:
    """Every battle row of the run in ``out`` (its ``data/`` and every ``rejected/`` step folder),
    once each (by row id), in id order."""
    seen: dict[str, Battle] = {}
    folders = [out / "data", *sorted(p for p in (out / "rejected").glob("*") if p.is_dir())]
    for folder in folders:
        if not folder.is_dir():
            continue
        for row in read_shards(folder):
            a, b, winner = row.get("model_a"), row.get("model_b"), row.get("winner")
            if isinstance(a, str) and isinstance(b, str) and a != b and winner in OUTCOMES:
                seen.setdefault(str(row.get(ID)), Battle(a, b, winner))
    return [seen[k] for k in sorted(seen)]


def format_table(table: dict[str, Any]) -> list[str]:
    """The ratings as log lines: model, Bradley–Terry rating (95% interval), Elo, record."""
    lines = [f"arena ratings: {table['battles']} battles ({table['ties']} ties)"]
    for row in table["models"]:
        bt, elo = row["bradley_terry"] or {}, row["elo"] or {}
        lines.append(f"  {row['model']}: Bradley-Terry {bt.get('rating', float('nan')):.0f} "
                     f"[{bt.get('ci_low', float('nan')):.0f}, {bt.get('ci_high', float('nan')):.0f}], "
                     f"Elo {elo.get('rating', float('nan')):.0f}; {row['wins']}-{row['losses']}-{row['ties']} (W-L-T)")
    return lines


class ArenaRatings(MapStep):
    """Passes rows through; after the run writes ``OUT/<output>`` (default ``arena_ratings.json``):
    Bradley–Terry and Elo ratings with bootstrap intervals over every battle of the run (see the
    module docstring). Ties count as half a win each (``ties: half``) or not at all (``drop``)."""

    type_name = "arena_ratings"

    def __init__(self, name: str, *, k: float = 4.0, base: float = 1000.0, ties: str = "half", prior: float = 1.0,
                 anchor: str | None = None, anchor_rating: float | None = None, bootstrap: int = 100, seed: int = 0,
                 output: str = "arena_ratings.json", inputs: list[str] | None = None) -> None:
        where = f"arena_ratings {name!r}"
        if ties not in TIE_RULES:
            raise ValueError(f"{where}: ties must be 'half' (half a win each) or 'drop' (left out), not {ties!r}")
        if not k > 0 or prior < 0:
            raise ValueError(f"{where}: k must be > 0 and prior >= 0; got k={k!r}, prior={prior!r}")
        if not isinstance(bootstrap, int) or isinstance(bootstrap, bool) or not 0 <= bootstrap <= 10_000:
            raise ValueError(f"{where}: bootstrap (resamples) must be a whole number from 0 to 10000, not {bootstrap!r}")
        if anchor_rating is not None and anchor is None:
            raise ValueError(f"{where}: anchor_rating needs `anchor:` (the model pinned at that rating)")
        if not isinstance(output, str) or not output or "/" in output or output.startswith("."):
            raise ValueError(f"{where}: output must be a plain file name inside the run folder, not {output!r}")
        super().__init__(name, inputs=inputs or (), citations=[CITATION])
        self.settings = {"k": float(k), "base": float(base), "ties": ties, "prior": float(prior), "anchor": anchor,
                         "anchor_rating": anchor_rating, "rounds": bootstrap, "seed": seed}
        self.output = output

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def table(self, out: Path) -> dict[str, Any]:
        """The ratings table of the run in ``out``."""
        battles = battle_rows(out)
        if self.settings["anchor"] and battles and self.settings["anchor"] not in {m for b in battles for m in (b.model_a, b.model_b)}:
            raise ValueError(f"anchor model {self.settings['anchor']!r} fought no battle in this run")
        return rating_table(battles, **self.settings)

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        table = self.table(Path(out))
        if not table["battles"]:
            log(f"arena_ratings {self.name!r}: no battle rows in data/ or rejected/ — the rows must keep model_a, "
                "model_b and winner (a select step after arena_data must not drop them)")
        with atomic_write(Path(out) / self.output) as f:
            f.write(orjson.dumps(table, option=orjson.OPT_INDENT_2) + b"\n")
        for line in format_table(table):
            log(line)
        log(f"arena ratings: {Path(out) / self.output}")
