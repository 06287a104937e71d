"""SQLite queries over bundled databases: a bookstore and a company, read-only.

Each database is built in memory from its bundled script (``data/bookstore.sql``: authors, books, customers,
orders, order_items; ``data/company.sql``: departments, employees, projects, assignments) the first time a tool
needs it, once per process. Queries are read-only: only a single SELECT or WITH statement is accepted, an
SQLite authorizer denies every write, ATTACH, PRAGMA change and nondeterministic function, ``query_only`` is on,
and a progress handler stops a query after a bounded amount of work. The bookstore's authors and books are real
(first publication years); prices, stock, customers, orders and the whole company database are invented.
"""

import difflib
import os
import re
import sqlite3
from typing import Literal

CATEGORY = "sqlite"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

Database = Literal["bookstore", "company"]

_DATABASES = ("bookstore", "company")
_CONNECTIONS: dict[str, sqlite3.Connection] = {}
_MAX_ROWS = 500
_PROGRESS_EVERY = 1000
_PROGRESS_BUDGET = 20000  # x _PROGRESS_EVERY virtual-machine steps, about 20 million per query
_steps = [0]
_READ_PRAGMAS = {"table_info", "foreign_key_list"}
_DENIED_FUNCTIONS = {"random", "randomblob", "load_extension"}
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


def _data_path(name: str) -> str:
    base = globals().get("DATA_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    return os.path.join(base, name)


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _source: str | None) -> int:
    if action == sqlite3.SQLITE_PRAGMA:
        return sqlite3.SQLITE_OK if arg1 in _READ_PRAGMAS else sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def _progress() -> int:
    _steps[0] += 1
    return 1 if _steps[0] > _PROGRESS_BUDGET else 0


def _connection(database: str) -> sqlite3.Connection:
    if database not in _DATABASES:
        raise ValueError(f"unknown database {database!r}; use one of {', '.join(_DATABASES)}")
    conn = _CONNECTIONS.get(database)
    if conn is None:
        with open(_data_path(f"{database}.sql"), encoding="utf-8") as f:
            script = f.read()
        conn = sqlite3.connect(":memory:")
        conn.executescript(script)
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_authorize)
        conn.set_progress_handler(_progress, _PROGRESS_EVERY)
        _CONNECTIONS[database] = conn
    return conn


def _json_value(value: object) -> object:
    return value.hex() if isinstance(value, bytes) else value


def _query(database: str, sql: str, params: tuple = (), limit: int = _MAX_ROWS) -> tuple[list[str], list[list], bool]:
    conn = _connection(database)
    _steps[0] = 0
    try:
        cursor = conn.execute(sql, params)
        rows = cursor.fetchmany(limit + 1)
    except sqlite3.Error as exc:
        message = str(exc)
        if "not authorized" in message:
            raise ValueError("query refused: only read-only SELECT queries are allowed (no writes, ATTACH, PRAGMA or random())") from None
        if "one statement" in message:
            raise ValueError("query refused: send a single statement (nothing after the first ';')") from None
        if "interrupted" in message:
            raise ValueError("query stopped: it took too much work; add a WHERE clause or a LIMIT") from None
        raise ValueError(f"SQL error in {database}: {message}") from None
    columns = [d[0] for d in cursor.description or ()]
    return columns, [[_json_value(v) for v in row] for row in rows[:limit]], len(rows) > limit


def _records(database: str, sql: str, params: tuple = ()) -> list[dict]:
    columns, rows, _ = _query(database, sql, params)
    return [dict(zip(columns, row)) for row in rows]


_COMMENT = re.compile(r"\s+|--[^\n]*(\n|$)|/\*.*?\*/", re.S)


def _first_keyword(query: str) -> str:
    pos = 0
    while True:
        match = _COMMENT.match(query, pos)
        if not match or match.end() == pos:
            break
        pos = match.end()
    word = re.match(r"[A-Za-z]+", query[pos:])
    return word.group(0).upper() if word else ""


def list_tables(database: Database) -> list[str]:
    """List the tables of a bundled database.

    Args:
        database: Which bundled database to inspect.

    Returns:
        Table names, alphabetical.
    """
    _, rows, _ = _query(database, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [row[0] for row in rows]


def describe_table(database: Database, table: str) -> dict:
    """Describe one table of a bundled database: its columns, foreign keys and row count.

    Args:
        database: Which bundled database the table is in.
        table: Table name, as list_tables returns it.

    Returns:
        table, columns (each with name, type, not_null, primary_key), foreign_keys (each with column,
        references_table, references_column) and row_count.
    """
    tables = list_tables(database)
    if table not in tables:
        close = difflib.get_close_matches(str(table), tables, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"tables: {', '.join(tables)}"
        raise ValueError(f"no table {table!r} in database {database!r}; {hint}")
    info = _records(database, f'PRAGMA table_info("{table}")')
    keys = _records(database, f'PRAGMA foreign_key_list("{table}")')
    _, count, _ = _query(database, f'SELECT COUNT(*) FROM "{table}"')
    return {
        "table": table,
        "columns": [{"name": c["name"], "type": c["type"], "not_null": bool(c["notnull"]), "primary_key": bool(c["pk"])} for c in info],
        "foreign_keys": [{"column": k["from"], "references_table": k["table"], "references_column": k["to"]} for k in keys],
        "row_count": count[0][0],
    }


def run_sql_query(database: Database, query: str, limit: int = 50) -> dict:
    """Run one read-only SQL query (SELECT or WITH ... SELECT) on a bundled SQLite database.

    Args:
        database: Which bundled database to query.
        query: A single SELECT statement (a WITH clause may precede it); writes, PRAGMA and ATTACH are refused.
        limit: Most rows to return, 1 to 500.

    Returns:
        columns (the result's column names), rows (lists of values), row_count (rows returned) and truncated
        (true when the query had more rows than limit).
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must be a non-empty SQL SELECT statement")
    if len(query) > 10000:
        raise ValueError(f"query is {len(query)} characters; keep it under 10000")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_ROWS:
        raise ValueError(f"limit must be an integer from 1 to {_MAX_ROWS}, not {limit!r}")
    keyword = _first_keyword(query)
    if keyword not in ("SELECT", "WITH"):
        raise ValueError(f"query refused: only a single read-only SELECT (or WITH ... SELECT) is allowed, not {keyword or 'this'}")
    columns, rows, truncated = _query(database, query, (), limit)
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}


def _match_name(database: str, table: str, column: str, name: str, what: str) -> str:
    """The stored value of ``column`` that ``name`` names (exact, case-insensitive, or a unique substring)."""
    text = str(name).strip()
    if not text:
        raise ValueError(f"{what} must be a non-empty name")
    _, rows, _ = _query(database, f"SELECT {column} FROM {table} ORDER BY {column}")
    values = [row[0] for row in rows]
    exact = [v for v in values if v.casefold() == text.casefold()]
    if exact:
        return exact[0]
    partial = [v for v in values if text.casefold() in v.casefold()]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        raise ValueError(f"{what} {name!r} matches several: {', '.join(partial)}; give the full name")
    close = difflib.get_close_matches(text, values, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(values)}"
    raise ValueError(f"no {what} named {name!r}; {hint}")


def books_by_author(author: str) -> list[dict]:
    """List the bookstore's books by one author, oldest first.

    Args:
        author: The author's name, or a unique part of it (case-insensitive), e.g. "Austen".

    Returns:
        One record per book: title, genre, published_year, price and stock.
    """
    name = _match_name("bookstore", "authors", "name", author, "author")
    return _records("bookstore", "SELECT b.title, b.genre, b.published_year, b.price, b.stock FROM books b "
                    "JOIN authors a ON a.author_id = b.author_id WHERE a.name = ? ORDER BY b.published_year, b.title", (name,))


def top_customers_by_spend(limit: int = 5, include_cancelled: bool = False) -> list[dict]:
    """Rank the bookstore's customers by the total they spent.

    Args:
        limit: How many customers to return, 1 to 25.
        include_cancelled: Whether cancelled orders count towards the total.

    Returns:
        Customers, biggest spender first: name, city, orders (number of orders) and total_spent (rounded to cents).
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 25:
        raise ValueError(f"limit must be an integer from 1 to 25, not {limit!r}")
    status = "" if include_cancelled else "AND o.status != 'cancelled'"
    return _records("bookstore", "SELECT c.name, c.city, COUNT(DISTINCT o.order_id) AS orders, "
                    "ROUND(SUM(i.quantity * i.unit_price), 2) AS total_spent FROM customers c "
                    "JOIN orders o ON o.customer_id = c.customer_id JOIN order_items i ON i.order_id = o.order_id "
                    f"WHERE 1 = 1 {status} GROUP BY c.customer_id ORDER BY total_spent DESC, c.name LIMIT ?", (limit,))


def order_summary(order_id: int) -> dict:
    """Summarise one bookstore order: its customer, date, status, line items and total.

    Args:
        order_id: The order's number.

    Returns:
        order_id, customer, order_date, status, items (title, quantity, unit_price) and total (rounded to cents).
    """
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        raise ValueError(f"order_id must be a whole number, not {order_id!r}")
    found = _records("bookstore", "SELECT o.order_id, c.name AS customer, o.order_date, o.status FROM orders o "
                     "JOIN customers c ON c.customer_id = o.customer_id WHERE o.order_id = ?", (order_id,))
    if not found:
        raise ValueError(f"no order {order_id!r} in the bookstore; order ids are whole numbers from list queries")
    items = _records("bookstore", "SELECT b.title, i.quantity, i.unit_price FROM order_items i "
                     "JOIN books b ON b.book_id = i.book_id WHERE i.order_id = ? ORDER BY i.item_id", (order_id,))
    return {**found[0], "items": items, "total": round(sum(i["quantity"] * i["unit_price"] for i in items), 2)}


def employees_in_department(department: str) -> list[dict]:
    """List the company's employees in one department, by last name.

    Args:
        department: Department name, case-insensitive (e.g. "Engineering", "sales").

    Returns:
        One record per employee: name, title, salary and hire_date.
    """
    name = _match_name("company", "departments", "name", department, "department")
    return _records("company", "SELECT e.first_name || ' ' || e.last_name AS name, e.title, e.salary, e.hire_date "
                    "FROM employees e JOIN departments d ON d.department_id = e.department_id WHERE d.name = ? "
                    "ORDER BY e.last_name, e.first_name", (name,))


def department_salary_stats(department: str) -> dict:
    """Salary figures for one of the company's departments.

    Args:
        department: Department name, case-insensitive.

    Returns:
        department, headcount, total, average (rounded to 0.01), min and max annual salary.
    """
    name = _match_name("company", "departments", "name", department, "department")
    stats = _records("company", "SELECT COUNT(*) AS headcount, SUM(e.salary) AS total, ROUND(AVG(e.salary), 2) AS average, "
                     "MIN(e.salary) AS min, MAX(e.salary) AS max FROM employees e "
                     "JOIN departments d ON d.department_id = e.department_id WHERE d.name = ?", (name,))
    return {"department": name, **stats[0]}


def project_team(project: str) -> list[dict]:
    """List the people assigned to one of the company's projects, the lead first.

    Args:
        project: Project name, or a unique part of it (case-insensitive), e.g. "Atlas".

    Returns:
        One record per assignee: name, department, role and hours_per_week.
    """
    name = _match_name("company", "projects", "name", project, "project")
    return _records("company", "SELECT e.first_name || ' ' || e.last_name AS name, d.name AS department, a.role, a.hours_per_week "
                    "FROM assignments a JOIN projects p ON p.project_id = a.project_id "
                    "JOIN employees e ON e.employee_id = a.employee_id JOIN departments d ON d.department_id = e.department_id "
                    "WHERE p.name = ? ORDER BY a.role != 'lead', e.last_name", (name,))
