"""Reading a schema back from YAML, with every mistake reported at its ``file:line``."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from ..recipes.yaml_load import compose_yaml, load_yaml
from .errors import SchemaError
from .schema import FIELD_NAMES, ColumnSchema, TableSchema

_TYPES = {"min": None, "max": None, "decimals": int, "categories": dict, "format": str, "max_length": int,
          "nullable": bool, "null_share": (int, float), "target": bool, "description": str, "type": str}


def parse_schema_yaml(text: str, file: str) -> TableSchema:
    """The schema in ``text`` (read from ``file``); see :meth:`TableSchema.to_yaml` for the layout."""
    try:
        node, data = compose_yaml(text), load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        raise SchemaError(f"not valid YAML: {getattr(e, 'problem', None) or e}", file=file,
                          line=mark.line + 1 if mark else None, hint="check indentation and quoting on that line") from None
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict) or not data["columns"]:
        raise SchemaError("a schema is a mapping with `columns:` (column name: {type: ..., ...})", file=file,
                          line=_line(node, ("columns",)) or 1, hint="write `columns:` then one mapping per column")
    unknown_top = [k for k in data if k != "columns"]
    if unknown_top:
        raise SchemaError(f"unknown top-level key {unknown_top[0]!r}", file=file, line=_line(node, (unknown_top[0],)),
                          hint="a schema holds only `columns:`")
    columns = []
    for name, spec in data["columns"].items():
        where = ("columns", name)
        if not isinstance(spec, dict) or "type" not in spec:
            raise SchemaError(f"column {name!r} needs a mapping with `type:`", file=file, line=_line(node, where),
                              hint="e.g. `type: number` (types: integer, number, categorical, boolean, datetime, text)")
        for key, value in spec.items():
            if key not in FIELD_NAMES:
                close = difflib.get_close_matches(str(key), FIELD_NAMES, n=1)
                raise SchemaError(f"column {name!r}: unknown key {key!r}", file=file, line=_line(node, (*where, key)),
                                  hint=f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(FIELD_NAMES)}")
            expected = _TYPES[key]
            if expected is not None and value is not None and (
                    not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
                raise SchemaError(f"column {name!r}: {key} has the wrong kind of value {value!r}", file=file,
                                  line=_line(node, (*where, key)), hint=_hint(key))
        column = ColumnSchema(name=str(name), **spec)
        if column.nullable is False and "null_share" not in spec:
            column.null_share = 0.0
        for key, message in column.problems():
            raise SchemaError(message, file=file, line=_line(node, (*where, key)) or _line(node, where), hint=_hint(key))
        columns.append(column)
    return TableSchema(columns, source=file)


def _hint(key: str) -> str:
    return {"type": "use one of integer, number, categorical, boolean, datetime, text",
            "categories": "write e.g. `categories: {red: 0.5, blue: 0.5}`",
            "min": "make min at most max, in the column's type", "max": "make max at least min, in the column's type",
            "format": "write `format: date` or `format: date-time`", "null_share": "a share between 0 and 1",
            "decimals": "a whole number", "max_length": "a whole number", "nullable": "true or false",
            "target": "true or false"}.get(key, "")


def _line(node: Any, path: tuple) -> int | None:
    """The 1-based line of the key at ``path`` (or of the deepest prefix found)."""
    line = None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if key_node.value == str(key):
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return line
