"""Every user mistake is one line naming the place and the fix, exit code 2, and nothing is written.

A corpus of bad inputs (files, recipes, flags, ``--set`` values, model specs): each case builds its
command in a fresh folder, runs ``synthloom run``, and checks the exit code, the message, that the
message is a single line, and that the output folder was not created (or not touched).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app

GOOD_RECIPE = """\
name: errs
params:
  input: {prompts}
  temperature: 0.5
models:
  default: {model}
steps:
  - name: prompts
    type: load
    path: ${{input}}
  - name: respond
    type: llm
    prompt: "{{{{ prompt }}}}"
    output: response
    temperature: ${{temperature}}
    max_tokens: 8
"""


@dataclass
class Env:
    """The folder one case runs in: a prompts file, a good recipe, the output path, a fake model."""

    root: Path
    model: str

    @property
    def prompts(self) -> Path:
        return self.root / "prompts.jsonl"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def recipe(self, old: str = "", new: str = "", raw: bytes | None = None, name: str = "recipe.yaml") -> Path:
        path = self.root / name
        text = GOOD_RECIPE.format(prompts=self.prompts, model=self.model)
        if old:
            assert old in text, old
            text = text.replace(old, new)
        path.write_bytes(raw if raw is not None else text.encode())
        return path


@dataclass
class Case:
    """``args(env)`` is the command after ``synthloom run``; ``expect`` the message parts."""

    id: str
    args: Callable[[Env], list[str]]
    expect: tuple[str, ...]
    out_may_exist: bool = False  # the case itself put something at -o (a file, a foreign folder)
    setup: Callable[[Env], None] = field(default=lambda env: None)


def recipe_run(old: str = "", new: str = "", *extra: str) -> Callable[[Env], list[str]]:
    return lambda env: [str(env.recipe(old, new)), "-o", str(env.out), *extra]


def generate(*extra: str) -> Callable[[Env], list[str]]:
    """The built-in `generate` recipe on the env's prompts and fake model, plus ``extra`` arguments."""
    return lambda env: ["generate", "--set", f"input={env.prompts}", "--model", env.model, "-o", str(env.out), *extra]


def with_set(value: str) -> Callable[[Env], list[str]]:
    return generate("--set", value)


def _file_at_out(env: Env) -> None:
    env.out.write_text("not a folder")


def _foreign_folder(env: Env) -> None:
    (env.out / "data").mkdir(parents=True)
    (env.out / "data" / "mine.csv").write_text("a\n1\n")


def _unrelated_folder(env: Env) -> None:
    env.out.mkdir()
    (env.out / "notes.txt").write_text("keep me")


def _other_recipe_run(env: Env) -> None:
    (env.out / ".state").mkdir(parents=True)
    (env.out / "run.json").write_bytes(orjson.dumps({"status": "completed", "pipeline": "magpie"}))


CASES = [
    # -- flags --------------------------------------------------------------------------------------------
    Case("n-negative", generate("-n", "-1"), ("-n -1: the number of records must be at least 1", "fix:")),
    Case("n-zero", generate("-n", "0"), ("-n 0: the number of records must be at least 1",)),
    Case("n-not-a-number", generate("-n", "abc"), ("Invalid value for '-n'", "integer", "fix: see `")),
    Case("partition-size-zero", generate("--partition-size", "0"), ("--partition-size 0: must be at least 1", "fix:")),
    Case("partition-size-negative", generate("--partition-size", "-5"), ("--partition-size -5: must be at least 1",)),
    Case("max-cost-negative", generate("--max-cost", "-1"), ("--max-cost -1.0: must be a positive amount", "fix:")),
    Case("max-cost-nan", generate("--max-cost", "nan"), ("--max-cost nan: must be a positive amount",)),
    Case("max-requests-zero", generate("--max-requests", "0"), ("--max-requests 0: must be at least 1",)),
    Case("max-tokens-budget-negative", generate("--max-tokens-budget", "-3"), ("--max-tokens-budget -3: must be at least 1",)),
    Case("format-unknown", generate("--format", "csv"), ("--format must be parquet or jsonl, not 'csv'",)),
    Case("unknown-flag", generate("--frsh"), ("No such option: --frsh", "fix: see `")),
    Case("missing-recipe-argument", lambda env: [], ("Missing argument", "fix: see `")),
    # -- the output folder and the cache folder ------------------------------------------------------------
    Case("out-is-a-file", generate(), ("is a file, not a folder", "fix: give -o a folder path"), True, _file_at_out),
    Case("out-under-a-file", lambda env: [*generate()(env)[:-1], str(env.out / "sub")],
         ("is a file, so no folder can be made there", "fix: choose another -o"), True, _file_at_out),
    Case("cache-dir-is-a-file", lambda env: [*generate()(env), "--cache-dir", str(env.prompts)],
         ("--cache-dir", "is a file, not a folder", "fix: give --cache-dir a folder path")),
    Case("out-is-someone-elses-folder", generate(), ("is not a synthloom run directory and already has data",
                                                     "fix: choose a new (or empty) -o folder"), True, _foreign_folder),
    Case("out-is-an-unrelated-folder", generate(), ("is not empty and not a synthloom run directory",
                                                    "add --fresh"), True, _unrelated_folder),
    Case("out-is-a-run-of-another-recipe", generate(), ("holds a run of recipe 'magpie', not 'generate'",
                                                        "fix: add --fresh"), True, _other_recipe_run),
    # -- recipe files ------------------------------------------------------------------------------------------
    Case("recipe-not-utf8", lambda env: [str(env.recipe(raw=b"name: x\nsteps: caf\xe9\n")), "-o", str(env.out)],
         ("recipe.yaml:2: is not UTF-8 text (byte 0xe9", "fix: save the recipe as UTF-8")),
    Case("recipe-is-a-folder", lambda env: [str(env.root), "-o", str(env.out)], ("is a folder, not a recipe file",)),
    Case("recipe-missing", lambda env: [str(env.root / "nope.yaml"), "-o", str(env.out)],
         ("nope.yaml: no such recipe file", "fix: check the path")),
    Case("builtin-typo", lambda env: ["generat", "-o", str(env.out)], ("did you mean 'generate'",)),
    Case("yaml-syntax", recipe_run("output: response", "output: [response"), ("not valid YAML", "fix:")),
    Case("recipe-is-a-list", lambda env: [str(env.recipe(raw=b"- a\n- b\n")), "-o", str(env.out)],
         ("recipe.yaml:1: a recipe is a YAML mapping",)),
    Case("unknown-top-level-key", recipe_run("models:", "modles:"), ("unknown top-level key 'modles'", "did you mean 'models'")),
    Case("no-steps", lambda env: [str(env.recipe(raw=b"name: x\nsteps: []\n")), "-o", str(env.out)],
         ("the recipe has no `steps:` list",)),
    Case("unknown-step-type", recipe_run("type: llm", "type: lmm"), ("unknown step type 'lmm'", "did you mean 'llm'")),
    Case("step-without-type", recipe_run("    type: llm\n", ""), ("step 'respond' has no `type:`",)),
    Case("undefined-parameter", recipe_run("path: ${input}", "path: ${inptu}"), ("${inptu} refers to no parameter",
                                                                              "did you mean ${input}")),
    Case("temperature-text-in-recipe", recipe_run("temperature: ${temperature}", "temperature: abc"),
         ("recipe.yaml:15:", "temperature must be a number >= 0 (e.g. 0.7), not 'abc'", "fix:")),
    Case("max-tokens-negative-in-recipe", recipe_run("max_tokens: 8", "max_tokens: -5"),
         ("recipe.yaml:16:", "max_tokens must be a whole number >= 1, not -5")),
    Case("top-p-above-one-in-recipe", recipe_run("max_tokens: 8", "max_tokens: 8\n    top_p: 1.5"),
         ("top_p must be a number from 0 to 1, not 1.5",)),
    Case("temperature-param-text", recipe_run("temperature: 0.5", "temperature: warm"),
         ("temperature must be a number >= 0 (e.g. 0.7), not 'warm'",)),
    # -- --set values ------------------------------------------------------------------------------------------
    Case("set-temperature-text", with_set("temperature=abc"),
         ("--set temperature: temperature must be a number >= 0 (e.g. 0.7), not 'abc'", "fix: e.g. --set temperature=0.7")),
    Case("set-temperature-nan", with_set("temperature=NaN"), ("temperature must be a number >= 0", "not 'NaN'")),
    Case("set-temperature-yaml-nan", with_set("temperature=.nan"), ("--set temperature: '.nan' is not a finite number",)),
    Case("set-temperature-inf", with_set("temperature=.inf"), ("--set temperature: '.inf' is not a finite number",)),
    Case("set-temperature-negative", with_set("temperature=-1"), ("temperature must be a number >= 0", "not -1")),
    Case("set-max-tokens-negative", with_set("max_tokens=-5"), ("--set max_tokens: max_tokens must be a whole number >= 1, not -5",)),
    Case("set-max-tokens-float", with_set("max_tokens=2.5"), ("max_tokens must be a whole number >= 1, not 2.5",)),
    Case("set-max-tokens-bool", with_set("max_tokens=true"), ("max_tokens must be a whole number >= 1, not True",)),
    Case("set-step-top-p", with_set("steps.respond.top_p=7"), ("--set steps.respond.top_p: top_p must be a number from 0 to 1",)),
    Case("set-template", with_set("system={{ secret }}"), ("--set system: the value contains a template", "fix:")),
    Case("set-template-block", with_set("system={% for x in y %}"), ("--set system: the value contains a template",)),
    Case("set-template-comment", with_set("system=a {# b #}"), ("--set system: the value contains a template",)),
    Case("set-no-equals", with_set("temperature"), ("--set 'temperature' is not key=value", "fix: write e.g.")),
    Case("set-unknown-param", with_set("temprature=0.3"), ("the recipe has no parameter 'temprature'",
                                                           "did you mean 'temperature'")),
    Case("set-unknown-step", with_set("steps.respnd.top_p=0.5"), ("no step named 'respnd'", "did you mean 'respond'")),
    Case("set-broken-yaml", with_set("system=[a, b"), ("--set system: '[a, b' is not a valid value", "fix: quote it")),
    Case("set-model-setting-zero", with_set("models.default.max_in_flight=0"),
         ("max_in_flight must be at least 1, got 0",)),
    Case("set-model-setting-text", with_set("models.default.timeout_s=soon"),
         ("setting 'timeout_s' must be a finite number, not 'soon'",)),
    Case("set-model-setting-nan", with_set("models.default.timeout_s=.nan"),
         ("--set models.default.timeout_s: '.nan' is not a finite number",)),
    Case("set-model-setting-unknown", with_set("models.default.max_inflight=4"),
         ("unknown model setting 'max_inflight'", "did you mean 'max_in_flight'")),
    Case("set-concurrency-negative", with_set("concurrency=-2"), ("max_in_flight must be at least 1, got -2",)),
    # -- model specs -------------------------------------------------------------------------------------------
    Case("model-unknown-kind", lambda env: ["generate", "--set", f"input={env.prompts}", "--model", "olama:llama3",
                                            "-o", str(env.out)], ("unknown model spec 'olama:llama3'", "openai:MODEL@")),
    Case("model-openai-no-name", lambda env: ["generate", "--set", f"input={env.prompts}", "--model", "openai:",
                                              "-o", str(env.out)], ("has no model name",)),
    Case("model-openai-bad-url", lambda env: ["generate", "--set", f"input={env.prompts}", "--model",
                                              "openai:m@ftp://host/v1", "-o", str(env.out)],
         ("the part after @ must be an http(s):// URL",)),
    Case("model-gguf-no-path", lambda env: ["generate", "--set", f"input={env.prompts}", "--model", "gguf:",
                                            "-o", str(env.out)], ("has no path",)),
    Case("model-gguf-missing-file", lambda env: ["generate", "--set", f"input={env.prompts}", "--model",
                                                 f"gguf:{env.root / 'missing.gguf'}", "-o", str(env.out)],
         ("missing.gguf does not exist", "fix the path after 'gguf:'")),
    Case("model-gguf-not-gguf", lambda env: ["generate", "--set", f"input={env.prompts}", "--model",
                                             f"gguf:{env.prompts}", "-o", str(env.out)], ("is not a GGUF file",)),
    Case("model-server-down", lambda env: ["generate", "--set", f"input={env.prompts}", "--model",
                                           "openai:m@http://127.0.0.1:9/v1", "-o", str(env.out)],
         ("could not connect to http://127.0.0.1:9/v1", "is the server running?")),
    # -- input files ---------------------------------------------------------------------------------------------
    Case("input-missing", lambda env: ["generate", "--set", f"input={env.root / 'none.jsonl'}", "--model", env.model,
                                       "-o", str(env.out)], ("none.jsonl",)),
]


def test_the_corpus_is_large_and_its_ids_unique():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_user_mistake_is_one_line_with_place_and_fix_exit_2(case: Case, tmp_path, fake_model):
    env = Env(tmp_path, fake_model)
    env.prompts.write_bytes(b"".join(orjson.dumps({"prompt": f"p{i}"}) + b"\n" for i in range(3)))
    case.setup(env)
    before = _tree(env.out)
    result = CliRunner().invoke(app, ["run", *case.args(env)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for part in case.expect:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert _tree(env.out) == before, "the output folder changed"
    if not case.out_may_exist:
        assert not env.out.exists()


def _tree(path: Path) -> list[tuple[str, bytes]] | None:
    if not path.exists():
        return None
    if path.is_file():
        return [("", path.read_bytes())]
    return sorted((str(p.relative_to(path)), p.read_bytes() if p.is_file() else b"") for p in path.rglob("*"))


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only folder: a read-only tmpfs as root (permissions do not stop root), chmod otherwise."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
        yield ro
        ro.chmod(0o755)
        return
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {proc.stderr.strip()}")
    yield ro
    subprocess.run(["umount", str(ro)], check=False)


@pytest.mark.parametrize("flag", ["-o", "--cache-dir"])
def test_read_only_output_or_cache_folder(flag, read_only_dir, tmp_path, fake_model, prompts_file):
    prompts = prompts_file(3)
    out = tmp_path / "out"
    target = read_only_dir / "run"
    args = ["run", "generate", "--set", f"input={prompts}", "--model", fake_model, "-o", str(out)]
    args += ["-o", str(target)] if flag == "-o" else ["--cache-dir", str(target)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"error: {flag} {target}: {read_only_dir} " in lines[0], result.output
    assert f"fix: choose a writable {flag} folder" in lines[0]
    assert not out.exists() and not target.exists()


def test_a_null_prompt_is_an_error_row_never_the_text_none(tmp_path, fake_server, fake_model):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(b'{"prompt": "hello"}\n{"prompt": null}\n{"prompt": "bye"}\n')
    out = tmp_path / "out"
    fake_server.reset_stats()
    result = CliRunner().invoke(app, ["run", "generate", "--set", f"input={prompts}", "--model", fake_model,
                                      "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    from synthloom.io.shards import read_shards

    assert [r["prompt"] for r in read_shards(out / "data")] == ["hello", "bye"]
    errors = list(read_shards(out / "errors" / "respond"))
    assert len(errors) == 1 and "column 'prompt' is null" in errors[0]["_error"]
    assert fake_server.stats()["requests"] == 2  # the null row never reached the server
    assert "None" not in str(fake_server.last_request())
