"""Text-to-SQL environment tools: explore a bundled SQLite database and submit a query, read-only.

Runs only in the sandbox. The database named in the work dir's ``database.txt`` (``university``, ``retail``,
``flights``) is built in memory from its bundled script (``DATA_DIR/<name>.sql``) once per process. Every query
is read-only: one statement only, an SQLite authorizer that allows reading and nothing else (no writes, ATTACH,
PRAGMA, random()), ``query_only`` on, a length limit on strings, and a progress handler that stops a query after a
bounded amount of work. ``result_set`` is not offered to the agent: the environment's checker calls it.
"""

import os
import sqlite3

CATEGORY = "text_to_sql"

_DATABASES = ("university", "retail", "flights")
_CONNECTIONS: dict = {}
_SHOWN_ROWS = 50
_CHECK_ROWS = 10000
_PROGRESS_EVERY = 1000
_PROGRESS_BUDGET = 20000  # x _PROGRESS_EVERY virtual-machine steps, about 20 million per query
_MAX_LENGTH = 1000000  # longest string or blob a query may build
_steps = [0]
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_DENIED_FUNCTIONS = {"random", "randomblob", "load_extension", "changes", "last_insert_rowid", "total_changes"}


def _data_path(name: str) -> str:
    base = globals().get("DATA_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "databases")
    return os.path.join(base, name)


def _authorize(action: int, arg1, arg2, _db, _source) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def _progress() -> int:
    _steps[0] += 1
    return 1 if _steps[0] > _PROGRESS_BUDGET else 0


def _database() -> str:
    try:
        with open("database.txt", encoding="utf-8") as f:
            name = f.read().strip()
    except FileNotFoundError:
        raise ValueError("no database selected (database.txt is missing from the work dir)") from None
    if name not in _DATABASES:
        raise ValueError(f"unknown database {name!r}; the bundled ones are {', '.join(_DATABASES)}")
    return name


def _connection() -> sqlite3.Connection:
    name = _database()
    conn = _CONNECTIONS.get(name)
    if conn is None:
        with open(_data_path(f"{name}.sql"), encoding="utf-8") as f:
            script = f.read()
        conn = sqlite3.connect(":memory:")
        conn.executescript(script)
        conn.execute("PRAGMA query_only = ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _MAX_LENGTH)
        conn.set_authorizer(_authorize)
        conn.set_progress_handler(_progress, _PROGRESS_EVERY)
        _CONNECTIONS[name] = conn
    return conn


def _json_value(value: object) -> object:
    return value.hex() if isinstance(value, bytes) else value


def _query(sql: str, limit: int, params: tuple = ()) -> dict:
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError("the query is empty; give one SELECT statement")
    conn = _connection()
    _steps[0] = 0
    try:
        cursor = conn.execute(sql.strip().rstrip(";"), params)
        rows = cursor.fetchmany(limit + 1)
        extra = 0
        if len(rows) > limit:
            while True:  # count the rest (bounded by the progress handler) without keeping it
                more = cursor.fetchmany(1000)
                if not more:
                    break
                extra += len(more)
    except sqlite3.Error as exc:
        message = str(exc)
        if "not authorized" in message:
            raise ValueError("query refused: only read-only SELECT queries are allowed (no writes, ATTACH, PRAGMA or random())") from None
        if "one statement" in message:
            raise ValueError("query refused: give exactly one SELECT statement") from None
        if "interrupted" in message:
            raise ValueError("query stopped: it did too much work (check the joins and recursive parts)") from None
        raise ValueError(f"SQL error: {message}") from None
    columns = [d[0] for d in cursor.description or ()]
    if not columns:
        raise ValueError("the statement returned no result set; give a SELECT query")
    shown = rows[:limit]
    return {"columns": columns, "rows": [[_json_value(v) for v in row] for row in shown],
            "row_count": len(rows) + extra, "truncated": len(rows) > limit}


def list_tables() -> dict[str, int]:
    """List the database's tables with their row counts.

    Returns:
        Each table's name mapped to how many rows it has.
    """
    conn = _connection()
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}


def describe_table(table: str) -> str:
    """Show a table's definition: its columns, their types, keys and the comments that explain them.

    Args:
        table: the table's name, as list_tables gives it.

    Returns:
        The table's CREATE TABLE statement.
    """
    row = _connection().execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if row is None:
        names = list(list_tables())
        raise ValueError(f"no table {table!r}; the tables are {', '.join(names)}")
    return row[0]


def sample_rows(table: str, limit: int = 5) -> dict:
    """Show the first rows of a table.

    Args:
        table: the table's name, as list_tables gives it.
        limit: how many rows to show (1 to 20).

    Returns:
        The table's column names and up to limit rows.
    """
    describe_table(table)
    if not 1 <= int(limit) <= 20:
        raise ValueError(f"limit must be between 1 and 20, not {limit}")
    result = _query(f'SELECT * FROM "{table}" LIMIT {int(limit)}', int(limit))
    return {"columns": result["columns"], "rows": result["rows"]}


def run_query(sql: str) -> dict:
    """Run a read-only SQL query (one SQLite SELECT statement) and see its result.

    Args:
        sql: the query.

    Returns:
        The result's column names, its first 50 rows, how many rows it has in all and whether rows were cut.
    """
    return _query(sql, _SHOWN_ROWS)


def finish(answer: str) -> dict:
    """Submit the final SQL query that answers the question; this ends the task.

    Args:
        answer: the final query, one SQLite SELECT statement.

    Returns:
        How many rows the submitted query returns and its column names.
    """
    result = _query(answer, _SHOWN_ROWS)
    return {"submitted": True, "columns": result["columns"], "row_count": result["row_count"]}


def result_set(sql: str) -> dict:
    """The full result of a query, for the checker (not offered to the agent).

    Args:
        sql: the query.

    Returns:
        The column names, up to 10000 rows, the row count and whether rows were cut.
    """
    return _query(sql, _CHECK_ROWS)
