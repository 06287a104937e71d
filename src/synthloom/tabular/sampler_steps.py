"""The schema samplers as recipe steps: ``table_samplers`` (a source drawing the sampled columns of
a spec, see :mod:`.samplers`) and ``table_llm_columns`` (fills the spec's ``llm`` columns, each from
a prompt template over the row, through :meth:`ModelStep.call`, optionally constrained by a JSON
schema). A spec comes from a YAML file (``spec:``; mistakes are ``file:line`` errors) or inline
(``columns:``, ``constraints:``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash
import yaml

from ..pipeline.model_step import ModelStep, RowError, chat
from ..pipeline.step import SourceStep
from ..pipeline.templates import template_columns
from ..recipes.yaml_load import compose_yaml, load_yaml
from ..records import adopt_rows
from .errors import SchemaError
from .samplers import SamplerSpec, SpecError, parse_spec

DATA_DESIGNER = ("NVIDIA NeMo Data Designer (2025): column samplers, conditional columns, constraints and LLM columns "
                 "for synthetic structured data, docs.nvidia.com/nemo/microservices/latest/design-synthetic-data-from-scratch-or-seeds")


def load_spec_file(path: str | Path, *, extra_constraints: list[Any] | None = None, max_redraws: int = 1000) -> SamplerSpec:
    """The sampler spec in a YAML file (``columns:``, ``constraints:``, ``max_redraws:``), plus
    ``extra_constraints``; ``max_redraws`` applies when the file sets none. A mistake in the file is a
    :class:`SchemaError` at ``file:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SchemaError(f"cannot read the column spec ({e.strerror})", file=str(path), hint="check the path "
                          "(a recipe can use ${recipe_dir})") from None
    try:
        node, data = compose_yaml(text), load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        raise SchemaError(f"not valid YAML: {getattr(e, 'problem', None) or e}", file=str(path),
                          line=mark.line + 1 if mark else None, hint="check indentation and quoting on that line") from None
    if not isinstance(data, dict):
        raise SchemaError("a column spec is a mapping with `columns:` (and optionally constraints, max_redraws)",
                          file=str(path), line=1)
    unknown = [k for k in data if k not in ("columns", "constraints", "max_redraws")]
    try:
        if unknown:
            raise SpecError(f"unknown key {unknown[0]!r} (keys: columns, constraints, max_redraws)", (unknown[0],))
        spec = parse_spec(data.get("columns"), data.get("constraints"), data.get("max_redraws", max_redraws))
    except SpecError as e:
        raise SchemaError(str(e), file=str(path), line=_line(node, e.path)) from None
    if extra_constraints:
        file_constraints = data.get("constraints") or []
        try:
            spec = parse_spec(data["columns"], [*file_constraints, *extra_constraints], spec.max_redraws)
        except SpecError as e:
            raise ValueError(f"constraints.{e.path[1] - len(file_constraints)}: {e}" if len(e.path) > 1 else str(e)) from None
    return spec


def _line(node: Any, path: tuple) -> int | None:
    line = None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _spec(spec: str | None, columns: list[dict[str, Any]] | None, constraints: list[Any] | None,
          max_redraws: int) -> SamplerSpec:
    if bool(spec) == bool(columns):
        raise ValueError("give exactly one of `spec` (a column spec YAML file) or `columns` (the spec inline)")
    if spec:
        return load_spec_file(spec, extra_constraints=constraints, max_redraws=max_redraws)
    try:
        return parse_spec(columns, constraints, max_redraws)
    except SpecError as e:
        where = ".".join(str(p) for p in e.path)
        raise ValueError(f"{where}: {e}" if where else str(e)) from None


def _spec_fingerprint(spec: str | None) -> str:
    if not spec:
        return ""
    try:
        return xxhash.xxh3_64_hexdigest(Path(spec).read_bytes())
    except OSError:
        return "missing"


class TableSamplers(SourceStep):
    """Draws ``rows`` records from a column spec's samplers (every column but the ``llm`` ones), with
    every constraint holding; row ``i`` depends only on ``seed`` and ``i``."""

    type_name = "table_samplers"

    def __init__(self, name: str, *, spec: str | None = None, columns: list[dict[str, Any]] | None = None,
                 constraints: list[Any] | None = None, rows: int = 100, seed: int = 0, max_redraws: int = 1000) -> None:
        if rows < 1:
            raise ValueError(f"rows must be at least 1, not {rows}")
        super().__init__(name, citations=[DATA_DESIGNER])
        self.sampler_spec = _spec(spec, columns, constraints, max_redraws)
        self.spec_path, self.rows, self.seed = spec, rows, seed

    @property
    def columns(self) -> list[str]:  # type: ignore[override]
        return [c.name for c in self.sampler_spec.sampled]

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        for i in range(self.count(limit) or 0):
            yield self.sampler_spec.draw_row(i, self.seed)

    def count(self, limit: int | None = None) -> int | None:
        return self.rows if limit is None else min(self.rows, limit)

    def fingerprint(self) -> str:
        return _spec_fingerprint(self.spec_path)


class TableLLMColumns(ModelStep):
    """Fills the spec's ``llm`` columns in order: each column's ``prompt`` (and ``system``) is a Jinja
    template over the row (sampled columns and the llm columns before it); with ``json_schema`` the
    reply is constrained to it (a grammar on the embedded model) and the parsed value is stored."""

    type_name = "table_llm_columns"
    default_sampling = {"temperature": 0.7, "max_tokens": 256}

    def __init__(self, name: str, *, spec: str | None = None, columns: list[dict[str, Any]] | None = None,
                 constraints: list[Any] | None = None, max_redraws: int = 1000, **kwargs: Any) -> None:
        sampler_spec = _spec(spec, columns, constraints, max_redraws)
        if not sampler_spec.llm:
            raise ValueError("the column spec has no `sampler: llm` column for this step to fill")
        reads: set[str] = set()
        made: set[str] = set()
        for col in sampler_spec.llm:
            for source in (col.options["prompt"], col.options.get("system")):
                if source:
                    reads |= set(template_columns(source)) - made
            made.add(col.name)
        kwargs.setdefault("citations", [DATA_DESIGNER])
        super().__init__(name, reads=reads, writes=made, **kwargs)
        self.sampler_spec, self.spec_path = sampler_spec, spec

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["spec_file"] = _spec_fingerprint(self.spec_path)
        return d

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        row, lineages = dict(record), []
        for col in self.sampler_spec.llm:
            o = col.options
            system = self.render(o["system"], row) if o.get("system") else None
            messages = chat(self.render(o["prompt"], row), system=system)
            sampling = {k: o[k] for k in ("max_tokens", "temperature") if k in o}
            schema, wrapped = _object_schema(col.name, o.get("json_schema"))
            response, lineage = await self.call(row, messages, json_schema=schema, salt=col.name,
                                                lineage={"column": col.name}, **sampling)
            if schema is not None:
                value = response.parsed[col.name] if wrapped else response.parsed
            else:
                value = (response.text or "").strip()
                if not value:
                    raise RowError(f"column {col.name!r}: the model's reply is empty", raw_text=response.text)
            row[col.name] = value
            lineages.append(lineage)
        return adopt_rows(record, row, self.name, lineages)


def _object_schema(column: str, schema: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
    """A structured reply is a JSON object: a value schema (an enum, a number) is asked for as
    ``{"COLUMN": value}``; returns the schema to send and whether it was wrapped."""
    if schema is None or schema.get("type") == "object":
        return schema, False
    return {"type": "object", "properties": {column: schema}, "required": [column], "additionalProperties": False}, True
