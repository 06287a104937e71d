"""Does an ``assert`` code test assert anything? A static check, by AST, before anything runs.

An ``assert`` test passes when the harness gets to its end, so a test that cannot fail passes any
solution: an empty or comment-only test, a HumanEval ``def check(candidate)`` nobody calls, a
pytest-style ``def test_x(): assert ...`` that is never called, or plain calls with no check at
all (``add(1, 2)``). :func:`vacuity_reason` says why such a test is unusable; the verifier gives
the row an ``error`` verdict instead of a pass.

A test *checks* something when a **check** is reachable from its top level:

* an ``assert`` whose condition is not always true (``assert True``, ``assert (x, "msg")`` and
  other non-empty literals do not count);
* a ``raise``;
* a call of a function or method named ``assert*`` or ``fail*`` (``self.assertEqual``,
  ``np.testing.assert_allclose``, ``pytest.fail``) or ``exit``/``_exit``/``quit``/``abort``.

Reachable means: in top-level code (including ``if``/``for``/``with``/``try`` blocks and class
bodies), or in a function or method (at any depth) whose name is referenced from reachable code —
called, passed along, or used as ``obj.name``. A function that is defined and never referenced
does not count. Tests that do not parse are unusable too.
"""

from __future__ import annotations

import ast

_FAILING_CALLS = frozenset({"exit", "_exit", "quit", "abort"})
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def defines_uncalled_check(tree: ast.Module) -> bool:
    """Whether a HumanEval-style test defines ``check`` at top level and never calls it."""
    defines = any(isinstance(n, _FUNCTIONS) and n.name == "check" for n in tree.body)
    calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "check"
                for n in ast.walk(tree))
    return defines and not calls


def parse_test(source: str) -> ast.Module | str:
    """The test's AST, or why it cannot be used (empty, not Python)."""
    if not source.strip():
        return "is empty"
    try:
        return ast.parse(source, "test_program.py")
    except SyntaxError as e:
        where = f", line {e.lineno}" if e.lineno else ""
        return f"is not valid Python ({type(e).__name__}: {e.msg}{where})"
    except (ValueError, MemoryError, RecursionError) as e:  # NUL bytes, surrogates, absurd nesting
        return f"cannot be parsed ({type(e).__name__})"


def vacuity_reason(tree: ast.Module) -> str | None:
    """Why a parsed test cannot fail (None when it checks something)."""
    if not tree.body:
        return "has no statements (only comments or blank lines)"
    if defines_uncalled_check(tree):
        return ("defines check() but never calls it: give the entry point (--entry-point or "
                "--entry-point-column; entry_point in Python) so check(candidate) is called")
    if not _reachable_check(tree):
        return ("asserts nothing: no assert, raise or assert*() call is reached from its top level "
                "(functions that are never called do not count)")
    return None


def _reachable_check(tree: ast.Module) -> bool:
    functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS):
            functions.setdefault(node.name, []).append(node)
    names: set[str] = set()
    if _scan(tree.body, names):
        return True
    seen: set[str] = set()
    while True:
        todo = [name for name in names if name in functions and name not in seen]
        if not todo:
            return False
        for name in todo:
            seen.add(name)
            for fn in functions[name]:
                if _scan(fn.body, names):
                    return True


def _scan(body: list[ast.stmt], names: set[str]) -> bool:
    """Whether ``body`` holds a check outside the functions it defines (their bodies run only when
    called: they are scanned once their name is reached); adds the names it references to
    ``names``. Iterative, so a test as deeply nested as Python can compile is no problem."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _FUNCTIONS):  # only what runs at definition time
            stack.extend(e for e in (*node.decorator_list, *node.args.defaults, *node.args.kw_defaults) if e)
            continue
        if isinstance(node, ast.Assert) and not _always_true(node.test):
            return True
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and _is_failing_call(node.func):
            return True
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        stack.extend(ast.iter_child_nodes(node))
    return False


def _is_failing_call(func: ast.expr) -> bool:
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name.lower().startswith(("assert", "fail")) or name in _FAILING_CALLS


def _always_true(test: ast.expr) -> bool:
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, (ast.Tuple, ast.List, ast.Set)):
        return bool(test.elts)
    if isinstance(test, ast.Dict):
        return bool(test.keys)
    return False
