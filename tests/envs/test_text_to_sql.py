"""The text-to-SQL environment: the bundled databases, SQL read with sqlglot, result-set comparison, and sessions whose
tools and checks run in the sandbox (hostile queries contained)."""

from __future__ import annotations

import asyncio
import importlib.util
import re

import pytest

from synthloom.envs.agent_env import AgentSession, open_environment
from synthloom.envs.text_to_sql import (
    compare_results,
    databases,
    difficulty,
    is_ordered,
    make_databases,
    normalise,
    parse_select,
    schema_text,
)
from synthloom.envs.text_to_sql.environment import DATABASES_DIR, HERE
from synthloom.llm.tools import ToolCall


@pytest.fixture
def tools_module(tmp_path, monkeypatch):
    """``tools(database)``: the environment's tool module imported in-process, working on ``database``."""
    monkeypatch.chdir(tmp_path)

    def load(database: str):
        (tmp_path / "database.txt").write_text(database)
        spec = importlib.util.spec_from_file_location("text_to_sql_tools_under_test", HERE / "tools.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


# -- the bundled databases -------------------------------------------------------------------------------------------


def test_the_bundled_scripts_are_what_the_generator_writes():
    assert databases() == ["flights", "retail", "university"]
    for name, text in make_databases.scripts().items():
        assert (DATABASES_DIR / f"{name}.sql").read_text(encoding="utf-8") == text, f"{name}.sql was edited by hand"


@pytest.mark.parametrize("database", ["university", "retail", "flights"])
def test_each_database_has_several_tables_with_50_to_300_rows_in_its_main_ones(database, tools_module):
    counts = tools_module(database).list_tables()
    assert len(counts) >= 6
    main = [t for t, n in counts.items() if n >= 50]
    assert len(main) >= 3 and all(n <= 300 for n in counts.values()), counts
    assert schema_text(database).count("CREATE TABLE") == len(counts)


def test_the_tools_explore_and_refuse_to_write(tools_module):
    tools = tools_module("university")
    assert "grade TEXT CHECK" in tools.describe_table("enrollments")
    assert tools.sample_rows("departments", 2)["rows"][0][1] == "Computer Science"
    result = tools.run_query("SELECT student_id FROM students")
    assert result["row_count"] == 160 and len(result["rows"]) == 50 and result["truncated"]
    for sql, message in [("DELETE FROM students", "only read-only SELECT"), ("SELECT 1; SELECT 2", "exactly one"),
                         ("SELECT random()", "only read-only SELECT"), ("SELECT nope FROM students", "no such column"),
                         ("PRAGMA table_info(students)", "only read-only SELECT")]:
        with pytest.raises(ValueError, match=message):
            tools.run_query(sql)
    with pytest.raises(ValueError, match="no table 'student'; the tables are"):
        tools.describe_table("student")


# -- SQL read with sqlglot ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sql, problem", [
    ("DELETE FROM students", "only SELECT queries are allowed, not DELETE"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "only SELECT queries are allowed, not ATTACH"),
    ("PRAGMA query_only = 0", "only SELECT queries are allowed, not PRAGMA"),
    ("SELECT 1; DROP TABLE students", "exactly one SQL statement, not 2"),
    ("", "the SQL is empty"),
    ("SELEC name FROM students", "only SELECT queries are allowed|does not parse"),
])
def test_only_one_select_is_accepted(sql, problem):
    with pytest.raises(ValueError, match=problem):
        parse_select(sql)


def test_order_is_read_at_the_top_level_only():
    assert is_ordered("SELECT name FROM students ORDER BY name")
    assert is_ordered("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1")
    assert not is_ordered("SELECT * FROM (SELECT name FROM students ORDER BY name)")
    assert not is_ordered("WITH s AS (SELECT name FROM students ORDER BY name) SELECT name FROM s")


def test_difficulty_levels_and_normal_form():
    assert difficulty("SELECT name FROM students WHERE country = 'Kenya'") == "easy"
    assert difficulty("SELECT s.name FROM students s JOIN departments d ON s.major_dept_id = d.dept_id") == "medium"
    assert difficulty("SELECT country, COUNT(*) FROM students GROUP BY country") == "hard"
    assert difficulty("SELECT name FROM students WHERE student_id IN (SELECT student_id FROM enrollments)") == "hard"
    assert normalise("select  NAME from Students;") == normalise("SELECT name FROM students")


def result(columns, rows, truncated=False):
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}


def test_result_sets_compare_as_multisets_unless_ordered():
    ref = result(["name", "n"], [["a", 1], ["b", 2], ["b", 2]])
    assert compare_results(ref, result(["x", "y"], [["b", 2], ["a", 1.0], ["b", 2]]), ordered=False) == (True, "passed")
    assert compare_results(ref, result(["x", "y"], [["b", 2], ["a", 1], ["b", 2]]), ordered=True) == \
        (False, "the right rows in the wrong order (the question asks for an order)")
    ok, why = compare_results(ref, result(["x", "y"], [["a", 1], ["b", 2], ["c", 3]]), ordered=False)
    assert not ok and why.startswith("1 of the reference's rows are missing (e.g. ('b', 2))")
    assert compare_results(ref, result(["x"], [["a"], ["b"], ["b"]]), ordered=False)[1].startswith("the result has 1 column(s)")
    assert compare_results(ref, result(["x", "y"], [["a", 1]]), ordered=False) == (False, "the result has 1 row(s), the reference's 3")
    avg = result(["avg"], [[2.6666666666666665]])
    assert compare_results(avg, result(["avg"], [[2.666666666666667]]), ordered=False)[0]


# -- sessions in the sandbox ----------------------------------------------------------------------------------------

TASK = {"database": "university", "question": "Which departments have a budget over one million, by name?",
        "reference_sql": "SELECT name FROM departments WHERE budget > 1000000 ORDER BY name"}
UNORDERED = {**TASK, "question": "Which departments have a budget over one million?",
             "reference_sql": "SELECT name, budget FROM departments WHERE budget > 1000000"}


def session_run(executor, task, calls, submitted=None):
    async def go():
        session = await open_environment("text_to_sql").open(task, executor)
        results = await session.act([ToolCall.parse(f"c{i}", n, a) for i, (n, a) in enumerate(calls)]) if calls else []
        if submitted is not None:
            session.submitted = submitted
        return session, results, await session.check()

    return asyncio.run(go())


def test_the_same_rows_in_another_order_pass_when_no_order_is_asked(executor):
    session, results, verdict = session_run(executor, UNORDERED, [
        ("finish", {"answer": "SELECT d.name, d.budget FROM departments AS d WHERE d.budget > 1000000 ORDER BY d.budget DESC"})])
    assert isinstance(session, AgentSession) and results[0].ok and results[0].value["row_count"] == 5
    assert verdict.passed and verdict.details["match"] == "result" and verdict.details["expected_rows"] == 5


def test_an_identical_query_passes_without_running(executor):
    _, _, verdict = session_run(executor, TASK, [], submitted="select NAME from departments where budget > 1000000 order by name;")
    assert verdict.passed and verdict.details["match"] == "exact"


def test_a_different_result_or_the_wrong_order_fails(executor):
    _, _, verdict = session_run(executor, TASK, [("finish", {"answer": "SELECT name FROM departments ORDER BY name"})])
    assert not verdict.passed and verdict.reason == "the result has 8 row(s), the reference's 5"
    _, _, verdict = session_run(executor, TASK, [("finish", {"answer": "SELECT name FROM departments WHERE budget > 1000000 "
                                                                       "ORDER BY name DESC"})])
    assert not verdict.passed and verdict.reason == "the right rows in the wrong order (the question asks for an order)"


def test_no_submission_or_a_write_is_refused(executor):
    session, results, verdict = session_run(executor, TASK, [("finish", {"answer": "DELETE FROM departments"})])
    assert results[0].status == "error" and "only read-only SELECT" in session.observation(results[0])
    assert session.submitted is None and not verdict.passed and verdict.reason.startswith("no SQL was submitted")
    _, _, verdict = session_run(executor, TASK, [], submitted="UPDATE departments SET budget = 0")
    assert not verdict.passed and verdict.reason == "the submitted SQL is refused: only SELECT queries are allowed, not UPDATE"


def test_hostile_queries_become_observations_and_leave_the_host_alone(executor, tmp_path):
    target = tmp_path / "escape.db"
    bomb = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    blowup = "WITH RECURSIVE c(x) AS (SELECT 'ab' UNION ALL SELECT x || x FROM c) SELECT length(x) FROM c LIMIT 64"
    session, results, _ = session_run(executor, TASK, [
        ("run_query", {"sql": bomb}), ("run_query", {"sql": f"ATTACH DATABASE '{target}' AS x"}),
        ("run_query", {"sql": blowup}), ("list_tables", {})])
    texts = [session.observation(r) for r in results]
    assert "did too much work" in texts[0]
    assert "only read-only SELECT" in texts[1]
    assert results[2].status != "ok" and texts[2].startswith("Error")
    assert results[3].ok  # the session survives: later calls run
    assert not target.exists()
    _, _, verdict = session_run(executor, TASK, [], submitted=bomb)
    assert not verdict.passed and "did too much work" in verdict.reason


def test_observations_show_a_bounded_table(executor):
    session, results, _ = session_run(executor, TASK, [("run_query", {"sql": "SELECT * FROM enrollments"})])
    text = session.observation(results[0])
    assert text.startswith("enrollment_id | student_id | section_id | grade | grade_points\n")
    assert re.search(r"\(300 rows, first 50 shown\)$", text) and len(text) <= 4000


def test_a_task_on_an_unknown_database_is_refused():
    with pytest.raises(ValueError, match="unknown database 'zoo'"):
        asyncio.run(open_environment("text_to_sql").open({"database": "zoo"}, None))
