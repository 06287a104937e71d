"""Python type hints → JSON schema, for tools declared as Python functions.

Supported hints: ``str``, ``int``, ``float``, ``bool``, ``None``, ``list[X]`` (and ``tuple[X, ...]``),
``dict[str, X]``, ``Literal[...]`` (an ``enum``), unions such as ``X | None`` / ``Optional[X]`` and
``Annotated[X, "description", {extra schema keywords}]``. Anything else raises :class:`UnsupportedHint`, whose
message the caller prefixes with the function and parameter it came from.

Hints come either from a live function (``typing.get_type_hints``) or from source code that must not run
on the host: :func:`hint_from_ast` rebuilds the hint from the annotation's syntax tree, accepting only the
names above (never evaluating the expression).
"""

from __future__ import annotations

import ast
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

_PRIMITIVES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
_SUPPORTED = "str, int, float, bool, None, list[X], dict[str, X], Literal[...], X | None or Annotated[X, 'description']"


class UnsupportedHint(ValueError):
    """A type hint that has no JSON schema here (the message says which and what is supported)."""


def hint_schema(hint: Any) -> tuple[dict[str, Any], str | None]:
    """The JSON schema of ``hint`` and the description an ``Annotated`` hint carries (or None)."""
    description = None
    if get_origin(hint) is Annotated:
        base, *meta = get_args(hint)
        schema = _schema(base)
        for item in meta:
            if isinstance(item, str):
                description = item
            elif isinstance(item, dict):
                schema.update(item)
        return schema, description
    return _schema(hint), None


def _schema(hint: Any) -> dict[str, Any]:
    if hint is None or hint is type(None):
        return {"type": "null"}
    if isinstance(hint, type) and hint in _PRIMITIVES:
        return {"type": _PRIMITIVES[hint]}
    if hint is list or hint is tuple:
        return {"type": "array"}
    if hint is dict:
        return {"type": "object"}
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return hint_schema(hint)[0]
    if origin is Literal:
        return _literal_schema(args)
    if origin is Union or origin is types.UnionType:
        return _union_schema(args)
    if origin is list:
        return {"type": "array", "items": _schema(args[0])} if args else {"type": "array"}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0])}
        if args and Ellipsis not in args:
            items = [_schema(a) for a in args]
            return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    if origin is dict:
        if not args:
            return {"type": "object"}
        if args[0] is not str:
            raise UnsupportedHint(f"unsupported type hint {_shown(hint)}: JSON object keys are strings, use dict[str, X]")
        return {"type": "object", "additionalProperties": _schema(args[1])}
    raise UnsupportedHint(f"unsupported type hint {_shown(hint)}; use {_SUPPORTED}")


def _literal_schema(values: tuple[Any, ...]) -> dict[str, Any]:
    bad = [v for v in values if v is not None and not isinstance(v, (str, int, float, bool))]
    if bad:
        raise UnsupportedHint(f"Literal values must be str, int, float, bool or None, not {bad[0]!r}")
    kinds = []
    for v in values:
        kind = _PRIMITIVES[type(v)] if type(v) in _PRIMITIVES else "number"
        if kind not in kinds:
            kinds.append(kind)
    if set(kinds) == {"integer", "number"}:
        kinds = ["number"]
    schema: dict[str, Any] = {"enum": list(values)}
    if len(kinds) == 1:
        schema = {"type": kinds[0], **schema}
    elif len(kinds) == 2 and "null" in kinds:
        schema = {"type": [k for k in kinds if k != "null"] + ["null"], **schema}
    return schema


def _union_schema(args: tuple[Any, ...]) -> dict[str, Any]:
    options = [_schema(a) for a in args if a is not type(None) and a is not None]
    nullable = len(options) < len(args)
    if all(set(o) == {"type"} and isinstance(o["type"], str) for o in options):
        kinds = [o["type"] for o in options] + (["null"] if nullable else [])
        return {"type": kinds[0] if len(kinds) == 1 else kinds}
    if len(options) == 1 and nullable and "enum" in options[0] and isinstance(options[0].get("type"), str):
        only = options[0]
        return {**only, "type": [only["type"], "null"], "enum": [*only["enum"], *([None] if None not in only["enum"] else [])]}
    if nullable:
        options.append({"type": "null"})
    return {"anyOf": options}


def _shown(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return repr(hint).replace("typing.", "")


# -- annotations from source, without running it ------------------------------------------------------

_NAMES: dict[str, Any] = {
    "str": str, "int": int, "float": float, "bool": bool, "None": None, "list": list, "dict": dict, "tuple": tuple,
    "List": list, "Dict": dict, "Tuple": tuple, "Optional": typing.Optional, "Union": Union, "Literal": Literal,
    "Annotated": Annotated, "Any": Any,
}
_MODULES = {"typing", "t", "typing_extensions"}


def hint_from_ast(node: ast.expr, aliases: dict[str, Any] | None = None) -> Any:
    """The hint an annotation's syntax tree spells, built from the supported names and the module's type ``aliases``
    (``Unit = Literal["km", "mi"]``, see :func:`module_aliases`) only; nothing is evaluated."""
    try:
        return _from_ast(node, aliases or {})
    except _UnknownPart as exc:
        whole, part = ast.unparse(node), str(exc)
        raise UnsupportedHint(f"unsupported type hint {whole}{f' ({part})' if part != whole else ''}; use {_SUPPORTED}") from None


class _UnknownPart(UnsupportedHint):
    """A part of an annotation that spells no supported hint (its text is the message)."""


def _from_ast(node: ast.expr, aliases: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            try:
                inner = ast.parse(node.value, mode="eval").body
            except SyntaxError as exc:
                raise UnsupportedHint(f"the string annotation {node.value!r} is not a type") from exc
            return _from_ast(inner, aliases)
        if node.value is None:
            return None
        if node.value is Ellipsis:
            return Ellipsis
        raise _UnknownPart(repr(node.value))
    if isinstance(node, ast.Name):
        return aliases[node.id] if node.id in aliases else _named(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in _MODULES:
        return _named(node.attr)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return Union[_from_ast(node.left, aliases), _from_ast(node.right, aliases)]  # noqa: UP007 - built at run time
    if isinstance(node, ast.Subscript):
        base = _from_ast(node.value, aliases)
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base is Literal:
            return Literal[tuple(_literal_value(p) for p in parts)]
        if base is Annotated:
            return Annotated[(_from_ast(parts[0], aliases), *(_literal_value(p) for p in parts[1:]))]
        args = tuple(_from_ast(p, aliases) for p in parts)
        if base is typing.Optional:
            return Union[args[0], None]  # noqa: UP007
        if base is Union:
            return Union[args]  # noqa: UP007
        if base in (list, dict, tuple):
            return base[args if len(args) > 1 else args[0]]
    raise _UnknownPart(ast.unparse(node))


def module_aliases(tree: ast.Module) -> dict[str, Any]:
    """The type aliases a module defines at top level (``Name = <supported hint>`` or ``Name: TypeAlias = ...``), in
    order, so that later aliases may use earlier ones; assignments that are not hints are skipped."""
    aliases: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None \
                and "TypeAlias" in ast.unparse(node.annotation):
            name, value = node.target.id, node.value
        else:
            continue
        if isinstance(value, ast.Constant) and value.value is not None:
            continue    # CATEGORY = "x" and other constants are not aliases
        try:
            aliases[name] = hint_from_ast(value, aliases)
        except UnsupportedHint:
            continue
    return aliases


def _named(name: str) -> Any:
    if name not in _NAMES:
        raise _UnknownPart(name)
    return _NAMES[name]


def _literal_value(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise UnsupportedHint(f"{ast.unparse(node)} is not a literal value (Literal and Annotated take constants)") from exc
