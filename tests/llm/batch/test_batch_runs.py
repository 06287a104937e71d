"""Batch mode end to end through ``synthloom run`` against the fake server's batch API: the same rows
as direct calls at half the cost, kill -9 after submission then a rerun that collects without
submitting again, expiry and partial failure as error rows, and the refusals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.recipe_runs import completed_outputs, data_rows, prompt_answer_recipe, run_recipe, side_rows

FAST_BATCHES = {"batch_window_s": 0.1, "batch_poll_s": 0.05, "batch_poll_max_s": 0.2}
PRICES = {"price_input_per_mtok": 3.0, "price_output_per_mtok": 15.0}


def _recipe(tmp_path: Path, url: str, name: str = "batchrun", **settings) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(prompt_answer_recipe(name, {"spec": f"openai:fake@{url}", **PRICES, **settings},
                                         temperature=0.0, max_tokens=16))
    return path


def _prompts(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
    return path


def _answers(out: Path) -> list[tuple[str, str]]:
    return sorted((r["prompt"], r["answer"]) for r in completed_outputs(json.loads((out / "run.json").read_text()), out)[0])


def test_a_batch_run_gives_the_rows_of_direct_calls_at_half_the_cost(tmp_path):
    prompts = _prompts(tmp_path, [f"Describe item {i}" for i in range(30)] + ["Describe item 4"])
    with FakeOpenAIServer() as server:
        direct = run_recipe(str(_recipe(tmp_path, server.url)), tmp_path / "direct", f"input={prompts}")
        assert server.stats()["batches"]["created"] == 0
        batched = run_recipe(str(_recipe(tmp_path, server.url, batch=True, **FAST_BATCHES)), tmp_path / "batched",
                             f"input={prompts}")
        stats = server.stats()["batches"]
    assert stats["created"] >= 1 and stats["items"] == 30  # the repeated prompt is asked once
    assert _answers(tmp_path / "batched") == _answers(tmp_path / "direct")
    assert batched["models"]["default"]["batch"] is True and "batch" not in direct["models"]["default"]
    direct_cost, batch_cost = direct["usage"]["total"]["cost"], batched["usage"]["total"]["cost"]
    assert direct_cost > 0 and batch_cost == pytest.approx(direct_cost / 2, rel=1e-3)
    assert batched["usage"]["total"]["prompt_tokens"] == direct["usage"]["total"]["prompt_tokens"]


def test_batch_flag_turns_batch_mode_on_for_models_that_have_an_api(tmp_path):
    prompts = _prompts(tmp_path, ["one", "two", "three"])
    with FakeOpenAIServer() as server:
        recipe = _recipe(tmp_path, server.url, **FAST_BATCHES)
        run = run_recipe(str(recipe), tmp_path / "out", f"input={prompts}", extra_cli_args=["--batch"])
        assert server.stats()["batches"]["items"] == 3
    assert run["models"]["default"]["batch"] is True
    assert sorted(a for _, a in _answers(tmp_path / "out")) == ["Reply to: one", "Reply to: three", "Reply to: two"]


def _start(recipe: Path, prompts: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "synthloom.cli.main", "run", str(recipe), "--set", f"input={prompts}", "-o", str(out),
           "--quiet", "--partition-size", "10"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _journaled(out: Path) -> list[dict]:
    try:
        text = (out / ".state" / "batches.jsonl").read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def _wait_for_journaled_items(proc: subprocess.Popen, out: Path, items: int) -> None:
    """Until the run has journaled batches holding ``items`` requests (an event, not a moment in time)."""
    while sum(len(e.get("ids", ())) for e in _journaled(out)) < items:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_after_submission_then_rerun_collects_without_submitting_again(tmp_path):
    texts = [f"Summarise document {i}" for i in range(40)]
    prompts = _prompts(tmp_path, texts)
    with FakeOpenAIServer(FakeServerConfig(batch_hold=True)) as server:
        recipe = _recipe(tmp_path, server.url, batch=True, batch_size=15, **FAST_BATCHES)
        out = tmp_path / "killed"
        proc = _start(recipe, prompts, out)
        _wait_for_journaled_items(proc, out, len(texts))  # every request is in a batch the provider holds
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert json.loads((out / "run.json").read_text())["status"] == "running"  # it never got to finish
        journaled = _journaled(out)
        assert len(journaled) == server.stats()["batches"]["created"] == 3
        assert sum(len(entry["ids"]) for entry in journaled) == len(texts)

        server.release_batches()
        rerun = _start(recipe, prompts, out)
        assert rerun.wait(timeout=120) == 0, rerun.stderr.read().decode()
        batches = server.stats()["batches"]
        assert batches["created"] == 3 and batches["items"] == len(texts) and batches["max_item_submissions"] == 1
        # an uninterrupted run of the same recipe (its own run directory and cache) gives the same rows
        run_recipe(str(recipe), tmp_path / "reference", f"input={prompts}", extra_cli_args=["--partition-size", "10"])
    reference = data_rows(tmp_path / "reference")
    assert len(reference) == len(texts) and data_rows(out) == reference
    assert {e["settled"] for e in _journaled(out) if "settled" in e} == {e["batch"] for e in journaled}


def test_expired_and_failed_items_become_error_rows_that_a_rerun_retries(tmp_path):
    texts = ["plain one", "[[batch:expire:2]] expires twice", "[[fault:400]] refused", "[[fault:500:1]] fails once",
             "plain two"]
    prompts = _prompts(tmp_path, texts)
    with FakeOpenAIServer() as server:
        recipe = _recipe(tmp_path, server.url, batch=True, **FAST_BATCHES)
        out = tmp_path / "out"
        run = run_recipe(str(recipe), out, f"input={prompts}")
        data, _, errors = completed_outputs(run, out)
        assert sorted(r["prompt"] for r in data) == ["[[fault:500:1]] fails once", "plain one", "plain two"]
        by_prompt = {json.loads(r["_record"])["prompt"]: r["_error"] for r in errors}
        assert set(by_prompt) == {"[[batch:expire:2]] expires twice", "[[fault:400]] refused"}
        assert "no answer after 2 batch submission(s)" in by_prompt["[[batch:expire:2]] expires twice"]
        assert "HTTP 400" in by_prompt["[[fault:400]] refused"]
        assert run["retryable_errors"] == 2  # model failures: a rerun asks again, as for direct calls

        rerun = run_recipe(str(recipe), out, f"input={prompts}")
        data, _, errors = completed_outputs(rerun, out)
        assert "[[batch:expire:2]] expires twice" in {r["prompt"] for r in data}
        assert [json.loads(r["_record"])["prompt"] for r in side_rows(out, "errors")] == ["[[fault:400]] refused"]


def test_batch_mode_on_a_model_without_a_batch_api_is_one_clear_line(tmp_path):
    recipe = tmp_path / "local.yaml"
    recipe.write_text(prompt_answer_recipe("local", {"spec": "embedded", "batch": True}, temperature=0.0, max_tokens=4))
    prompts = _prompts(tmp_path, ["hi"])
    result = CliRunner().invoke(app, ["run", str(recipe), "--set", f"input={prompts}", "-o", str(tmp_path / "a"), "--quiet"])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "remove `batch: true`" in lines[0] and "llamacpp" in lines[0]

    recipe.write_text(prompt_answer_recipe("local", "embedded", temperature=0.0, max_tokens=4))
    result = CliRunner().invoke(app, ["run", str(recipe), "--set", f"input={prompts}", "-o", str(tmp_path / "b"), "--quiet",
                                      "--batch"])
    assert result.exit_code == 2 and "--batch: none of this recipe's models has a batch API" in result.output
