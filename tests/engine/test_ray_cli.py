"""``synthloom run --engine ray`` and ``engine: ray`` in a recipe, and the one-line errors around them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.testing.recipe_runs import prompt_answer_recipe


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _recipe(tmp_path, url: str, engine: str | None) -> str:
    text = prompt_answer_recipe("rayc", f"openai:fake@{url}", temperature=0.0, max_tokens=8)
    if engine is not None:
        text = f"engine: {engine}\n" + text
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(12)))
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return str(path)


def test_engine_ray_in_the_recipe_runs_on_ray_and_the_flag_overrides_it(tmp_path, fake_server, ray_local):
    recipe = _recipe(tmp_path, fake_server.url, "ray")
    res = invoke("run", recipe, "--set", f"input={tmp_path / 'prompts.jsonl'}", "-o", str(tmp_path / "a"), "--quiet")
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["engine"] == "ray" and run["rows"]["data"] == 12
    res = invoke("run", recipe, "--set", f"input={tmp_path / 'prompts.jsonl'}", "-o", str(tmp_path / "b"), "--quiet",
                 "--engine", "local")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "b" / "run.json").read_text())["engine"] == "local"


def test_engine_errors_are_one_line(tmp_path, fake_server):
    recipe = _recipe(tmp_path, fake_server.url, None)
    inp = f"input={tmp_path / 'prompts.jsonl'}"
    res = invoke("run", recipe, "--set", inp, "--engine", "spark", "-o", str(tmp_path / "x"))
    assert res.exit_code == 2 and "--engine spark: give local or ray" in res.output
    res = invoke("run", recipe, "--set", inp, "--ray-workers", "2", "-o", str(tmp_path / "x"))
    assert res.exit_code == 2 and "add --engine ray" in res.output
    res = invoke("run", recipe, "--set", inp, "--engine", "ray", "--ray-workers", "0", "-o", str(tmp_path / "x"))
    assert res.exit_code == 2 and "--ray-workers 0: must be at least 1" in res.output
    bad = _recipe(tmp_path, fake_server.url, "spark")
    res = invoke("run", bad, "-o", str(tmp_path / "y"))
    assert res.exit_code == 2 and "r.yaml:1" in res.output and "engine must be local or ray" in res.output
    assert len([line for line in res.output.splitlines() if line.strip()]) == 1
