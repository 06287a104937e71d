"""A table's schema: one :class:`ColumnSchema` per column (type, range, categories with their
frequencies, nulls, target marker), inferred from a real table, kept as editable YAML, turned into
the JSON schema of one row (for grammar-constrained generation), and used to validate and coerce
generated rows.

Types: ``integer``, ``number`` (``min``/``max``, ``decimals``), ``categorical`` (``categories``:
value → share of the non-null rows), ``boolean``, ``datetime`` (``min``/``max`` as ISO text,
``format`` ``date`` or ``date-time``), ``text`` (``max_length``). Every column may be ``nullable``
(with the observed ``null_share``); one may be the ``target`` (what a model would predict).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import SchemaError, TableError

if TYPE_CHECKING:
    import pandas as pd

TYPES = ("integer", "number", "categorical", "boolean", "datetime", "text")
DATE_FORMATS = ("date", "date-time")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass
class ColumnSchema:
    """One column: its type and what values it takes (see the module doc for each field)."""

    name: str
    type: str
    min: Any = None
    max: Any = None
    decimals: int | None = None
    categories: dict[Any, float] | None = None
    format: str | None = None
    max_length: int | None = None
    nullable: bool = False
    null_share: float = 0.0
    target: bool = False
    description: str = ""

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for each inconsistency of this column's declaration."""
        out: list[tuple[str, str]] = []
        if self.type not in TYPES:
            out.append(("type", f"column {self.name!r}: unknown type {self.type!r} (types: {', '.join(TYPES)})"))
            return out
        if self.type == "categorical" and not self.categories:
            out.append(("categories", f"column {self.name!r}: a categorical column needs `categories:` (value: share)"))
        if self.categories is not None:
            if not isinstance(self.categories, dict) or any(
                    not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 for v in self.categories.values()):
                out.append(("categories", f"column {self.name!r}: `categories:` maps each value to its share (a number >= 0)"))
        if self.type == "datetime":
            if self.format not in DATE_FORMATS:
                out.append(("format", f"column {self.name!r}: datetime format must be date or date-time, not {self.format!r}"))
            for key in ("min", "max"):
                value = getattr(self, key)
                if value is not None and parse_datetime(value) is None:
                    out.append((key, f"column {self.name!r}: {key} {value!r} is not an ISO date (e.g. 2024-01-31)"))
        elif self.type in ("integer", "number"):
            for key in ("min", "max"):
                value = getattr(self, key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    out.append((key, f"column {self.name!r}: {key} must be a number, not {value!r}"))
        if not out and self.min is not None and self.max is not None and _order(self, self.min) > _order(self, self.max):
            out.append(("min", f"column {self.name!r}: min {self.min!r} is above max {self.max!r}"))
        if not 0.0 <= float(self.null_share) <= 1.0:
            out.append(("null_share", f"column {self.name!r}: null_share must be between 0 and 1"))
        return out

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of this column's value."""
        if self.type == "integer":
            s: dict[str, Any] = {"type": "integer"}
        elif self.type == "number":
            s = {"type": "number"}
        elif self.type == "boolean":
            s = {"type": "boolean"}
        elif self.type == "categorical":
            s = {"enum": list(self.categories or {})}
        elif self.type == "datetime":
            s = {"type": "string", "format": self.format or "date"}
        else:
            s = {"type": "string"} | ({"maxLength": self.max_length} if self.max_length else {})
        if self.type in ("integer", "number"):
            if self.min is not None:
                s["minimum"] = self.min
            if self.max is not None:
                s["maximum"] = self.max
        if self.description:
            s["description"] = self.description
        return {"anyOf": [s, {"type": "null"}]} if self.nullable else s

    def validate(self, value: Any) -> str | None:
        """Why ``value`` does not fit this column, or ``None`` when it does."""
        if is_missing(value):
            return None if self.nullable else f"{self.name}: null in a column that is not nullable"
        if self.type in ("integer", "number"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"{self.name}: {value!r} is not a number"
            if self.type == "integer" and value != int(value):
                return f"{self.name}: {value!r} is not a whole number"
            if self.min is not None and value < self.min:
                return f"{self.name}: {value!r} is below the minimum {self.min!r}"
            if self.max is not None and value > self.max:
                return f"{self.name}: {value!r} is above the maximum {self.max!r}"
        elif self.type == "boolean":
            if not isinstance(value, bool):
                return f"{self.name}: {value!r} is not true or false"
        elif self.type == "categorical":
            if value not in (self.categories or {}):
                return f"{self.name}: {value!r} is not one of the categories {list(self.categories or {})}"
        elif self.type == "datetime":
            when = parse_datetime(value) if isinstance(value, str) else None
            if when is None:
                return f"{self.name}: {value!r} is not an ISO {self.format or 'date'}"
            if self.min is not None and when < parse_datetime(self.min):
                return f"{self.name}: {value!r} is before the minimum {self.min!r}"
            if self.max is not None and when > parse_datetime(self.max):
                return f"{self.name}: {value!r} is after the maximum {self.max!r}"
        elif not isinstance(value, str):
            return f"{self.name}: {value!r} is not text"
        elif self.max_length and len(value) > self.max_length:
            return f"{self.name}: text of {len(value)} characters is longer than max_length {self.max_length}"
        return None

    def coerce(self, value: Any) -> Any:
        """``value`` in this column's type where that is unambiguous (``"5.1"`` → 5.1, 3.0 → 3 for an
        integer, ``"yes"`` → True, a category's text → the category); otherwise unchanged."""
        if is_missing(value):
            return None
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
            value = value.item()
        if self.type in ("integer", "number") and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                return value
        if self.type == "integer" and isinstance(value, float) and math.isfinite(value):
            return int(round(value))
        if self.type == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return round(float(value), self.decimals) if self.decimals is not None else float(value)
        if self.type == "boolean" and isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip().lower()
            return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text, value)
        if self.type == "categorical" and value not in (self.categories or {}):
            by_text = {str(c).strip().lower(): c for c in self.categories or {}}
            return by_text.get(str(value).strip().lower(), value)
        if self.type == "datetime" and isinstance(value, (dt.date, dt.datetime)):
            return format_datetime(value, self.format)
        return value


@dataclass
class TableSchema:
    """A table's columns, in order. ``source`` says where it was inferred from (for the YAML header)."""

    columns: list[ColumnSchema] = field(default_factory=list)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise TableError(f"schema: column(s) {dupes} declared twice; fix: give each column one entry")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def target(self) -> str | None:
        """The target column's name, if one is marked."""
        return next((c.name for c in self.columns if c.target), None)

    def column(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of ONE row: every column required, nothing else allowed."""
        return {"type": "object", "properties": {c.name: c.json_schema() for c in self.columns},
                "required": self.names, "additionalProperties": False}

    def validate_row(self, row: dict[str, Any], *, ignore: tuple[str, ...] = ("id", "_lineage")) -> list[str]:
        """What is wrong with ``row`` (missing or unknown columns, values out of type or range); empty when valid.
        Keys in ``ignore`` (a record's id and lineage) are not columns."""
        problems = [f"{c.name}: missing" for c in self.columns if c.name not in row]
        known = set(self.names) | set(ignore)
        problems += [f"{k}: not a column of the schema" for k in row if k not in known]
        problems += [p for c in self.columns if c.name in row and (p := c.validate(row[c.name])) is not None]
        return problems

    def coerce_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with each schema column's value coerced to its type (other keys kept as they are)."""
        out = dict(row)
        for c in self.columns:
            if c.name in out:
                out[c.name] = c.coerce(out[c.name])
        return out

    # -- YAML ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"columns": {c.name: _column_dict(c) for c in self.columns}}

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The schema as YAML (written to ``path`` when given), one mapping per column."""
        header = f"# table schema{' of ' + self.source if self.source else ''}, written by synthloom; edit freely\n"
        text = header + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=120)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, path: str | Path) -> TableSchema:
        """Read a schema YAML file; any mistake is a :class:`SchemaError` naming ``file:line``."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise SchemaError(f"cannot read the schema ({e.strerror})", file=str(path), hint="check the path") from None
        return cls.from_yaml_text(text, str(path))

    @classmethod
    def from_yaml_text(cls, text: str, file: str = "<schema>") -> TableSchema:
        from .schema_yaml import parse_schema_yaml

        return parse_schema_yaml(text, file)


FIELD_NAMES = tuple(f.name for f in fields(ColumnSchema) if f.name != "name")
_DEFAULTS = {f.name: f.default for f in fields(ColumnSchema) if f.name != "name"}


def _column_dict(c: ColumnSchema) -> dict[str, Any]:
    out: dict[str, Any] = {"type": c.type}
    for key in FIELD_NAMES[1:]:
        value = getattr(c, key)
        if value != _DEFAULTS[key] and not (key == "null_share" and not c.nullable):
            out[key] = value
    return out


def _order(c: ColumnSchema, value: Any) -> Any:
    return parse_datetime(value) if c.type == "datetime" else value


def is_missing(value: Any) -> bool:
    """``None``, a float NaN, or pandas' ``NaT`` / ``NA``."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in ("NaTType", "NAType")


def parse_datetime(value: Any) -> dt.datetime | None:
    """An ISO date or date-time (text, date or datetime) as a naive UTC datetime, or ``None``."""
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and (_DATE.match(value.strip()) or _DATETIME.match(value.strip())):
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def format_datetime(value: dt.date | dt.datetime, fmt: str | None) -> str:
    """``value`` as ISO text: ``2024-01-31`` for ``date``, ``2024-01-31T08:00:00`` for ``date-time``."""
    if fmt == "date-time":
        if not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        return value.replace(microsecond=0).isoformat()
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def infer_schema(df: pd.DataFrame, *, max_categories: int = 20, target: str | None = None,
                 source: str = "") -> TableSchema:
    """Infer a schema from ``df`` (see :mod:`.schema_infer`); ``target`` (default ``df.attrs["target"]``) is marked."""
    from .schema_infer import infer_columns

    target = target if target is not None else df.attrs.get("target")
    if target is not None and target not in df.columns:
        raise TableError(f"target column {target!r} is not in the table (columns: {', '.join(map(str, df.columns))})")
    return TableSchema(infer_columns(df, max_categories=max_categories, target=target), source=source)
