"""``--rows N``: rounds of growing ``-n`` until N rows are kept — the schedule, equality with a
single ``-n FINAL`` run, reuse of committed partitions, the cap, exhausted sources, kill/resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from synthloom.engine.run import RunOptions, run_pipeline
from synthloom.engine.target_rows import (
    CAP_REACHED,
    SOURCES_EXHAUSTED,
    Round,
    default_max_attempts,
    next_limit,
    run_to_target,
    stop_reason,
)
from synthloom.io.shards import read_shards
from synthloom.recipes.build import load_pipeline
from synthloom.testing.recipe_runs import journal_lines, wait_for_progress
from synthloom.testing.scripted import install_scripted_backend

sys.path.insert(0, str(Path(__file__).parent))
from target_rows_process import quarter_reply  # noqa: E402

PROCESS = Path(__file__).parent / "target_rows_process.py"


def test_schedule_starts_at_the_target_and_aims_at_it_from_the_yield():
    assert next_limit(30, 300, []) == 30
    assert next_limit(30, 20, []) == 20  # never past the cap
    # kept 8 of 30: 22 more rows at 30/8 records per row, +10%: 30 + ceil(22 * 3.75 * 1.1) = 121
    assert next_limit(30, 300, [Round(30, 8, 30)]) == 121
    assert next_limit(30, 100, [Round(30, 8, 30)]) == 100  # capped
    assert next_limit(30, 300, [Round(30, 0, 30)]) == 120  # nothing kept: 4× the records
    assert next_limit(1000, 10**6, [Round(1000, 1, 1000)]) == 8000  # at most 8× a round
    assert next_limit(30, 300, [Round(30, 8, 30), Round(121, 31, 121)]) is None  # reached
    assert stop_reason(30, 300, [Round(30, 8, 30), Round(121, 31, 121)]) is None
    assert next_limit(30, 300, [Round(40, 10, 25)]) is None  # the sources gave 25 of 40
    assert stop_reason(30, 300, [Round(40, 10, 25)]) == SOURCES_EXHAUSTED
    assert stop_reason(30, 50, [Round(30, 8, 30), Round(50, 13, 50)]) == CAP_REACHED
    assert next_limit(30, 50, [Round(30, 8, 30), Round(50, 13, 50)]) is None
    assert default_max_attempts(7) == 70


def _recipe(tmp_path: Path, url: str, records: int) -> Path:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(b"".join(orjson.dumps({"prompt": f"Tell me about item {i}"}) + b"\n" for i in range(records)))
    recipe = {
        "name": "quarter", "params": {"input": str(prompts)}, "models": {"default": url},
        "steps": [{"name": "prompts", "type": "load", "path": "${input}"},
                  {"name": "answer", "type": "llm", "prompt": "{{ prompt }}", "output": "answer", "max_tokens": 4},
                  {"name": "quarter", "type": "filter", "keep": "answer == 'keep'", "reason": "the model said drop"}],
    }
    path = tmp_path / "quarter.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _build(recipe: Path):
    def build(limit: int):
        loaded = load_pipeline(str(recipe))
        return loaded.pipeline, loaded.resolved_text

    return build


def _options(**kw) -> RunOptions:
    return RunOptions(partition_size=8, progress="quiet", log=lambda m: None, **kw)


def _outputs(out: Path) -> dict:
    run = json.loads((out / "run.json").read_text())
    return {"data": list(read_shards(out / "data")), "rejected": list(read_shards(out / "rejected" / "quarter")),
            "counts": run["counts"], "rows": run["rows"]}


@pytest.fixture
def quarter_model(monkeypatch, fake_server):
    """A scripted model that keeps every fourth item; returns (spec, the prompts it was asked)."""
    asked: list[str] = []

    def reply(req):
        asked.append(req.messages[-1]["content"])
        return quarter_reply(req)

    return install_scripted_backend(monkeypatch, reply, fake_server.url), asked


def test_rows_are_exactly_those_of_a_run_with_the_final_limit_and_rounds_reuse_partitions(tmp_path, quarter_model):
    spec, asked = quarter_model
    recipe = _recipe(tmp_path, spec, 500)
    outcome = run_to_target(_build(recipe), tmp_path / "rows", _options(use_cache=False), rows=30)
    assert outcome.reached and outcome.stopped is None
    assert [(r.limit, r.kept) for r in outcome.rounds] == [(30, 8), (121, 31)]
    # no response cache: round 2 asked the model only about records outside round 1's full partitions
    # (3 partitions of 8 kept; the partial fourth, items 24-29, was recomputed)
    assert len(asked) == 30 + (121 - 24)
    got = _outputs(tmp_path / "rows")
    assert len(got["data"]) == 31 and all(r["answer"] == "keep" for r in got["data"])

    single = run_pipeline(_build(recipe)(121)[0], tmp_path / "single", _options(limit=121))
    assert single.ok and got == _outputs(tmp_path / "single")

    again = run_to_target(_build(recipe), tmp_path / "again", _options(), rows=30)  # same command: same rows
    assert again.reached and _outputs(tmp_path / "again") == got
    info = json.loads((tmp_path / "rows" / "run.json").read_text())["rows_target"]
    assert info["reached"] and info["kept"] == 31 and [r["limit"] for r in info["rounds"]] == [30, 121]
    card = (tmp_path / "rows" / "card.md").read_text()
    assert "## Rows target" in card and "`-n 121`" in card

    before = len(asked)
    rerun = run_to_target(_build(recipe), tmp_path / "rows", _options(use_cache=False), rows=30)  # resumes: nothing new
    assert rerun.reached and len(asked) == before and _outputs(tmp_path / "rows") == got


def test_cap_reached_first_keeps_the_rows_of_the_cap(tmp_path, quarter_model):
    spec, _ = quarter_model
    recipe = _recipe(tmp_path, spec, 500)
    outcome = run_to_target(_build(recipe), tmp_path / "capped", _options(), rows=30, max_attempts=50)
    assert not outcome.reached and outcome.stopped == CAP_REACHED
    assert [(r.limit, r.kept) for r in outcome.rounds] == [(30, 8), (50, 13)]
    message = outcome.end_message()
    assert "kept 13 of the 30 rows" in message and "from 50 records tried" in message
    assert "--max-attempts" in message and "step 'quarter' removed most (37)" in message
    run_pipeline(_build(recipe)(50)[0], tmp_path / "single", _options(limit=50))
    assert _outputs(tmp_path / "capped") == _outputs(tmp_path / "single")


def test_sources_running_out_ends_the_rounds(tmp_path, quarter_model):
    spec, _ = quarter_model
    recipe = _recipe(tmp_path, spec, 40)
    outcome = run_to_target(_build(recipe), tmp_path / "out", _options(), rows=30)
    assert not outcome.reached and outcome.stopped == SOURCES_EXHAUSTED
    assert outcome.rounds[-1].drawn == 40 and outcome.result.rows["data"] == 10
    assert "the sources ran out after 40 records" in outcome.end_message()


def _cli(recipe: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PROCESS), "run", str(recipe), "-o", str(out), "--quiet",
                             "--rows", "60", "--partition-size", "16"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_kill_at_any_point_then_rerun_gives_the_rows_of_an_uninterrupted_run(tmp_path, fake_server):
    recipe = _recipe(tmp_path, f"openai:scripted@{fake_server.url}", 2000)
    reference = _cli(recipe, tmp_path / "reference")
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()
    expected = _outputs(tmp_path / "reference")
    rounds = json.loads((tmp_path / "reference" / "run.json").read_text())["rows_target"]["rounds"]
    assert len(rounds) >= 2 and len(expected["data"]) >= 60
    total = journal_lines(tmp_path / "reference")
    killed = 0
    for trial, target in enumerate((2, total // 3, (2 * total) // 3, total - 4)):
        out = tmp_path / f"trial{trial}"
        proc = _cli(recipe, out)
        if wait_for_progress(proc, out, target):  # a round is running and the journal has reached the target
            proc.send_signal(signal.SIGKILL)
            killed += proc.wait(timeout=60) == -signal.SIGKILL
        proc.wait(timeout=60)
        rerun = _cli(recipe, out)
        assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()
        assert _outputs(out) == expected, f"trial {trial}: killed at journal line {target} of {total}"
        assert json.loads((out / "run.json").read_text())["rows_target"]["rounds"][-1] == rounds[-1]
    assert killed >= 3


@pytest.mark.slow
def test_rounds_on_the_ray_engine_give_the_rows_of_the_local_rounds(tmp_path, fake_model, ray_local):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(b"".join(orjson.dumps({"prompt": f"Tell me about item {i}"}) + b"\n" for i in range(200)))
    recipe = tmp_path / "fake.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "quarter", "params": {"input": str(prompts)}, "models": {"default": fake_model},
        "steps": [{"name": "prompts", "type": "load", "path": "${input}"},
                  {"name": "answer", "type": "llm", "prompt": "{{ prompt }}", "output": "answer", "max_tokens": 32},
                  {"name": "quarter", "type": "filter", "keep": "(answer.split()[-1] | int) % 4 == 0"}]}))
    local = run_to_target(_build(recipe), tmp_path / "local", _options(), rows=12)
    on_ray = run_to_target(_build(recipe), tmp_path / "ray", _options(engine="ray"), rows=12, run=run_pipeline)
    assert local.reached and on_ray.reached and on_ray.rounds == local.rounds
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "local")
