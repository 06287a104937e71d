"""From the tools the ToolACE gate kept to APIGen-checked function-calling data over them.

Liu et al. 2024, "ToolACE: Winning the Points of LLM Function Calling", arXiv:2409.00920. ToolACE generates its
data over the synthesized APIs and verifies it with a rule layer (format, executability) and a model layer
(hallucination, consistency). Here the data stage reuses APIGen's steps (:mod:`.apigen`, :mod:`.apigen_checks`),
which map onto that dual layer: ``apigen_format`` and ``apigen_execute`` are the rule layer (executing for real),
``apigen_semantics`` the model layer. Three steps connect them to the new tools:

* :class:`ToolaceCatalogue` (``toolace_catalogue``): one tool per name, written as a ``load_tools`` JSON file;
* :class:`ToolaceSample` (``toolace_sample``): APIGen's sampling of forms and 1-k tools, over the new tools; each
  example carries the implementations of its tools (``tool_sources``);
* :class:`ToolaceExecute` (``toolace_execute``): ``apigen_execute`` with the implementations read from the row.
"""

from __future__ import annotations

import copy
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash

from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from ...tools.spec import Tool, safe_module_name, tool_from_schema
from .apigen import MULTI_TOOL, form_weights
from .apigen_checks import ApigenExecute
from .toolace import CITATION

#: a multi-tool form falls back to its one-tool counterpart when fewer than two tools exist
ONE_TOOL_FORM = {"multiple": "simple", "parallel_multiple": "parallel"}


def write_catalogue(path: str | Path, tools: list[dict[str, Any]]) -> Path:
    """Write ``tools`` (``load_tools`` JSON entries) to ``path`` atomically; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"tools": tools}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def entry_tool(entry: dict[str, Any]) -> Tool:
    """The executable :class:`Tool` of a catalogue entry (``name``, ``description``, ``parameters``, ``category``,
    ``source``), with the module name ``load_tools`` gives it (``NAME_impl``)."""
    schema = {k: entry[k] for k in ("name", "description", "parameters")}
    return tool_from_schema(schema, entry["source"], category=str(entry.get("category") or ""),
                            module_name=safe_module_name(f"{entry['name']}_impl"))


class ToolaceCatalogue(GlobalStep):
    """Collects the tools the gate kept (column ``tool``) into one catalogue: one tool per name (a later row with
    a taken name, or a name the bundled catalogue already has, is rejected as a duplicate), ordered by domain and
    name. With ``path`` the catalogue is written there as ``{"tools": [...]}`` JSON, the file
    ``synthloom.tools.load_tools`` reads (so ``apigen_sample``/``apigen_execute`` take it as ``tools_file``; a
    relative path is relative to the working directory). Emits the kept rows."""

    type_name = "toolace_catalogue"

    def __init__(self, name: str, *, path: str | None = None, inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or (), reads=["tool"], citations=[CITATION])
        self.path = path

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        from ...tools import load_catalogue

        bundled = set(load_catalogue().names)
        kept: dict[str, dict[str, Any]] = {}
        ordered = sorted(rows, key=lambda r: (str(r["tool"].get("category")), str(r["tool"].get("name")), str(r.get("id"))))
        for row in ordered:
            tool_name = row["tool"]["name"]
            if tool_name in bundled:
                yield RejectedRow(row, Rejected(f"the bundled catalogue already has a tool named {tool_name!r}"))
            elif tool_name in kept:
                yield RejectedRow(row, Rejected(f"duplicate tool name {tool_name!r}", duplicate_of=kept[tool_name].get("id")))
            else:
                kept[tool_name] = row
                yield row
        if self.path:
            write_catalogue(self.path, [r["tool"] for r in kept.values()])


class ToolaceSample(GlobalStep):
    """APIGen's sampling over the synthesized tools (rows with ``tool``): ``examples_per_tool`` × (number of tools)
    examples, each with a form drawn from ``forms`` (as in ``apigen_sample``: a list or a mapping form -> weight)
    and one tool (``simple``, ``parallel``) or 2 to ``k`` tools (``multiple``, ``parallel_multiple``), from the
    example's domain when it has enough tools and ``same_category`` (else from all of them). With a single tool in
    all, a multi-tool form becomes its one-tool counterpart. Writes ``tools`` (OpenAI function tools), ``form``,
    ``category`` and ``tool_sources`` (the offered tools' catalogue entries, implementations included);
    deterministic in ``seed``."""

    type_name = "toolace_sample"

    def __init__(self, name: str, *, examples_per_tool: int = 2, k: int = 3,
                 forms: dict[str, float] | list[str] | None = None, same_category: bool = True, seed: int = 0,
                 inputs: list[str] | None = None) -> None:
        where = f"toolace_sample {name!r}"
        if int(examples_per_tool) < 1:
            raise ValueError(f"{where}: examples_per_tool must be >= 1, not {examples_per_tool}")
        if int(k) < 1:
            raise ValueError(f"{where}: k (the most tools per example) must be >= 1, not {k}")
        super().__init__(name, inputs=inputs or (), reads=["tool"], writes=["tools", "form", "category", "tool_sources"],
                         citations=[CITATION])
        self.mix = form_weights(forms, where)
        self.examples_per_tool, self.k, self.same_category, self.seed = int(examples_per_tool), int(k), bool(same_category), int(seed)

    def output_columns(self, available: set[str]) -> set[str]:
        return {"tools", "form", "category", "tool_sources"}

    def draw(self, index: int, entries: list[dict[str, Any]], by_domain: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        """Example ``index`` over ``entries`` (catalogue entries sorted by name): a pure function of the seed."""
        rng = random.Random(xxhash.xxh3_64_intdigest(f"{self.seed}\x1f{index}\x1ftoolace".encode()))
        form = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        if form in MULTI_TOOL and len(entries) < 2:
            form = ONE_TOOL_FORM[form]
        count = rng.randint(2, max(2, self.k)) if form in MULTI_TOOL else 1
        domain = rng.choice(sorted(by_domain))
        pool = by_domain[domain] if self.same_category and len(by_domain[domain]) >= count else entries
        chosen = sorted(rng.sample(pool, min(count, len(pool))), key=lambda e: e["name"])
        category = ", ".join(sorted({str(e.get("category")) for e in chosen}))
        tools = [{"type": "function", "function": {k: e[k] for k in ("name", "description", "parameters")}} for e in chosen]
        return {"tools": tools, "form": form, "category": category, "tool_sources": chosen}

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        entries = sorted((r["tool"] for r in rows), key=lambda e: e["name"])
        if not entries:
            return
        by_domain: dict[str, list[dict[str, Any]]] = {}
        for e in entries:
            by_domain.setdefault(str(e.get("category")), []).append(e)
        for i in range(self.examples_per_tool * len(entries)):
            yield self.draw(i, entries, by_domain)


class ToolaceExecute(ApigenExecute):
    """APIGen's execution stage (``apigen_execute``: every call run in order in one fresh sandbox jail, a call that
    does not return a JSON value rejects the row with its status) over the synthesized tools: the implementations
    come from the row's ``sources_column`` (catalogue entries with ``source``, as ``toolace_sample`` writes them),
    besides the bundled catalogue's and ``tools_file``'s."""

    type_name = "toolace_execute"

    def __init__(self, name: str, *, sources_column: str = "tool_sources", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads.add(sources_column)
        self.sources_column = sources_column

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        entries = record.get(self.sources_column) or []
        if not isinstance(entries, list):
            raise ValueError(f"toolace_execute {self.name!r}: column {self.sources_column!r} must be a list of catalogue "
                             "entries (toolace_sample writes it)")
        try:
            row_tools = {e["name"]: entry_tool(e) for e in entries}
        except (KeyError, TypeError, ValueError) as exc:
            return Rejected(f"not_run: a tool's catalogue entry cannot be used ({type(exc).__name__}: {exc})", 0.0)
        # the parent step looks implementations up in ``self.tools``: a shallow copy per row gives it this row's
        # tools while sharing the executor (rows run concurrently, so ``self.tools`` itself must not change)
        view = copy.copy(self)
        view.tools = {**self.tools, **row_tools}
        return await ApigenExecute.process(view, record)

