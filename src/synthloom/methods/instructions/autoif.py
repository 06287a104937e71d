"""AutoIF (Dong et al. 2024, "Self-play with Execution Feedback: Improving Instruction-Following
Capabilities of Large Language Models", arXiv:2406.13542; QwenLM/AutoIF): instruction-following
data whose checking is turned into code verification. The stages and their steps:

1. seed instructions (bundled, atomic, written for synthloom) augmented by self-instruct —
   :class:`AutoIfAugment` (``autoif_augment``);
2. verification functions and test cases written by the model, run in the sandbox and
   cross-validated — :class:`~synthloom.methods.instructions.autoif_verifiers.AutoIfVerifiers`;
3. back-translation: the model writes the instruction each surviving function checks, and a
   judge decides whether it contradicts the original (the paper uses an NLI model; here an LLM
   judge answering under a JSON schema) — :class:`AutoIfBackTranslate` (``autoif_back_translate``);
4. queries paired with the instructions — :class:`AutoIfQueries` (``autoif_queries``);
5. responses sampled and kept when the verifiers pass them (execution feedback) —
   :class:`~synthloom.methods.instructions.autoif_verifiers.AutoIfResponses`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import xxhash

from ...io.sources import read_records
from ...pipeline.model_step import ModelStep, chat, is_refusal
from ...pipeline.step import ExpandStep, Rejected
from ...records import adopt_rows, user_columns
from .autoif_verifiers import CITATION

RELATIONS = ("entailment", "neutral", "contradiction")
NLI_SCHEMA = {"type": "object", "properties": {"relation": {"type": "string", "enum": list(RELATIONS)}},
              "required": ["relation"]}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def parse_instructions(value: Any, text: str | None) -> list[str]:
    """New instructions from a reply: the ``instructions`` list of a JSON reply, else its numbered
    or bulleted lines."""
    if value is None:
        try:
            value = json.loads((text or "").strip())
        except (ValueError, RecursionError):
            value = None
    if isinstance(value, dict) and isinstance(value.get("instructions"), list):
        return [str(x).strip() for x in value["instructions"] if isinstance(x, str) and x.strip()]
    lines = re.findall(r"^\s*(?:\d+[.)]|[-*])\s+(.+?)\s*$", text or "", re.MULTILINE)
    return [ln.strip() for ln in lines if ln.strip()]


class AutoIfAugment(ModelStep):
    """AutoIF's self-instruct: for each seed instruction in ``instruction_column`` the model writes
    ``n_new`` new instructions a program could check (template ``autoif_augment.jinja``). Emits the
    seed (``origin: seed``, unless ``keep_seed`` is false) and each new one (``origin:
    self-instruct``, ``seed_instruction``); new ones shorter than 3 or longer than 60 words, refusals
    and repeats are dropped. A seed whose reply gives no new instruction is kept alone."""

    type_name = "autoif_augment"
    default_sampling = {"temperature": 0.9, "max_tokens": 256}

    def __init__(self, name: str, *, instruction_column: str = "instruction", n_new: int = 2, keep_seed: bool = True,
                 template: str | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(n_new) < 0:
            raise ValueError(f"autoif_augment {name!r}: n_new must be >= 0, not {n_new}")
        super().__init__(name, reads=[instruction_column], writes=[instruction_column, "origin", "seed_instruction"],
                         citations=[CITATION, *citations], **kwargs)
        self.prompt_template = template if template is not None else self.load_template("autoif_augment.jinja")
        self.read_columns(self.prompt_template, not_columns={"instruction", "n_new"})
        self.instruction_column, self.n_new, self.keep_seed = instruction_column, int(n_new), bool(keep_seed)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        seed = str(record.get(self.instruction_column) or "").strip()
        if not seed:
            raise ValueError(f"autoif_augment {self.name!r}: column {self.instruction_column!r} is empty")
        base = user_columns(record)
        rows = [{**base, self.instruction_column: seed, "origin": "seed", "seed_instruction": seed}] if self.keep_seed else []
        lineage = []
        if self.n_new:
            schema = {"type": "object", "required": ["instructions"], "properties": {"instructions": {
                "type": "array", "minItems": 1, "maxItems": self.n_new, "items": {"type": "string"}}}}
            view = {**base, "instruction": seed, "n_new": self.n_new}
            response, entry = await self.call_constrained(record, chat(self.render(self.prompt_template, view)),
                                                          json_schema=schema)
            lineage.append(entry)
            seen = {_norm(seed)}
            for new in parse_instructions(response.parsed, response.text):
                if len(rows) - self.keep_seed >= self.n_new:
                    break
                if _norm(new) in seen or not 3 <= len(new.split()) <= 60 or is_refusal(new):
                    continue
                seen.add(_norm(new))
                rows.append({**base, self.instruction_column: new, "origin": "self-instruct", "seed_instruction": seed})
        if not rows:
            return Rejected("the model wrote no usable new instruction (and keep_seed is false)")
        return adopt_rows(record, rows, self.name, lineage)


class AutoIfBackTranslate(ModelStep):
    """AutoIF's back-translation check: for each verifier of the row the model writes the
    instruction the code checks (``autoif_back_translate.jinja``), then a judge answering under a
    JSON schema says whether the original instruction entails it, is neutral, or contradicts it
    (``autoif_nli.jinja``; the paper uses an NLI model). Verifiers whose relation is in
    ``reject_relations`` are removed; a row left with fewer than ``min_verifiers`` is rejected.
    Each kept verifier gets ``back_translation`` and ``relation`` (``unknown`` when the judge's
    reply cannot be read: such a verifier is kept)."""

    type_name = "autoif_back_translate"
    default_sampling = {"temperature": 0.0, "max_tokens": 128}

    def __init__(self, name: str, *, instruction_column: str = "instruction", reject_relations: list[str] | None = None,
                 min_verifiers: int = 1, citations: Iterable[str] = (), **kwargs: Any) -> None:
        self.reject_relations = list(reject_relations) if reject_relations is not None else ["contradiction"]
        odd = [r for r in self.reject_relations if r not in RELATIONS]
        if odd:
            raise ValueError(f"autoif_back_translate {name!r}: reject_relations must be among {RELATIONS}, not {odd}")
        if int(min_verifiers) < 1:
            raise ValueError(f"autoif_back_translate {name!r}: min_verifiers must be >= 1, not {min_verifiers}")
        super().__init__(name, reads=[instruction_column, "verifiers"], writes=["verifiers"],
                         citations=[CITATION, *citations], **kwargs)
        self.back_template = self.load_template("autoif_back_translate.jinja")
        self.nli_template = self.load_template("autoif_nli.jinja")
        self.instruction_column, self.min_verifiers = instruction_column, int(min_verifiers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        instruction = str(record.get(self.instruction_column) or "").strip()
        kept, dropped, lineage = [], [], []
        for i, verifier in enumerate(record.get("verifiers") or []):
            [back], entry = await self.texts(record, chat(self.render(self.back_template, {"code": verifier["code"]})),
                                             salt=f"back{i}")
            view = {"premise": instruction, "hypothesis": back.strip()}
            response, judged = await self.call_constrained(record, chat(self.render(self.nli_template, view)),
                                                           json_schema=NLI_SCHEMA, salt=f"nli{i}", max_tokens=32)
            lineage += [entry, judged]
            relation = _relation(response.parsed, response.text)
            if relation in self.reject_relations:
                dropped.append(f"verifier {i}: its back-translation {back.strip()[:120]!r} is a {relation}")
                continue
            kept.append({**verifier, "back_translation": back.strip(), "relation": relation})
        if len(kept) < self.min_verifiers:
            return Rejected(f"{len(kept)} verifiers pass the back-translation check (need {self.min_verifiers}): "
                            + ("; ".join(dropped) or "the row has no verifiers"))
        return adopt_rows(record, {**record, "verifiers": kept}, self.name, lineage)


def _relation(value: Any, text: str | None) -> str:
    if isinstance(value, dict) and value.get("relation") in RELATIONS:
        return value["relation"]
    found = re.search(r"\b(entailment|neutral|contradiction)\b", (text or "").lower())
    return found.group(1) if found else "unknown"


class AutoIfQueries(ExpandStep):
    """Pairs each instruction with ``per_instruction`` queries drawn (reproducibly, by row id) from
    the ``column`` of the file at ``path`` (the paper takes user queries from ShareGPT). Each child
    has ``query`` and ``prompt`` (the query, a blank line, the instruction)."""

    type_name = "autoif_queries"

    def __init__(self, name: str, *, path: str, column: str = "prompt", per_instruction: int = 2,
                 instruction_column: str = "instruction", seed: int = 0) -> None:
        if int(per_instruction) < 1:
            raise ValueError(f"autoif_queries {name!r}: per_instruction must be >= 1, not {per_instruction}")
        super().__init__(name, reads=[instruction_column], writes=["query", "prompt"], citations=[CITATION])
        self.queries = [str(r[column]).strip() for batch in read_records(str(path)) for r in batch
                        if str(r.get(column) or "").strip()]
        if not self.queries:
            raise ValueError(f"autoif_queries {name!r}: no `{column}` values in {path}; give a file with a `{column}` column")
        self.per_instruction, self.instruction_column, self.seed = int(per_instruction), instruction_column, seed

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"]["queries_hash"] = xxhash.xxh3_64_hexdigest("\x1e".join(self.queries).encode())
        return d

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        start = xxhash.xxh3_64_intdigest(f"{record.get('id', '')}\x1f{self.name}\x1f{self.seed}".encode())
        picks = [self.queries[(start + k * 7919) % len(self.queries)] for k in range(min(self.per_instruction, len(self.queries)))]
        instruction = str(record[self.instruction_column]).strip()
        return [{**record, "query": q, "prompt": f"{q}\n\n{instruction}"} for q in dict.fromkeys(picks)]
