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
from pathlib import Path

import pytest

from synthloom import MapStep, Pipeline, RecordsSource, TemplateLLMStep, run_pipeline
from synthloom.engine.run import RunOptions
from synthloom.io.shards import read_shards
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.recipe_runs import journal_lines, needs_embedded, prompt_answer_recipe, wait_for_progress

KEEP_SOME = [{"name": "keep_some", "type": "filter", "keep": "'7' not in prompt", "reason": "prompt mentions a seven"}]


def recipe_text(model: str | dict, in_flight: int, max_tokens: int) -> str:
    model = {"spec": model} if isinstance(model, str) else model
    return prompt_answer_recipe("sigtest", {**model, "max_in_flight": in_flight}, temperature=0.0,
                                max_tokens=max_tokens, then=KEEP_SOME)


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


def _interrupt_trials(tmp_path: Path, recipe: Path, prompts: Path, reference: dict, total_lines: int, sig: int,
                      trials: int, seed: int, compare) -> None:
    """Signal ``trials`` runs when their journals reach a random amount of progress (below 80% of
    ``total_lines``, an uninterrupted run's journal): each must stop mid-run, end cleanly, and a
    rerun must give ``reference``'s rows."""
    rng = random.Random(seed)
    for trial in range(trials):
        out = tmp_path / f"{signal.Signals(sig).name}-{trial}"
        proc = _start(recipe, prompts, out)
        target = rng.randint(0, max(0, int(total_lines * 0.8) - 1))
        assert wait_for_progress(proc, out, target), "the run ended before the chosen progress"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
        assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr
        assert proc.returncode == 130, (proc.returncode, stderr)
        assert "interrupted" in stderr and "rerun the same command to resume" in stderr
        assert len([line for line in stderr.splitlines() if line.strip()]) == 1, stderr
        assert _status(out) == "interrupted", stderr
        rerun = _start(recipe, prompts, out)
        _, rerun_err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, rerun_err
        assert _status(out) == "completed"
        compare(_rows(out), reference)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_at_random_moments_with_the_server_backend(tmp_path, sig):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Say something about number {i}"}) + "\n" for i in range(300)))
    with FakeOpenAIServer(FakeServerConfig(latency_s=0.01)) as server:
        recipe = tmp_path / "sig.yaml"
        recipe.write_text(recipe_text(f"openai:fake@{server.url}", in_flight=16, max_tokens=12))
        ref = _start(recipe, prompts, tmp_path / "reference")
        _, err = ref.communicate(timeout=300)
        assert ref.returncode == 0, err
        reference = _rows(tmp_path / "reference")
        assert len(reference["data"]) + len(reference["rejected"]) == 300

        def same(got, want):
            assert got == want

        _interrupt_trials(tmp_path, recipe, prompts, reference, journal_lines(tmp_path / "reference"), sig, trials=4,
                                   seed=int(os.environ.get("SYNTHLOOM_SIGNAL_SEED", "1122")) + sig, compare=same)


@pytest.mark.slow
@needs_embedded
def test_sigterm_at_random_moments_with_the_embedded_backend(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Name a color number {i}"}) + "\n" for i in range(30)))
    recipe = tmp_path / "sig.yaml"  # one thread and few sequences: llama.cpp crawls on an oversubscribed CPU
    recipe.write_text(recipe_text({"spec": "embedded", "n_threads": 1, "n_seq": 4}, in_flight=4, max_tokens=4))
    ref = _start(recipe, prompts, tmp_path / "reference")
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err
    reference = _rows(tmp_path / "reference")

    def same_rows(got, want):  # the same rows, each with an answer (the model's text may differ by batch)
        assert [(r["id"], r["prompt"]) for r in got["data"]] == [(r["id"], r["prompt"]) for r in want["data"]]
        assert [r["id"] for r in got["rejected"]] == [r["id"] for r in want["rejected"]]
        assert all(isinstance(r["answer"], str) for r in got["data"])

    _interrupt_trials(tmp_path, recipe, prompts, reference, journal_lines(tmp_path / "reference"), signal.SIGTERM, trials=3,
                               seed=int(os.environ.get("SYNTHLOOM_SIGNAL_SEED", "1122")), compare=same_rows)


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
