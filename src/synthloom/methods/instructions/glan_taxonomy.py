"""GLAN's first stage: the taxonomy of human knowledge (Li et al. 2024, "Synthetic Data (Almost)
from Scratch: Generalized Instruction Tuning for Language Models", arXiv:2402.13064, §2.1).

The paper has the model decompose human knowledge into fields, each field into sub-fields and each
sub-field into disciplines, and has people review the result (removing, merging and adding
disciplines) before it is used. :class:`GlanTaxonomy` (``type: glan_taxonomy``) asks for each level
as structured output (``{"items": [...]}``, a JSON schema the backend enforces where it can), yields
one row per discipline with its ``field`` and ``sub_field``, and after the run writes the
discipline list for review into the run folder (``glan_taxonomy.jsonl`` and a readable
``glan_taxonomy.md``). A person edits the JSONL (delete, rename or add lines) and feeds it back
with ``reviewed:`` (the built-in recipe's ``taxonomy`` parameter); the step then reads that list
and asks the model nothing.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

from ...io.rundir import atomic_write_text
from ...io.shards import read_shards
from ...pipeline.model_step import ModelSource, chat
from ...records import LINEAGE
from .glan import CITATION

LEVELS = {"fields": "fields", "sub_fields": "sub-fields", "disciplines": "disciplines"}
_MARKER = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+")


class TaxonomyFileError(ValueError):
    """A reviewed discipline list that cannot be read."""


def items_schema(count: int) -> dict[str, Any]:
    """``{"items": [up to count short names]}``."""
    return {"type": "object", "properties": {"items": {"type": "array", "minItems": 1, "maxItems": count,
                                                       "items": {"type": "string", "minLength": 2, "maxLength": 80}}},
            "required": ["items"], "additionalProperties": False}


def clean_names(items: Any, count: int) -> list[str]:
    """Up to ``count`` distinct (case-insensitive) non-empty names, stripped of list markers."""
    out: list[str] = []
    seen: set[str] = set()
    for item in items if isinstance(items, list) else []:
        name = " ".join(_MARKER.sub("", str(item)).split()).strip(" .")
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out[:count]


def load_reviewed(path: str) -> list[dict[str, Any]]:
    """A reviewed discipline list: JSONL rows with a ``discipline`` (and optionally ``field`` and
    ``sub_field``), or a text file with one discipline per line. A bad line raises naming it."""
    p = Path(path)
    if not p.is_file():
        raise TaxonomyFileError(f"reviewed taxonomy {p} does not exist; give the glan_taxonomy.jsonl a run wrote "
                                "(edited), or a text file with one discipline per line")
    rows = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if p.suffix not in (".jsonl", ".json"):
            rows.append({"field": None, "sub_field": None, "discipline": line.strip()})
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise TaxonomyFileError(f"{p}:{lineno}: not valid JSON ({e}); write one object per line, "
                                    '{"discipline": "...", "field": "...", "sub_field": "..."}') from None
        if not isinstance(row, dict) or not str(row.get("discipline") or "").strip():
            raise TaxonomyFileError(f"{p}:{lineno}: no non-empty \"discipline\"; write one object per line, "
                                    '{"discipline": "...", "field": "...", "sub_field": "..."}')
        rows.append({"field": row.get("field"), "sub_field": row.get("sub_field"), "discipline": str(row["discipline"]).strip()})
    if not rows:
        raise TaxonomyFileError(f"reviewed taxonomy {p} lists no discipline")
    return rows


class GlanTaxonomy(ModelSource):
    """GLAN's taxonomy (see the module doc): ``n_fields`` fields of ``domain``, ``n_sub_fields``
    sub-fields each, ``n_disciplines`` disciplines each, as structured output; one row per distinct
    discipline (``field``, ``sub_field``, ``discipline``), at most ``count``. With a limit (``count``
    or ``-n``) only as much of the
    tree is built as that many disciplines need (at most one field per discipline, then an even
    share of sub-fields), and disciplines are yielded round-robin over the fields. With
    ``reviewed`` (a person's edited list) the list is read and no model is asked. ``export``: the
    stem of the review files written in the run folder (``None``: none)."""

    type_name = "glan_taxonomy"
    columns = ("field", "sub_field", "discipline")
    default_sampling = {"temperature": 0.7, "max_tokens": 160}

    def __init__(self, name: str, *, domain: str = "human knowledge", n_fields: int = 6, n_sub_fields: int = 3,
                 n_disciplines: int = 3, count: int | None = None, reviewed: str | None = None,
                 export: str | None = "glan_taxonomy", model: str = "default", **sampling: Any) -> None:
        super().__init__(name, model=model, citations=[CITATION], **sampling)
        if min(int(n_fields), int(n_sub_fields), int(n_disciplines)) < 1:
            raise ValueError(f"glan_taxonomy {name!r}: n_fields, n_sub_fields and n_disciplines must be >= 1")
        self.domain, self.counts = domain, {"fields": int(n_fields), "sub_fields": int(n_sub_fields),
                                            "disciplines": int(n_disciplines)}
        if count is not None and int(count) < 1:
            raise ValueError(f"glan_taxonomy {name!r}: count must be >= 1 (or null: every discipline), not {count}")
        self.count_ = None if count is None else int(count)
        self.reviewed, self.export = reviewed, export
        self.reviewed_rows = load_reviewed(reviewed) if reviewed else None  # a bad file fails before the run
        self.template = self.load_template("glan_taxonomy.jinja")
        self.built: list[dict[str, Any]] = []

    def fingerprint(self) -> str:
        if not self.reviewed:
            return ""
        st = Path(self.reviewed).stat()
        return f"{Path(self.reviewed).resolve()}:{st.st_size}:{st.st_mtime_ns}"

    async def ask(self, level: str, count: int, parents: list[str]) -> tuple[list[str], dict[str, Any]]:
        """Up to ``count`` names of ``level`` under the ``parents`` path (structured output), with
        the call's lineage entry."""
        prompt = self.render(self.template, {"level": LEVELS[level], "count": count, "domain": self.domain,
                                             "parents": parents})
        response, entry = await self.call({}, chat(prompt), json_schema=items_schema(count),
                                          salt="/".join([level, *parents]), lineage={"level": level})
        return clean_names((response.parsed or {}).get("items"), count), entry

    async def aread(self, limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        limit = min(x for x in (limit, self.count_, 10**9) if x is not None)
        limit = None if limit == 10**9 else limit
        if self.reviewed_rows is not None:
            for row in self.reviewed_rows[:limit]:
                yield dict(row)
            return
        fields, _ = await self.ask("fields", self.counts["fields"], [])
        if limit is not None:
            fields = fields[:limit]
        share = math.ceil(limit / len(fields)) if limit is not None and fields else None
        subs = await asyncio.gather(*(self.ask("sub_fields", self.counts["sub_fields"], [f]) for f in fields))
        pairs = [(f, s) for f, (names, _) in zip(fields, subs) for s in names[:share]]
        found = await asyncio.gather(*(self.ask("disciplines", self.counts["disciplines"], [f, s]) for f, s in pairs))
        per_field: dict[str, list[dict[str, Any]]] = {f: [] for f in fields}
        seen: set[str] = set()
        for (f, s), (names, entry) in zip(pairs, found):
            for d in names:
                if d.lower() not in seen:
                    seen.add(d.lower())
                    per_field[f].append({"field": f, "sub_field": s, "discipline": d, LINEAGE: [entry]})
        ordered = [row for i in range(max((len(v) for v in per_field.values()), default=0))
                   for v in per_field.values() if i < len(v) for row in [v[i]]]
        self.built = [{k: v for k, v in row.items() if k != LINEAGE} for row in ordered[:limit]]
        for row in ordered[:limit]:
            yield row

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        if not self.export or self.reviewed:
            return
        rows = self.built or _rows_in_run(Path(out))
        if not rows:
            log(f"glan_taxonomy {self.name!r}: no discipline to export for review (keep field, sub_field and discipline "
                "in the output's select step)")
            return
        jsonl = Path(out) / f"{self.export}.jsonl"
        atomic_write_text(jsonl, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        atomic_write_text(Path(out) / f"{self.export}.md", taxonomy_markdown(rows, jsonl.name))
        log(f"GLAN taxonomy for review: {jsonl} (edit it, then rerun with --set taxonomy={jsonl})")


def _rows_in_run(out: Path) -> list[dict[str, Any]]:
    """The (field, sub_field, discipline) triples of a run's rows, in first-seen order (a resumed run
    whose taxonomy was not rebuilt in this process)."""
    seen: dict[str, dict[str, Any]] = {}
    folders = [out / "data"] + sorted(p for kind in ("rejected", "errors") for p in (out / kind).glob("*") if p.is_dir())
    for folder in folders:
        if folder.is_dir():
            for row in read_shards(folder):
                if row.get("discipline"):
                    seen.setdefault(str(row["discipline"]), {k: row.get(k) for k in ("field", "sub_field", "discipline")})
    return list(seen.values())


def taxonomy_markdown(rows: list[dict[str, Any]], jsonl_name: str) -> str:
    """The taxonomy as a readable tree, with how to review it."""
    lines = ["# GLAN taxonomy for review", "",
             f"Edit `{jsonl_name}` (one discipline per line: delete, rename, merge or add lines), then rerun with "
             f"`--set taxonomy=PATH/{jsonl_name}`: the run reads your list and asks the model nothing for it.", ""]
    tree: dict[str, dict[str, list[str]]] = {}
    for r in rows:
        tree.setdefault(str(r.get("field") or "-"), {}).setdefault(str(r.get("sub_field") or "-"), []).append(str(r["discipline"]))
    for field, subs in tree.items():
        lines.append(f"- **{field}**")
        for sub, disciplines in subs.items():
            lines.append(f"  - {sub}: " + "; ".join(disciplines))
    return "\n".join(lines) + "\n"
