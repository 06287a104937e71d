"""Text-to-SQL tasks: drawing, question writing (scripted), the reference check in the sandbox, and the recipe end to
end (scripted: exact counts; embedded: the machinery and the accounting)."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.agentic.text_to_sql import TextToSqlQuestions, TextToSqlReference, TextToSqlTasks
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, tool_calls

QUESTION = {"question": "How many students come from Kenya?", "sql": "SELECT COUNT(*) FROM students WHERE country = 'Kenya'"}


def test_tasks_cycle_databases_then_levels_and_are_deterministic():
    tasks = list(TextToSqlTasks("t", n=7).read())
    assert [(t["database"], t["difficulty"]) for t in tasks[:4]] == [
        ("flights", "easy"), ("retail", "easy"), ("university", "easy"), ("flights", "medium")]
    assert tasks == list(TextToSqlTasks("t", n=7).read()) and tasks != list(TextToSqlTasks("t", n=7, seed=1).read())
    assert all(t["focus"] in {"airports", "airlines", "aircraft", "flights", "passengers", "bookings"} for t in tasks[::3])
    with pytest.raises(ValueError, match="unknown database 'zoo'; use some of flights, retail, university"):
        TextToSqlTasks("t", databases=["zoo"])
    with pytest.raises(ValueError, match="unknown difficulty 'expert'"):
        TextToSqlTasks("t", difficulties=["expert"])


def test_the_question_writer_sees_the_schema_samples_and_rule():
    model = ScriptedModel(lambda req: json.dumps(QUESTION))
    row = {"id": "r", "database": "university", "difficulty": "easy", "focus": "students"}
    (out,) = run_step(TextToSqlQuestions("q"), model, [row])
    assert out[0]["question"] == QUESTION["question"] and out[0]["reference_sql"] == QUESTION["sql"]
    prompt = model.requests[0].messages[-1]["content"]
    assert "CREATE TABLE enrollments" in prompt and 'starting from the table "students"' in prompt
    assert "one table, no join, no GROUP BY, no subquery" in prompt
    assert "departments:\ndept_id | name | building | budget\n1 | Computer Science" in prompt  # sample rows read in the sandbox
    assert model.requests[0].json_schema is not None


def reference_row(sql, difficulty="easy"):
    return {"id": "r", "database": "university", "difficulty": difficulty, "question": "q?", "reference_sql": sql}


def test_a_reference_that_runs_and_returns_rows_makes_the_task():
    (out,) = run_step(TextToSqlReference("ref"), None, [reference_row(QUESTION["sql"])])
    assert out[0]["task"] == {"database": "university", "question": "q?", "difficulty": "easy", "reference_sql": QUESTION["sql"]}
    assert out[0]["reference_rows"] == 1


@pytest.mark.parametrize("sql, difficulty, reason", [
    ("DELETE FROM students", "easy", "the reference SQL is refused: only SELECT queries are allowed, not DELETE"),
    ("SELECT s.name FROM students s JOIN departments d ON s.major_dept_id = d.dept_id", "easy",
     "the reference SQL is medium, not easy (easy: one table, no join, no GROUP BY, no subquery)"),
    ("SELECT nickname FROM students", "easy", "the reference SQL fails in the sandbox: error: ValueError: SQL error: no such column"),
    ("SELECT name FROM students WHERE country = 'Atlantis'", "easy", "the reference SQL returns no rows"),
    ("SELECT e.student_id FROM enrollments e JOIN sections s ON e.section_id = s.section_id", "medium",
     "the reference SQL returns 300 rows, more than max_rows=200"),
])
def test_a_reference_that_does_not_qualify_is_rejected_with_the_reason(sql, difficulty, reason):
    (out,) = run_step(TextToSqlReference("ref"), None, [reference_row(sql, difficulty)])
    assert isinstance(out, Rejected) and out.reason.startswith(reason)


# -- the recipe ------------------------------------------------------------------------------------------------------


def recipe_reply(req):
    """Questions that are easy counts; an agent that lists the tables, then submits the reference (or, for the
    retail database, a wrong query)."""
    if req.tools is None:
        database = req.messages[-1]["content"].split('The database "', 1)[1].split('"', 1)[0]
        table = {"university": "students", "retail": "customers", "flights": "passengers"}[database]
        return json.dumps({"question": f"How many rows does {table} have?", "sql": f"SELECT COUNT(*) FROM {table}"})
    turns = sum(1 for m in req.messages if m["role"] == "assistant")
    if turns == 0:
        return tool_calls(("list_tables", {}))
    table = req.messages[1]["content"].split("does ", 1)[1].split(" ", 1)[0]
    answer = f"SELECT COUNT(*) FROM {table}" if table != "customers" else "SELECT COUNT(*) FROM stores"
    return tool_calls(("finish", {"answer": answer}))


def test_the_recipe_on_a_scripted_model(scripted_model, tmp_path):
    out = tmp_path / "run"
    run = run_recipe("text-to-sql", out, "n=3", "difficulties=[easy]", "tool_choice=auto",
                     extra_cli_args=("--model", scripted_model(recipe_reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors
    c = run["counts"]
    assert c["questions"]["ok"] == 3 and c["reference"]["ok"] == 3 and c["agent"]["in"] == 3
    assert c["agent"]["ok"] == 2 and c["agent"]["rejected"] == 1
    assert sorted(r["task"]["database"] for r in data) == ["flights", "university"]
    (bad,) = rejected
    assert bad["_rejected_by"] == "agent" and bad["_reason"].startswith("1 of the reference's rows are missing (e.g. (120,))")
    for row in data:
        assert row["verdict"]["passed"] and row["ended"] == "finish" and row["environment"] == "text_to_sql"
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool"]


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path, scripted_model):
    """One question end to end with the 135M model as the agent (grammar-constrained calls under tool_choice=required;
    a scripted writer supplies a question whose reference qualifies, so the agent loop always runs). The model rarely
    solves the task: the test checks the machinery and the accounting."""
    writer = scripted_model(recipe_reply)
    out = tmp_path / "run"
    run = run_recipe("text-to-sql", out, "n=1", "max_steps=2", f"models.writer.spec={writer}", "steps.questions.model=writer",
                     "steps.agent.max_tokens=64")
    data, rejected, errors = completed_outputs(run, out)
    c = run["counts"]
    assert not errors and c["reference"]["ok"] == 1 and c["agent"]["in"] == 1
    assert len(data) + len(rejected) == 1
    tools = {"list_tables", "describe_table", "sample_rows", "run_query", "finish"}
    for row in data:
        assert row["verdict"]["passed"] and row["ended"] == "finish"
        assert all(c["function"]["name"] in tools for m in row["messages"] for c in m.get("tool_calls") or [])
    for row in rejected:
        assert row["_rejected_by"] == "agent" and row["_reason"]
