"""Listings scripts can read: ``synthloom recipes --json`` and ``synthloom show NAME --options``."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.pipeline.config import option_rows
from synthloom.recipes.loader import builtin_names
from synthloom.recipes.registry import step_class

runner = CliRunner()


def test_recipes_json_lists_every_builtin_with_title_citation_and_param_defaults():
    result = runner.invoke(app, ["recipes", "--json"])
    assert result.exit_code == 0
    listing = json.loads(result.stdout)
    assert [r["name"] for r in listing] == builtin_names()
    by_name = {r["name"]: r for r in listing}
    demo = by_name["demo"]
    assert demo["params"]["n"] == 16 and demo["params"]["concurrency"] == 16
    assert set(demo) == {"name", "title", "description", "citation", "citations", "params", "rows"}
    si = by_name["self-instruct"]
    assert si["title"] == "Self-Instruct" and si["citation"].startswith("Wang et al. 2022")
    assert all(r["title"] and r["description"].startswith(r["title"]) for r in listing)


def test_show_options_lists_every_option_of_every_step_with_default_and_value():
    result = runner.invoke(app, ["show", "demo", "--options"])
    assert result.exit_code == 0
    listing = json.loads(result.stdout)
    recipe = yaml.safe_load(open(listing["source"]))
    assert [s["name"] for s in listing["steps"]] == [s["name"] for s in recipe["steps"]]
    for step in listing["steps"]:
        documented = [row[0] for row in option_rows(step_class(step["type"]))]  # as `synthloom steps TYPE` lists them
        assert [o["option"] for o in step["options"]] == documented
    topics = listing["steps"][0]
    options = {o["option"]: o for o in topics["options"]}
    assert options["limit"] == {"option": "limit", "type": "int | None", "default": None, "required": False, "value": 16}
    assert options["path"]["required"] and options["path"]["value"].endswith("demo_topics.jsonl")
    assert listing["params"]["n"] == 16


def test_show_options_works_for_every_builtin_and_nested_loop_steps(tmp_path):
    for name in builtin_names():  # even one whose input file is given at run time (generate)
        result = runner.invoke(app, ["show", name, "--options"])
        assert result.exit_code == 0, (name, result.output)
        assert json.loads(result.stdout)["steps"]
    recipe = tmp_path / "loop.yaml"
    recipe.write_text(yaml.safe_dump({"params": {"rounds": 3}, "steps": [
        {"name": "seeds", "type": "records", "rows": [{"text": "a"}]},
        {"name": "grow", "type": "loop", "max_rounds": "${rounds}", "until": "text | length > 3",
         "steps": [{"name": "more", "type": "set", "columns": {"text": "{{ text }}a"}}]}]}))
    result = runner.invoke(app, ["show", str(recipe), "--options"])
    assert result.exit_code == 0, result.output
    grow = json.loads(result.stdout)["steps"][1]
    options = {o["option"]: o for o in grow["options"]}
    assert options["max_rounds"]["value"] == 3 and options["steps"]["value"] == ["more"]
    assert grow["steps"][0]["name"] == "more" and grow["steps"][0]["type"] == "set"
    bad = runner.invoke(app, ["show", "nope-recipe", "--options"])
    assert bad.exit_code == 2 and bad.output.startswith("error: ")
