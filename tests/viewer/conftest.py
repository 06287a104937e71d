"""Runs for the viewer tests, made through the engine (``synthloom run``) on a scripted model.

The recipe: load prompt rows (some carrying a chat with tool calls, a chosen/rejected pair or a
single-turn tool-use row) → dedup on the prompt (so the source rows are kept in ``.state/nodes/``) →
two answers per prompt (children with a ``parent`` in their lineage) → a judge asked for JSON (broken
replies become error rows with the raw text) → a filter rejecting short answers with a reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from synthloom.testing import recipe_runs
from synthloom.testing.scripted import install_scripted_backend

CATEGORIES = ["math", "coding", "writing", "travel"]
WEATHER_CHAT = [
    {"role": "system", "content": "You are a travel assistant."},
    {"role": "user", "content": "What is the weather in Oslo?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 3, \"sky\": \"snow\"}"},
    {"role": "assistant", "content": "It is 3 °C and snowing in Oslo."},
]
CONVERT_TOOL = {"type": "function", "function": {"name": "convert_units", "description": "Convert a value between units",
                                                 "parameters": {"type": "object", "properties": {"value": {"type": "number"}}}}}


def source_row(i: int) -> dict:
    """Row ``i`` of the test input: a prompt, a category, and every tenth row one special kind."""
    topic = CATEGORIES[i % len(CATEGORIES)]
    row: dict = {"prompt": f"Question {i} about {topic}", "category": topic, "difficulty": i % 5}
    if i % 7 == 3:
        row["prompt"] += " (short)"
    if i % 13 == 5:
        row["prompt"] += " (broken judge)"
    if i % 10 == 0:
        row["conversation"] = WEATHER_CHAT
    if i % 10 == 1:
        row.update(chosen=f"A careful, correct answer number {i}.", rejected=f"A sloppy answer number {i}.",
                   chosen_score=9.0, rejected_score=3.0)
    if i % 10 == 2:
        row.update(query=f"Convert {i} km to miles", tools=[CONVERT_TOOL],
                   calls=[{"id": f"c{i}", "name": "convert_units", "arguments": {"value": i}}],
                   results=[{"call_id": f"c{i}", "name": "convert_units", "status": "ok", "value": round(i * 0.621, 3), "error": None}],
                   tool_answer=f"{i} km is {round(i * 0.621, 3)} miles.")
    return row


def reply(request, version: str = "") -> str:
    """The scripted model: answers, short answers for "(short)" prompts, a judge's JSON (or not)."""
    text = request.messages[-1]["content"]
    if text.startswith("Rate this answer"):
        if "(broken judge)" in text:
            return "I refuse to give a score in JSON."
        number = int(re.search(r"Question (\d+)", text).group(1))
        return json.dumps({"score": number % 10})
    if "(short)" in text:
        return "Too short."
    return f"Here is a full answer{version} to: {text}. It explains the idea step by step."


def recipe(input_path: Path) -> str:
    steps = [
        {"name": "prompts", "type": "load", "path": str(input_path)},
        {"name": "unique_prompts", "type": "dedup_exact", "columns": ["prompt"]},
        {"name": "answer", "type": "llm", "prompt": "{{ prompt }}", "output": "answer", "n": 2, "temperature": 0.8},
        {"name": "judge", "type": "llm", "prompt": "Rate this answer to {{ prompt }}: {{ answer }}",
         "json_schema": {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]},
         "structured_attempts": 1, "temperature": 0.0},
        {"name": "long_enough", "type": "filter", "keep": "answer | length > 20", "reason": "the answer is too short"},
    ]
    return yaml.safe_dump({"name": "viewer-test", "models": {"default": "embedded"}, "steps": steps}, sort_keys=False)


def make_run(root: Path, rows: int, server_url: str, partition_size: int, version: str = "") -> Path:
    """A completed run of :func:`recipe` over ``rows`` input rows in ``root/out`` (``version`` goes into
    every full answer, so two runs can differ)."""
    root.mkdir(parents=True, exist_ok=True)
    source = root / "rows.jsonl"
    source.write_text("".join(json.dumps(source_row(i)) + "\n" for i in range(rows)))
    recipe_file = root / "viewer-test.yaml"
    recipe_file.write_text(recipe(source))
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        spec = install_scripted_backend(mp, lambda request: reply(request, version), server_url)
        recipe_runs.run_recipe(str(recipe_file), out, extra_cli_args=("--model", spec, "--partition-size", str(partition_size)))
    return out


@pytest.fixture(scope="session")
def small_run(tmp_path_factory, fake_server) -> Path:
    """40 input rows: 64 answers kept, 10 rejected, 6 error rows, over a few shards."""
    return make_run(tmp_path_factory.mktemp("viewer-small"), 40, fake_server.url, 16)


@pytest.fixture(scope="session")
def other_run(tmp_path_factory, fake_server) -> Path:
    """The small run again with different answers, to compare with."""
    return make_run(tmp_path_factory.mktemp("viewer-other"), 40, fake_server.url, 16, version=" (v2)")


@pytest.fixture(scope="session")
def big_run(tmp_path_factory, fake_server) -> Path:
    """1,500 input rows: about 2,500 answers kept, the rest rejected or errors, over many shards."""
    return make_run(tmp_path_factory.mktemp("viewer-big"), 1500, fake_server.url, 100)
