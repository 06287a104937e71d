"""Runs for the viewer tests, made through the engine (``synthloom run``) on a scripted model.

The recipe: load prompt rows (some carrying a chat with tool calls, a chosen/rejected pair or a
single-turn tool-use row) → dedup on the prompt (so the source rows are kept in ``.state/nodes/``) →
two answers per prompt (children with a ``parent`` in their lineage) → a judge asked for JSON (broken
replies become error rows with the raw text) → a filter rejecting short answers with a reason.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import threading
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
    if i % 10 == 3:
        row.update(solution="def double(x):\n    # twice x\n    return x * 2\n", passed=False, status="failed", pass_rate=0.5,
                   test_results=[{"index": 0, "test": "assert double(2) == 4", "status": "passed", "passed": True},
                                 {"index": 1, "test": "assert double('a') == 2", "status": "failed", "passed": False,
                                  "stderr": "AssertionError"}])
    if i % 10 == 4:
        row.update(response=f"Add them: {i} + 1 = {i + 1}. The answer is \\boxed{{{i + 1}}}.", correct=True,
                   pred_answer=str(i + 1), gold_answer=str(i + 1), verify_status="exact")
    if i % 10 == 5:
        row.update(parent_instruction=f"Explain topic {i}.", instruction=f"Explain topic {i} to a child, in three steps.")
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


# -- a browser (Playwright driving Debian's chromium) -------------------------------------------------------
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FAILURE_SHOTS = Path(tempfile.gettempdir()) / "synthloom-viewer-failures"


@contextlib.contextmanager
def serving(run: Path, compare: Path | None = None):
    """A viewer server for ``run`` on a free port, stopped afterwards; yields its URL."""
    from synthloom.viewer.server import make_server

    server = make_server(run, compare=compare, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(small_run, other_run):
    """Chromium under Playwright, for one test module. Playwright's sync API keeps an event loop running
    in this thread while it is open, where ``asyncio.run`` (the engine, other tests) cannot start: so the
    runs the browser tests look at are made first, and it is closed when the module's tests are done."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(request, browser):
    """A fresh page; a test that fails gets a screenshot of it (its path is printed in the failure)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    script_errors: list[str] = []
    tab.on("pageerror", lambda e: script_errors.append(str(e)))
    request.node.viewer_page = tab
    yield tab
    context.close()
    assert script_errors == [], f"the page raised: {script_errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    tab = getattr(item, "viewer_page", None)
    if report.when == "call" and report.failed and tab is not None:
        FAILURE_SHOTS.mkdir(parents=True, exist_ok=True)
        shot = FAILURE_SHOTS / f"{item.name}.png"
        try:
            tab.screenshot(path=str(shot), full_page=True)
            report.sections.append(("viewer screenshot", f"the page at failure: {shot} ({tab.url})"))
        except Exception as e:  # noqa: BLE001 - the test's own failure is what matters
            report.sections.append(("viewer screenshot", f"could not be taken: {e}"))


@pytest.fixture(scope="session")
def serve():
    """``with serve(run, compare=None) as url:`` — a viewer on a free port."""
    return serving
