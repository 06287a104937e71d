"""Tool catalogues (``ToolCatalogue``, ``load_catalogue``, ``load_tools``): the bundled one
(``synthloom/tools/catalogue/``, one module per category) and a user's tools.

:func:`load_catalogue` reads every module of the catalogue package as *text* (``importlib.resources``) and declares
its public functions as tools (``spec.tools_from_module_source``); nothing is imported, the code runs only in the
sandbox. :func:`load_tools` reads a user's ``.py`` module, ``.json`` tool schemas (+ implementation source) or an
OpenAPI ``.json``/``.yaml`` document. A :class:`ToolCatalogue` groups tools by category and samples them
reproducibly (APIGen samples 1-k tools per example, by category).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.resources
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from synthloom.tools.openapi import tools_from_openapi
from synthloom.tools.spec import (
    Tool,
    ToolModule,
    module_category,
    module_flag,
    safe_module_name,
    tool_from_schema,
    tools_from_module_source,
)

CATALOGUE_PACKAGE = "synthloom.tools.catalogue"


class UnknownTool(KeyError):
    """A tool or category name the catalogue does not have (the message suggests the closest one)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ToolCatalogue:
    """An immutable set of uniquely named tools, grouped by category."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        modules: dict[str, ToolModule] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r} (categories {self._tools[tool.name].category!r} and "
                                 f"{tool.category!r}); tool names must be unique, rename or prefix one")
            module = tool.module
            if module is not None and modules.setdefault(module.name, module) != module:
                raise ValueError(f"tool {tool.name!r}: two different tool modules are named {module.name!r}; rename one")
            self._tools[tool.name] = tool

    @property
    def categories(self) -> list[str]:
        return sorted({t.category for t in self._tools.values()})

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def tools(self, category: str | None = None) -> list[Tool]:
        """The tools (of ``category``), sorted by name."""
        if category is not None and category not in self.categories:
            raise UnknownTool(f"unknown tool category {category!r}{_suggestion(category, self.categories, 'categories')}")
        return [self._tools[n] for n in sorted(self._tools) if category is None or self._tools[n].category == category]

    def get(self, name: str) -> Tool:
        """The tool ``name``; :class:`UnknownTool` (a KeyError) with the closest name when there is none."""
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownTool(f"unknown tool {name!r}{_suggestion(name, list(self._tools), 'tools')}")
        return tool

    def sample(self, rng: random.Random, k: int, *, category: str | None = None) -> list[Tool]:
        """``k`` distinct tools (of ``category``) drawn with ``rng``: the same seed gives the same tools."""
        pool = self.tools(category)
        if not 1 <= k <= len(pool):
            where = f"category {category!r}" if category else "the catalogue"
            raise ValueError(f"cannot sample {k} tools from {where}, which has {len(pool)}; use 1 to {len(pool)}")
        return rng.sample(pool, k)

    def subset(self, names: Iterable[str]) -> ToolCatalogue:
        """A catalogue of the named tools only."""
        return ToolCatalogue(self.get(n) for n in names)

    def merged(self, tools: Iterable[Tool]) -> ToolCatalogue:
        """A catalogue of these tools and ``tools`` (names must stay unique)."""
        return ToolCatalogue([*self._tools.values(), *tools])

    def mapping(self) -> dict[str, Tool]:
        """Name → tool (what ``validate.call_problem`` takes)."""
        return dict(self._tools)

    def modules(self, names: Iterable[str] | None = None) -> list[ToolModule]:
        """The distinct modules implementing the tools (``names``, default all), for the executor."""
        chosen = self._tools.values() if names is None else (self.get(n) for n in names)
        return list({t.module.name: t.module for t in chosen if t.module is not None}.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __repr__(self) -> str:
        return f"ToolCatalogue({len(self)} tools in {len(self.categories)} categories)"


def _suggestion(word: str, names: list[str], what: str) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if not names:
        return f" (the catalogue has no {what})"
    return f" ({what}: {', '.join(sorted(names)[:12])}{', ...' if len(names) > 12 else ''})"


@functools.cache
def load_catalogue(package: str = CATALOGUE_PACKAGE) -> ToolCatalogue:
    """The tool catalogue of ``package`` (default: the bundled one), read once per process.

    Each non-private ``.py`` module of the package is one category: its ``CATEGORY`` string names it and each public
    function is a tool; ``STATELESS = True`` marks a module whose calls share nothing (no files, no state), which
    lets the executor run several rows' calls in one jail. The modules are read as text, never imported; the
    package's ``data/`` folder (when it exists) is every module's ``data_dir``.
    """
    root = importlib.resources.files(package)
    data = root / "data"
    data_dir = str(data) if data.is_dir() else None
    tools: list[Tool] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".py") or entry.name.startswith("_"):
            continue
        source = entry.read_text(encoding="utf-8")
        name = entry.name[:-3]
        category = module_category(source, entry.name)
        if category is None:
            raise ValueError(f"{package}/{entry.name}: add CATEGORY = \"<category name>\" at module level")
        tools.extend(tools_from_module_source(name, source, category=category, data_dir=data_dir,
                                              stateless=module_flag(source, entry.name, "STATELESS")))
    try:
        return ToolCatalogue(tools)
    except ValueError as exc:
        raise ValueError(f"tool catalogue {package}: {exc}") from exc


def load_tools(path: str | Path, *, category: str | None = None) -> list[Tool]:
    """The tools a user's file declares; every error names the file.

    - ``.py``: every public function is a tool implemented by that module. The file is parsed, not imported: its
      code runs only in the sandbox. Category: ``category``, else the module's ``CATEGORY``, else the file's stem.
    - ``.json``: a list of tool schemas (bare or OpenAI form, see ``spec.tool_from_schema``), or
      ``{"tools": [...], "source": ..., "source_file": ...}``. A schema may carry its implementation as ``"source"``
      (Python text) or ``"source_file"`` (a path relative to the JSON file), and ``"category"``/``"entry"``;
      without either the tool is simulated only. A JSON object with an ``openapi`` field is an OpenAPI document.
    - ``.yaml``/``.yml`` (or ``.json``): an OpenAPI 3 document, simulated only unless it names its implementation
      with a top-level ``x-synthloom-source: FILE.py`` (relative to the document).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the tools file ({exc.strerror or exc})") from exc
    try:
        return _load(path, text, category)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _load(path: Path, text: str, category: str | None) -> list[Tool]:
    suffix = path.suffix.lower()
    if suffix == ".py":
        category = category or module_category(text, path.name) or path.stem
        return tools_from_module_source(safe_module_name(path.stem), text, category=category)
    if suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    elif suffix in (".yaml", ".yml"):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML ({exc})") from exc
        if not (isinstance(doc, dict) and "openapi" in doc):
            raise ValueError("a YAML tools file must be an OpenAPI 3 document (a top-level 'openapi: 3.x')")
    else:
        raise ValueError("tools files are .py modules, .json tool schemas or OpenAPI .json/.yaml/.yml documents")
    category = category or path.stem
    if isinstance(doc, dict) and ("openapi" in doc or "swagger" in doc):
        source_file = doc.get("x-synthloom-source")
        source = _read_source(path, source_file, "x-synthloom-source") if source_file else None
        module = safe_module_name(Path(source_file).stem) if source_file else None
        return tools_from_openapi(doc, category=category, source=source, module_name=module)
    return _schema_tools(path, doc, category)


def _schema_tools(path: Path, doc: Any, category: str) -> list[Tool]:
    shared: dict[str, Any] = {}
    if isinstance(doc, dict) and isinstance(doc.get("tools"), list):
        shared, doc = doc, doc["tools"]
    elif isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list) or not doc:
        raise ValueError("expected a non-empty list of tool schemas, {\"tools\": [...]} or an OpenAPI document")
    tools = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            raise ValueError(f"tools[{i}] must be a tool schema object, not {type(item).__name__}")
        schema = {k: v for k, v in item.items() if k not in ("source", "source_file", "category", "entry")}
        source, module = _item_source(path, item, shared, i)
        try:
            tools.append(tool_from_schema(schema, source, category=item.get("category") or shared.get("category") or category,
                                          entry=item.get("entry"), module_name=module))
        except ValueError as exc:
            raise ValueError(f"tools[{i}]: {exc}") from exc
    names = [t.name for t in tools]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ValueError(f"two tools are named {dup!r}")
    return tools


def _item_source(path: Path, item: dict[str, Any], shared: dict[str, Any], i: int) -> tuple[str | None, str | None]:
    for owner, label in ((item, f"tools[{i}]"), (shared, "the file")):
        if owner.get("source_file"):
            file = owner["source_file"]
            return _read_source(path, file, f"{label} source_file"), safe_module_name(Path(file).stem)
        if owner.get("source"):
            if not isinstance(owner["source"], str):
                raise ValueError(f"{label}: source must be Python source text")
            name = item.get("name") or (item.get("function") or {}).get("name") or f"tool_{i}"
            return owner["source"], safe_module_name(f"{name}_impl" if owner is item else f"{path.stem}_impl")
    return None, None


def _read_source(path: Path, file: Any, field: str) -> str:
    if not isinstance(file, str):
        raise ValueError(f"{field} must be a path, not {file!r}")
    target = path.parent / file
    try:
        return target.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{field} {file!r}: cannot read {target} ({exc.strerror or exc})") from exc
