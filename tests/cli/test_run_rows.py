"""``synthloom run --rows N`` (and a recipe's ``rows:``): flags, the end messages, the honest end."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.shards import read_shards

runner = CliRunner()


def _recipe(tmp_path: Path, model: str, records: int = 500, **top) -> Path:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Tell me about item {i}"}) + "\n" for i in range(records)))
    recipe = {"name": "quarter", **top, "params": {"input": str(prompts)}, "models": {"default": model},
              "steps": [{"name": "prompts", "type": "load", "path": "${input}"},
                        {"name": "answer", "type": "llm", "prompt": "{{ prompt }}", "output": "answer", "max_tokens": 32},
                        {"name": "quarter", "type": "filter", "keep": "(answer.split()[-1] | int) % 4 == 0",
                         "reason": "item number not a multiple of 4"}]}
    path = tmp_path / "quarter.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _run(*args: str):
    return runner.invoke(app, ["run", *args, "--quiet", "--partition-size", "8"])


def test_rows_keeps_drawing_until_the_rows_are_kept(tmp_path, fake_model):
    recipe = _recipe(tmp_path, fake_model)
    out = tmp_path / "out"
    result = _run(str(recipe), "-o", str(out), "--rows", "30")
    assert result.exit_code == 0, result.output
    assert "--rows 30: kept 31 rows from 121 records in 2 round(s) (exactly the rows of -n 121)" in result.output
    assert "made it to data/" not in result.output  # the target was reached: no alarm
    single = _run(str(recipe), "-o", str(tmp_path / "single"), "-n", "121")
    assert single.exit_code == 0 and "only 31 of the 121 records" in single.output  # a plain run with few kept says so
    assert list(read_shards(out / "data")) == list(read_shards(tmp_path / "single" / "data"))


def test_cap_reached_first_ends_with_what_was_kept_tried_and_removed(tmp_path, fake_model):
    recipe = _recipe(tmp_path, fake_model)
    out = tmp_path / "out"
    result = _run(str(recipe), "-o", str(out), "--rows", "30", "--max-attempts", "50")
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert ("stopped: --rows 30: kept 13 of the 30 rows asked for, from 50 records tried: the cap of 50 records drawn "
            "(--max-attempts) was reached; step 'quarter' removed most (37); fix: raise --max-attempts") in text
    assert "step 'quarter' removed 37 (37 rejected):" in text and "37 × item number not a multiple of 4" in text
    assert f"synthloom view {out} --what rejected" in text
    assert len(list(read_shards(out / "data"))) == 13
    assert json.loads((out / "run.json").read_text())["rows_target"]["stopped"] == "max attempts reached"


def test_recipe_rows_is_the_target_unless_n_caps_the_sources(tmp_path, fake_model):
    recipe = _recipe(tmp_path, fake_model, rows=5)
    result = _run(str(recipe), "-o", str(tmp_path / "a"))
    assert result.exit_code == 0 and "--rows 5: kept" in result.output
    assert len(list(read_shards(tmp_path / "a" / "data"))) >= 5
    result = runner.invoke(app, ["run", str(recipe), "-o", str(tmp_path / "b"), "-n", "4"])
    assert result.exit_code == 0 and "-n 4 caps the sources: the recipe's `rows: 5` target is not used" in result.output
    assert json.loads((tmp_path / "b" / "run.json").read_text())["counts"]["prompts"]["in"] == 4


def test_contradictory_or_meaningless_rows_flags_are_one_line_errors(tmp_path, fake_model):
    recipe = str(_recipe(tmp_path, fake_model))
    cases = [
        (["-n", "5", "--rows", "3"], "-n 5 and --rows 3 contradict each other"),
        (["--max-attempts", "9"], "--max-attempts caps the records drawn for a rows target, and there is none"),
        (["-n", "5", "--max-attempts", "9"], "--max-attempts applies to --rows, not -n"),
        (["--rows", "0"], "--rows 0: the rows to keep must be at least 1"),
        (["--rows", "3", "--max-attempts", "0"], "--max-attempts 0: must be at least 1"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["run", recipe, "-o", str(tmp_path / "x"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and message in result.output and len(result.output.splitlines()) == 1
    bad = _recipe(tmp_path, fake_model, rows="many")
    result = runner.invoke(app, ["run", str(bad), "-o", str(tmp_path / "y")])
    assert result.exit_code == 2 and "quarter.yaml:2: rows must be a whole number of at least 1" in result.output
