"""SWE-smith in miniature on a scripted model and the real sandbox: repositories, bugs kept by their tests (mutations
and LLM rewrites) or dropped with the reason, issue texts (kept, or rejected when they give the fix away), agent
trajectories in the code workspace (a fix is kept; a fix that breaks another test is rejected with the reason;
passing/failing pairs), then the recipe end to end (scripted: exact counts; embedded: the accounting adds up)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from synthloom.envs.code_workspace import load_repo
from synthloom.llm.types import Choice
from synthloom.methods.agentic.agent_loop import AgentLoop
from synthloom.methods.agentic.swe_mini import SweBugs, SweRepos, SweTask, failing_test_sources, fix_lines
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, tool_calls, user_text

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

CLAMP = '''def clamp(value, low, high):
    """``value`` limited to ``low``..``high``."""
    if value < low:
        return low
    if value > high:
        return high
    return value
'''
CLAMP_TESTS = '''from tiny.core import clamp


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_below():
    assert clamp(-3, 0, 10) == 0


def test_above():
    assert clamp(12, 0, 10) == 10


def test_edges():
    assert clamp(0, 0, 10) == 0
    assert clamp(10, 0, 10) == 10
'''
PLUS, BUGGY_PLUS = '    if op == "+":\n        return left + right\n', '    if op == "+":\n        return left - right\n'
ISSUE = ("evaluate() adds wrong\n\nWhen I run `evaluate('1 + 2 * 3')` I expect 7, but I get -5. Subtraction seems fine; "
         "any expression with a plus gives a wrong result.")


def tiny_repo(tmp_path: Path, tests: str = CLAMP_TESTS) -> Path:
    root = tmp_path / "tiny"
    (root / "tiny").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "README.md").write_text("# tiny\n\n`tiny.core.clamp(value, low, high)` limits a value to a range.\n")
    (root / "tiny" / "__init__.py").write_text('"""tiny."""\n')
    (root / "tiny" / "core.py").write_text(f'"""Core."""\n\n\n{CLAMP}')
    (root / "tests" / "test_core.py").write_text(tests)
    return root


def rewrite_reply(code: str, explanation: str = "the upper bound is never applied"):
    return lambda req: json.dumps({"code": code, "explanation": explanation})


# -- repositories and bugs --------------------------------------------------------------------------------------------

def test_repositories_default_to_the_bundled_ones_and_a_folder_is_fingerprinted(tmp_path):
    assert [r["repo"] for r in SweRepos("r").read()] == ["dateranges", "inifile", "ledger", "minicalc", "textstats"]
    folder = tiny_repo(tmp_path)
    step = SweRepos("r", repos=[str(folder)])
    before = step.fingerprint()
    (folder / "tiny" / "core.py").write_text(f'"""Core."""\n\n\n{CLAMP}# changed\n')
    assert SweRepos("r", repos=[str(folder)]).fingerprint() != before
    with pytest.raises(ValueError, match="^swe_repos 'r': unknown repository 'nope'"):
        SweRepos("r", repos=["nope"])


def test_mutations_that_break_tests_become_bug_rows():
    rows = run_step(SweBugs("bugs", methods=["mutation"], max_mutations=10, max_bugs=3), ScriptedModel(lambda r: ""),
                    [{"id": "r1", "repo": "ledger"}])[0]
    clean = load_repo("ledger").files
    assert 1 <= len(rows) <= 3
    stats = rows[0]["bug_stats"]
    assert stats["candidates"] == 10 and stats["kept"] + sum(stats["dropped"].values()) == 10
    for row in rows:
        bug = row["bug"]
        assert bug["kind"] == "mutation" and re.fullmatch(r"line \d+: .+ -> .+", bug["description"])
        assert [p for p in clean if clean[p] != row["files"][p]] == [bug["file"]]
        assert row["fail_tests"] and not set(row["fail_tests"]) & set(row["pass_tests"])
        assert len(row["fail_tests"]) + len(row["pass_tests"]) == 13 and set(row["failures"]) == set(row["fail_tests"])
        assert row["patch"].startswith(f"--- a/{bug['file']}\n+++ b/{bug['file']}\n")


def test_an_llm_rewrite_that_breaks_a_test_is_kept(tmp_path):
    buggy = CLAMP.replace("if value > high:", "if value > high + 5:")
    model = ScriptedModel(rewrite_reply(f"```python\n{buggy}```"))
    rows = run_step(SweBugs("bugs", methods=["rewrite"], rewrites=1), model, [{"id": "r1", "repo": str(tiny_repo(tmp_path))}])[0]
    assert len(rows) == 1 and rows[0]["repo"] == "tiny"
    assert rows[0]["bug"] | {"id": None} == {"id": None, "kind": "rewrite", "file": "tiny/core.py", "description": "rewrote clamp",
                                             "function": "clamp", "explanation": "the upper bound is never applied"}
    assert rows[0]["fail_tests"] == ["tests/test_core.py::test_above"]
    assert "+    if value > high:" in rows[0]["patch"] and "-    if value > high + 5:" in rows[0]["patch"]
    prompt = user_text(model.requests[0])
    assert CLAMP.strip() in prompt and model.requests[0].json_schema is not None


@pytest.mark.parametrize("reply, reason", [
    ("def clamp(value, low, high)\n    return value", "1 rewrite unusable (the rewrite does not parse"),
    (CLAMP.replace("if value < low:", "if low > value:"), "1 equivalent: every test that passed still passes"),
])
def test_a_rewrite_that_is_unusable_or_breaks_no_test_is_dropped_with_the_reason(tmp_path, reply, reason):
    out = run_step(SweBugs("bugs", methods=["rewrite"], rewrites=1), ScriptedModel(rewrite_reply(reply)),
                   [{"id": "r1", "repo": str(tiny_repo(tmp_path))}])[0]
    assert isinstance(out, Rejected) and out.reason.startswith(f"no candidate bug broke a passing test ({reason}")


def test_a_suite_that_catches_nothing_keeps_no_mutation(tmp_path):
    weak = "from tiny.core import clamp\n\n\ndef test_runs():\n    clamp(1, 0, 2)\n"
    row = {"id": "r", "repo": str(tiny_repo(tmp_path, weak))}
    out = run_step(SweBugs("bugs", methods=["mutation"]), ScriptedModel(lambda r: ""), [row])[0]
    assert isinstance(out, Rejected) and re.fullmatch(r"no candidate bug broke a passing test \(\d+ equivalent: .*\)", out.reason)


def test_bug_options_are_checked():
    with pytest.raises(ValueError, match="methods must be a non-empty list of mutation, rewrite"):
        SweBugs("b", methods=["fuzz"])
    with pytest.raises(ValueError, match="test_timeout must be positive and below timeout"):
        SweBugs("b", test_timeout=20)


# -- issues ---------------------------------------------------------------------------------------------------------

def bug_row() -> dict:
    repo = load_repo("minicalc")
    files = {**repo.files, "minicalc/evaluator.py": repo.files["minicalc/evaluator.py"].replace(PLUS, BUGGY_PLUS)}
    return {"id": "b1", "repo": "minicalc", "files": files,
            "fail_tests": ["tests/test_evaluator.py::test_arithmetic", "tests/test_evaluator.py::test_variables_and_functions"],
            "pass_tests": ["tests/test_evaluator.py::test_errors", "tests/test_evaluator.py::test_division"],
            "failures": {"tests/test_evaluator.py::test_arithmetic": "assert evaluate(\"1 + 2 * 3\") == 7\n  left:  -5\n  right: 7"},
            "patch": ("--- a/minicalc/evaluator.py\n+++ b/minicalc/evaluator.py\n@@ -28,2 +28,2 @@\n     if op == \"+\":\n"
                      "-        return left - right\n+        return left + right\n")}


def test_an_issue_is_written_from_the_failing_tests_and_becomes_the_task():
    model = ScriptedModel(lambda req: ISSUE)
    row = run_step(SweTask("tasks"), model, [bug_row()])[0][0]
    assert row["statement"] == ISSUE
    assert row["task"] == {"statement": ISSUE, "repo": "minicalc", "files": bug_row()["files"],
                           "fail_tests": bug_row()["fail_tests"], "pass_tests": bug_row()["pass_tests"]}
    prompt = user_text(model.requests[0])
    assert "def test_arithmetic():" in prompt and "left:  -5" in prompt and "A tiny arithmetic expression evaluator" in prompt
    assert "return left + right" not in prompt and "def test_errors" not in prompt  # neither the fix nor passing tests


@pytest.mark.parametrize("reply, reason", [
    (ISSUE + "\nThe fix: write `return left + right` in evaluate_tree.",
     "the issue text gives the fix away: it quotes 'return left + right'"),
    ("It is broken.", "the issue text is too short (13 characters, min_chars=40)"),
    (Choice(text=ISSUE, finish_reason="length"), "the issue text hit max_tokens (finish_reason=length)"),
])
def test_an_issue_that_gives_the_fix_away_or_is_unusable_is_rejected(reply, reason):
    out = run_step(SweTask("tasks"), ScriptedModel(lambda req, j: reply), [bug_row()])[0]
    assert isinstance(out, Rejected) and out.reason == reason


def test_helpers_show_failing_tests_and_find_the_fix_lines():
    files = bug_row()["files"]
    shown = failing_test_sources(files, ["tests/test_evaluator.py::test_division", "tests/x.py::test_none"], limit=1000)
    assert shown.startswith("# tests/test_evaluator.py\ndef test_division():") and "test_arithmetic" not in shown
    assert fix_lines(bug_row()["patch"]) == ["return left + right"]


# -- trajectories in the code workspace -----------------------------------------------------------------------------

FIX = ("replace_in_file", {"path": "minicalc/evaluator.py", "old": BUGGY_PLUS, "new": PLUS})
BREAK = ("replace_in_file", {"path": "minicalc/evaluator.py", "old": "args[0] < 0", "new": "args[0] < -1"})


def agent_plan(*plans):
    """The n-th trajectory to start follows ``plans[n]`` (a list of calls, then finish); the plan's index is the
    first assistant message's text, so later steps find their plan."""
    started = []

    def reply(req):
        said = [m for m in req.messages if m["role"] == "assistant"]
        if not said:
            started.append(len(started))
            index = started[-1]
        else:
            index = int(said[0]["content"].split()[-1])
        plan = [("search", {"pattern": "return left"}), *plans[index], ("run_tests", {}), ("finish", {"answer": "fixed"})]
        name, args = plan[len(said)]
        return tool_calls((name, args), text=f"plan {index}")
    return reply


def task_row() -> dict:
    row = bug_row()
    return {"id": "t1", "task": {"statement": ISSUE, "repo": "minicalc", "files": row["files"], "fail_tests": row["fail_tests"],
                                 "pass_tests": row["pass_tests"]}}


def loop(**opts) -> AgentLoop:
    return AgentLoop("agent", environment="code_workspace", max_steps=6, **opts)


def test_a_trajectory_that_fixes_the_bug_is_kept():
    model = ScriptedModel(agent_plan([FIX]))
    row = run_step(loop(), model, [task_row()])[0][0]
    assert row["verdict"]["passed"] and row["verdict"]["reason"] == "passed" and row["ended"] == "finish"
    assert [m["role"] for m in row["messages"]] == ["system", "user"] + ["assistant", "tool"] * 4
    assert row["messages"][1]["content"] == ISSUE and "'minicalc'" in row["messages"][0]["content"]
    assert row["messages"][3]["content"].startswith("minicalc/evaluator.py:29: return left - right")
    assert row["messages"][7]["content"].startswith("13 passed")
    assert [s["calls"][0]["name"] for s in row["steps"]] == ["search", "replace_in_file", "run_tests", "finish"]
    assert "+        return left + right" in row["verdict"]["details"]["patch"]


def test_a_trajectory_that_breaks_another_test_is_rejected_with_the_reason():
    out = run_step(loop(), ScriptedModel(agent_plan([FIX, BREAK])), [task_row()])[0]
    assert isinstance(out, Rejected) and out.reason == "passing tests broken: tests/test_evaluator.py::test_errors"


def test_a_trajectory_that_leaves_the_bug_is_rejected():
    out = run_step(loop(), ScriptedModel(agent_plan([])), [task_row()])[0]
    assert isinstance(out, Rejected)
    assert out.reason == ("tests still failing: tests/test_evaluator.py::test_arithmetic, "
                          "tests/test_evaluator.py::test_variables_and_functions")


def test_rejection_sampling_pairs_a_passing_with_a_failing_trajectory():
    rows = run_step(loop(attempts=2, emit="pairs"), ScriptedModel(agent_plan([FIX], [FIX, BREAK])), [task_row()])[0]
    assert len(rows) == 1
    pair = rows[0]
    assert pair["chosen_verdict"]["passed"] and not pair["rejected_verdict"]["passed"]
    assert pair["rejected_verdict"]["reason"] == "passing tests broken: tests/test_evaluator.py::test_errors"
    assert pair["prompt"] == ISSUE and {pair["chosen_attempt"], pair["rejected_attempt"]} == {0, 1}


# -- the recipe -----------------------------------------------------------------------------------------------------

MARK = ["_scripted_bug = True", "if _scripted_bug:", "    return None"]


def recipe_reply(req):
    """Rewrites put an early ``return None`` behind a flag; the issue is fixed text; the agent finds the flag and
    turns it off, runs the tests and finishes."""
    if req.tools:
        said = [m for m in req.messages if m["role"] == "assistant"]
        if not said:
            return tool_calls(("search", {"pattern": MARK[0]}))
        path = [m for m in req.messages if m["role"] == "tool"][0]["content"].split(":", 1)[0]
        plan = [("replace_in_file", {"path": path, "old": MARK[0], "new": "_scripted_bug = False"}), ("run_tests", {}),
                ("finish", {"answer": "done"})]
        return tool_calls(plan[len(said) - 1])
    if req.json_schema is not None:
        function = re.search(r"```python\n(.*?)\n```", user_text(req), flags=re.S).group(1)
        lines = function.splitlines()
        at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("def "))
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())] + "    "
        code = "\n".join([*lines[: at + 1], *(indent + m for m in MARK), *lines[at + 1:]])
        return json.dumps({"code": code, "explanation": "returns early"})
    return ISSUE


def test_the_recipe_on_a_scripted_model(scripted_model, tmp_path):
    out = tmp_path / "run"
    run = run_recipe("swe-mini", out, "repos=[minicalc, ledger]", "max_bugs=1", "rewrites=3", "tool_choice=auto",
                     "steps.bugs.methods=[rewrite]", extra_cli_args=("--model", scripted_model(recipe_reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and not rejected and len(data) == 2
    c = run["counts"]
    assert c["bugs"]["in"] == 2 and c["tasks"]["ok"] == 2 and c["agent"]["ok"] == 2
    for row in data:
        assert row["bug"]["kind"] == "rewrite" and row["verdict"]["passed"] and row["environment"] == "code_workspace"
        assert row["task"]["repo"] == row["repo"] and row["statement"] == ISSUE
        assert re.search(r"\n-\s+_scripted_bug = True\n\+\s+_scripted_bug = False\n", row["verdict"]["details"]["patch"])


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path, scripted_model):
    """One task, made from a mutation (no model call) with a scripted issue writer; the embedded model plays the
    agent for one step (grammar-constrained calls under tool_choice=required). It rarely fixes anything: the test
    checks the machinery and the accounting."""
    writer = scripted_model(recipe_reply)
    out = tmp_path / "run"
    run = run_recipe("swe-mini", out, "repos=[minicalc]", "max_bugs=1", "steps.bugs.methods=[mutation]",
                     "steps.bugs.max_mutations=4", f"models.writer.spec={writer}", "steps.tasks.model=writer",
                     "max_steps=1", "steps.agent.max_tokens=96")
    data, rejected, errors = completed_outputs(run, out)
    c = run["counts"]
    assert not errors and c["bugs"]["ok"] == 1 and c["tasks"]["ok"] == 1 and c["agent"]["in"] == 1
    assert len(data) + len([r for r in rejected if r["_rejected_by"] == "agent"]) == 1
    for row in rejected:
        if row["_rejected_by"] == "agent":  # one step is not enough to fix and finish
            assert row["_reason"].startswith(("the agent never called finish", "tests still failing"))
