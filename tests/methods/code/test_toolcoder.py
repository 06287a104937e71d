"""ToolCoder: the API documentation index (query → the right API), the search tool loop, solutions that
must pass and must fail in the sandbox, the annotated-code format, and the recipe end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom.methods.code.toolcoder import API_SEARCH, ToolCoder, annotate, api_use, load_api_index
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, tool_calls

TASKS = [json.loads(line) for line in
         (Path(__file__).parents[3] / "src/synthloom/recipes/builtin/toolcoder_tasks.jsonl").read_text().splitlines()]
RUN_LENGTH = {ID: "t0", **TASKS[0]}
GOOD = "from itertools import groupby\n\ndef run_length(s):\n    return [(c, len(list(g))) for c, g in groupby(s)]\n"
#: seconds per test: generous, as a loaded machine starts the sandbox slowly (a passing test takes milliseconds)
SANDBOX_TIMEOUT = 30.0
BAD = "def run_length(s):\n    return [(c, 1) for c in s]\n"


@pytest.mark.parametrize("query, api", [
    ("group consecutive equal items", "itertools.groupby"), ("flatten a list of lists", "itertools.chain.from_iterable"),
    ("running maximum prefix", "itertools.accumulate"), ("tally the occurrences of items", "collections.Counter"),
    ("rotate a double-ended queue", "collections.deque"), ("median middle value", "statistics.median"),
    ("parse an ISO date string", "datetime.date.fromisoformat"), ("replace whitespace with a regular expression", "re.sub"),
    ("adjacent pairs of neighbours", "itertools.pairwise"), ("subsets of two elements", "itertools.combinations"),
])
def test_the_index_ranks_the_right_api_first(query, api):
    assert load_api_index().search(query, 3)[0]["api"] == api


def test_every_bundled_task_reference_uses_an_api_of_the_index_and_bad_docs_are_refused(tmp_path):
    index = load_api_index()
    for task in TASKS:
        assert task["apis"] and all(a in index.entries for a in task["apis"]), task["task_id"]
        assert all(api_use(task["reference"], a) is not None for a in task["apis"]), task["task_id"]
    bad = tmp_path / "docs.jsonl"
    bad.write_text('{"api": "x.y", "signature": "x.y()"}\n')
    with pytest.raises(ValueError, match="docs.jsonl:1: an API documentation line must"):
        load_api_index(str(bad))


def test_annotated_code_puts_each_used_search_before_the_first_use_of_its_api():
    code = "import re\nfrom collections import Counter\n\ndef f(t):\n    words = re.findall(r'[a-z]+', t)\n    return Counter(words)\n"
    searches = [{"query": "count occurrences", "results": ["collections.Counter", "statistics.mode"]},
                {"query": "all matches of a pattern", "results": ["re.fullmatch", "re.findall"]},
                {"query": "binary search", "results": ["bisect.bisect_left"]}]
    annotated, marked = annotate(code, searches)
    assert annotated == ("import re\nfrom collections import Counter\n\ndef f(t):\n"
                         "    words = <API>APISearch(all matches of a pattern)->re.findall</API>re.findall(r'[a-z]+', t)\n"
                         "    return <API>APISearch(count occurrences)->collections.Counter</API>Counter(words)\n")
    assert [(m["answer"], m["used"]) for m in marked] == [("collections.Counter", True), ("re.findall", True),
                                                          ("bisect.bisect_left", False)]
    assert api_use("x = chain.from_iterable(y)", "itertools.chain.from_iterable") == 4
    assert api_use("from itertools import groupby\n", "itertools.groupby") is None  # imports are not uses
    assert api_use("regroupby(x)", "itertools.groupby") is None


def coder(code: str, query: str = "group consecutive equal items"):
    """A scripted model that searches once, then writes ``code``."""
    def reply(req):
        if req.tool_choice != "none" and not any(m["role"] == "tool" for m in req.messages):
            return tool_calls((API_SEARCH, {"query": query}))
        return f"Here it is:\n```python\n{code}```"
    return reply


def test_a_solution_written_after_a_search_is_kept_when_it_passes_in_the_sandbox():
    model = ScriptedModel(coder(GOOD))
    ((row,),) = run_step(ToolCoder("toolcoder", timeout=SANDBOX_TIMEOUT), model, [RUN_LENGTH])
    first, second = model.requests
    assert first.tool_choice == "required" and first.tools[0]["function"]["name"] == API_SEARCH
    assert second.tool_choice == "none" and second.messages[-2]["tool_calls"][0]["function"]["name"] == API_SEARCH
    results = json.loads(second.messages[-1]["content"])
    assert results[0]["api"] == "itertools.groupby" and "consecutive" in results[0]["doc"]
    assert row["solution"] == GOOD.strip() and row["searches"][0]["answer"] == "itertools.groupby" and row["searches"][0]["used"]
    assert "<API>APISearch(group consecutive equal items)->itertools.groupby</API>groupby(s)" in row["annotated_solution"]
    assert [e.get("tool_calls", []) for e in row["_lineage"]] == [[API_SEARCH], []]  # empty fields are dropped


def test_a_failing_solution_and_too_few_searches_are_rejected_with_the_reason():
    (failed,) = run_step(ToolCoder("toolcoder", timeout=SANDBOX_TIMEOUT), ScriptedModel(coder(BAD)), [RUN_LENGTH])
    assert isinstance(failed, Rejected) and "fails its tests in the sandbox" in failed.reason and "AssertionError" in failed.reason
    no_search = ScriptedModel(lambda req: f"```python\n{GOOD}```")
    (lazy,) = run_step(ToolCoder("toolcoder", search="auto", timeout=SANDBOX_TIMEOUT), no_search, [RUN_LENGTH])
    assert isinstance(lazy, Rejected) and "0 API search(es), fewer than min_searches 1" in lazy.reason
    ((kept,),) = run_step(ToolCoder("toolcoder", search="auto", min_searches=0, timeout=SANDBOX_TIMEOUT), no_search, [RUN_LENGTH])
    assert kept["searches"] == [] and kept["annotated_solution"] == kept["solution"] == GOOD.strip()
    (prose,) = run_step(ToolCoder("toolcoder"), ScriptedModel(coder("I do not know.\n")), [RUN_LENGTH])
    assert isinstance(prose, Rejected)


def test_searches_stop_after_max_searches_and_bad_calls_get_an_error_reply():
    def reply(req):
        if req.tool_choice == "none":
            return f"```python\n{GOOD}```"
        return tool_calls((API_SEARCH, {"query": ""}), ("web_search", {"q": "x"}), (API_SEARCH, {"query": "group consecutive"}))

    model = ScriptedModel(reply)
    ((row,),) = run_step(ToolCoder("toolcoder", max_searches=2, timeout=SANDBOX_TIMEOUT), model, [RUN_LENGTH])
    assert [r.tool_choice for r in model.requests] == ["required", "auto", "none"]
    replies = [m["content"] for m in model.requests[1].messages if m["role"] == "tool"]
    assert replies[0].startswith("error: api_search needs") and "unknown tool 'web_search'" in replies[1]
    assert [s["query"] for s in row["searches"]] == ["group consecutive", "group consecutive"]
    with pytest.raises(ValueError, match="search must be one of"):
        ToolCoder("t", search="never")
    with pytest.raises(ValueError, match="min_searches <= max_searches"):
        ToolCoder("t", min_searches=3, max_searches=2)


def test_recipe_on_a_scripted_model_keeps_passing_annotated_solutions(tmp_path, scripted_model):
    by_entry = {t["entry_point"]: t for t in TASKS}

    def reply(req):
        task = next(t for e, t in by_entry.items() if f"def {e}(" in req.messages[1]["content"])
        if req.tool_choice != "none" and not any(m["role"] == "tool" for m in req.messages):
            return tool_calls((API_SEARCH, {"query": task["apis"][0].split(".")[-1]}))
        code = task["reference"] if task["entry_point"] != "flatten" else BAD.replace("run_length", "flatten")
        return f"```python\n{code}\n```"

    out = tmp_path / "toolcoder"
    run = run_recipe("toolcoder", out, "timeout=30", extra_cli_args=("-n", "3", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) == 2 and len(rejected) == 1  # run_length and top_words pass, flatten fails
    assert all("<API>APISearch(" in r["annotated_solution"] for r in data)
    assert rejected[0]["_rejected_by"] == "toolcoder" and "fails its tests" in rejected[0]["_reason"]



@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path):
    """One task on the 135M model: it cannot be relied on to write the function, so the test checks the
    machinery: one forced api_search call (grammar-constrained), then the reply with the code, and the task
    ends as a kept row with its annotated solution or a rejected row with the toolcoder step's reason."""
    out = tmp_path / "toolcoder"
    run = run_recipe("toolcoder", out, "n=1", "max_tokens=160", "timeout=30")
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 1
    (usage,) = [u for u in run["usage"]["by_step"] if u["step"] == "toolcoder"]
    assert usage["requests"] == 2 and usage["errors"] == 0  # the search round, then the code
    for row in data:
        assert row["searches"] and "<API>APISearch(" in row["annotated_solution"]
    for row in rejected:
        assert row["_rejected_by"] == "toolcoder"
        assert row["_reason"].startswith(("the solution", "the reply has no Python code"))
