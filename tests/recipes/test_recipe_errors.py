"""Every kind of recipe mistake names the file, the line and the fix; exit code 2; nothing in OUT/data."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.recipes.build import load_pipeline
from synthloom.recipes.loader import RecipeError

GOOD = """\
name: errs
params:
  input: {prompts}
models:
  default: embedded
steps:
  - name: prompts
    type: load
    path: ${{input}}
  - name: respond
    type: llm
    prompt: "{{{{ prompt }}}}"
    output: response
    max_tokens: 8
  - name: long
    type: filter
    keep: "response | wordcount > 2"
"""


def write(tmp_path: Path, text: str, prompts: Path) -> Path:
    p = tmp_path / "recipe.yaml"
    p.write_text(text.format(prompts=prompts))
    return p


def error_for(tmp_path, prompts, old, new, *sets, model=None) -> RecipeError:
    text = GOOD.replace(old, new)
    assert text != GOOD or not old
    path = write(tmp_path, text, prompts)
    with pytest.raises(RecipeError) as info:
        load_pipeline(str(path), list(sets), model, check_models=False)
    assert info.value.file == str(path)
    return info.value


@pytest.fixture
def prompts(prompts_file) -> Path:
    return prompts_file(3)


def test_good_recipe_builds(tmp_path, prompts):
    loaded = load_pipeline(str(write(tmp_path, GOOD, prompts)), check_models=False)
    assert [s.name for s in loaded.pipeline.steps] == ["prompts", "respond", "long"]
    assert "respond" in loaded.resolved_text


def test_unknown_step_type_suggests(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "type: filter", "type: fliter")
    assert e.line == 16 and "unknown step type 'fliter'" in e.message and "did you mean 'filter'" in e.hint


def test_typoed_option_suggests(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "max_tokens: 8", "max_token: 8")
    assert e.line == 14 and "unknown option 'max_token'" in e.message and "did you mean 'max_tokens'" in e.hint


def test_missing_column(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "keep: \"response | wordcount > 2\"", "keep: \"answer | wordcount > 2\"")
    assert e.line == 17 and "reads column 'answer'" in e.message and "upstream has: id" not in e.message
    assert "prompt, response" in e.message


def test_template_variable_nothing_produces(tmp_path, prompts):
    e = error_for(tmp_path, prompts, 'prompt: "{{{{ prompt }}}}"', 'prompt: "{{{{ promt }}}} please"')
    assert e.line == 12 and "'promt'" in e.message and "did you mean 'prompt'" in e.hint


def test_bad_model_spec(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "default: embedded", "default: olama:llama3")
    assert e.line == 5 and "unknown model spec 'olama:llama3'" in e.message and "openai:MODEL@" in e.hint


def test_undefined_model_name(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "output: response", "output: response\n    model: judge")
    assert e.line == 14 and "model 'judge'" in e.message


def test_yaml_syntax_error_has_line(tmp_path, prompts):
    e = error_for(tmp_path, prompts, 'prompt: "{{{{ prompt }}}}"', "prompt: {{{{ prompt }}}}: x")
    assert e.line == 12 and "not valid YAML" in e.message


def test_unknown_parameter_in_set_and_reference(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "", "", "inptu=x.jsonl")
    assert "no parameter 'inptu'" in e.message and "did you mean 'input'" in e.hint
    e = error_for(tmp_path, prompts, "path: ${{input}}", "path: ${{inptu}}")
    assert e.line == 9 and "${inptu}" in e.message and "${input}" in e.hint


def test_missing_input_file(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "", "", "input=/nonexistent/p.jsonl")
    assert e.line == 9 and "/nonexistent/p.jsonl" in e.message  # the `path:` line of the load step


def test_unknown_top_level_key_and_missing_option(tmp_path, prompts):
    e = error_for(tmp_path, prompts, "models:", "modles:")
    assert e.line == 4 and "did you mean 'models'" in e.hint
    e = error_for(tmp_path, prompts, '    keep: "response | wordcount > 2"\n', "")
    assert e.line == 15 and "missing option 'keep'" in e.message


def test_cli_exit_code_2_and_nothing_written(tmp_path, prompts):
    path = write(tmp_path, GOOD.replace("type: filter", "type: fliter"), prompts)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "-o", str(out)])
    assert result.exit_code == 2
    assert f"{path}:16" in result.output and "fix: did you mean 'filter'" in result.output
    assert not (out / "data").exists()


def test_cli_unreachable_server_exit_2(tmp_path, prompts):
    path = write(tmp_path, GOOD, prompts)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "-o", str(out), "--model", "openai:m@http://127.0.0.1:9/v1"])
    assert result.exit_code == 2 and "could not connect to http://127.0.0.1:9/v1" in result.output
    assert not (out / "data").exists()
