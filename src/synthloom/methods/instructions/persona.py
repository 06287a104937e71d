"""Persona-driven synthesis: one prompt template, many personas, diverse data.

Ge et al. 2024, "Scaling Synthetic Data Creation with 1,000,000,000 Personas" (Persona Hub;
arXiv 2406.20094; reference code tencent-ailab/persona-hub, ``code/prompt_templates.py``).

* :class:`PersonaPool` (``type: personas``) reads personas: a built-in set of 52 hand-written ones,
  or a user file (JSONL with a ``persona`` field, or plain text with one persona per line).
* :class:`TextToPersona` (``type: text_to_persona``) asks who is likely to read / write / like /
  dislike a text — one persona per relation (the paper's Text-to-Persona).
* :class:`PersonaToPersona` (``type: persona_to_persona``) asks who is in a close relationship with a
  persona, ``hops`` times (the paper iterates six times), ``per_hop`` new personas per persona.
* :class:`PersonaDedup` (``type: persona_dedup``): exact, then MinHash (word 1-grams, 128
  permutations, Jaccard ≥ 0.9), then optionally embedding cosine ≥ 0.9 — the paper's two passes.
* :class:`PersonaSynthesize` (``type: persona_synthesize``) fills one of the paper's templates with
  the persona: ``math`` ("Math problem:", at most 2 sub-problems, no solution), ``instruction``
  ("User prompt:"), ``knowledge`` (a Quora-style article, "Title:"), ``npc`` (a game NPC, "Name:"),
  ``tool`` (a function interface, "Tool:" — the paper shows tools but releases no template; ours
  follows its description). There is no verification, as in the paper. With ``n_examples`` the
  prompt is the paper's *persona-enhanced few-shot* one: each demonstration is shown with the
  persona it was written for (bundled ones for math and instruction, ``persona_fewshot.jsonl``, or
  your ``examples``), then the template for the row's persona.
"""

from __future__ import annotations

import asyncio
import random
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ...llm.types import Response
from ...pipeline.llm_step import LLMStep
from ...pipeline.model_step import ModelStep
from ...pipeline.step import GlobalStep, Rejected, RejectedRow, SourceStep
from ...records import ID, add_lineage, derive_id
from .samplers import stable_int

CITATION = ("Ge et al. 2024, Scaling Synthetic Data Creation with 1,000,000,000 Personas, arXiv:2406.20094")
HERE = Path(__file__).parent
POOL_FILE = HERE / "persona_pool.jsonl"
FEWSHOT_FILE = HERE / "persona_fewshot.jsonl"
RELATIONS = ("read", "write", "like", "dislike")
TEMPLATES = {"math": "Math problem:", "instruction": "User prompt:", "knowledge": "Title:", "npc": "Name:",
             "tool": "Tool:"}
DEFAULT_WORLD = ("Emberfall is a high-fantasy world of floating islands linked by sky-ships. Guilds of artisans, "
                 "scholars and traders keep its cities running; the Ashen Court schemes to seize the storm "
                 "engines that keep the islands aloft; and wandering adventurers take contracts from anyone "
                 "who pays in starglass, the islands' currency.")


class PersonaFileError(ValueError):
    """A persona file is missing or a line of it holds no persona."""


def load_personas(path: str | Path | None = None, field: str = "persona") -> list[str]:
    """Personas from ``path`` (``.jsonl``: one object per line with ``field``; anything else: one
    persona per non-empty line), or the built-in pool. A bad line raises naming the line."""
    p = Path(path) if path is not None else POOL_FILE
    if not p.is_file():
        raise PersonaFileError(f"persona file {p} does not exist; give a .jsonl file with a {field!r} field per line "
                               "or a text file with one persona per line")
    out = []
    jsonl = p.suffix in (".jsonl", ".json")
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if not jsonl:
            out.append(line.strip())
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise PersonaFileError(f"{p}:{lineno}: not valid JSON ({e}); write one object per line, "
                                   f'e.g. {{"{field}": "A retired nurse who ..."}}') from None
        value = row.get(field) if isinstance(row, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise PersonaFileError(f"{p}:{lineno}: no non-empty string {field!r}; write one object per line, "
                                   f'e.g. {{"{field}": "A retired nurse who ..."}}')
        out.append(value.strip())
    if not out:
        raise PersonaFileError(f"{p} holds no personas")
    return out


class PersonaPool(SourceStep):
    """Personas as records (column ``persona``): the built-in 52 or a user ``path`` (Persona Hub,
    Ge et al. 2024)."""

    type_name = "personas"
    columns = ("persona",)

    def __init__(self, name: str, *, path: str | None = None, field: str = "persona") -> None:
        super().__init__(name, citations=[CITATION])
        self.path, self.field = path, field
        self.personas = load_personas(path, field)

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        for p in self.personas[:limit]:
            yield {"persona": p}

    def count(self, limit: int | None = None) -> int | None:
        return len(self.personas[:limit])

    def fingerprint(self) -> str:
        p = Path(self.path) if self.path else POOL_FILE
        st = p.stat()
        return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def clean_persona(text: str) -> str:
    """The model's persona without a "Persona:" label, quotes or a trailing second paragraph."""
    text = re.sub(r"^\s*(?:\*\*)?(?:persona(?: description)?)\s*:?\s*(?:\*\*)?\s*", "", text.strip(), flags=re.IGNORECASE)
    text = text.split("\n\n")[0].strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return " ".join(text.split())


class TextToPersona(ModelStep):
    """Text-to-Persona (Persona Hub): for each ``column`` text, one ``persona`` per relation in
    ``relations`` (read, write, like, dislike), with ``persona_relation`` and ``source_text``.
    An empty answer becomes a row with an empty persona (drop it with a filter or the dedup)."""

    type_name = "text_to_persona"
    takes_sampling = False

    def __init__(self, name: str, *, column: str = "text", relations: list[str] | None = None,
                 model: str = "default", temperature: float = 0.7, max_tokens: int = 128,
                 inputs: list[str] | None = None) -> None:
        rel = list(relations or ("read", "write"))
        bad = [r for r in rel if r not in RELATIONS]
        if bad:
            raise ValueError(f"unknown relation(s) {bad}; use {', '.join(RELATIONS)}")
        super().__init__(name, model=model, inputs=inputs or (), reads=[column],
                         writes=["persona", "persona_relation", "source_text"], citations=[CITATION],
                         temperature=temperature, max_tokens=max_tokens)
        self.column, self.relations = column, rel
        self.template = self.load_template("persona_text_to_persona.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        text = str(record[self.column])
        rid = record.get(ID, "")
        answers = await asyncio.gather(*(
            self.texts(record, self.render(self.template, {"relation": r, "text": text}), salt=f":{r}",
                       lineage={"parent": rid, "relation": r}) for r in self.relations))
        out = []
        for j, (rel, (texts, lineage)) in enumerate(zip(self.relations, answers)):
            child = {**record, ID: derive_id(rid, self.name, j), "persona": clean_persona(texts[0] if texts else ""),
                     "persona_relation": rel, "source_text": text}
            add_lineage(child, lineage)
            out.append(child)
        return out


class PersonaToPersona(ModelStep):
    """Persona-to-Persona (Persona Hub): ``hops`` rounds of "who is in a close relationship with
    this persona", ``per_hop`` answers per persona per round. Yields every new persona with
    ``parent_persona``, ``root_persona`` and ``persona_hop`` (the input persona itself is not
    repeated; ``include_input`` adds it as hop 0)."""

    type_name = "persona_to_persona"
    takes_sampling = False

    def __init__(self, name: str, *, column: str = "persona", hops: int = 1, per_hop: int = 1,
                 include_input: bool = False, model: str = "default", temperature: float = 0.7,
                 max_tokens: int = 128, inputs: list[str] | None = None) -> None:
        if hops < 1 or per_hop < 1:
            raise ValueError("hops and per_hop must be >= 1")
        super().__init__(name, model=model, inputs=inputs or (), reads=[column],
                         writes=["persona", "parent_persona", "root_persona", "persona_hop"], citations=[CITATION],
                         temperature=temperature, max_tokens=max_tokens)
        self.column, self.hops, self.per_hop, self.include_input = column, hops, per_hop, include_input
        self.template = self.load_template("persona_to_persona.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        root, rid = str(record[self.column]), record.get(ID, "")
        out: list[dict[str, Any]] = []
        if self.include_input:
            out.append({**record, ID: derive_id(rid, self.name, 0), "persona": root, "parent_persona": None,
                        "root_persona": root, "persona_hop": 0})
        frontier = [(root, rid)]
        for hop in range(1, self.hops + 1):
            answers = await asyncio.gather(*(
                self.texts(record, self.render(self.template, {"persona": p}), n=self.per_hop, salt=f":{pid}:{hop}",
                           lineage={"parent": pid, "hop": hop}) for p, pid in frontier))
            nxt = []
            for (parent, _), (texts, lineage) in zip(frontier, answers):
                for text in texts:
                    child = {**record, ID: derive_id(rid, self.name, len(out) + 1), "persona": clean_persona(text),
                             "parent_persona": parent, "root_persona": root, "persona_hop": hop}
                    add_lineage(child, lineage)
                    out.append(child)
                    nxt.append((child["persona"], child[ID]))
            frontier = nxt
        return out


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class PersonaDedup(GlobalStep):
    """Persona Hub's deduplication (Ge et al. 2024): an empty persona, an exact (normalised) copy,
    a MinHash near-copy (word 1-grams, ``num_perm`` permutations, estimated Jaccard ≥
    ``minhash_threshold``) or, with ``embedding_threshold``, an embedding neighbour (cosine ≥ it) of
    an earlier kept persona is rejected, naming the filter and the kept row. Holds one MinHash per
    kept persona (and, for the embedding pass, the embeddings); meant for pools up to millions."""

    type_name = "persona_dedup"

    def __init__(self, name: str, *, column: str = "persona", minhash_threshold: float | None = 0.9,
                 num_perm: int = 128, embedding_threshold: float | None = 0.9, inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or (), reads=[column], citations=[CITATION])
        self.column, self.minhash_threshold, self.num_perm = column, minhash_threshold, num_perm
        self.embedding_threshold = embedding_threshold

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        import rensa

        seen: dict[str, str] = {}
        kept: list[dict[str, Any]] = []
        hashes: list[Any] = []
        lsh = None
        if self.minhash_threshold is not None:
            lsh = rensa.RMinHashLSH(threshold=self.minhash_threshold, num_perm=self.num_perm, num_bands=16)
        for r in rows:
            text = _normal(str(r.get(self.column) or ""))
            if not text:
                yield RejectedRow(r, Rejected("empty_persona: the persona is empty"))
                continue
            if text in seen:
                yield RejectedRow(r, Rejected(f"exact_duplicate: same persona as {seen[text]}", 1.0, seen[text]))
                continue
            if lsh is not None:
                m = rensa.RMinHash(num_perm=self.num_perm, seed=42)
                m.update(text.split())
                match = next((k for k in lsh.query(m) if hashes[k].jaccard(m) >= self.minhash_threshold), None)
                if match is not None:
                    other = kept[match].get(ID, "")
                    j = hashes[match].jaccard(m)
                    yield RejectedRow(r, Rejected(f"minhash_duplicate: Jaccard {j:.2f} with {other}", j, other))
                    continue
                lsh.insert(len(hashes), m)
                hashes.append(m)
            seen[text] = r.get(ID, "")
            if self.embedding_threshold is None:
                kept.append({ID: r.get(ID, "")})  # only the id is needed later
                yield r
            else:
                kept.append(r)
        if self.embedding_threshold is None:
            return
        from synthloom.curate.embeddings import get_encoder

        from .magpie_tagging import near_duplicates

        emb = get_encoder().encode([str(r.get(self.column)) for r in kept]) if kept else None
        max_distance = (2.0 - 2.0 * self.embedding_threshold) ** 0.5
        dup = near_duplicates(emb, max_distance) if emb is not None else {}
        for i, r in enumerate(kept):
            if i in dup:
                other = kept[dup[i]].get(ID, "")
                cos = float(emb[i] @ emb[dup[i]])
                yield RejectedRow(r, Rejected(f"embedding_duplicate: cosine {cos:.3f} with {other}", cos, other))
            else:
                yield r


def load_fewshot(examples: list[dict[str, str]] | str | None, template: str) -> list[dict[str, str]]:
    """Persona-enhanced few-shot demonstrations for ``template``: ``examples`` (a list or a JSONL
    file of ``{persona, output[, template]}``; rows naming another template are skipped), or the
    bundled ones. Each output starts with the template's prefix, as the model's answer should."""
    if examples is None or isinstance(examples, str):
        path = Path(examples) if examples else FEWSHOT_FILE
        if not path.is_file():
            raise PersonaFileError(f"few-shot file {path} does not exist; give a .jsonl of {{persona, output}} rows")
        rows = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError as e:
                raise PersonaFileError(f"{path}:{lineno}: not valid JSON ({e}); write one object per line, "
                                       '{"persona": "...", "output": "..."}') from None
    else:
        rows = list(examples)
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not str(row.get("persona") or "").strip() or not str(row.get("output") or "").strip():
            raise PersonaFileError(f"few-shot example {i + 1} needs a non-empty `persona` and `output`")
        if row.get("template", template) == template:
            out.append({"persona": str(row["persona"]).strip(), "output": _with_prefix(str(row["output"]), TEMPLATES[template])})
    return out


def _with_prefix(text: str, prefix: str) -> str:
    text = text.strip()
    return text if prefix == "Name:" or text.lower().startswith(prefix.lower()) else f"{prefix} {text}"


class PersonaSynthesize(LLMStep):
    """Fills a Persona Hub template with each ``persona`` (Ge et al. 2024): ``template`` is math,
    instruction, knowledge, npc or tool. With ``n_examples`` > 0 the prompt is persona-enhanced
    few-shot: ``n_examples`` demonstrations (from ``examples``, else the bundled ones; drawn per
    row, reproducibly) each shown with its persona, then the template. Writes ``synthesized_text``
    (the required prefix such as "Math problem:" removed) and ``persona_template``; an empty answer
    is rejected."""

    type_name = "persona_synthesize"

    def __init__(self, name: str, *, template: str = "math", column: str = "persona", model: str = "default",
                 game: str = "Emberfall", world: str | None = None, n_examples: int = 0,
                 examples: list[dict[str, str]] | str | None = None, temperature: float = 0.7,
                 max_tokens: int = 1024, **sampling: Any) -> None:
        if template not in TEMPLATES:
            raise ValueError(f"template must be one of {', '.join(TEMPLATES)}, not {template!r}")
        super().__init__(name, model=model, temperature=temperature, max_tokens=max_tokens, reads=[column],
                         writes=["synthesized_text", "persona_template"], citations=[CITATION], **sampling)
        self.template_name, self.column, self.game, self.world = template, column, game, world or DEFAULT_WORLD
        self.template = self.load_template(f"persona_{template}.jinja")
        self.n_examples = int(n_examples)
        self.examples = load_fewshot(examples, template) if self.n_examples > 0 else []
        if self.n_examples < 0 or len(self.examples) < self.n_examples:
            raise ValueError(f"persona_synthesize {name!r}: n_examples={n_examples} but {len(self.examples)} few-shot "
                             f"example(s) for template {template!r}; give `examples` (a .jsonl of persona, output)")
        self.fewshot = self.load_template("persona_fewshot.jinja") if self.n_examples else ""

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "examples": self.examples}  # the demonstrations a file option names

    def prompt(self, record: dict[str, Any]) -> str:
        task = self.render(self.template, {"persona": str(record[self.column]), "game": self.game, "world": self.world})
        if not self.n_examples:
            return task
        rng = random.Random(stable_int(record.get(ID, ""), self.name, "fewshot"))
        shown = rng.sample(self.examples, self.n_examples)
        return self.render(self.fewshot, {"examples": shown, "task": task})

    def parse(self, record: dict[str, Any], response: Response) -> dict[str, Any] | Rejected:
        text = strip_prefix(response.text, TEMPLATES[self.template_name])
        if not text:
            return Rejected("empty_output: the model wrote nothing after the prefix")
        return {**record, "synthesized_text": text, "persona_template": self.template_name}


def strip_prefix(text: str, prefix: str) -> str:
    """``text`` without a leading ``prefix`` (any case, optional markdown bold); kept for "Name:"."""
    text = text.strip()
    if prefix == "Name:":
        return text
    m = re.match(r"^\W{0,3}" + re.escape(prefix.rstrip(":")) + r"\s*:?\W{0,2}\s*", text, re.IGNORECASE)
    return text[m.end():].strip() if m else text
