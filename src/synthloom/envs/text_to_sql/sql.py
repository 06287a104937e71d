"""SQL read on the host with ``sqlglot`` (parsed, never executed): is it one SELECT, its normal form, whether its
result is ordered, how hard it is; and the comparison of two result sets (as the sandbox returned them).

A query's result is compared as a multiset of rows, or as a list when the reference query orders its result at the
top level (``ORDER BY`` on the outermost SELECT or set operation; an ``ORDER BY`` inside a subquery or CTE does not
order the result). Numbers are compared after rounding (an ``AVG`` summed in another order may differ in the last
bits); column names are not compared (aliases are free), column order is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

DIFFICULTIES = ("easy", "medium", "hard")
#: what each difficulty asks of a query (the question writer is told this; :func:`difficulty` checks it)
DIFFICULTY_RULES = {
    "easy": "one table, no join, no GROUP BY, no subquery",
    "medium": "a JOIN of two or more tables, no GROUP BY, no subquery",
    "hard": "GROUP BY or HAVING, or a subquery, CTE or set operation (UNION, INTERSECT, EXCEPT)",
}
_DIGITS = 6


def parse_select(sql: Any) -> exp.Query:
    """``sql`` parsed as one read-only query (SELECT, WITH ... SELECT, or a set operation of them); raises
    ValueError saying why not (not text, a parse error, several statements, another kind of statement)."""
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError("the SQL is empty")
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"the SQL does not parse ({first[:200]})") from None
    if len(statements) != 1:
        raise ValueError(f"give exactly one SQL statement, not {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise ValueError(f"only SELECT queries are allowed, not {statement.key.upper()}")
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Attach, exp.Pragma, exp.Command)
    inner = next((node for node in statement.walk() if isinstance(node, writes)), None)
    if inner is not None:
        raise ValueError(f"only read-only queries are allowed (it contains {inner.key.upper()})")
    return statement


def normalise(sql: str) -> str:
    """The canonical text of a SELECT (sqlglot's SQLite rendering, identifiers and keywords normalised)."""
    return parse_select(sql).sql(dialect="sqlite", normalize=True)


def is_ordered(sql: str | exp.Query) -> bool:
    """Whether the query orders its result: an ORDER BY on the outermost SELECT or set operation."""
    query = parse_select(sql) if isinstance(sql, str) else sql
    return bool(query.args.get("order"))


def difficulty(sql: str | exp.Query) -> str:
    """How hard the query is by :data:`DIFFICULTY_RULES`: ``hard`` (GROUP BY/HAVING, a subquery, CTE or set
    operation), else ``medium`` (a join), else ``easy``."""
    query = parse_select(sql) if isinstance(sql, str) else sql
    selects = list(query.find_all(exp.Select))
    nested = len(selects) > 1 or isinstance(query, exp.SetOperation) or query.args.get("with") is not None
    if nested or any(s.args.get("group") or s.args.get("having") for s in selects):
        return "hard"
    tables = {t.name.lower() for t in query.find_all(exp.Table)}
    if query.find(exp.Join) is not None or len(tables) > 1:
        return "medium"
    return "easy"


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return float(f"{value:.{_DIGITS}g}")
    return value


def canonical_rows(rows: Sequence[Sequence[Any]]) -> list[tuple]:
    """Rows as hashable tuples of comparable cells (floats rounded to 6 significant digits, 3.0 as 3)."""
    return [tuple(_cell(v) for v in row) for row in rows]


def _shown(row: tuple) -> str:
    text = repr(row)
    return text if len(text) <= 120 else text[:117] + "..."


def compare_results(expected: dict[str, Any], got: dict[str, Any], *, ordered: bool) -> tuple[bool, str]:
    """Whether result set ``got`` equals ``expected`` (``{"columns", "rows", "row_count", "truncated"}`` as the
    environment's ``result_set`` returns them): ``(True, "passed")`` or ``(False, one line saying how they differ)``."""
    if expected.get("truncated") or got.get("truncated"):
        if expected.get("row_count") != got.get("row_count"):
            return False, f"the result has {got.get('row_count')} rows, the reference's {expected.get('row_count')}"
        return False, f"the results are too large to compare ({expected.get('row_count')} rows)"
    want_cols, got_cols = len(expected["columns"]), len(got["columns"])
    if want_cols != got_cols:
        return False, f"the result has {got_cols} column(s), the reference's {want_cols} ({', '.join(expected['columns'])})"
    want, have = canonical_rows(expected["rows"]), canonical_rows(got["rows"])
    if len(want) != len(have):
        return False, f"the result has {len(have)} row(s), the reference's {len(want)}"
    if ordered:
        if want == have:
            return True, "passed"
        if Counter(want) == Counter(have):
            return False, "the right rows in the wrong order (the question asks for an order)"
        i = next(i for i, (a, b) in enumerate(zip(want, have)) if a != b)
        return False, f"row {i + 1} differs: {_shown(have[i])} where the reference has {_shown(want[i])}"
    missing, extra = Counter(want) - Counter(have), Counter(have) - Counter(want)
    if not missing:
        return True, "passed"
    example = next(iter(missing))
    return False, (f"{sum(missing.values())} of the reference's rows are missing (e.g. {_shown(example)}) and "
                   f"{sum(extra.values())} other row(s) returned (e.g. {_shown(next(iter(extra)))})")
