"""Per-segment fingerprints: a changed step recomputes its segment and those downstream; the
segments upstream resume untouched."""

from __future__ import annotations

from pathlib import Path

from synthloom import LLMStep, Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.exact_dedup import ExactDedup
from synthloom.engine.journal import Journal
from synthloom.io.shards import read_shards


def opts(logs: list[str] | None = None, **kw) -> RunOptions:
    return RunOptions(progress="quiet", log=(logs.append if logs is not None else (lambda m: None)), **kw)


def pipeline(fake_model: str, *, first_tokens: int = 64, second_output: str = "final") -> Pipeline:
    src = RecordsSource("seeds", rows=[{"q": f"q{i % 6}"} for i in range(12)])
    first = LLMStep("first", prompt=lambda r: f"Answer: {r['q']}", output="answer", temperature=0.0,
                    max_tokens=first_tokens)
    dedup = ExactDedup("dedup", columns=["answer"])
    second = LLMStep("second", prompt=lambda r: f"Shorten: {r['answer']}", output=second_output, temperature=0.0)
    return Pipeline([src, first, dedup, second], models={"default": fake_model})


def node_files(out: Path, seg: str) -> dict[str, int]:
    folder = out / ".state" / "nodes" / seg
    return {p.name: p.stat().st_ino for p in folder.iterdir()}


def test_changing_a_downstream_option_keeps_the_upstream_segment(tmp_path, fake_model):
    out = tmp_path / "o"
    first = run_pipeline(pipeline(fake_model), out, opts(partition_size=4))
    assert first.ok and len(list(read_shards(out / "data"))) == 6
    before = node_files(out, "first")

    logs: list[str] = []
    changed = run_pipeline(pipeline(fake_model, second_output="short"), out, opts(logs, partition_size=4))
    assert changed.ok
    assert node_files(out, "first") == before  # the upstream segment was not rewritten
    assert any("recomputing second" in m and "first" not in m.split("recomputing")[1].split("(")[0] for m in logs)
    rows = list(read_shards(out / "data"))
    assert len(rows) == 6 and all("short" in r and "final" not in r for r in rows)
    assert changed.usage["total"]["requests"] == 0  # the second step's requests are unchanged: from the cache


def test_changing_an_upstream_option_recomputes_everything_after_it(tmp_path, fake_model):
    out = tmp_path / "o"
    run_pipeline(pipeline(fake_model), out, opts(partition_size=4))
    journal_before = Journal(out / ".state" / "journal.jsonl").segment_fps
    logs: list[str] = []
    res = run_pipeline(pipeline(fake_model, first_tokens=32), out, opts(logs, partition_size=4))
    # new max_tokens: six new distinct requests for `first`; `second` asks what it asked before (cached)
    assert res.ok and res.usage["total"]["requests"] == 6 and res.counts["second"].rows_in == 6
    journal_after = Journal(out / ".state" / "journal.jsonl").segment_fps
    assert all(journal_after[s] != journal_before[s] for s in journal_before)
    assert any("recomputing first, second" in m for m in logs)


def test_an_unchanged_rerun_resumes_everything(tmp_path, fake_model):
    out = tmp_path / "o"
    run_pipeline(pipeline(fake_model), out, opts(partition_size=4))
    again = run_pipeline(pipeline(fake_model), out, opts(partition_size=4))
    assert again.ok and again.resumed_partitions > 0 and again.usage["total"]["cached"] == 0


def test_a_renamed_step_drops_the_old_segments_outputs(tmp_path, fake_model):
    out = tmp_path / "o"
    run_pipeline(pipeline(fake_model), out, opts(partition_size=4))
    p = pipeline(fake_model)
    p.steps[-1].name = "second_v2"
    p = Pipeline(p.steps, models={"default": fake_model})
    res = run_pipeline(p, out, opts(partition_size=4))
    assert res.ok and set(res.counts) == {"seeds", "first", "dedup", "second_v2"}
    assert sum(c.rows_in for c in res.counts.values() if c) > 0
    assert "second" not in Journal(out / ".state" / "journal.jsonl").partitions
