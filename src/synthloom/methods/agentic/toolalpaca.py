"""ToolAlpaca: tool-use data from tools that exist only as documentation, simulated by an LLM.

Tang et al. 2023, "ToolAlpaca: Generalized Tool Learning for Language Models with 3000 Simulated Cases",
arXiv:2306.05301 (tangqiaoyu/ToolAlpaca). The paper collects 400+ entries of the public-apis list, has an LLM write
each one's documentation (an introduction, function descriptions and an OpenAPI spec), then simulates tool use with
three agents: a *user* agent writes instructions for the toolset, an *assistant* agent answers them in a ReAct loop
of function calls, and a *tool executor* agent (an LLM) plays the API from its documentation and returns its
responses. 3,938 cases came out of it; nothing was executed.

Steps here:

* :class:`ToolalpacaToolsets` (``toolalpaca_toolsets``): toolsets from OpenAPI 3 documents (the bundled weather and
  library APIs by default), through :func:`synthloom.tools.openapi.tools_from_openapi`;
* :class:`ToolalpacaToolset` (``toolalpaca_toolset``): the paper's toolset construction, a toolset written by the
  model from a ``{name, description, category}`` API entry (``recipes/builtin/toolalpaca_apis.jsonl``);
* :class:`ToolalpacaInstructions` (``toolalpaca_instructions``): the user agent, one row per instruction;
* :class:`~.toolalpaca_simulate.ToolalpacaSimulate` (``toolalpaca_simulate``): the assistant and tool-executor agents.

Every row says ``simulated: true`` and every result ``status: "simulated"``: the tool responses were imagined by a
model, never executed, so nobody mistakes them for executed data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import xxhash
import yaml

from ...pipeline.model_step import ModelStep, chat, is_refusal
from ...pipeline.step import Rejected, SourceStep
from ...records import adopt_rows, user_columns
from .toolace import SPEC_SCHEMA
from .toolace_gate import function_schema

CITATION = ("Tang et al. 2023, ToolAlpaca: Generalized Tool Learning for Language Models with 3000 Simulated Cases, "
            "arXiv:2306.05301")
OPENAPI_DIR = Path(__file__).with_name("toolalpaca_openapi")
#: the columns a toolset row has
TOOLSET_COLUMNS = ["toolset", "toolset_description", "tools", "tool_returns"]


def openapi_toolset(path: str | Path) -> dict[str, Any]:
    """A toolset row from the OpenAPI 3 document at ``path`` (JSON or YAML): its title, description, tools
    (OpenAI function tools, one per operation) and what each returns. Errors name the file."""
    from ...tools.openapi import tools_from_openapi

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"OpenAPI document {str(p)!r} cannot be read ({exc.strerror or exc}); give an existing file") from None
    try:
        doc = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'} ({exc})") from None
    info = doc.get("info") if isinstance(doc, dict) and isinstance(doc.get("info"), dict) else {}
    try:
        tools = tools_from_openapi(doc, category=p.stem)
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None
    return {"toolset": str(info.get("title") or p.stem), "toolset_description": str(info.get("description") or ""),
            "tools": [t.openai() for t in tools], "tool_returns": {t.name: t.returns for t in tools if t.returns}}


class ToolalpacaToolsets(SourceStep):
    """One toolset row per OpenAPI 3 document in ``openapi`` (paths of ``.json``/``.yaml`` files; default the
    bundled ``toolalpaca_openapi/*.json``: a weather API and a library API). Columns: ``toolset`` (the title),
    ``toolset_description``, ``tools`` (OpenAI function tools, one per operation) and ``tool_returns`` (tool name
    -> what its response contains, from the document's responses). The tools have no implementation: only
    ``toolalpaca_simulate`` can answer their calls."""

    type_name = "toolalpaca_toolsets"
    columns = TOOLSET_COLUMNS

    def __init__(self, name: str, *, openapi: list[str] | None = None) -> None:
        super().__init__(name, citations=[CITATION])
        paths = [Path(p) for p in openapi] if openapi is not None else sorted(OPENAPI_DIR.glob("*.json"))
        if not paths:
            raise ValueError(f"toolalpaca_toolsets {name!r}: openapi lists no document; give paths of OpenAPI 3 files")
        self.toolsets = [openapi_toolset(p) for p in paths]

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        yield from (dict(t) for t in self.toolsets[:limit])

    def count(self, limit: int | None = None) -> int | None:
        return len(self.toolsets) if limit is None else min(len(self.toolsets), limit)

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(json.dumps(self.toolsets, sort_keys=True).encode())


def toolset_schema(n_functions: int) -> dict[str, Any]:
    """The JSON a generated toolset is written in: an introduction and 1 to ``n_functions`` function specs."""
    return {"type": "object", "properties": {
        "introduction": {"type": "string"},
        "functions": {"type": "array", "items": SPEC_SCHEMA, "minItems": 1, "maxItems": n_functions}},
        "required": ["introduction", "functions"], "additionalProperties": False}


class ToolalpacaToolset(ModelStep):
    """ToolAlpaca's toolset construction: from an API entry (columns ``name``, ``description``, ``category``, as
    in the public-apis list) the model writes an introduction and up to ``n_functions`` function specs (JSON,
    constrained; the ToolACE spec form). Specs that do not validate are dropped (their reasons in
    ``dropped_functions``); a reply with none left is rejected. Writes the toolset columns (``toolset``,
    ``toolset_description`` = the introduction, ``tools``, ``tool_returns``) and ``dropped_functions``."""

    type_name = "toolalpaca_toolset"
    default_sampling = {"temperature": 0.7, "max_tokens": 1536}

    def __init__(self, name: str, *, n_functions: int = 3, template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(n_functions) < 1:
            raise ValueError(f"toolalpaca_toolset {name!r}: n_functions must be >= 1, not {n_functions}")
        super().__init__(name, reads=["name", "description", "category"], writes=[*TOOLSET_COLUMNS, "dropped_functions"],
                         citations=[CITATION, *citations], **kwargs)
        self.n_functions = int(n_functions)
        self.template = template if template is not None else self.load_template("toolalpaca_toolset.jinja")
        self.read_columns(self.template, not_columns={"api_description", "n_functions"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        view = {**user_columns(record), "api_description": record.get("description"), "n_functions": self.n_functions}
        response, lineage = await self.call(record, chat(self.render(self.template, view)),
                                            json_schema=toolset_schema(self.n_functions), salt="toolset")
        value = response.parsed
        tools, returns, dropped = [], {}, []
        for spec in value.get("functions") or []:
            fn, problem = function_schema({k: v for k, v in spec.items() if k != "returns"})
            if fn is not None and any(t["function"]["name"] == fn["name"] for t in tools):
                fn, problem = None, f"two functions are named {fn['name']!r}"
            if fn is None:
                dropped.append(problem)
                continue
            tools.append({"type": "function", "function": fn})
            if str(spec.get("returns") or "").strip():
                returns[fn["name"]] = spec["returns"].strip()
        if not tools:
            return Rejected(f"no usable function in the generated toolset: {dropped[0] if dropped else 'none written'}", 0.0)
        row = {**record, "toolset": str(record.get("name") or ""), "toolset_description": str(value.get("introduction") or ""),
               "tools": tools, "tool_returns": returns, "dropped_functions": dropped}
        return adopt_rows(record, row, self.name, [lineage])


class ToolalpacaInstructions(ModelStep):
    """ToolAlpaca's user agent: ``n_instructions`` requests a user could make of a toolset (reads ``toolset``,
    ``toolset_description``, ``tools``), each needing its functions; one row per distinct instruction, in column
    ``query`` (with ``instruction_index``). JSON reply, constrained. Rejected when no usable instruction is left
    (empty or refusals)."""

    type_name = "toolalpaca_instructions"
    default_sampling = {"temperature": 0.9, "max_tokens": 768}

    def __init__(self, name: str, *, n_instructions: int = 3, template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(n_instructions) < 1:
            raise ValueError(f"toolalpaca_instructions {name!r}: n_instructions must be >= 1, not {n_instructions}")
        super().__init__(name, reads=["toolset", "toolset_description", "tools"], writes=["query", "instruction_index"],
                         citations=[CITATION, *citations], **kwargs)
        self.n_instructions = int(n_instructions)
        self.template = template if template is not None else self.load_template("toolalpaca_instructions.jinja")
        self.read_columns(self.template, not_columns={"n_instructions"})

    def schema(self) -> dict[str, Any]:
        items = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": self.n_instructions}
        return {"type": "object", "properties": {"instructions": items}, "required": ["instructions"],
                "additionalProperties": False}

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        tools = record.get("tools")
        if not isinstance(tools, list) or not tools:
            raise ValueError(f"toolalpaca_instructions {self.name!r}: column 'tools' must be a non-empty list of OpenAI "
                             "function tools (toolalpaca_toolsets makes them)")
        view = {**user_columns(record), "n_instructions": self.n_instructions}
        response, lineage = await self.call(record, chat(self.render(self.template, view)), json_schema=self.schema(),
                                            salt="instructions")
        seen, found = set(), []
        for text in response.parsed.get("instructions") or []:
            text = " ".join(str(text).split())
            if text and text.lower() not in seen and not is_refusal(text):
                seen.add(text.lower())
                found.append(text)
        if not found:
            return Rejected("the user agent wrote no usable instruction (empty or refusals)", 0.0)
        rows = [{**record, "query": q, "instruction_index": i} for i, q in enumerate(found)]
        return adopt_rows(record, rows, self.name, [lineage])
