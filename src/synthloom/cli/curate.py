"""Curation commands on any JSONL/Parquet/CSV/HF folder (or a run directory's data): dedup,
decontaminate, judge, metrics, report.

``dedup``, ``decontaminate`` and ``judge`` build a two-step pipeline (``load`` the file → the curation
step, looked up by its recipe ``type:`` in the registry) and run it with the engine, so they write a
normal run directory: kept rows in ``data/`` with their ids, removed rows in ``rejected/`` with the
reason, ``run.json``, ``card.md``, and a ``recipe.lock.yaml`` that ``synthloom run`` can rerun.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from .main import (
    _check_format,
    _fail,
    _progress_log,
    _run_and_report,
    app,
    format_option,
    fresh_option,
    out,
    quiet_option,
)

DEDUP_TYPES = {"exact": "dedup_exact", "minhash": "dedup_minhash", "semantic": "dedup_semantic"}


# -- inputs -------------------------------------------------------------------------------------------

def _data_path(path: str) -> str:
    """A run directory stands for its ``data/`` folder; anything else is read as it is."""
    p = Path(path)
    if p.is_dir() and (p / "data").is_dir() and ((p / "run.json").is_file() or (p / "card.md").is_file()):
        return str(p / "data")
    return path


def _columns_of(path: str) -> list[str]:
    """The columns of the first record of ``path``; exits 2 with a clear message when unreadable."""
    from ..io.sources import SourceError, read_records

    try:
        first = next(read_records(path, limit=1), [])
    except (SourceError, OSError) as e:
        _fail(str(e))
    if not first:
        _fail(f"{path}: no records")
    return [c for c in first[0] if c != "_lineage"]


def _check_columns(path: str, wanted: list[str], option: str) -> None:
    import difflib

    available = _columns_of(path)
    for col in wanted:
        if col not in available:
            close = difflib.get_close_matches(col, available, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            _fail(f"{path}: no column {col!r}{hint}; available columns: {', '.join(available)}. Pick one with {option}")


# -- building and running a curation pipeline ------------------------------------------------------

def _make_step(type_name: str, name: str, options: dict[str, Any], flag: str, hint: str = "") -> Any:
    """The registered step ``type_name`` built with those of ``options`` it accepts."""
    from ..recipes.registry import STEP_TYPES, step_class, step_options

    if type_name not in STEP_TYPES:
        _fail(f"{flag}: the step type {type_name!r} is not available in this installation")
    cls = step_class(type_name)
    accepted = step_options(cls)
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    if "instruction" in options and "instruction" in accepted:
        kwargs["instruction"] = options["instruction"]  # None means "no instruction column"
    try:
        return cls(name, **kwargs), kwargs
    except (TypeError, ValueError, KeyError) as e:
        _fail(str(e).strip("'\"") + hint)


def _recipe_text(command: str, description: str, source: str, steps: list[tuple[str, str, dict[str, Any]]],
                 models: dict[str, Any] | None) -> str:
    """The equivalent recipe (saved as ``recipe.lock.yaml``: ``synthloom run OUT/recipe.lock.yaml`` reruns it)."""
    recipe: dict[str, Any] = {"name": command, "description": description, "citations": []}
    if models:
        recipe["models"] = dict(models)
    recipe["steps"] = [{"name": "input", "type": "load", "path": str(Path(source).resolve())}]
    for name, type_name, kwargs in steps:
        recipe["steps"].append({"name": name, "type": type_name, **kwargs})
    return yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True, width=100)


def _run(command: str, description: str, source: str, steps: list[tuple[str, str, Any, dict[str, Any]]],
         output: Path | None, models: dict[str, Any] | None, fresh: bool, fmt: str, quiet: bool,
         recipe_models: dict[str, Any] | None = None) -> Path:
    from ..engine.run import RunOptions
    from ..pipeline.pipeline import Pipeline, PipelineError
    from ..steps.load import LoadStep

    _check_format(fmt)
    out_dir = output or Path("runs") / f"{command}-{Path(source.rstrip('/')).name.split('.')[0] or 'data'}"
    try:
        pipeline = Pipeline(steps=[LoadStep("input", path=source), *(s for _, _, s, _ in steps)],
                            models=models or {}, name=command, description=description)
    except PipelineError as e:
        _fail(str(e))
    options = RunOptions(
        fresh=fresh, data_format=fmt, progress="quiet" if quiet else "auto",
        recipe_text=_recipe_text(command, description, source, [(n, t, k) for n, t, _, k in steps], recipe_models),
        recipe_source=f"synthloom {command}", log=_progress_log(quiet),
    )
    _run_and_report(pipeline, out_dir, options, quiet)
    return out_dir


# -- commands -------------------------------------------------------------------------------------

@app.command()
def dedup(
    file: str = typer.Argument(..., help="JSONL / JSON / Parquet / CSV file, a folder of them, an HF dataset folder, or a run directory"),
    column: list[str] = typer.Option(["text"], "--column", "-c", help="column(s) compared (repeat for several)"),
    method: str = typer.Option("minhash", "--method", "-m", help="exact | minhash | semantic"),
    threshold: float | None = typer.Option(None, "--threshold",
        help="minhash: Jaccard similarity; semantic: cosine similarity (default: the step's)"),
    output: Path | None = typer.Option(None, "-o", "--output", help="run directory (default: runs/dedup-NAME)"),
    fresh: bool = fresh_option(),
    fmt: str = format_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Remove duplicate rows (exact, near-duplicate MinHash-LSH, or semantic SemDeDup); each removed
    row names the row it duplicates."""
    if method not in DEDUP_TYPES:
        _fail(f"--method must be one of {', '.join(DEDUP_TYPES)}, not {method!r}")
    source = _data_path(file)
    _check_columns(source, column, "--column")
    type_name = DEDUP_TYPES[method]
    opts: dict[str, Any] = {"columns": column}
    if threshold is not None:
        if method == "exact":
            _fail("--threshold applies to --method minhash or semantic; exact dedup has no threshold")
        if not 0 < threshold <= 1:
            _fail(f"--threshold must be in (0, 1], not {threshold}")
        from ..recipes.registry import STEP_TYPES, step_class, step_options

        accepted = step_options(step_class(type_name)) if type_name in STEP_TYPES else {}
        if "threshold" in accepted:
            opts["threshold"] = threshold
        elif "eps" in accepted:  # SemDeDup: duplicates have cosine > 1 - eps
            opts["eps"] = round(1.0 - threshold, 10)
    step, kwargs = _make_step(type_name, "dedup", opts, "--method")
    _run("dedup", f"{method} deduplication of {file} on {', '.join(column)}", source,
         [("dedup", type_name, step, kwargs)], output, None, fresh, fmt, quiet)


@app.command()
def decontaminate(
    file: str = typer.Argument(..., help="the data to clean (file, folder, HF dataset folder, or run directory)"),
    column: list[str] = typer.Option(["text"], "--column", "-c", help="column(s) checked (repeat for several)"),
    against: list[str] = typer.Option(..., "--against", "-a", help="benchmark file or folder (repeatable)"),
    against_column: list[str] | None = typer.Option(None, "--against-column",
        help="benchmark column(s) holding the test items (default: the step's guess)"),
    method: str = typer.Option("ngram", "--method", "-m", help="ngram | embedding | both"),
    ngram: int | None = typer.Option(None, "--ngram", help="word n-gram length for long items (default 13)"),
    embedding_threshold: float | None = typer.Option(None, "--embedding-threshold", help="top-1 cosine that flags a paraphrase"),
    output: Path | None = typer.Option(None, "-o", "--output", help="run directory (default: runs/decontaminate-NAME)"),
    fresh: bool = fresh_option(),
    fmt: str = format_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Remove rows that overlap benchmark items (n-gram overlap and/or embedding similarity); each
    removed row names the benchmark file, row and text it matches."""
    source = _data_path(file)
    _check_columns(source, column, "--column")
    for bench in against:
        if not bench.startswith("hf:") and not Path(bench).exists():
            _fail(f"--against {bench}: no such file or folder")
    if against_column:
        for bench in against:
            _check_columns(_data_path(bench), against_column, "--against-column")
    opts = {"against": against, "columns": column, "against_columns": against_column or None, "method": method,
            "ngram": ngram, "embedding_threshold": embedding_threshold}
    step, kwargs = _make_step("decontaminate", "decontaminate", opts, "decontaminate")
    _run("decontaminate", f"decontamination of {file} against {', '.join(against)}", source,
         [("decontaminate", "decontaminate", step, kwargs)], output, None, fresh, fmt, quiet)


@app.command()
def judge(
    file: str = typer.Argument(..., help="the data to judge (file, folder, HF dataset folder, or run directory)"),
    column: str = typer.Option("response", "--column", "-c", help="column holding the response to judge"),
    prompt_column: str | None = typer.Option(None, "--prompt-column",
        help="column holding the instruction the response answers (default: `instruction` when the data has it)"),
    rubric: str = typer.Option("default", "--rubric",
        help="rubric preset: default, alpagasus, ultrafeedback, helpsteer, prometheus, ... (docs/curation)"),
    template: str | None = typer.Option(None, "--template",
        help="a Jinja2 judge prompt file (roles: {{ instruction }}, {{ response }}, {{ lo }}, {{ hi }}, {{ criteria }})"),
    model: str = typer.Option("embedded", "--model", help="judge model spec: embedded | gguf:PATH | openai:MODEL@URL"),
    min_score: float | None = typer.Option(None, "--min-score",
        help="reject rows scored below this (default: keep every row, add the score)"),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="judge reply length cap (default: the rubric's)"),
    concurrency: int = typer.Option(16, "--concurrency", help="judge requests in flight"),
    output: Path | None = typer.Option(None, "-o", "--output", help="run directory (default: runs/judge-NAME)"),
    fresh: bool = fresh_option(),
    fmt: str = format_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Score each row with an LLM judge (rubric presets; the judge's reason is kept); with --min-score,
    rows below it go to rejected/ with their score."""
    from ..llm.spec import ModelSpecError, parse_model_spec

    source = _data_path(file)
    _check_columns(source, [column] + ([prompt_column] if prompt_column else []), "--column/--prompt-column")
    if prompt_column is None and "instruction" in _columns_of(source):
        prompt_column = "instruction"
    if concurrency < 1:
        _fail("--concurrency must be >= 1")
    try:
        config = parse_model_spec(model, name="default", max_in_flight=concurrency)
    except ModelSpecError as e:
        _fail(f"--model: {e}")
    if template is not None:
        if not Path(template).is_file():
            _fail(f"--template {template}: no such file (give a Jinja2 file with the judge prompt)")
        template = Path(template).read_text(encoding="utf-8")
    opts = {"rubric": rubric, "response": column, "instruction": prompt_column, "max_tokens": max_tokens,
            "template": template}
    from ..recipes.registry import STEP_TYPES

    if "judge" not in STEP_TYPES:
        _fail("the `judge` step type is not available in this installation")
    step, kwargs = _make_step("judge", "judge", opts, "judge", hint=" (name the instruction column with --prompt-column)")
    kwargs["instruction"] = prompt_column  # None on purpose when the data has no instruction column
    steps = [("judge", "judge", step, kwargs)]
    if min_score is not None:  # AlpaGasus-style threshold selection on the judge's score
        gate, gate_kwargs = _make_step("select_threshold", "min_score",
                                       {"column": getattr(step, "score_column", "score"), "min": min_score}, "--min-score")
        steps.append(("min_score", "select_threshold", gate, gate_kwargs))
    _run("judge", f"LLM-judge scores ({rubric} rubric) of {file}, column {column}", source, steps, output,
         {"default": config}, fresh, fmt, quiet, recipe_models={"default": {"spec": model, "max_in_flight": concurrency}})


@app.command()
def metrics(
    paths: list[str] = typer.Argument(..., help="file(s), folder(s) or run directories; several = a generator comparison"),
    column: str = typer.Option("text", "--column", "-c", help="text column measured"),
    by: str | None = typer.Option(None, "--by", help="compare generators within one file, grouped by this column (e.g. model)"),
    prompt_column: str | None = typer.Option(None, "--prompt-column", help="compare only prompts every generator answered"),
    score: list[str] = typer.Option([], "--score", help="score / pass columns to summarise (default: every numeric or boolean column)"),
    no_embed: bool = typer.Option(False, "--no-embed", help="skip the embedding metrics (no encoder is loaded)"),
    clusters: int = typer.Option(10, "--clusters", help="k for the cluster entropy"),
    sample: int = typer.Option(2000, "--embed-sample", help="rows embedded (seeded sample)"),
    limit: int | None = typer.Option(None, "--limit", "-n", help="read at most this many rows per input"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Diversity and quality metrics of a column: distinct-n, compression ratio, self-BLEU, embedding
    dispersion, Vendi score, cluster entropy, lengths, tokens, score and pass-rate distributions."""
    from ..curate.metrics import MetricOptions, compare_generators, dataset_metrics, format_table
    from ..io.sources import SourceError, read_records

    if clusters < 1 or sample < 1:
        _fail("--clusters and --embed-sample must be >= 1")
    opts = MetricOptions(clusters=clusters, embed_sample=sample, embed=not no_embed)
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in paths:
        source = _data_path(p)
        needed = [column] + ([by] if by else []) + ([prompt_column] if prompt_column else []) + list(score)
        _check_columns(source, needed, "--column/--by/--prompt-column/--score")
        try:
            rows = [r for batch in read_records(source, limit=limit) for r in batch]
        except (SourceError, OSError) as e:
            _fail(str(e))
        label = _short_name(p, paths)
        if by:
            for r in rows:
                groups.setdefault(f"{r.get(by)}" if len(paths) == 1 else f"{label}:{r.get(by)}", []).append(r)
        else:
            groups[label] = rows
    if len(groups) == 1:
        (name, rows), = groups.items()
        values = dataset_metrics(rows, column, scores=score or None, opts=opts).values
        if as_json:
            out.print_json(json.dumps(values, default=str))
            return
        _print_single(name, values)
        return
    result = compare_generators(groups, column, prompt_column=prompt_column, scores=score or None, opts=opts)
    if as_json:
        out.print_json(json.dumps(result, default=str))
        return
    rows_ = format_table(result)
    t = Table(title=f"generator comparison on {column!r}" + (
        f" ({result['common_prompts']} prompts answered by all)" if result["common_prompts"] is not None else ""))
    for i, h in enumerate(rows_[0]):
        t.add_column(h, justify="left" if i == 0 else "right")
    for r in rows_[1:]:
        t.add_row(*r)
    out.print(t)


def _short_name(path: str, paths: list[str]) -> str:
    """A file's (or run directory's) name when that tells the inputs apart, else the path as given."""
    name = Path(path.rstrip("/")).name or path
    same = [p for p in paths if (Path(p.rstrip("/")).name or p) == name]
    return name if len(same) == 1 else path


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _print_single(name: str, v: dict[str, Any]) -> None:
    t = Table(title=f"{name}: column {v['column']!r}, {v['rows']} rows", show_header=True)
    t.add_column("metric")
    t.add_column("value", justify="right")
    words = v["lengths"]["words"]
    t.add_row("words (p5 / p50 / p95)", f"{_fmt(words['p5'])} / {_fmt(words['p50'])} / {_fmt(words['p95'])}")
    t.add_row("chars (p50)", _fmt(v["lengths"]["chars"]["p50"]))
    for key in ("distinct_1", "distinct_2", "distinct_3", "compression_ratio", "self_bleu"):
        if key in v:
            t.add_row(key.replace("_", "-") if key.startswith("distinct") else key.replace("_", " "), _fmt(v[key]))
    emb = v.get("embedding")
    if emb and "skipped" not in emb:
        t.add_row("embedding dispersion", _fmt(emb["dispersion"]))
        t.add_row("Vendi score", _fmt(emb["vendi"]))
        ce = emb["cluster_entropy"]
        if ce:
            t.add_row(f"cluster entropy (k={ce['k']}, normalised)", _fmt(ce["normalized"]))
    elif emb:
        t.add_row("embedding metrics", f"skipped: {emb['skipped']}")
    if v.get("tokens"):
        t.add_row("completion tokens (p50)", _fmt(v["tokens"]["completion_tokens"]["p50"]))
    for name_, d in (v.get("scores") or {}).items():
        if d["kind"] == "pass_rate":
            t.add_row(f"{name_} pass rate", _fmt(d["pass_rate"]))
        else:
            t.add_row(f"{name_} mean (p50)", f"{_fmt(d['mean'])} ({_fmt(d['p50'])})")
    out.print(t)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="a run directory (the -o folder of run, dedup, decontaminate, judge)"),
    column: str | None = typer.Option(None, "--column", "-c", help="text column measured (default: the longest text column)"),
    no_embed: bool = typer.Option(False, "--no-embed", help="skip embeddings (no cluster map or embedding metrics)"),
    clusters: int = typer.Option(10, "--clusters", help="k-means clusters for the map and the entropy"),
    sample: int = typer.Option(2000, "--embed-sample", help="rows embedded (seeded sample)"),
) -> None:
    """Write OUT/report/index.html (plots: lengths, scores, cluster map, funnel of rows through the
    steps) and OUT/report/metrics.json, and link them from OUT/card.md."""
    from ..curate.metrics import MetricOptions
    from ..report import ReportError, write_report

    if clusters < 1 or sample < 1:
        _fail("--clusters and --embed-sample must be >= 1")
    try:
        rep = write_report(run_dir, column=column, opts=MetricOptions(clusters=clusters, embed_sample=sample,
                                                                      embed=not no_embed))
    except ReportError as e:
        _fail(str(e))
    out.print(f"[green]report[/green]: {rep.index} ({len(rep.plots)} plots; metrics in {rep.metrics_json})")

