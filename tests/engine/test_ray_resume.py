"""Ray runs killed at chosen moments — the driver with SIGKILL, or one of its workers — give exactly
the rows of an uninterrupted local run once rerun (or, for a lost worker, without a rerun)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def _run(recipe: Path, prompts: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "synthloom.cli.main", "run", str(recipe), "--set", f"input={prompts}",
           "-o", str(out), "--quiet", "--partition-size", "40", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _snapshot(out: Path) -> dict:
    rejected = {p.name: list(read_shards(p)) for p in sorted((out / "rejected").iterdir()) if p.is_dir()}
    errors = {p.name: list(read_shards(p)) for p in sorted((out / "errors").iterdir()) if p.is_dir()} \
        if (out / "errors").exists() else {}
    run = json.loads((out / "run.json").read_text())
    return {"data": list(read_shards(out / "data")), "rejected": rejected, "errors": errors,
            "counts": run["counts"], "rows": run["rows"], "status": run["status"]}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, ray_local):
    tmp = tmp_path_factory.mktemp("ray_resume")
    prompts = tmp / "prompts.jsonl"
    with open(prompts, "w") as f:
        for i in range(480):
            f.write(json.dumps({"prompt": f"Say something about number {i % 400}"}) + "\n")  # 80 duplicates
    with FakeOpenAIServer(FakeServerConfig(latency_s=0.01)) as server:
        recipe = tmp / "rayresume.yaml"
        recipe.write_text(prompt_answer_recipe("rayresume", {"spec": f"openai:fake@{server.url}", "max_in_flight": 16},
                                               temperature=0.8, max_tokens=12, then=THEN))
        ref = _run(recipe, prompts, tmp / "reference")
        assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()
        reference = _snapshot(tmp / "reference")
        assert reference["counts"]["keep_some"]["rejected"] > 0 and reference["counts"]["dedup"]["rejected"] > 0
        address = ray_local.get_runtime_context().gcs_address
        yield tmp, recipe, prompts, reference, ("--engine", "ray", "--ray-address", address)


def _same(got: dict, reference: dict) -> None:
    assert got["status"] == "completed"
    assert got["data"] == reference["data"]
    assert got["rejected"] == reference["rejected"] and got["errors"] == reference["errors"]
    assert got["counts"] == reference["counts"] and got["rows"] == reference["rows"]


@pytest.mark.slow
@pytest.mark.parametrize("at", [2, 9])
def test_driver_killed_then_rerun_gives_the_local_rows(setup, at):
    tmp, recipe, prompts, reference, ray_args = setup
    out = tmp / f"killed_driver_{at}"
    proc = _run(recipe, prompts, out, *ray_args)
    assert wait_for_progress(proc, out, at), proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert json.loads((out / "run.json").read_text())["status"] != "completed"
    rerun = _run(recipe, prompts, out, *ray_args)
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()
    _same(_snapshot(out), reference)


def _cmdline(proc) -> list[str]:
    try:
        return proc.cmdline()
    except Exception:  # noqa: BLE001 - the process ended meanwhile
        return []


@pytest.mark.slow
def test_worker_killed_mid_run_is_replaced_and_the_rows_are_the_local_ones(setup, ray_local):
    import psutil

    tmp, recipe, prompts, reference, ray_args = setup
    out = tmp / "killed_worker"
    proc = _run(recipe, prompts, out, *ray_args)
    assert wait_for_progress(proc, out, 3), proc.stderr.read().decode()
    deadline = time.monotonic() + 60
    victims = []
    while not victims and time.monotonic() < deadline:
        # the session's Ray instance was started by this process: its workers are our descendants
        victims = [p for p in psutil.Process().children(recursive=True) if "ChainWorker" in " ".join(_cmdline(p))]
    assert victims, "no live Ray worker to kill"
    os.kill(victims[0].pid, signal.SIGKILL)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    _same(_snapshot(out), reference)
    assert journal_lines(out) > 3
