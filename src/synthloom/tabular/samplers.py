"""Schema samplers in the style of NVIDIA NeMo Data Designer (2025, docs.nvidia.com/nemo/microservices/latest/
design-synthetic-data-from-scratch-or-seeds): a structured-record generator that needs no real data.

A spec declares columns, drawn in order, each from a *sampler*:

* ``category`` — ``values`` (with optional ``weights``);
* ``uniform`` — ``low``..``high`` (``integer: true`` or ``decimals``);
* ``normal`` — ``mean``, ``std``, clipped to ``min``/``max``;
* ``bernoulli`` — ``true`` with probability ``p``;
* ``datetime`` — uniform between ``start`` and ``end`` (``format: date`` or ``date-time``);
* ``person`` — a ``faker`` field (``name``, ``email``, ``address``... see ``PERSON_FIELDS``) of one
  coherent person per row, ``locale`` and ``person`` key;
* ``expression`` — a derived column (:mod:`.expressions`) of the columns above it;
* ``llm`` — filled afterwards by the ``table_llm_columns`` step: a prompt template over the row.

Any sampled column may be ``conditional`` (``on: column`` and ``cases: {value: {options...}}``:
its sampler options differ by an earlier column's value) and may be null with ``null_share``.
``constraints`` (expressions, or ``check if condition``) must hold on every row: a row breaking
one is redrawn whole (rejection sampling, so the kept rows follow the declared distribution
conditioned on the constraints), up to ``max_redraws`` times, after which the run stops with the
constraint's name. Draws are a pure function of ``(seed, row index)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import TableError
from .expressions import Expression, ExpressionError, parse_constraint, parse_expression
from .person_fields import PERSON_FIELDS, check_locale, make_person
from .schema import format_datetime, parse_datetime

SAMPLERS = ("category", "uniform", "normal", "bernoulli", "datetime", "person", "expression", "llm")
#: options each sampler takes (besides name, sampler, conditional, null_share, description)
OPTIONS = {
    "category": {"values", "weights"}, "uniform": {"low", "high", "integer", "decimals"},
    "normal": {"mean", "std", "min", "max", "integer", "decimals"}, "bernoulli": {"p"},
    "datetime": {"start", "end", "format"}, "person": {"field", "locale", "person"}, "expression": {"expression"},
    "llm": {"prompt", "system", "json_schema", "max_tokens", "temperature"},
}
COMMON = {"name", "sampler", "conditional", "null_share", "description"}
_EPOCH = dt.datetime(1970, 1, 1)


class SpecError(TableError):
    """A column spec is wrong; ``path`` is where (``("columns", 2, "weights")``) for a file:line message."""

    def __init__(self, message: str, path: tuple = ()) -> None:
        self.path = path
        super().__init__(message)


@dataclass
class ColumnSpec:
    """One declared column: its sampler and options, per-case option overrides, its expression."""

    name: str
    sampler: str
    options: dict[str, Any]
    on: str | None = None
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    null_share: float = 0.0
    expression: Expression | None = None
    description: str = ""

    def options_for(self, row: dict[str, Any]) -> dict[str, Any]:
        if self.on is None:
            return self.options
        return self.cases.get(_case_key(row.get(self.on)), self.options)


@dataclass
class SamplerSpec:
    """Columns, constraints and the redraw cap of a sampler spec (see the module doc)."""

    columns: list[ColumnSpec]
    constraints: list[Expression]
    max_redraws: int = 1000

    @property
    def sampled(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.sampler != "llm"]

    @property
    def llm(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.sampler == "llm"]

    def draw_row(self, index: int, seed: int) -> dict[str, Any]:
        """Row ``index`` for ``seed``: every sampled column, all constraints holding."""
        rng = np.random.default_rng([seed, index])
        for _ in range(self.max_redraws):
            row = self._draw_once(rng)
            failed = next((c for c in self.constraints if not _holds(c, row)), None)
            if failed is None:
                return row
        raise TableError(f"row {index}: constraint {failed.text!r} failed in all {self.max_redraws} draws; fix: loosen "
                         f"the constraint or the columns it reads (it is too rare to reach by redrawing), or raise max_redraws")

    def _draw_once(self, rng: np.random.Generator) -> dict[str, Any]:
        row: dict[str, Any] = {}
        persons: dict[tuple[str, str], dict[str, Any]] = {}
        person_seed = int(rng.integers(0, 2**62))
        for col in self.sampled:
            if col.null_share and rng.random() < col.null_share:
                row[col.name] = None
                continue
            row[col.name] = _draw(col, col.options_for(row), row, rng, persons, person_seed)
        return row


def _holds(constraint: Expression, row: dict[str, Any]) -> bool:
    return bool(constraint(row))


def _case_key(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _draw(col: ColumnSpec, o: dict[str, Any], row: dict[str, Any], rng: np.random.Generator,
          persons: dict[tuple[str, str], dict[str, Any]], person_seed: int) -> Any:
    kind = col.sampler
    if kind == "category":
        return o["values"][int(rng.choice(len(o["values"]), p=o["_p"]))]
    if kind == "bernoulli":
        return bool(rng.random() < o["p"])
    if kind == "uniform":
        if o["_integer"]:
            return int(rng.integers(int(o["low"]), int(o["high"]) + 1))
        return _number(rng.uniform(o["low"], o["high"]), o)
    if kind == "normal":
        value = float(np.clip(rng.normal(o["mean"], o["std"]), o.get("min", -np.inf), o.get("max", np.inf)))
        return int(round(value)) if o["_integer"] else _number(value, o)
    if kind == "datetime":
        low, high = o["_range"]
        if o["format"] == "date":
            return (low + dt.timedelta(days=int(rng.integers(0, (high - low).days + 1)))).date().isoformat()
        return format_datetime(low + dt.timedelta(seconds=int(rng.integers(0, int((high - low).total_seconds()) + 1))),
                               "date-time")
    if kind == "person":
        key = (o.get("locale", "en_US"), str(o.get("person", "default")))
        if key not in persons:
            persons[key] = make_person(key[0], hash_seed(person_seed, *key))
        return persons[key][o["field"]]
    assert col.expression is not None
    return col.expression(row)


def hash_seed(*parts: Any) -> int:
    import xxhash

    return xxhash.xxh3_64_intdigest("\x1f".join(map(str, parts)).encode()) & (2**62 - 1)


def _number(value: float, o: dict[str, Any]) -> float:
    return round(float(value), int(o["decimals"])) if o.get("decimals") is not None else float(value)


# -- parsing ---------------------------------------------------------------------------------------
def parse_spec(columns: Any, constraints: Any = None, max_redraws: int = 1000) -> SamplerSpec:
    """Check and compile a spec given as data (a recipe's ``columns:`` list or a spec file's);
    raises :class:`SpecError` with the path of the mistake."""
    if not isinstance(columns, list) or not columns:
        raise SpecError("`columns` is a list of column mappings (name, sampler, options)", ("columns",))
    if isinstance(max_redraws, bool) or not isinstance(max_redraws, int) or max_redraws < 1:
        raise SpecError(f"max_redraws must be a whole number of at least 1, not {max_redraws!r}", ("max_redraws",))
    seen: list[str] = []
    sampled: set[str] = set()
    out = []
    for i, raw in enumerate(columns):
        col = _parse_column(raw, ("columns", i), seen, sampled)
        seen.append(col.name)
        if col.sampler != "llm":
            sampled.add(col.name)
        out.append(col)
    if constraints is not None and not isinstance(constraints, list):
        raise SpecError("`constraints` is a list of expressions, e.g. ['end_date > start_date']", ("constraints",))
    compiled = []
    for j, c in enumerate(constraints or []):
        where = ("constraints", j)
        text = c if isinstance(c, str) else (f"{c['check']} if {c['when']}" if isinstance(c, dict) and set(c) == {"check", "when"}
                                             else c.get("check") if isinstance(c, dict) and set(c) == {"check"} else None)
        if not isinstance(text, str):
            raise SpecError("a constraint is an expression (text) or {check: ..., when: ...}", where)
        try:
            expr = parse_constraint(text)
        except ExpressionError as e:
            raise SpecError(str(e), where) from None
        unknown = sorted(expr.names - sampled)
        if unknown:
            raise SpecError(f"constraint {text!r} reads {unknown}, which are not sampled columns "
                            f"(constraints read sampled columns: {', '.join(sorted(sampled))})", where)
        compiled.append(expr)
    return SamplerSpec(out, compiled, max_redraws)


def _parse_column(raw: Any, where: tuple, seen: list[str], sampled: set[str]) -> ColumnSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise SpecError("each column is a mapping with a `name:` and a `sampler:`", where)
    name = raw["name"]
    if name in seen:
        raise SpecError(f"column {name!r} is declared twice", (*where, "name"))
    if name in ("id", "_lineage"):
        raise SpecError(f"column name {name!r} is reserved for record ids and lineage; choose another", (*where, "name"))
    sampler = raw.get("sampler", "expression" if "expression" in raw else None)
    if sampler not in SAMPLERS:
        raise SpecError(f"column {name!r}: sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}", (*where, "sampler"))
    allowed = OPTIONS[sampler] | COMMON
    for key in raw:
        if key not in allowed:
            raise SpecError(f"column {name!r}: {sampler} takes no option {key!r} (options: {', '.join(sorted(OPTIONS[sampler]))})",
                            (*where, key))
    options = {k: v for k, v in raw.items() if k in OPTIONS[sampler]}
    col = ColumnSpec(name, sampler, _checked(name, sampler, options, where, sampled), description=str(raw.get("description", "")))
    null_share = raw.get("null_share", 0.0)
    if isinstance(null_share, bool) or not isinstance(null_share, (int, float)) or not 0 <= null_share <= 1:
        raise SpecError(f"column {name!r}: null_share must be a share between 0 and 1", (*where, "null_share"))
    col.null_share = float(null_share)
    if sampler == "expression":
        col.expression = parse_expression(str(options["expression"]))
    if "conditional" in raw:
        if sampler in ("expression", "llm"):
            raise SpecError(f"column {name!r}: an {sampler} column reads other columns itself; it takes no `conditional`",
                            (*where, "conditional"))
        cond = raw["conditional"]
        cwhere = (*where, "conditional")
        if not isinstance(cond, dict) or set(cond) != {"on", "cases"} or not isinstance(cond["cases"], dict):
            raise SpecError(f"column {name!r}: conditional is {{on: COLUMN, cases: {{VALUE: {{option: value}}}}}}", cwhere)
        if cond["on"] not in sampled:
            raise SpecError(f"column {name!r}: conditional on {cond['on']!r}, which is not a sampled column declared above it",
                            (*cwhere, "on"))
        col.on = cond["on"]
        for value, overrides in cond["cases"].items():
            if not isinstance(overrides, dict):
                raise SpecError(f"column {name!r}: case {value!r} maps options to values", (*cwhere, "cases", value))
            bad = sorted(set(overrides) - OPTIONS[sampler])
            if bad:
                raise SpecError(f"column {name!r}: case {value!r} sets {bad}, not options of {sampler}", (*cwhere, "cases", value))
            col.cases[_case_key(value)] = _checked(name, sampler, {**options, **overrides}, (*cwhere, "cases", value), sampled)
    return col


def _checked(name: str, sampler: str, o: dict[str, Any], where: tuple, sampled: set[str]) -> dict[str, Any]:
    """The options with derived fields (``_p``, ``_integer``, ``_range``) added; raises on a bad one."""
    o = dict(o)

    def need(*keys: str) -> None:
        for k in keys:
            if k not in o:
                raise SpecError(f"column {name!r}: the {sampler} sampler needs `{k}`", where)

    def number(k: str) -> float:
        v = o[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"column {name!r}: {k} must be a number, not {v!r}", (*where, k))
        return v

    if sampler == "category":
        need("values")
        values, weights = o["values"], o.get("weights")
        if not isinstance(values, list) or not values:
            raise SpecError(f"column {name!r}: values is a non-empty list", (*where, "values"))
        if weights is None:
            weights = [1.0] * len(values)
        if (not isinstance(weights, list) or len(weights) != len(values) or any(
                isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights) or sum(weights) <= 0):
            raise SpecError(f"column {name!r}: weights must be {len(values)} numbers >= 0 (one per value), not all 0",
                            (*where, "weights"))
        o["_p"] = np.asarray(weights, dtype=float) / float(sum(weights))
    elif sampler == "uniform":
        need("low", "high")
        if number("low") > number("high"):
            raise SpecError(f"column {name!r}: low {o['low']} is above high {o['high']}", (*where, "low"))
        o["_integer"] = bool(o.get("integer", isinstance(o["low"], int) and isinstance(o["high"], int) and "decimals" not in o))
    elif sampler == "normal":
        need("mean", "std")
        number("mean")
        if number("std") < 0:
            raise SpecError(f"column {name!r}: std must be >= 0", (*where, "std"))
        if "min" in o and "max" in o and number("min") > number("max"):
            raise SpecError(f"column {name!r}: min {o['min']} is above max {o['max']}", (*where, "min"))
        o["_integer"] = bool(o.get("integer", False))
    elif sampler == "bernoulli":
        need("p")
        if not 0 <= number("p") <= 1:
            raise SpecError(f"column {name!r}: p must be between 0 and 1", (*where, "p"))
    elif sampler == "datetime":
        need("start", "end")
        low, high = parse_datetime(_text(o["start"])), parse_datetime(_text(o["end"]))
        for key, when in (("start", low), ("end", high)):
            if when is None:
                raise SpecError(f"column {name!r}: {key} {o[key]!r} is not an ISO date (e.g. 2024-01-31)", (*where, key))
        if low > high:
            raise SpecError(f"column {name!r}: start {o['start']} is after end {o['end']}", (*where, "start"))
        plain = all(len(_text(o[k])) == 10 for k in ("start", "end"))
        o.setdefault("format", "date" if plain else "date-time")
        if o["format"] not in ("date", "date-time"):
            raise SpecError(f"column {name!r}: format must be date or date-time", (*where, "format"))
        o["_range"] = (low, high)
    elif sampler == "person":
        need("field")
        if o["field"] not in PERSON_FIELDS:
            raise SpecError(f"column {name!r}: person field must be one of {', '.join(PERSON_FIELDS)}, not {o['field']!r}",
                            (*where, "field"))
        try:
            check_locale(str(o.get("locale", "en_US")))
        except TableError as e:
            raise SpecError(f"column {name!r}: {e}", (*where, "locale")) from None
    elif sampler == "expression":
        try:
            expr = parse_expression(str(o["expression"]))
        except ExpressionError as e:
            raise SpecError(f"column {name!r}: {e}", (*where, "expression")) from None
        unknown = sorted(expr.names - sampled)
        if unknown:
            raise SpecError(f"column {name!r}: its expression reads {unknown}, which are not sampled columns declared "
                            f"above it", (*where, "expression"))
    elif sampler == "llm":
        need("prompt")
        if not isinstance(o["prompt"], str) or ("json_schema" in o and not isinstance(o["json_schema"], dict)):
            raise SpecError(f"column {name!r}: prompt is a template (text) and json_schema a mapping", where)
    return o


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
