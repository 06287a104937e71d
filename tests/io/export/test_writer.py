"""Exporting runs the engine wrote: each format written whole or not at all, skips counted by reason, the card
beside the file, and one line naming the run and what its rows lack when none can be exported."""

from __future__ import annotations

import copy
import re

import pytest
from engine_runs import engine_run, lines
from tool_row_samples import FAILED, MULTI_TURN, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE, SIMPLE, SIMULATED

from synthloom.io.export.tool_formats import to_hermes
from synthloom.io.export.writer import ExportError, export_run
from synthloom.io.shards import list_shards

ROWS = [SIMPLE, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE, MULTI_TURN]


def test_export_writes_each_format_and_counts_skips(tmp_path):
    run = engine_run(tmp_path, [*ROWS, SIMULATED, FAILED])
    report = export_run(run, "hermes")
    assert report.outputs == [run / "export" / "hermes.jsonl"] and report.written == 5
    assert dict(report.skipped) == {"simulated": 1, "failed": 1}
    records = lines(run / "export" / "hermes.jsonl")
    assert [r["conversations"] for r in records] == [to_hermes(r)["conversations"] for r in ROWS]
    assert all(isinstance(r["id"], str) for r in records)  # the engine's row ids
    report = export_run(run, "openai", tmp_path / "all.jsonl", include_simulated=True, include_failed=True)
    assert report.written == 7 and not report.skipped


def test_bfcl_export_numbers_each_category_and_writes_answers_beside(tmp_path):
    run = engine_run(tmp_path, [SIMPLE, PARALLEL, SIMPLE, MULTI_TURN])
    report = export_run(run, "bfcl", tmp_path / "bfcl" / "BFCL_mine.json")
    assert report.outputs == [tmp_path / "bfcl" / "BFCL_mine.json", tmp_path / "bfcl" / "possible_answer" / "BFCL_mine.json"]
    questions, answers = (lines(p) for p in report.outputs)
    assert [q["id"] for q in questions] == [a["id"] for a in answers] == ["simple_0", "parallel_0", "simple_1", "multi_turn_0"]
    assert dict(report.categories) == {"simple": 2, "parallel": 1, "multi_turn": 1}


def test_malformed_rows_are_skipped_and_the_first_one_named(tmp_path):
    broken = copy.deepcopy(SIMPLE)
    broken["calls"][0]["name"] = "subtract"
    run = engine_run(tmp_path, [SIMPLE, broken, {**SIMPLE, "calls": None}])
    report = export_run(run, "openai")
    assert report.written == 1 and report.skipped == {"malformed": 2}
    assert report.first_problem.startswith("row 1 (id ") and "'subtract'" in report.first_problem


def test_non_tool_runs_and_bad_paths_are_refused(tmp_path):
    run = engine_run(tmp_path, [{"prompt": "p", "response": "r"}])
    with pytest.raises(ExportError, match=r"its rows are not tool-use rows \(no query, tools, calls, results column\)"):
        export_run(run, "openai")
    with pytest.raises(ExportError, match="no such run directory"):
        export_run(tmp_path / "missing", "openai")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="not a run directory"):
        export_run(tmp_path / "empty", "openai")
    with pytest.raises(ExportError, match="unknown format"):
        export_run(run, "csv")
    with pytest.raises(ExportError, match="inside the run's data/ folder"):
        export_run(run, "openai", run / "data" / "x.jsonl")
    assert not (run / "export").exists()


def test_a_corrupt_shard_stops_the_export_and_leaves_no_file(tmp_path):
    run = engine_run(tmp_path, ROWS, "jsonl")
    last = list_shards(run / "data")[-1][1]
    last.write_bytes(last.read_bytes() + b'{"query": "cut off\n')
    with pytest.raises(ExportError, match=r"cannot read its shards \(.*not valid JSON.*\); nothing was written"):
        export_run(run, "openai")
    assert not (run / "export").exists() or not any((run / "export").iterdir())  # no half file, no temp file


CHAT = [
    {"instruction": "Name a fruit.", "response": "Apple.", "model": "big"},
    {"instruction": "Name a tree.", "output": "Oak.", "system": "Answer in one word."},
    {"response": "an answer to nothing"},  # no prompt
    {"prompt": "Name a bird.", "completion": "Rock.", "label": False, "model": "small"},  # undesirable
    {"instruction": "Name a colour.", "response": "Red.", "messages": [{"role": "tool", "content": "?"}]},
]


def test_any_run_exports_for_a_trainer_with_skips_counted_and_a_card(tmp_path):
    run = engine_run(tmp_path, CHAT, pipeline="instructions")
    report = export_run(run, "trl-sft")
    assert report.outputs == [run / "export" / "trl-sft.jsonl"] and (report.style, report.rows, report.written) == ("conversational", 5, 3)
    assert report.skipped == {"no_prompt": 1, "undesirable": 1}
    assert [r["messages"][-1]["content"] for r in lines(report.outputs[0])] == ["Apple.", "Oak.", "Red."]
    assert lines(report.outputs[0])[1]["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert report.sources == {("big", "response"): 1, (None, "response"): 2}
    assert report.card == run / "export" / "README.md" and "instructions" in report.card.read_text()
    standard = export_run(run, "trl-sft", style="standard")
    assert standard.outputs == [run / "export" / "trl-sft-standard.jsonl"]
    assert lines(standard.outputs[0])[1] == {"prompt": "Answer in one word.\n\nName a tree.", "completion": "Oak."}


def test_the_column_options_pick_other_columns(tmp_path):
    run = engine_run(tmp_path, [{"task": "Add 2 and 2.", "better": "4", "worse": "5", "prompt": "unused"}])
    report = export_run(run, "alpaca", prompt_column="task", response_column="better")
    assert lines(report.outputs[0]) == [{"instruction": "Add 2 and 2.", "input": "", "output": "4", "system": ""}]
    with pytest.raises(ExportError, match=r"no row can be exported as alpaca: 1 without a response .*\(no nope column; "
                                          r"the rows have task, better, worse, prompt\); fix: name the answer column"):
        export_run(run, "alpaca", response_column="nope")


def test_tool_and_chat_rows_in_sharegpt_and_tool_rows_where_a_layout_has_no_room(tmp_path):
    run = engine_run(tmp_path, [SIMPLE, {"prompt": "Hi", "response": "Hello"}, SIMULATED])
    records = lines(export_run(run, "sharegpt").outputs[0])
    assert records[0]["conversations"][1]["from"] == "function_call" and "tools" in records[0]
    assert records[1] == {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
    report = export_run(run, "alpaca")
    assert report.written == 1 and report.skipped == {"tool_use": 2}
    assert export_run(run, "trl-sft").skipped == {"simulated": 1}


def test_when_no_row_qualifies_nothing_is_written_and_one_line_says_why(tmp_path):
    run = engine_run(tmp_path, [SIMULATED, SIMULATED], name="sim")
    with pytest.raises(ExportError) as caught:
        export_run(run, "openai")
    assert str(caught.value) == (f"{run}: no row can be exported as openai: 2 simulated (an LLM played the tools; "
                                 f"--include-simulated keeps them); fix: add --include-simulated to export them (their tool results "
                                 f"were invented by an LLM)")
    assert not (run / "export").exists()
    run = engine_run(tmp_path, [{"prompt": "p", "response": "r", "messages": [{"role": "user", "content": "a"},
                                                                             {"role": "user", "content": "b"}]}], name="mt")
    with pytest.raises(ExportError, match=r"as trl-kto \(standard\): 1 without a KTO label .*\(no label, completion or "
                                          r"chosen, rejected column; the rows have prompt, response, messages\)"):
        export_run(run, "trl-kto", style="standard")


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"fmt": "alpaca", "style": "standard"}, "--style standard: only the TRL formats"),
    ({"fmt": "trl-dpo", "style": "chat"}, "--style 'chat': unknown; fix: use conversational or standard"),
    ({"fmt": "hermes", "prompt_column": "q"}, "hermes exports tool-use rows, whose columns are fixed"),
])
def test_options_that_do_not_fit_the_format_are_refused(tmp_path, kwargs, expected):
    run = engine_run(tmp_path, [{"prompt": "p", "chosen": "c", "rejected": "r"}])
    with pytest.raises(ExportError, match=re.escape(expected)):
        export_run(run, **kwargs)


def test_a_readme_of_someone_else_s_is_left_alone(tmp_path):
    run = engine_run(tmp_path, [{"prompt": "p", "response": "r"}])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "README.md").write_text("mine\n")
    report = export_run(run, "openai-chat", tmp_path / "out" / "train.jsonl")
    assert report.card is None and "is not a synthloom card; left it as it is" in report.card_note
    assert (tmp_path / "out" / "README.md").read_text() == "mine\n"


def test_tool_exports_load_with_datasets(tmp_path):
    import datasets

    run = engine_run(tmp_path, ROWS)
    for fmt, column in [("openai", "messages"), ("openai-chat", "messages"), ("sharegpt", "conversations"),
                        ("hermes", "conversations"), ("trl-sft", "messages")]:
        report = export_run(run, fmt, tmp_path / f"{fmt}.jsonl")
        ds = datasets.load_dataset("json", data_files=str(report.outputs[0]), split="train", cache_dir=str(tmp_path / "hf"))
        assert len(ds) == len(ROWS) and column in ds.column_names, fmt
