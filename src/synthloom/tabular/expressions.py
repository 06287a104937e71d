"""A small, safe expression language for derived columns and constraints between columns.

An expression is Python-looking arithmetic and logic over a row's columns — parsed with
:mod:`ast` and evaluated by walking a whitelist of node types, never by ``eval``: names are
columns (or the functions below), literals are numbers, text, ``true``/``false``/``null``
(``True``/``False``/``None`` too), lists and tuples; operators are ``+ - * / // % **``,
comparisons (chained, ``in``, ``not in``), ``and``/``or``/``not`` and ``a if cond else b``. There
are no attributes, subscripts, keyword arguments or comprehensions, so nothing reaches Python's
objects. Text that is an ISO date compares as a date (``end_date > start_date``).

A constraint may be written ``check if condition`` (no ``else``): it holds when ``condition`` is
false or ``check`` is true, e.g. ``age >= 18 if role == 'manager'``.

Functions: ``abs min max round len int float str lower upper``, ``year month day`` (of an ISO
date), ``days_between(a, b)`` (whole days from ``a`` to ``b``), ``add_days(date, n)`` (an ISO date),
``concat(a, b, ...)`` (text), ``is_null(x)``.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import TableError
from .schema import format_datetime, parse_datetime

MAX_TEXT = 10_000
MAX_EXPONENT = 64


class ExpressionError(TableError):
    """An expression does not parse, uses something the language does not have, or fails on a row."""


def _date(value: Any, fn: str) -> dt.datetime:
    when = parse_datetime(value)
    if when is None:
        raise ExpressionError(f"{fn}() needs an ISO date, not {value!r}")
    return when


def _add_days(value: Any, n: Any) -> str:
    when = _date(value, "add_days") + dt.timedelta(days=float(n))
    return format_datetime(when, "date" if isinstance(value, str) and len(value.strip()) == 10 else "date-time")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "min": min, "max": max, "round": round, "len": len, "int": int, "float": float, "str": str,
    "lower": lambda s: str(s).lower(), "upper": lambda s: str(s).upper(),
    "year": lambda d: _date(d, "year").year, "month": lambda d: _date(d, "month").month,
    "day": lambda d: _date(d, "day").day,
    "days_between": lambda a, b: (_date(b, "days_between") - _date(a, "days_between")).days,
    "add_days": _add_days, "concat": lambda *parts: "".join("" if p is None else str(p) for p in parts),
    "is_null": lambda x: x is None,
}
CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_IMPLICATION = re.compile(r"^(?P<check>.+?)\s+if\s+(?P<cond>(?:(?!\selse\s).)+)$", re.S)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its tree and the column names it reads."""

    text: str
    tree: ast.AST
    names: frozenset[str]

    def __call__(self, row: dict[str, Any]) -> Any:
        try:
            return _eval(self.tree, row)
        except ExpressionError as e:
            raise ExpressionError(f"expression {self.text!r}: {e}") from None
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
            raise ExpressionError(f"expression {self.text!r} fails on this row: {e}") from None


@functools.lru_cache(maxsize=1024)
def parse_expression(text: str) -> Expression:
    """Parse ``text`` (see the module doc); raises :class:`ExpressionError` naming what is not allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ExpressionError(f"expression {text!r} does not parse ({e.msg}); write e.g. `end_date > start_date`") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"expression {text!r} uses {type(node).__name__}, which the expression language "
                                  f"does not have (columns, literals, arithmetic, comparisons, and/or/not, "
                                  f"if-else and the functions {', '.join(FUNCTIONS)})")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(f"expression {text!r} calls {what!r}; the functions are {', '.join(FUNCTIONS)} "
                                      f"(positional arguments only)")
        elif isinstance(node, ast.Name) and node.id not in CONSTANTS:
            names.add(node.id)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return Expression(text, tree, frozenset(names - (called - _called_as_value(tree))))


def parse_constraint(text: str) -> Expression:
    """A constraint: an expression, or ``check if condition`` meaning ``not (condition) or (check)``."""
    try:
        return parse_expression(text)
    except ExpressionError:
        m = _IMPLICATION.match(text.strip())
        if not m:
            raise
        check, cond = parse_expression(m["check"]), parse_expression(m["cond"])
        tree = ast.BoolOp(op=ast.Or(), values=[ast.UnaryOp(op=ast.Not(), operand=cond.tree), check.tree])
        return Expression(text, tree, check.names | cond.names)


def _called_as_value(tree: ast.AST) -> set[str]:
    """Function names also used as plain values (then they are column names)."""
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls}


_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
            *_BINARY, ast.Compare, *_COMPARE, ast.IfExp, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
            ast.Call)


def _eval(node: ast.AST, row: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise ExpressionError(f"literal {node.value!r} is not allowed")
        return node.value
    if isinstance(node, ast.Name):
        if node.id in row:
            return row[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ExpressionError(f"no column {node.id!r} in this row (columns: {', '.join(sorted(row))})")
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _eval(value, row)
                if not result:
                    return result
            return result
        for value in node.values:
            result = _eval(value, row)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, row)
        if isinstance(node.op, ast.Not):
            return not operand
        _numbers(operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, row), _eval(node.right, row)
        if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
            if len(left) + len(right) > MAX_TEXT:
                raise ExpressionError(f"text longer than {MAX_TEXT} characters")
            return left + right
        _numbers(left, right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ExpressionError(f"exponent {right} is larger than {MAX_EXPONENT}")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, int) and result.bit_length() > 4096:
            raise ExpressionError("a number larger than 2**4096")
        return result
    if isinstance(node, ast.Compare):
        left = _eval(node.left, row)
        for op, comparator in zip(node.ops, node.comparators):
            right = _eval(comparator, row)
            a, b = _as_dates(left, right) if not isinstance(op, (ast.In, ast.NotIn)) else (left, right)
            if not _COMPARE[type(op)](a, b):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, row) if _eval(node.test, row) else _eval(node.orelse, row)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, row) for e in node.elts]
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        result = FUNCTIONS[node.func.id](*[_eval(a, row) for a in node.args])
        if isinstance(result, str) and len(result) > MAX_TEXT:
            raise ExpressionError(f"text longer than {MAX_TEXT} characters")
        return result
    raise ExpressionError(f"{type(node).__name__} is not allowed")


def _numbers(*values: Any) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExpressionError(f"arithmetic needs numbers, not {v!r}")


def _as_dates(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, str) and isinstance(b, str):
        da, db = parse_datetime(a), parse_datetime(b)
        if da is not None and db is not None:
            return da, db
    return a, b
