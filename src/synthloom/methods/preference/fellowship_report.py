"""Side by side: how often the Fellowship configurations (judge, jury, debate) pick the same pair.

Arif et al. 2024 (arXiv:2408.08688) compare the LLM-as-a-Judge, LLMs-as-a-Jury and LLM Debate
evaluator workflows by their agreement (with human labels; here there are none, so with each
other). ``fellowship_evaluate`` computes every configuration on the same calls and writes each
row's ``config_pairs`` ({config: {chosen, rejected, margin} or null on a tie}); after the run,
``fellowship_agreement`` reads the rows that carry them (``data/`` and every ``rejected/`` folder,
once per ``evaluated_id``) and writes ``OUT/<output>`` (default ``fellowship_agreement.json``):

* per configuration: ``prompts`` evaluated, ``pairs`` (prompts where it makes a chosen/rejected
  pair) and ``ties`` (prompts where its scores tie, so no pair);
* per two configurations: ``both`` (prompts where both make a pair), ``same_chosen``,
  ``same_rejected``, ``same_pair`` (counts among ``both``) and ``pair_agreement``
  (``same_pair / both``, ``null`` when ``both`` is 0).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from ...io.shards import atomic_write, read_shards
from ...pipeline.step import MapStep
from .fellowship import CITATION, CONFIGS


def config_rows(out: Path) -> list[dict[str, Any]]:
    """Each evaluated prompt's ``config_pairs`` in the run in ``out``, once per ``evaluated_id``, in id order."""
    seen: dict[str, dict[str, Any]] = {}
    folders = [out / "data", *sorted(p for p in (out / "rejected").glob("*") if p.is_dir())]
    for folder in folders:
        if not folder.is_dir():
            continue
        for row in read_shards(folder):
            pairs, key = row.get("config_pairs"), row.get("evaluated_id")
            if isinstance(pairs, dict) and key is not None:
                seen.setdefault(str(key), pairs)
    return [seen[k] for k in sorted(seen)]


def agreement_table(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The agreement report over rows of ``config_pairs`` (see the module docstring)."""
    rows = list(rows)
    configs = [c for c in CONFIGS if any(c in r for r in rows)]
    per = {c: {"prompts": sum(c in r for r in rows), "pairs": sum(bool(r.get(c)) for r in rows),
               "ties": sum(c in r and not r.get(c) for r in rows)} for c in configs}
    between = {}
    for a, b in itertools.combinations(configs, 2):
        both = [(r[a], r[b]) for r in rows if r.get(a) and r.get(b)]
        same_pair = sum(x["chosen"] == y["chosen"] and x["rejected"] == y["rejected"] for x, y in both)
        between[f"{a}~{b}"] = {"both": len(both), "same_chosen": sum(x["chosen"] == y["chosen"] for x, y in both),
                               "same_rejected": sum(x["rejected"] == y["rejected"] for x, y in both),
                               "same_pair": same_pair, "pair_agreement": same_pair / len(both) if both else None}
    return {"prompts": len(rows), "configs": per, "agreement": between}


def format_agreement(table: dict[str, Any]) -> list[str]:
    """The report as log lines."""
    lines = [f"fellowship: {table['prompts']} prompts evaluated"]
    lines += [f"  {c}: {v['pairs']} pairs, {v['ties']} ties" for c, v in table["configs"].items()]
    for key, v in table["agreement"].items():
        share = "n/a" if v["pair_agreement"] is None else f"{v['pair_agreement']:.0%}"
        lines.append(f"  {key}: same pair on {v['same_pair']} of {v['both']} ({share}), same chosen {v['same_chosen']}, "
                     f"same rejected {v['same_rejected']}")
    return lines


class FellowshipAgreement(MapStep):
    """Passes rows through; after the run writes ``OUT/<output>``: per configuration its pair and tie
    counts, per two configurations how often they pick the same pair (see the module docstring).
    The rows must keep ``config_pairs`` and ``evaluated_id``."""

    type_name = "fellowship_agreement"

    def __init__(self, name: str, *, output: str = "fellowship_agreement.json", inputs: list[str] | None = None) -> None:
        if not isinstance(output, str) or not output or "/" in output or output.startswith("."):
            raise ValueError(f"fellowship_agreement {name!r}: output must be a plain file name inside the run folder, "
                             f"not {output!r}")
        super().__init__(name, inputs=inputs or (), citations=[CITATION])
        self.output = output

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        table = agreement_table(config_rows(Path(out)))
        if not table["prompts"]:
            log(f"fellowship_agreement {self.name!r}: no row keeps config_pairs and evaluated_id — a select step before "
                "it must keep them")
        with atomic_write(Path(out) / self.output) as f:
            f.write(orjson.dumps(table, option=orjson.OPT_INDENT_2) + b"\n")
        for line in format_agreement(table):
            log(line)
        log(f"fellowship agreement: {Path(out) / self.output}")
