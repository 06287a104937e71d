"""A disk that fills up mid-run: one line saying so, run.json "failed: disk" with the reason, no
traceback, committed rows kept; once there is space again, rerunning the same command resumes to
the rows of a run that never ran out of space."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.shards import read_shards
from synthloom.testing.recipe_runs import prompt_answer_recipe


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (we are root in CI and on the dev machines; skipped with the reason elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {proc.stderr.strip() or proc.returncode}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _invoke(recipe: Path, prompts: Path, out: Path):
    return CliRunner().invoke(app, ["run", str(recipe), "--set", f"input={prompts}", "-o", str(out), "--quiet",
                                    "--partition-size", "40"])


def test_disk_full_mid_run_fails_cleanly_and_rerun_resumes(tmp_path, small_disk, fake_model):
    rng = random.Random(7)
    prompts = tmp_path / "prompts.jsonl"  # ~3 KB of incompressible words per prompt: far more than 1 MiB in all
    prompts.write_text("".join(json.dumps({"prompt": " ".join(f"{rng.getrandbits(40):010x}" for _ in range(300))}) + "\n"
                               for _ in range(400)))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(prompt_answer_recipe("diskfull", fake_model, temperature=0.0, max_tokens=400))

    reference = tmp_path / "reference"
    assert _invoke(recipe, prompts, reference).exit_code == 0

    out = small_disk / "run"
    result = _invoke(recipe, prompts, out)
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("failed: disk: the run stopped: no space left on the device")
    assert "rerun the same command to resume" in lines[0]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed: disk" and "no space left on the device" in run["message"]
    kept = list(read_shards(out / "data")) if (out / "data").exists() else []
    assert len(kept) < 400
    assert not [p for p in (out / "data").iterdir() if p.name.startswith(".tmp-")]  # no half-written shards left

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = _invoke(recipe, prompts, out)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "run.json").read_text())["status"] == "completed"
    assert list(read_shards(out / "data")) == list(read_shards(reference / "data"))


def test_disk_full_while_writing_run_json_uses_the_reserve(tmp_path, small_disk):
    """The last bytes of a full disk: run.json (and the card) are still written, from the space held back."""
    from synthloom.io.rundir import RESERVE_BYTES, RunDir

    rundir = RunDir(small_disk / "run")
    rundir.create()
    rundir.make_reserve()
    assert rundir.reserve.stat().st_size == RESERVE_BYTES
    filler = small_disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(os.urandom(64 * 1024))
                f.flush()
        except OSError:
            pass
    rundir.write_run_json({"status": "failed: disk", "message": "x" * 2000})
    assert json.loads(rundir.run_json.read_text())["status"] == "failed: disk"
    assert not rundir.reserve.exists()
    assert not [p for p in rundir.root.iterdir() if p.name.startswith(".tmp-")]
