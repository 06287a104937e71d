"""kill -9 at random moments, rerun to completion: the data must equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from synthloom.io.shards import read_shards
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.recipe_runs import journal_lines, prompt_answer_recipe, wait_for_progress

THEN = [
    {"name": "keep_some", "type": "filter", "keep": "'7' not in prompt", "reason": "prompt mentions a seven"},
    {"name": "dedup", "type": "dedup_exact", "columns": ["answer"]},
    {"name": "followup", "type": "llm", "prompt": "Follow up on: {{ answer }}", "output": "followup",
     "temperature": 0.0, "max_tokens": 8},
]


def recipe_text(url: str) -> str:
    return prompt_answer_recipe("killtest", {"spec": f"openai:fake@{url}", "max_in_flight": 32}, temperature=0.8,
                                max_tokens=12, then=THEN)


def _run(recipe: Path, prompts: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "synthloom.cli.main", "run", str(recipe), "--set", f"input={prompts}",
           "-o", str(out), "--quiet", "--partition-size", "40"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _snapshot(out: Path) -> dict:
    rejected = {p.name: list(read_shards(p)) for p in sorted((out / "rejected").iterdir()) if p.is_dir()}
    errors = {p.name: list(read_shards(p)) for p in sorted((out / "errors").iterdir()) if p.is_dir()}
    run = json.loads((out / "run.json").read_text())
    return {"data": list(read_shards(out / "data")), "rejected": rejected, "errors": errors,
            "counts": run["counts"], "rows": run["rows"], "status": run["status"]}


def _kill_at_progress(proc: subprocess.Popen, out: Path, lines: int) -> None:
    """SIGKILL ``proc`` once its journal has ``lines`` lines; the run must not have finished."""
    wait_for_progress(proc, out, lines)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    status = json.loads((out / "run.json").read_text())["status"] if (out / "run.json").exists() else None
    assert status != "completed", f"the run finished before the kill (journal target {lines} lines)"


@pytest.mark.slow
def test_sigkill_at_random_moments_then_rerun_gives_identical_data(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    with open(prompts, "w") as f:
        for i in range(1200):
            f.write(json.dumps({"prompt": f"Say something about number {i % 1000}"}) + "\n")  # 200 duplicates
    rng = random.Random(int(os.environ.get("SYNTHLOOM_KILL_SEED", "20261122")))
    with FakeOpenAIServer(FakeServerConfig(latency_s=0.004)) as server:
        recipe = tmp_path / "killtest.yaml"
        recipe.write_text(recipe_text(server.url))
        ref_out = tmp_path / "reference"
        ref = _run(recipe, prompts, ref_out)
        assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()
        reference = _snapshot(ref_out)
        assert reference["status"] == "completed" and len(reference["data"]) > 500
        assert reference["counts"]["keep_some"]["rejected"] > 0 and reference["counts"]["dedup"]["rejected"] > 0

        total = journal_lines(ref_out)
        # kill when the journal shows a chosen amount of progress (an event, not a moment in time)
        targets = sorted(rng.randint(1, int(total * 0.8)) for _ in range(6))
        for trial, target in enumerate(targets):
            out = tmp_path / f"trial{trial}"
            _kill_at_progress(_run(recipe, prompts, out), out, target)
            if trial % 2 == 1:  # a second kill during the resumed run
                done = journal_lines(out)
                _kill_at_progress(_run(recipe, prompts, out), out, rng.randint(done + 1, done + max(1, (total - done) // 2)))
            rerun = _run(recipe, prompts, out)
            assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()
            got = _snapshot(out)
            assert got["data"] == reference["data"], f"trial {trial}: killed after {target} journal lines"
            assert got["rejected"] == reference["rejected"]
            assert got["errors"] == reference["errors"]
            assert got["counts"] == reference["counts"] and got["rows"] == reference["rows"]
            assert not list((out / "data").glob(".tmp-*"))
