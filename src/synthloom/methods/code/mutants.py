"""Simple first-order mutants of a Python program, for checking that tests can tell a wrong
program from the right one (mutation testing: DeMillo, Lipton & Sayward 1978, "Hints on Test
Data Selection"; the operators are the classic relational / arithmetic / logical / constant ones).

Each mutant changes exactly one place: ``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``,
``+`` ↔ ``-``, ``*`` → ``+``, ``//`` → ``/``, ``%`` → ``//``, ``and`` ↔ ``or``, ``not x`` → ``x``,
an integer constant ``c`` → ``c + 1``. Mutants identical to the original (or to each other) or that
do not compile are dropped.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq}
_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv}
_BOOL = {ast.And: ast.Or, ast.Or: ast.And}
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Add: "+",
           ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Div: "/", ast.Mod: "%", ast.And: "and",
           ast.Or: "or"}


@dataclass(frozen=True)
class Mutant:
    """A program with one change, and what was changed (``line 3: < -> <=``)."""

    code: str
    description: str


def _sites(tree: ast.AST) -> list[tuple[ast.AST, int, str]]:
    """(node, operand index, kind) for every place a mutation applies, in a fixed order."""
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sites += [(node, i, "compare") for i, op in enumerate(node.ops) if type(op) in _COMPARE]
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BINOP:
            sites.append((node, 0, "binop"))
        elif isinstance(node, ast.BoolOp) and type(node.op) in _BOOL:
            sites.append((node, 0, "boolop"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append((node, 0, "not"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append((node, 0, "const"))
    return sites


def _apply(tree: ast.Module, index: int) -> str | None:
    node, i, kind = _sites(tree)[index]
    line = getattr(node, "lineno", "?")
    if kind == "compare":
        old = type(node.ops[i])
        node.ops[i] = _COMPARE[old]()
        return f"line {line}: {_SYMBOL[old]} -> {_SYMBOL[_COMPARE[old]]}"
    if kind in ("binop", "boolop"):
        table = _BINOP if kind == "binop" else _BOOL
        old = type(node.op)
        node.op = table[old]()
        return f"line {line}: {_SYMBOL[old]} -> {_SYMBOL[table[old]]}"
    if kind == "not":
        return "not-removal"  # handled by the transformer below
    node.value = node.value + 1
    return f"line {line}: {node.value - 1} -> {node.value}"


class _DropNot(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return node.operand if node is self.target else node


def mutants(code: str, *, limit: int | None = 20) -> list[Mutant]:
    """Up to ``limit`` distinct compiling first-order mutants of ``code`` (spread evenly over the
    mutation sites when there are more); ``[]`` when ``code`` does not parse."""
    try:
        original = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    canonical = ast.unparse(original)
    n_sites = len(_sites(original))
    order = list(range(n_sites))
    if limit is not None and n_sites > limit:
        step = n_sites / limit
        order = sorted({int(k * step) for k in range(limit)})
    out: list[Mutant] = []
    seen = {canonical}
    for index in order:
        tree = copy.deepcopy(original)
        node = _sites(tree)[index][0]
        desc = _apply(tree, index)
        if desc == "not-removal":
            tree = _DropNot(node).visit(tree)
            desc = f"line {getattr(node, 'lineno', '?')}: not x -> x"
        ast.fix_missing_locations(tree)
        try:
            text = ast.unparse(tree)
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError, RecursionError):
            continue
        if text in seen:
            continue
        seen.add(text)
        out.append(Mutant(text, desc))
    return out


def _offset(code: bytes, line: int, col: int) -> int:
    """The byte offset of (1-based ``line``, byte column ``col``) in ``code``."""
    start = 0
    for _ in range(line - 1):
        start = code.index(b"\n", start) + 1
    return start + col


def _span(data: bytes, node: ast.AST, end_of: ast.AST | None = None) -> tuple[int, int]:
    last = end_of or node
    return _offset(data, node.lineno, node.col_offset), _offset(data, last.end_lineno, last.end_col_offset)


def _token_edits(code: str, site: ast.AST, kind: str, i: int, tree_site: ast.AST) -> list[str]:
    """The mutation as the smallest edit of the text: the operator symbol between two operands swapped, a
    constant rewritten, ``not`` dropped (the operand's own text kept)."""
    data = code.encode()
    if kind == "const":
        start, end = _span(data, site)
        return [(data[:start] + repr(tree_site.value).encode() + data[end:]).decode()]
    if kind == "not":
        start, end = _span(data, site)
        inner_start, inner_end = _span(data, site.operand)
        return [(data[:start] + data[inner_start:inner_end] + data[end:]).decode()]
    if kind == "compare":
        operands = [site.left, *site.comparators]
        gaps = [(operands[i], operands[i + 1], site.ops[i], tree_site.ops[i])]
    elif kind == "boolop":
        gaps = [(a, b, site.op, tree_site.op) for a, b in zip(site.values, site.values[1:])]
    elif isinstance(site, ast.AugAssign):
        gaps = [(site.target, site.value, site.op, tree_site.op)]
    else:
        gaps = [(site.left, site.right, site.op, tree_site.op)]
    out = data
    for left, right, old, new in reversed(gaps):  # from the end, so earlier offsets stay valid
        start = _offset(out, left.end_lineno, left.end_col_offset)
        end = _offset(out, right.lineno, right.col_offset)
        gap = out[start:end].decode()
        old_sym, new_sym = _SYMBOL[type(old)], _SYMBOL[type(new)]
        if isinstance(site, ast.AugAssign):
            old_sym, new_sym = old_sym + "=", new_sym + "="
        if gap.count(old_sym) != 1 or "#" in gap:
            return []
        out = out[:start] + gap.replace(old_sym, new_sym).encode() + out[end:]
    return [out.decode()]


def _unparse_edits(code: str, site: ast.AST, replacement: str) -> list[str]:
    data = code.encode()
    start, end = _span(data, site)
    return [(data[:start] + text.encode() + data[end:]).decode() for text in (replacement, f"({replacement})")]


def local_mutants(code: str, *, limit: int | None = 20) -> list[Mutant]:
    """The mutants of :func:`mutants`, each made as an edit of ``code``'s own text: only the operator, constant
    or ``not`` that changes is rewritten, so comments, docstrings, quotes and layout stay as they were (what a bug
    injected into a repository needs). Each mutant's text parses to the very tree :func:`mutants` builds; a site
    whose edit cannot be made that way is skipped."""
    try:
        original = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    sites = _sites(original)
    order = list(range(len(sites)))
    if limit is not None and len(sites) > limit:
        step = len(sites) / limit
        order = sorted({int(k * step) for k in range(limit)})
    out: list[Mutant] = []
    seen = {code}
    for index in order:
        tree = copy.deepcopy(original)
        node, i, kind = _sites(tree)[index]
        where = sites[index][0]
        desc = _apply(tree, index)
        if desc == "not-removal":
            replacement = ast.unparse(node.operand)
            tree = _DropNot(node).visit(tree)
            desc = f"line {getattr(node, 'lineno', '?')}: not x -> x"
        else:
            replacement = ast.unparse(node)
        expected = ast.dump(tree)
        try:
            candidates = [*_token_edits(code, where, kind, i, node), *_unparse_edits(code, where, replacement)]
        except (ValueError, UnicodeDecodeError):
            continue
        for edited in candidates:
            try:
                if ast.dump(ast.parse(edited)) != expected:
                    continue
            except (SyntaxError, ValueError, RecursionError):
                continue
            if edited not in seen:
                seen.add(edited)
                out.append(Mutant(edited, desc))
            break
    return out
