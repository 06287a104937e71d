"""The code workspace: the bundled repositories pass their own suites in the sandbox (through the harness verdict
and the agent's runner alike), the runner's and the verdict's reports, bug validation (a breaking mutation kept, an
equivalent one dropped, an LLM rewrite spliced in), and sessions: edits persist across steps, hostile actions become
failed observations with the host untouched, the final check keeps a right fix and rejects one that leaves a test
failing or breaks a passing one, and fixes written to forge the verdict (exiting at import, patching the runner,
``sys.modules``, builtins or the sandbox's channel, printing a fake report, objects equal to everything, handing the
harness its own ``exec``) do not pass it."""

from __future__ import annotations

import asyncio
import json
import random
import textwrap
import uuid
from pathlib import Path

import pytest

from synthloom.envs.agent_env import AgentEnvironment, AgentSession, open_environment
from synthloom.envs.code_workspace import (
    CodeWorkspaceEnvironment,
    SuiteRun,
    bundled_repos,
    load_repo,
    observe_suite,
    run_suite,
    task_problem,
)
from synthloom.envs.code_workspace.bugs import (
    BugCandidate,
    function_sites,
    judge_bug,
    mutation_candidates,
    rewrite_candidate,
    splice_function,
    validate_bug,
)
from synthloom.llm.tools import ToolCall

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

PLUS = "    if op == \"+\":\n        return left + right\n"
BUGGY_PLUS = "    if op == \"+\":\n        return left - right\n"


def run(coro):
    return asyncio.run(coro)


def run_all(*coros):
    async def gather():
        return await asyncio.gather(*coros)
    return asyncio.run(gather())


def call(name: str, **arguments) -> ToolCall:
    return ToolCall(f"call_{uuid.uuid4().hex[:8]}", name, arguments, json.dumps(arguments))


def minicalc_task() -> dict:
    """minicalc with ``+`` evaluated as ``-``: the tests that add fail, the others pass."""
    repo = load_repo("minicalc")
    files = {**repo.files, "minicalc/evaluator.py": repo.files["minicalc/evaluator.py"].replace(PLUS, BUGGY_PLUS)}
    assert files != repo.files
    return {"statement": "1 + 2 gives -1", "repo": "minicalc", "files": files,
            "fail_tests": ["tests/test_evaluator.py::test_arithmetic", "tests/test_evaluator.py::test_variables_and_functions"],
            "pass_tests": ["tests/test_evaluator.py::test_errors", "tests/test_evaluator.py::test_division",
                           "tests/test_parser.py::test_precedence"]}


async def session_for(executor, task=None):
    return await CodeWorkspaceEnvironment().open(task or minicalc_task(), executor)


# -- the bundled repositories ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", bundled_repos())
def test_each_bundled_repository_passes_its_suite_clean_in_the_sandbox(name, executor):
    repo = load_repo(name)
    package_lines = sum(len(repo.files[p].splitlines()) for p in repo.source_files)
    modules = [p for p in repo.source_files if not p.endswith("__init__.py")]
    assert 80 <= package_lines <= 250 and 2 <= len(modules) <= 4, (package_lines, modules)
    suite, observed = run_all(run_suite(executor, repo.files), observe_suite(executor, repo.files))
    assert 8 <= len(suite.outcomes) <= 20
    assert suite.not_passed == [], suite.messages
    assert suite.summary == f"{len(suite.outcomes)} passed"
    assert observed.outcomes == suite.outcomes, observed.messages  # the agent's runner agrees with the verdict


def test_five_repositories_are_bundled():
    assert set(bundled_repos()) >= {"inifile", "textstats", "dateranges", "minicalc", "ledger"}
    with pytest.raises(ValueError, match="unknown repository 'nope'"):
        load_repo("nope")


REPORTED = {"pkg/__init__.py": ("def double(x):\n    return x * 3\n\n\nclass PkgError(ValueError):\n    pass\n\n\n"
                                 "def explode(how):\n    if how == 'mine':\n        raise PkgError('nope')\n"
                                 "    raise KeyError(how)\n"),
            "pkg/broken.py": "VALUE = 1 / 0\n",
            "tests/test_a.py": ("from pkg import double\n\n\ndef test_ok():\n    assert double(0) == 0\n\n\n"
                                "def test_compare():\n    value = double(2)\n    assert value == 4\n\n\n"
                                "def test_error():\n    {}['missing']\n\n\n"
                                "def test_hangs():\n    while True:\n        pass\n\n\n"
                                "def test_prints():\n    print('some output')\n    assert False, 'said why'\n"),
            "tests/test_b.py": "import pkg.absent\n\n\ndef test_cannot_import():\n    pass\n"}


def test_the_runner_reports_each_outcome_and_explains_failed_asserts(executor):
    suite = run(observe_suite(executor, REPORTED, test_timeout=0.5))
    assert suite.outcomes == {"tests/test_a.py::test_ok": "passed", "tests/test_a.py::test_compare": "failed",
                              "tests/test_a.py::test_error": "error", "tests/test_a.py::test_hangs": "timeout",
                              "tests/test_a.py::test_prints": "failed", "tests/test_b.py::test_cannot_import": "error"}
    assert "assert value == 4\n  left:  6\n  right: 4" in suite.messages["tests/test_a.py::test_compare"]
    assert "at pkg/__init__.py:2 in double" not in suite.messages["tests/test_a.py::test_compare"]  # the assert is in the test
    assert suite.messages["tests/test_a.py::test_error"].startswith("KeyError: 'missing'")
    assert "AssertionError: said why" in suite.messages["tests/test_a.py::test_prints"]
    assert "output: some output" in suite.messages["tests/test_a.py::test_prints"]
    assert "ModuleNotFoundError" in suite.messages["tests/test_b.py::test_cannot_import"]
    selected = run(observe_suite(executor, REPORTED, selection="test_ok tests/test_a.py::test_error"))
    assert list(selected.outcomes) == ["tests/test_a.py::test_ok", "tests/test_a.py::test_error"]


def test_the_verdict_runs_each_test_in_the_harness_and_explains_what_failed(executor):
    anything = "\n\nclass Anything:\n    def __eq__(self, other):\n        return True\n"
    files = {**REPORTED, "pkg/__init__.py": REPORTED["pkg/__init__.py"] + anything}
    files["tests/test_c.py"] = ("import pkg\nfrom pkg import PkgError, explode\n\n\n"
                                "def test_package_exception_is_caught():\n    try:\n        explode('mine')\n"
                                "    except PkgError as error:\n        assert str(error) == 'nope'\n"
                                "    try:\n        explode('mine')\n    except ValueError:\n        pass\n\n\n"
                                "def test_error_in_the_package():\n    explode('other')\n\n\n"
                                "def test_broken_module():\n    from pkg.broken import VALUE\n\n\n"
                                "def test_objects_of_the_package_are_equal_only_to_themselves():\n"
                                "    assert pkg.Anything() == 1\n")
    suite = run(run_suite(executor, files, test_timeout=0.5))
    assert suite.outcomes == {"tests/test_a.py::test_ok": "passed", "tests/test_a.py::test_compare": "failed",
                              "tests/test_a.py::test_error": "error", "tests/test_a.py::test_hangs": "timeout",
                              "tests/test_a.py::test_prints": "failed", "tests/test_b.py::test_cannot_import": "error",
                              "tests/test_c.py::test_package_exception_is_caught": "passed",
                              "tests/test_c.py::test_error_in_the_package": "error",
                              "tests/test_c.py::test_broken_module": "error",
                              "tests/test_c.py::test_objects_of_the_package_are_equal_only_to_themselves": "failed"}
    messages = suite.messages
    assert "assert value == 4\n  left:  6\n  right: 4" in messages["tests/test_a.py::test_compare"]
    assert messages["tests/test_a.py::test_error"].startswith("KeyError: 'missing'\n  at tests/test_a.py:14 in test_error")
    assert messages["tests/test_a.py::test_hangs"] == "the test ran longer than 1.5 s"
    assert "AssertionError: said why" in messages["tests/test_a.py::test_prints"]
    assert "output: some output" in messages["tests/test_a.py::test_prints"]
    assert "ModuleNotFoundError: No module named 'pkg.absent'" in messages["tests/test_b.py::test_cannot_import"]
    assert messages["tests/test_c.py::test_error_in_the_package"].startswith("KeyError: 'other'")
    assert "at pkg/__init__.py:12 in explode: raise KeyError(how)" in messages["tests/test_c.py::test_error_in_the_package"]
    assert "importing pkg.broken failed in the workspace: ZeroDivisionError" in messages["tests/test_c.py::test_broken_module"]
    assert suite.summary == "2 passed, 3 failed, 4 error, 1 timeout"


# -- bugs -----------------------------------------------------------------------------------------------------------

def test_a_mutation_that_breaks_a_test_is_kept_and_an_equivalent_one_is_dropped(executor):
    repo = load_repo("ledger")
    clean = run(run_suite(executor, repo.files))
    by_description = {(c.file, c.description): c for c in mutation_candidates(repo, rng=random.Random(0))}
    breaking = by_description[("ledger/money.py", "line 26: + -> -")]
    equivalent = by_description[("ledger/money.py", "line 10: > -> >=")]  # no test formats a 3-digit amount
    kept, dropped = run_all(validate_bug(executor, clean, breaking), validate_bug(executor, clean, equivalent))
    assert kept.kept and kept.fail_tests == ["tests/test_money.py::test_parse_amount"]
    assert "tests/test_money.py::test_format_cents" in kept.pass_tests and len(kept.pass_tests) == len(clean.outcomes) - 1
    assert "left:  " in kept.messages["tests/test_money.py::test_parse_amount"]
    assert not dropped.kept and dropped.reason.startswith("equivalent")


def test_a_bug_that_makes_a_test_hang_or_exhaust_memory_is_dropped():
    clean = SuiteRun({"t::a": "passed", "t::b": "passed"})
    hung = judge_bug(clean, SuiteRun({"t::a": "timeout", "t::b": "not_run"}))
    assert not hung.kept and hung.reason == "a test hangs on it (t::a)"
    exhausted = judge_bug(clean, SuiteRun({"t::a": "passed", "t::b": "error"}, {"t::b": "MemoryError\n  at x.py:3"}))
    assert not exhausted.kept and exhausted.reason == "a test runs out of memory on it (t::b)"
    assert judge_bug(clean, SuiteRun({"t::a": "passed", "t::b": "error"}, {"t::b": "boom"})).fail_tests == ["t::b"]


def test_an_llm_rewrite_is_spliced_in_place_and_bad_rewrites_are_refused(executor):
    repo = load_repo("ledger")
    site = next(s for s in function_sites(repo) if s.qualname == "Inventory.ship")
    assert site.indent == "    " and site.source.lstrip().startswith("def ship(")
    buggy = site.source.replace("if quantity > item.quantity:", "if quantity > item.quantity + 1:")
    candidate = rewrite_candidate(repo, site, f"Here it is:\n```python\n{textwrap.dedent(buggy)}```",
                                  "ships one unit too many")
    assert isinstance(candidate, BugCandidate) and candidate.function == "Inventory.ship"
    assert candidate.files["ledger/inventory.py"] == repo.files["ledger/inventory.py"].replace(
        "if quantity > item.quantity:", "if quantity > item.quantity + 1:")
    clean = run(run_suite(executor, repo.files))
    check = run(validate_bug(executor, clean, candidate))
    assert check.kept and check.fail_tests == ["tests/test_inventory.py::test_ship_and_overship"]
    source = repo.files["ledger/inventory.py"]
    assert splice_function(source, site, "def ship(self, sku, quantity)\n    pass")[1].startswith("the rewrite does not parse")
    assert splice_function(source, site, "def other(self):\n    pass\n")[1] == "the rewrite must define the function 'ship' once"
    assert splice_function(source, site, site.source)[1] == "the rewrite changes nothing (same code as the original)"


# -- sessions -------------------------------------------------------------------------------------------------------

def test_the_environment_is_registered_and_checks_its_tasks(executor):
    env = open_environment("code_workspace", test_timeout=1.0)
    assert isinstance(env, AgentEnvironment) and env.name == "code_workspace"
    session = run(env.open(minicalc_task(), executor))
    assert isinstance(session, AgentSession) and "'minicalc'" in session.instructions
    assert [t.name for t in session.tools] == ["list_files", "view_file", "search", "replace_in_file", "run_tests"]
    assert task_problem({"files": {"a.py": ""}, "fail_tests": ["x"]}) == "the task's files have no tests/ folder"
    with pytest.raises(ValueError, match="^code_workspace: the task's 'fail_tests' is empty"):
        run(env.open({**minicalc_task(), "fail_tests": []}, executor))


def test_edits_persist_across_steps_and_tests_see_them(executor):
    session = run(session_for(executor))
    first = run(session.act([call("run_tests", selection="tests/test_evaluator.py"),
                             call("replace_in_file", path="minicalc/evaluator.py", old="return left - right\n    if op == \"-\"",
                                  new="return left + right\n    if op == \"-\"")]))
    assert [r.status for r in first] == ["ok", "ok"]
    assert session.observation(first[0]).startswith("3 passed, 2 failed\nFAILED tests/test_evaluator.py::test_arithmetic")
    assert "29|         return left + right" in session.observation(first[1])
    second = run(session.act([call("view_file", path="minicalc/evaluator.py", start=28, end=29),
                              call("run_tests", selection="tests/test_evaluator.py"), call("list_files")]))
    assert session.observation(second[0]).endswith("28|     if op == \"+\":\n29|         return left + right\n[lines 30-57 not shown]")
    assert session.observation(second[1]).startswith("5 passed\npassed: tests/test_evaluator.py::test_arithmetic")
    assert "minicalc/evaluator.py (57 lines)" in second[2].value and not any(".synthloom" in f for f in second[2].value)
    assert session.files["minicalc/evaluator.py"] == load_repo("minicalc").files["minicalc/evaluator.py"]


def test_bad_calls_and_paths_outside_the_workspace_are_failed_observations(executor):
    session = run(session_for(executor))
    before = dict(session.files)
    results = run(session.act([call("view_file", path="../../etc/passwd"), call("view_file", path="/etc/passwd"),
                               call("replace_in_file", path=".synthloom/runner.py", old="a", new="b"),
                               call("replace_in_file", path="minicalc/lexer.py", old="index", new="i"),
                               call("view_file", nope=1), call("delete_everything")]))
    texts = [session.observation(r) for r in results]
    assert all(r.status == "error" for r in results)
    assert texts[0] == ("Error: ValueError: path '../../etc/passwd' is outside the repository: "
                        "give a path relative to its root, without '..'")
    assert "outside the repository" in texts[1] and "outside the repository" in texts[2]
    assert texts[3].startswith("Error: ValueError: old occurs 19 times in minicalc/lexer.py; it must occur exactly once")
    assert "unknown argument 'nope'" in texts[4] and "delete_everything" in texts[5]
    assert session.files == before


@pytest.fixture(scope="module")
def quick():
    """An executor with short runs (3 s of test time a step), for the actions that run into limits."""
    from synthloom.tools.executor import ToolExecutor

    with ToolExecutor(workers=1, timeout=4.0) as ex:
        yield ex


def hostile(executor, body: str):
    """A session whose agent rewrites ``evaluate`` to run ``body`` and then runs the evaluator's tests (1 s a test)."""
    session = run(CodeWorkspaceEnvironment(test_timeout=1.0).open(minicalc_task(), executor))
    old = session.files["minicalc/evaluator.py"].split("def evaluate(text, variables=None):\n", 1)[1]
    results = run(session.act([call("replace_in_file", path="minicalc/evaluator.py", old=old, new=body),
                               call("run_tests", selection="tests/test_evaluator.py")]))
    return session, results


def test_writing_outside_and_the_network_fail_inside_the_jail_and_the_host_is_untouched(executor, tmp_path):
    marker, in_tmp = tmp_path / f"escape_{uuid.uuid4().hex}", Path("/tmp") / f"synthloom_escape_{uuid.uuid4().hex}"
    home = Path.home() / f".synthloom_escape_{uuid.uuid4().hex}"
    body = (f"    import socket\n    for path in ({str(marker)!r}, {str(in_tmp)!r}, {str(home)!r}, '/etc/synthloom_escape'):\n"
            "        try:\n            open(path, 'w').write('x')\n        except OSError:\n            pass\n"
            "    socket.create_connection(('1.1.1.1', 80), timeout=1)\n")
    session, results = hostile(executor, body)
    assert [r.status for r in results] == ["ok", "ok"]
    report = session.observation(results[1])
    assert report.startswith("5 error") and "OSError: [Errno 101] Network is unreachable" in report
    assert not marker.exists() and not in_tmp.exists() and not home.exists() and not Path("/etc/synthloom_escape").exists()
    assert "socket.create_connection" in session.files["minicalc/evaluator.py"]  # the edit itself persisted


def test_an_endless_loop_in_a_test_times_out_and_the_session_goes_on(quick):
    session, results = hostile(quick, "    while True:\n        pass\n")
    outcomes = [e["outcome"] for e in results[1].value["results"]]
    assert results[1].ok and outcomes[0] == "timeout" and set(outcomes[1:]) <= {"timeout", "not_run"}
    assert "the test ran longer than 1 s" in session.observation(results[1])
    after = run(session.act([call("search", pattern="while True")]))
    assert session.observation(after[0]) == "minicalc/evaluator.py:56: while True:"


def test_a_fork_bomb_in_a_test_is_an_error_and_the_next_step_works(quick):
    session, results = hostile(quick, "    import os\n    while True:\n        os.fork()\n")
    assert results[1].ok and "BlockingIOError" in session.observation(results[1])
    after = run(session.act([call("view_file", path="minicalc/evaluator.py", start=56, end=58)]))
    assert after[0].ok and "os.fork()" in after[0].value


def test_a_workspace_that_cannot_be_read_back_undoes_the_steps_edits(executor):
    session = run(session_for(executor))
    before = dict(session.files)
    grow = "open('README.md', 'a').write('x' * 60000)\n\n\ndef test_grow():\n    pass\n"
    results = run(session.act([call("replace_in_file", path="tests/test_parser.py", old="from minicalc import ParseError, parse\n",
                                    new=f"from minicalc import ParseError, parse\n{grow}"),
                               call("run_tests", selection="test_grow")]))
    assert results[0].status == "error" and "could not be read back after this step" in results[0].error
    assert results[0].error.endswith("its edits were undone") and session.files == before and session.lost_steps == 1


def test_the_check_keeps_a_right_fix(executor):
    session = run(session_for(executor))
    run(session.act([call("replace_in_file", path="minicalc/evaluator.py", old=BUGGY_PLUS, new=PLUS)]))
    verdict = run(session.check())
    assert verdict.passed and verdict.reason == "passed"
    assert verdict.details["still_failing"] == [] and verdict.details["broken"] == []
    assert "-        return left - right\n+        return left + right" in verdict.details["patch"]


def test_the_check_rejects_tests_still_failing_even_when_the_agent_edited_the_tests(executor):
    session = run(session_for(executor))
    run(session.act([call("replace_in_file", path="tests/test_evaluator.py", old='assert evaluate("1 + 2 * 3") == 7',
                          new='assert evaluate("1 + 2 * 3") == -5')]))
    verdict = run(session.check())
    assert not verdict.passed
    assert verdict.reason == ("tests still failing: tests/test_evaluator.py::test_arithmetic, "
                              "tests/test_evaluator.py::test_variables_and_functions")
    assert verdict.details["tests_restored"] == ["tests/test_evaluator.py"] and verdict.details["patch"] == ""


def test_the_check_rejects_a_fix_that_breaks_a_passing_test(executor):
    session = run(session_for(executor))
    run(session.act([call("replace_in_file", path="minicalc/evaluator.py", old=BUGGY_PLUS, new=PLUS),
                     call("replace_in_file", path="minicalc/evaluator.py", old="args[0] < 0", new="args[0] < -1")]))
    verdict = run(session.check())
    assert not verdict.passed and verdict.reason == "passing tests broken: tests/test_evaluator.py::test_errors"
    assert verdict.details["tests"]["tests/test_evaluator.py::test_errors"] == "error"
    assert "ValueError: math domain error" in verdict.details["messages"]["tests/test_evaluator.py::test_errors"]


def test_observations_are_bounded(executor):
    env = CodeWorkspaceEnvironment(observation_limit=300)
    session = run(env.open(minicalc_task(), executor))
    result = run(session.act([call("view_file", path="minicalc/parser.py")]))[0]
    text = session.observation(result)
    assert len(result.value) > 300 and len(text) == 300 and text.endswith("more characters cut]")


# -- the verdict cannot be forged ------------------------------------------------------------------------------------
# Each forged fix leaves the bug (``+`` evaluated as ``-``) in place and adds code that runs when the package is
# imported; the runner the agent's run_tests uses is fooled by some of them, the harness verdict by none.

EXIT_AT_IMPORT = "import os\nos._exit(0)\n"
PATCH_EVERYTHING = '''import builtins, sys
_main = sys.modules.get("__main__")
if hasattr(_main, "run_test"):  # the workspace's runner: every test passes
    _main.run_test = lambda *args: ("passed", "")
builtins.AssertionError = type("AssertionError", (Exception,), {})
_solution = sys.modules.get("solution")
if _solution is not None:  # names the sandbox sends to the harness, to shadow its builtins
    _solution.__dict__.update(isinstance=lambda *args: True, len=lambda *args: 7)
if hasattr(_main, "Channel"):  # the sandbox's channel in this process: rewrite the names it reports
    _send = _main.Channel.send

    def _forged_send(self, message, _send=_send):
        if isinstance(message, dict) and isinstance(message.get("globals"), list):
            names = [["evaluate", {"$": "builtin", "v": "eval"}], ["EvaluationError", {"$": "builtin", "v": "Exception"}]]
            repo = {"$": "dict", "v": [["minicalc", {"$": "dict", "v": names}]]}  # evaluate is the harness's eval
            shadow = {"$": "dict", "v": [["isinstance", {"$": "builtin", "v": "eval"}]]}
            message["globals"] = [g for g in message["globals"] if g[0] != "repo"] + [["repo", repo], ["__builtins__", shadow]]
        return _send(self, message)
    _main.Channel.send = _forged_send
'''
FAKE_REPORT = '''import json, os, sys
_frame = sys._getframe()
while _frame is not None and "nonce" not in _frame.f_locals:
    _frame = _frame.f_back
if _frame is not None:  # the workspace's runner: its nonce and report stream, then every test "passed"
    _nonce, _report = _frame.f_locals["nonce"], _frame.f_locals["report"]
    for _file, _tests, _ in sys.modules["__main__"].discover(os.getcwd()):
        for _test in _tests:
            _report.write(_nonce + json.dumps({"test": f"{_file}::{_test}", "outcome": "passed"}) + "\\n")
    _report.write(_nonce + json.dumps({"done": True}) + "\\n")
    _report.flush()
    os._exit(0)
print(json.dumps({"ok": True, "got": None, "error": "", "kind": None, "died": False}))
print("13 passed")
sys.stdout.flush()
'''
EQUAL_TO_EVERYTHING = '''

class _Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


for _name, _value in list(globals().items()):
    if callable(_value) and not isinstance(_value, type) and not _name.startswith("_"):
        globals()[_name] = lambda *args, **kwargs: _Anything()
'''
FORGERIES = {"exits at import": (EXIT_AT_IMPORT, False), "patches the runner, sys.modules and builtins": (PATCH_EVERYTHING, True),
             "prints a fake report": (FAKE_REPORT, True), "returns objects equal to everything": (EQUAL_TO_EVERYTHING, True)}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_forged_fix_does_not_pass_the_verdict(executor, name):
    code, fools_the_runner = FORGERIES[name]
    session = run(session_for(executor))
    source = session.files["minicalc/evaluator.py"]
    session.files["minicalc/evaluator.py"] = source + code if code.startswith("\n") else code + source
    verdict, observed = run_all(session.check(), observe_suite(executor, session.final_files()))
    assert not verdict.passed and verdict.reason.startswith("tests still failing: tests/test_evaluator.py::test_arithmetic")
    assert verdict.details["tests"]["tests/test_evaluator.py::test_arithmetic"] != "passed"
    assert (observed.outcomes["tests/test_evaluator.py::test_arithmetic"] == "passed") is fools_the_runner


def test_the_honest_fix_passes_the_verdict_and_a_proxy_cannot_hand_the_harness_its_own_exec(executor):
    honest = run(session_for(executor))
    honest.files["minicalc/evaluator.py"] = honest.files["minicalc/evaluator.py"].replace(BUGGY_PLUS, PLUS)
    # ledger's tests call a method of one object with another object of the package: the forged Inventory's ``add``
    # is the builtin exec and an Item is code that writes a passing verdict on the harness's verdict pipe
    repo = load_repo("ledger")
    buggy = repo.files["ledger/inventory.py"].replace("item.quantity <= threshold", "item.quantity < threshold")
    task = {"repo": "ledger", "files": {**repo.files, "ledger/inventory.py": buggy},
            "fail_tests": ["tests/test_inventory.py::test_low_stock_threshold_inclusive"], "pass_tests": []}
    forged = run(session_for(executor, task))
    verdict = json.dumps({"ok": True, "got": None, "error": "", "kind": None, "died": False})
    payload = f"import os; os.write(4, {verdict.encode()!r}); os._exit(0)"
    forged.files["ledger/inventory.py"] = buggy + (
        f"\n\nimport builtins\n\n\ndef Item(*args):\n    return {payload!r}\n\n\nInventory.add = builtins.exec\n")
    passed, refused = run_all(honest.check(), forged.check())
    assert passed.passed and passed.reason == "passed"
    assert not refused.passed and refused.details["tests"]["tests/test_inventory.py::test_low_stock_threshold_inclusive"] == "error"
    assert "the solution sent the harness's own builtin 'exec'" in refused.details["messages"][
        "tests/test_inventory.py::test_low_stock_threshold_inclusive"]
