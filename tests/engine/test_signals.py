"""SIGTERM and SIGINT at any moment of `synthloom run`: run.json says "interrupted", the exit status is
non-zero, no traceback, and rerunning the same command resumes to the rows of an uninterrupted run."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthloom import MapStep, Pipeline, RecordsSource, TemplateLLMStep, run_pipeline
from synthloom.engine.run import RunOptions
from synthloom.io.shards import read_shards
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.recipe_runs import needs_embedded

RECIPE = """
name: sigtest
params:
  input: prompts.jsonl
models:
  default:
    spec: {spec}
    max_in_flight: {in_flight}
steps:
  - name: prompts
    type: load
    path: ${{input}}
  - name: answer
    type: llm
    prompt: "{{{{ prompt }}}}"
    output: answer
    temperature: 0.0
    max_tokens: {max_tokens}
  - name: keep_some
    type: filter
    keep: "'7' not in prompt"
    reason: prompt mentions a seven
"""


def _start(recipe: Path, prompts: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "synthloom.cli.main", "run", str(recipe), "--set", f"input={prompts}", "-o", str(out),
           "--quiet", "--partition-size", "25"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(out: Path) -> dict:
    rejected = [r for p in sorted((out / "rejected").iterdir()) if p.is_dir() for r in read_shards(p)]
    return {"data": list(read_shards(out / "data")), "rejected": rejected}


def _status(out: Path) -> str | None:
    try:
        return json.loads((out / "run.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


def _wait_until_running(proc: subprocess.Popen, out: Path) -> bool:
    """Wait for the run to have started (run.json "running"); False when the process ended first."""
    while proc.poll() is None:
        if _status(out) == "running":
            return True
        time.sleep(0.01)
    return False


def _interrupt_trials(tmp_path: Path, recipe: Path, prompts: Path, reference: dict, duration: float, sig: int,
                      trials: int, seed: int, compare) -> int:
    """Signal ``trials`` runs at random moments after they started; each must end cleanly and a rerun must
    give ``reference``'s rows. Returns how many runs were interrupted mid-run."""
    rng = random.Random(seed)
    landed = 0
    for trial in range(trials):
        out = tmp_path / f"{signal.Signals(sig).name}-{trial}"
        proc = _start(recipe, prompts, out)
        if _wait_until_running(proc, out):
            time.sleep(rng.uniform(0.0, duration))
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
        assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr
        if proc.returncode == 0:  # the process finished before the signal arrived
            assert _status(out) == "completed"
        elif proc.returncode == -sig:  # arrived while the interpreter exited, after its handlers were gone
            assert _status(out) == "completed" and not stderr.strip(), stderr
        else:
            assert proc.returncode == 130, (proc.returncode, stderr)
            assert "interrupted" in stderr and "rerun the same command to resume" in stderr
            assert len([line for line in stderr.splitlines() if line.strip()]) == 1, stderr
            # "completed" only when the signal came after the run had finished writing (while the CLI exited)
            assert _status(out) in ("interrupted", "completed"), stderr
            landed += _status(out) == "interrupted"
        rerun = _start(recipe, prompts, out)
        _, rerun_err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, rerun_err
        assert _status(out) == "completed"
        compare(_rows(out), reference)
    return landed


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_at_random_moments_with_the_server_backend(tmp_path, sig):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Say something about number {i}"}) + "\n" for i in range(300)))
    with FakeOpenAIServer(FakeServerConfig(latency_s=0.01)) as server:
        recipe = tmp_path / "sig.yaml"
        recipe.write_text(RECIPE.format(spec=f"openai:fake@{server.url}", in_flight=16, max_tokens=12))
        t0 = time.monotonic()
        ref = _start(recipe, prompts, tmp_path / "reference")
        assert _wait_until_running(ref, tmp_path / "reference")
        t_running = time.monotonic()
        _, err = ref.communicate(timeout=300)
        assert ref.returncode == 0, err
        duration = max(time.monotonic() - t_running, 0.05)
        assert time.monotonic() - t0 < 300
        reference = _rows(tmp_path / "reference")
        assert len(reference["data"]) + len(reference["rejected"]) == 300

        def same(got, want):
            assert got == want

        landed = _interrupt_trials(tmp_path, recipe, prompts, reference, duration, sig, trials=4,
                                   seed=int(os.environ.get("SYNTHLOOM_SIGNAL_SEED", "1122")) + sig, compare=same)
    assert landed >= 1, "no signal arrived while the run was running"


@pytest.mark.slow
@needs_embedded
def test_sigterm_at_random_moments_with_the_embedded_backend(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Name a color number {i}"}) + "\n" for i in range(30)))
    recipe = tmp_path / "sig.yaml"  # one thread and few sequences: llama.cpp crawls on an oversubscribed CPU
    recipe.write_text(RECIPE.format(spec="embedded\n    n_threads: 1\n    n_seq: 4", in_flight=4, max_tokens=4))
    ref = _start(recipe, prompts, tmp_path / "reference")
    assert _wait_until_running(ref, tmp_path / "reference")
    t_running = time.monotonic()
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err
    duration = time.monotonic() - t_running
    reference = _rows(tmp_path / "reference")

    def same_rows(got, want):  # the same rows, each with an answer (the model's text may differ by batch)
        assert [(r["id"], r["prompt"]) for r in got["data"]] == [(r["id"], r["prompt"]) for r in want["data"]]
        assert [r["id"] for r in got["rejected"]] == [r["id"] for r in want["rejected"]]
        assert all(isinstance(r["answer"], str) for r in got["data"])

    landed = _interrupt_trials(tmp_path, recipe, prompts, reference, duration, signal.SIGTERM, trials=3,
                               seed=int(os.environ.get("SYNTHLOOM_SIGNAL_SEED", "1122")), compare=same_rows)
    assert landed >= 1, "no signal arrived while the run was running"


# -- a signal while the run shuts down (closing steps and the model backend) --------------------------

SEND_ON_CLOSE: list[int] = []


class SignalOnClose(MapStep):
    """Passes rows through; when the run closes its steps, sends the signal queued in SEND_ON_CLOSE to
    this process, so the signal arrives exactly while the run shuts down its model backends."""

    def map(self, record):
        return record

    async def aclose(self) -> None:
        if SEND_ON_CLOSE:
            os.kill(os.getpid(), SEND_ON_CLOSE.pop())
            for _ in range(5):  # let the loop run the handler before the backends close
                await asyncio.sleep(0)


def _shutdown_pipeline(spec: str) -> Pipeline:
    rows = [{"prompt": f"Name a fruit number {i}"} for i in range(6)]
    return Pipeline(
        steps=[RecordsSource("prompts", rows=rows),
               TemplateLLMStep("answer", prompt="{{ prompt }}", output="answer", max_tokens=4, temperature=0.0),
               SignalOnClose("mark")],
        models={"default": spec},
        name="shutdown-signal",
    )


def _signal_during_shutdown(tmp_path: Path, spec: str, sig: int) -> None:
    out = tmp_path / "run"
    options = RunOptions(progress="quiet", log=lambda m: None, probe=False)
    SEND_ON_CLOSE.append(sig)
    result = run_pipeline(_shutdown_pipeline(spec), out, options)  # returns: no CancelledError escapes
    assert not SEND_ON_CLOSE, "the step never closed"
    assert result.status == "interrupted" and signal.Signals(sig).name in result.message
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted" and run["rows"]["data"] == 6
    again = run_pipeline(_shutdown_pipeline(spec), out, options)
    assert again.status == "completed" and again.resumed_partitions == 1
    assert [r["prompt"] for r in read_shards(out / "data")] == [f"Name a fruit number {i}" for i in range(6)]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers are gone after the run


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_the_server_backend_shuts_down(tmp_path, fake_model, sig):
    _signal_during_shutdown(tmp_path, fake_model, sig)


@needs_embedded
def test_sigterm_while_the_embedded_backend_shuts_down(tmp_path):
    _signal_during_shutdown(tmp_path, "embedded", signal.SIGTERM)
