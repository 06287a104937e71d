"""``synthloom export``: a run directory the engine wrote, exported in each format; skips counted; user mistakes
as one line."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from synthloom import LoadStep, Pipeline, run_pipeline
from synthloom.cli.main import app
from synthloom.engine.run import RunOptions

runner = CliRunner()

WEATHER = {"type": "function", "function": {"name": "get_temperature", "description": "Current temperature in a city.",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"},
                                                "unit": {"type": "string", "enum": ["C", "F"], "default": "C"}},
                                                "required": ["city"]}}}


def row(query: str, cities: list[str], *, status: str = "ok", simulated: bool = False) -> dict:
    calls = [{"id": f"c{i}", "name": "get_temperature", "arguments": {"city": c}} for i, c in enumerate(cities)]
    results = [{"call_id": f"c{i}", "name": "get_temperature", "status": status, "value": {"celsius": 20 + i} if status == "ok" else None,
                "error": None if status == "ok" else "ValueError: unknown city"} for i in range(len(cities))]
    return {"query": query, "tools": [WEATHER], "calls": calls, "results": results, "answer": "It is mild.",
            "form": "parallel" if len(cities) > 1 else "simple", "simulated": simulated}


ROWS = [row("How warm is Oslo?", ["Oslo"]), row("Compare Rome and Cairo.", ["Rome", "Cairo"]),
        row("How warm is Lima?", ["Lima"], simulated=True), row("How warm is Xyz?", ["Xyz"], status="error")]


def engine_run(tmp_path: Path, rows: list[dict], name: str = "run") -> Path:
    source = tmp_path / f"{name}.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = tmp_path / name
    result = run_pipeline(Pipeline([LoadStep("src", path=str(source))], models={}, name=name), out,
                          RunOptions(progress="quiet", log=lambda m: None))
    assert result.ok, result.message
    return out


def export(*args: str):
    return runner.invoke(app, ["export", *args])


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def run(tmp_path) -> Path:
    return engine_run(tmp_path, ROWS)


def test_openai_export_goes_into_the_run_and_says_what_it_skipped(run):
    result = export(str(run), "--format", "openai")
    assert result.exit_code == 0, result.output
    target = run / "export" / "openai.jsonl"
    assert f"done: 2 rows in {target} (openai)" in result.output
    assert "skipped 2 rows: 1 with a failed tool call (--include-failed keeps them" in result.output
    assert "1 simulated (an LLM played the tools; --include-simulated keeps them)" in result.output
    records = lines(target)
    assert [r["messages"][0]["content"] for r in records] == ["How warm is Oslo?", "Compare Rome and Cairo."]
    parallel = records[1]["messages"]
    assert [c["function"]["arguments"] for c in parallel[1]["tool_calls"]] == [{"city": "Rome"}, {"city": "Cairo"}]
    assert [(m["tool_call_id"], json.loads(m["content"])) for m in parallel[2:4]] == [("c0", {"celsius": 20}), ("c1", {"celsius": 21})]
    assert records[0]["tools"] == [WEATHER]


def test_include_flags_keep_simulated_and_failed_rows(run, tmp_path):
    target = tmp_path / "out" / "all.jsonl"
    result = export(str(run), "-f", "openai", "-o", str(target), "--include-simulated", "--include-failed")
    assert result.exit_code == 0, result.output
    assert "done: 4 rows" in result.output and "skipped" not in result.output
    assert lines(target)[3]["messages"][2]["content"] == "ValueError: unknown city"


@pytest.mark.parametrize(("fmt", "first_turn"), [("sharegpt", "human"), ("hermes", "system")])
def test_sharegpt_and_hermes_exports(run, fmt, first_turn):
    result = export(str(run / "data"), "--format", fmt)  # the data/ folder stands for its run
    assert result.exit_code == 0, result.output
    records = lines(run / "export" / f"{fmt}.jsonl")
    assert len(records) == 2 and all(r["conversations"][0]["from"] == first_turn for r in records)


def test_bfcl_export_writes_questions_and_possible_answers(run, tmp_path):
    target = tmp_path / "eval" / "BFCL_v4_weather.json"
    result = export(str(run), "--format", "bfcl", "-o", str(target))
    assert result.exit_code == 0, result.output
    answers_path = tmp_path / "eval" / "possible_answer" / "BFCL_v4_weather.json"
    assert (f"done: 2 BFCL questions in {target} (1 parallel, 1 simple); possible answers in {answers_path}"
            in result.output)
    questions, answers = lines(target), lines(answers_path)
    assert [q["id"] for q in questions] == ["simple_0", "parallel_0"]
    assert questions[0]["function"][0]["parameters"]["type"] == "dict"
    assert answers[1] == {"id": "parallel_0", "ground_truth": [
        {"get_temperature": {"city": ["Rome"], "unit": ["C", ""]}}, {"get_temperature": {"city": ["Cairo"], "unit": ["C", ""]}}]}


def test_malformed_rows_are_named(tmp_path):
    bad = row("Where?", ["Oslo"])
    bad["calls"][0]["name"] = "get_weather"
    run = engine_run(tmp_path, [row("How warm is Oslo?", ["Oslo"]), bad])
    result = export(str(run), "-f", "hermes")
    assert result.exit_code == 0, result.output
    assert "skipped 1 row: 1 malformed" in result.output
    assert "first malformed row: row 1 (id " in result.output and "'get_weather', which is not among" in result.output


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    out_lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(out_lines) == 1 and out_lines[0].startswith("error: "), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return out_lines[0]


def test_a_run_without_tool_rows_is_one_line_naming_the_run_and_columns(tmp_path):
    run = engine_run(tmp_path, [{"prompt": "Tell me a joke.", "response": "No."}], name="jokes")
    line = one_error_line(export(str(run), "--format", "openai"))
    assert str(run) in line and "no query, tools, calls, results column" in line and "tool-use recipe" in line
    assert not (run / "export").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (lambda t, r: [str(t / "nope"), "-f", "openai"], "no such run directory"),
    (lambda t, r: [str(t), "-f", "openai"], "not a run directory (no data/ folder of shards)"),
    (lambda t, r: [str(r), "-f", "csv"], "--format 'csv': unknown format; fix: use one of trl-sft, trl-dpo, trl-kto, trl-rm, "
                                         "openai-chat, sharegpt, alpaca, openai, hermes, bfcl"),
    (lambda t, r: [str(r), "-f", "openai", "-o", str(r / "data" / "x.jsonl")], "inside the run's data/ folder"),
    (lambda t, r: [str(r), "-f", "openai", "-o", str(t)], "is a folder; fix: give -o a file path"),
])
def test_user_mistakes_are_one_line(run, tmp_path, args, expected):
    line = one_error_line(export(*args(tmp_path, run)))
    assert expected in line


def test_format_is_required(run):
    result = export(str(run))
    assert result.exit_code == 2 and "--format" in result.output


PAIRS = [{"prompt": "Capital of Peru?", "chosen": "Lima.", "rejected": "Cusco.", "chosen_model": "big",
          "rejected_model": "small", "pair_rule": "best_vs_worst"},
         {"prompt": "Capital of Chile?", "chosen": "Santiago.", "rejected": "Lima.", "chosen_model": "big",
          "rejected_model": "small", "pair_rule": "best_vs_worst"},
         {"prompt": "Say hi.", "response": "Hi."}]


def test_trainer_formats_say_records_rows_skips_and_the_card(tmp_path):
    run = engine_run(tmp_path, PAIRS, name="prefs")
    result = export(str(run), "--format", "trl-kto", "--style", "standard")
    assert result.exit_code == 0, result.output
    target = run / "export" / "trl-kto-standard.jsonl"
    assert f"done: 4 records from 2 rows in {target} (trl-kto, standard)" in result.output
    assert "skipped 1 row: 1 without a KTO label (a boolean `label` with a `completion`) or a pair" in result.output
    assert f"card: {run / 'export' / 'README.md'}" in result.output
    assert [(r["completion"], r["label"]) for r in lines(target)] == [("Lima.", True), ("Cusco.", False),
                                                                      ("Santiago.", True), ("Lima.", False)]
    result = export(str(run), "-f", "openai-chat", "-o", str(tmp_path / "sft" / "train.jsonl"))
    assert result.exit_code == 0, result.output
    assert f"done: 3 rows in {tmp_path / 'sft' / 'train.jsonl'} (openai-chat)" in result.output


def test_a_run_no_row_of_which_fits_is_one_line(tmp_path):
    run = engine_run(tmp_path, [{"prompt": "Tell me a joke.", "response": "No."}], name="jokes")
    line = one_error_line(export(str(run), "--format", "trl-dpo"))
    assert str(run) in line and "no row can be exported as trl-dpo: 1 without a chosen/rejected pair" in line
    assert "(no chosen, rejected column; the rows have prompt, response)" in line
    line = one_error_line(export(str(run), "--format", "openai-chat", "--style", "standard"))
    assert "--style standard: only the TRL formats (trl-sft, trl-dpo, trl-kto, trl-rm)" in line
    assert not (run / "export").exists()
