"""SQLite queries over the bundled databases: schema, read-only queries, refusals and the task-level tools."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from synthloom.tools.catalogue import sql_tools as sql
from synthloom.tools.catalogue_loader import load_catalogue
from synthloom.tools.executor import Invocation, ToolExecutor

DATA = Path(sql.__file__).parent / "data"


def reference(database: str) -> sqlite3.Connection:
    """An independent copy of a bundled database (built by the test, not by the module)."""
    conn = sqlite3.connect(":memory:")
    conn.executescript((DATA / f"{database}.sql").read_text(encoding="utf-8"))
    return conn


def test_module_follows_the_catalogue_convention(catalogue_convention):
    catalogue_convention(sql, min_tools=6)


@pytest.mark.parametrize("database", ["bookstore", "company"])
def test_bundled_scripts_are_consistent(database):
    conn = reference(database)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        assert 5 <= conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] <= 60, table


def test_list_tables():
    assert sql.list_tables("bookstore") == ["authors", "books", "customers", "order_items", "orders"]
    assert sql.list_tables("company") == ["assignments", "departments", "employees", "projects"]
    with pytest.raises(ValueError, match="unknown database 'shop'; use one of bookstore, company"):
        sql.list_tables("shop")


def test_describe_table():
    books = sql.describe_table("bookstore", "books")
    assert [c["name"] for c in books["columns"]] == ["book_id", "title", "author_id", "genre", "published_year", "price", "stock"]
    assert books["columns"][0]["primary_key"] and books["columns"][1]["not_null"]
    assert books["foreign_keys"] == [{"column": "author_id", "references_table": "authors", "references_column": "author_id"}]
    assert books["row_count"] == 40
    items = sql.describe_table("bookstore", "order_items")
    assert {(k["column"], k["references_table"]) for k in items["foreign_keys"]} == {("order_id", "orders"), ("book_id", "books")}
    employees = sql.describe_table("company", "employees")
    assert ("manager_id", "employees") in {(k["column"], k["references_table"]) for k in employees["foreign_keys"]}
    with pytest.raises(ValueError, match="did you mean 'books'"):
        sql.describe_table("bookstore", "book")
    with pytest.raises(ValueError, match="no table"):
        sql.describe_table("company", 'x"; DROP TABLE employees; --')


def test_run_sql_query_returns_columns_rows_and_truncation():
    result = sql.run_sql_query("bookstore", "SELECT a.name, COUNT(*) AS n FROM books b JOIN authors a USING (author_id) "
                                            "GROUP BY a.name ORDER BY n DESC, a.name LIMIT 3")
    assert result["columns"] == ["name", "n"]
    assert result["rows"] == [["Charles Dickens", 4], ["Agatha Christie", 3], ["Jane Austen", 3]]
    assert result["row_count"] == 3 and result["truncated"] is False
    capped = sql.run_sql_query("bookstore", "SELECT title FROM books ORDER BY book_id", limit=5)
    assert capped["row_count"] == 5 and capped["truncated"] is True and capped["rows"][0] == ["Pride and Prejudice"]
    with_clause = sql.run_sql_query("company", "/* payroll */ WITH t AS (SELECT SUM(salary) AS s FROM employees) SELECT s FROM t")
    assert with_clause["rows"] == [[reference("company").execute("SELECT SUM(salary) FROM employees").fetchone()[0]]]
    assert sql.run_sql_query("company", "-- one row\nSELECT x'00ff' AS b, NULL AS n")["rows"] == [["00ff", None]]


@pytest.mark.parametrize("query", [
    "DELETE FROM books",
    "DROP TABLE books",
    "UPDATE books SET price = 0",
    "INSERT INTO authors (name, country, birth_year) VALUES ('X', 'Y', 1)",
    "ATTACH DATABASE ':memory:' AS other",
    "PRAGMA query_only = 0",
    "CREATE TEMP TABLE t (a)",
    "SELECT 1; DROP TABLE books",
    "SELECT 1; SELECT 2",
    "WITH doomed AS (SELECT book_id FROM books) DELETE FROM books WHERE book_id IN (SELECT book_id FROM doomed)",
    "SELECT random()",
    "VACUUM",
])
def test_run_sql_query_refuses_anything_but_one_read_only_select(query):
    with pytest.raises(ValueError, match="query refused"):
        sql.run_sql_query("bookstore", query)
    assert sql.run_sql_query("bookstore", "SELECT COUNT(*) FROM books")["rows"] == [[40]]
    assert sql.list_tables("bookstore") == ["authors", "books", "customers", "order_items", "orders"]


def test_run_sql_query_bad_input():
    with pytest.raises(ValueError, match="took too much work"):
        sql.run_sql_query("company", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c")
    with pytest.raises(ValueError, match="no such table: nope"):
        sql.run_sql_query("company", "SELECT * FROM nope")
    for limit in (0, 501, True):
        with pytest.raises(ValueError, match="limit must be an integer from 1 to 500"):
            sql.run_sql_query("company", "SELECT 1", limit=limit)
    with pytest.raises(ValueError, match="non-empty"):
        sql.run_sql_query("company", "  ")
    assert sql.run_sql_query("company", "SELECT 1")["rows"] == [[1]]  # a stopped query leaves the connection usable


def test_books_by_author():
    austen = sql.books_by_author("austen")
    assert [(b["title"], b["published_year"]) for b in austen] == [
        ("Sense and Sensibility", 1811), ("Pride and Prejudice", 1813), ("Emma", 1815)]
    assert set(austen[0]) == {"title", "genre", "published_year", "price", "stock"}
    assert [b["title"] for b in sql.books_by_author("George Orwell")] == ["Animal Farm", "Nineteen Eighty-Four"]
    with pytest.raises(ValueError, match="matches several"):
        sql.books_by_author("an")
    with pytest.raises(ValueError, match="did you mean 'Mark Twain'"):
        sql.books_by_author("Mark Twian")


def test_top_customers_by_spend_matches_an_independent_sum():
    conn = reference("bookstore")
    names = dict(conn.execute("SELECT customer_id, name FROM customers"))
    status = dict(conn.execute("SELECT order_id, status FROM orders"))
    owner = dict(conn.execute("SELECT order_id, customer_id FROM orders"))
    totals: dict[str, float] = defaultdict(float)
    for order_id, quantity, price in conn.execute("SELECT order_id, quantity, unit_price FROM order_items"):
        if status[order_id] != "cancelled":
            totals[names[owner[order_id]]] += quantity * price
    expected = sorted(totals.items(), key=lambda kv: (-round(kv[1], 2), kv[0]))[:5]
    top = sql.top_customers_by_spend()
    assert [(c["name"], c["total_spent"]) for c in top] == [(n, round(t, 2)) for n, t in expected]
    assert len(sql.top_customers_by_spend(limit=2)) == 2
    assert sql.top_customers_by_spend(limit=25, include_cancelled=True)[0]["total_spent"] >= top[0]["total_spent"]
    with pytest.raises(ValueError, match="1 to 25"):
        sql.top_customers_by_spend(limit=0)


def test_order_summary():
    conn = reference("bookstore")
    summary = sql.order_summary(1)
    expected_total = conn.execute("SELECT SUM(quantity * unit_price) FROM order_items WHERE order_id = 1").fetchone()[0]
    assert summary["total"] == round(expected_total, 2)
    assert summary["customer"] == conn.execute("SELECT c.name FROM orders o JOIN customers c USING (customer_id) "
                                               "WHERE order_id = 1").fetchone()[0]
    assert len(summary["items"]) == conn.execute("SELECT COUNT(*) FROM order_items WHERE order_id = 1").fetchone()[0]
    with pytest.raises(ValueError, match="no order 999"):
        sql.order_summary(999)
    with pytest.raises(ValueError, match="whole number"):
        sql.order_summary("1")


def test_employees_department_stats_and_project_team():
    conn = reference("company")
    engineering = sql.employees_in_department("engineering")
    assert len(engineering) == conn.execute("SELECT COUNT(*) FROM employees WHERE department_id = 1").fetchone()[0]
    assert [e["name"] for e in engineering][0] == "Alice Fischer"  # sorted by last name
    assert sql.employees_in_department("Human") == sql.employees_in_department("human resources")  # a unique part names it
    salaries = [r[0] for r in conn.execute("SELECT salary FROM employees WHERE department_id = 4")]
    stats = sql.department_salary_stats("Finance")
    assert stats == {"department": "Finance", "headcount": len(salaries), "total": sum(salaries),
                     "average": round(sum(salaries) / len(salaries), 2), "min": min(salaries), "max": max(salaries)}
    team = sql.project_team("atlas")
    assert team[0]["role"] == "lead"
    assert len(team) == conn.execute("SELECT COUNT(*) FROM assignments WHERE project_id = 1").fetchone()[0]
    with pytest.raises(ValueError, match="did you mean 'Sales'"):
        sql.employees_in_department("Salse")
    with pytest.raises(ValueError, match="no project"):
        sql.project_team("Moonshot")


@pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")
def test_tools_run_in_the_sandbox_on_the_bundled_databases():
    catalogue = load_catalogue()
    calls = [Invocation("1", "run_sql_query", {"database": "company", "query": "SELECT COUNT(*) FROM employees"}),
             Invocation("2", "run_sql_query", {"database": "company", "query": "DELETE FROM employees"}),
             Invocation("3", "books_by_author", {"author": "Orwell"})]
    with ToolExecutor(timeout=10.0, workers=1) as executor:
        results = executor.run([catalogue.get(c.name) for c in calls], calls)
    assert results[0].status == "ok" and results[0].value["rows"] == [[30]]
    assert results[1].status == "error" and "query refused" in results[1].error
    assert results[2].status == "ok" and results[2].value == sql.books_by_author("Orwell")
