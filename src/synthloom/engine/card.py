"""The dataset card (``card.md``): what was made, how, by which models, and which papers."""

from __future__ import annotations

from typing import Any

from ..io.rundir import RunDir


def write_card(rundir: RunDir, pipeline: Any, result: Any, configs: dict, recipe_text: str | None,
               recipe_source: str | None) -> None:
    """Render and atomically write ``card.md`` for a finished (or stopped) run."""
    lines = [f"# {pipeline.name}", ""]
    if pipeline.description:
        lines += [pipeline.description.strip(), ""]
    lines += [
        f"- status: **{result.status}**" + (f" — {result.message}" if result.message else ""),
        f"- rows: {result.rows['data']} in `data/`, {result.rows['rejected']} in `rejected/`, "
        f"{result.rows['errors']} in `errors/`",
        f"- elapsed: {result.elapsed_s:.1f} s" + (f" (resumed {result.resumed_partitions} committed partitions)"
                                                  if result.resumed_partitions else ""),
    ]
    if recipe_source:
        lines.append(f"- recipe: `{recipe_source}`")
    if (rundir.root / "report" / "index.html").is_file():  # made by `synthloom report` or a `report` step
        lines.append("- report: [report/index.html](report/index.html) (plots) and [report/metrics.json](report/metrics.json)")
    if (rundir.root / "evaluation" / "report.html").is_file():  # made by an `evaluate_table` step
        lines.append("- evaluation: [evaluation/report.html](evaluation/report.html) (fidelity, utility, privacy) "
                     "and [evaluation/report.json](evaluation/report.json)")
    lines += ["", "## Load it", "", "```python", "import datasets",
              f'ds = datasets.load_dataset("parquet", data_files="{rundir.data}/*.parquet", split="train")',
              "```", "", "## Models", "", "| name | spec | backend | model |", "|---|---|---|---|"]
    for name, cfg in configs.items():
        lines.append(f"| {name} | `{cfg.spec}` | {cfg.backend} | {cfg.model} |")
    lines += ["", "## Steps", "",
              "Every row a step receives is kept (ok), rejected (with a reason) or an error row: in = ok + rejected + errors.",
              "", "| step | kind | in | ok | out | rejected | errors |", "|---|---|---|---|---|---|---|"]
    kinds = {s.name: s.kind for s in pipeline.steps}
    for name in result.steps:
        c = result.counts.get(name)
        if c is None:
            continue
        lines.append(f"| {name} | {kinds.get(name, '')} | {c.rows_in} | {c.ok} | {c.rows_out} | {c.rejected} | {c.errors} |")
    lines += [""] + _removed_section(result, pipeline)
    for rounds in sorted((rundir.root / "mallm_gan").glob("*/rounds.md")):  # a `mallm_gan` step's rounds
        lines += rounds.read_text(encoding="utf-8").splitlines() + [""]
    for agreement in sorted((rundir.root / "agreement").glob("*.md")):  # a `label_agreement` step's report
        lines += agreement.read_text(encoding="utf-8").splitlines() + [""]
    usage = result.usage
    lines += ["## Token usage", "", "| step | model | requests | cached | errors | prompt tokens | completion tokens | cost |",
              "|---|---|---|---|---|---|---|---|"]
    for row in usage.get("by_step", []):
        lines.append(f"| {row['step']} | {row['model']} | {row['requests']} | {row['cached']} | {row['errors']} | "
                     f"{row['prompt_tokens']} | {row['completion_tokens']} | {row['cost']:.4f} |")
    total = usage.get("total", {})
    if total:
        lines.append(f"| **total** | | {total.get('requests', 0)} | {total.get('cached', 0)} | {total.get('errors', 0)} | "
                     f"{total.get('prompt_tokens', 0)} | {total.get('completion_tokens', 0)} | {total.get('cost', 0):.4f} |")
    citations = pipeline.all_citations()
    if citations:
        lines += ["", "## Methods and citations", ""] + [f"- {c}" for c in citations]
    if recipe_text:
        lines += ["", "## Recipe (resolved)", "", "```yaml", recipe_text.rstrip(), "```"]
    lines += ["", "Generated with [synthloom](https://pypi.org/project/synthloom/).", ""]
    rundir.write_card("\n".join(lines))


def _removed_section(result: Any, pipeline: Any) -> list[str]:
    """Which steps removed rows and why (see :mod:`.run_summary`); nothing when none did."""
    from .run_summary import summarize_run

    try:
        return summarize_run(result, pipeline).card_lines()
    except Exception:  # noqa: BLE001 - an unreadable shard must not cost the run its card
        return []


def add_card_section(rundir: RunDir, lines: list[str]) -> None:
    """Insert a section (Markdown lines, starting with its ``##`` title) before ``## Load it``."""
    try:
        text = rundir.card.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    marker = "## Load it"
    block = "\n".join(lines).rstrip() + "\n\n"
    text = text.replace(marker, block + marker, 1) if marker in text else text.rstrip() + "\n\n" + block
    rundir.write_card(text)
