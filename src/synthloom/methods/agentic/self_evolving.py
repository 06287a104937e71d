"""Benchmark Self-Evolving: benchmark instances reframed by a generator agent and kept only when a
verifier agent accepts them (Wang et al. 2024, "Benchmark Self-Evolving: A Multi-Agent Framework for
Dynamic LLM Evaluation", arXiv:2402.11443).

An instance is a ``context``, a ``question`` and its ``answer``. The paper's reframing operations,
grouped by what they evaluate:

* **scalable** — ``question_alternating`` (a new question on the same context, with its answer) and
  ``question_complicating`` (a harder question needing more steps or conditions);
* **robust** — ``context_paraphrasing`` and ``context_noising`` (the context rewritten, or with
  irrelevant or distracting sentences added; the answer must stay the same), ``polarity_reversing``
  (key facts of the context reversed so that the answer changes; the new answer is given) and
  ``question_paraphrasing`` (our addition: the question reworded, the answer the same);
* **fine-grained** — ``sub_ability_probing``: a question on one sub-ability the original question
  needs (``task_planning``, ``implicit_knowledge``, ``relevant_context``), with its answer.

Three steps: :class:`SelfEvolvingOperations` (``self_evolving_operations``) makes one row per
operation of each instance; :class:`SelfEvolvingReframe` (``self_evolving_reframe``, the instance
creator) writes the new instance under a JSON schema and rejects what breaks the operation's contract
(an answer-preserving operation that changed the answer, a polarity reversal whose answer did not
change, a rewrite that changed nothing); :class:`SelfEvolvingVerify` (``self_evolving_verify``, the
instance verifier) asks a verifier agent for a schema-constrained verdict — answerable, answer
correct, consistent with the context — and its own answer, and keeps the instance only when all
three hold and, for numeric answers, the math verifier finds its answer equal to the proposed one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any

from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import ExpandStep, Rejected
from ...records import ID, adopt_rows
from ...verify.math import averify_math
from ...verify.math_compare import normalize_answer, parse_number
from ..fanout import bounded, check_max_fanout
from ..instructions.samplers import stable_int

CITATION = ("Wang et al. 2024, Benchmark Self-Evolving: A Multi-Agent Framework for Dynamic LLM Evaluation, "
            "arXiv:2402.11443")
#: operation -> (evaluation kind, the field it rewrites, what happens to the answer: same / changed / new)
OPERATIONS: dict[str, tuple[str, str, str]] = {
    "question_alternating": ("scalable", "question", "new"),
    "question_complicating": ("scalable", "question", "new"),
    "context_paraphrasing": ("robust", "context", "same"),
    "context_noising": ("robust", "context", "same"),
    "polarity_reversing": ("robust", "context", "changed"),
    "question_paraphrasing": ("robust", "question", "same"),
    "sub_ability_probing": ("fine_grained", "question", "new"),
}
SUB_ABILITIES = ("task_planning", "implicit_knowledge", "relevant_context")
FIELDS = ("context", "question", "answer")
#: the longest text each schema field allows (a small model may otherwise never close the string)
MAX_CHARS = {"context": 1500, "question": 400, "answer": 160, "verifier_answer": 160, "explanation": 240}
VERDICT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "answerable": {"type": "boolean"}, "answer_correct": {"type": "boolean"}, "consistent": {"type": "boolean"},
    "verifier_answer": {"type": "string", "maxLength": MAX_CHARS["verifier_answer"]},
    "explanation": {"type": "string", "maxLength": MAX_CHARS["explanation"]}},
    "required": ["answerable", "answer_correct", "consistent", "verifier_answer", "explanation"]}


def reframe_schema(operation: str) -> dict[str, Any]:
    """The generator's reply for ``operation``: the field it rewrites and the answer."""
    field = OPERATIONS[operation][1]
    return {"type": "object", "properties": {name: {"type": "string", "maxLength": MAX_CHARS[name]} for name in (field, "answer")},
            "required": [field, "answer"]}


def _plain(text: Any) -> str:
    return re.sub(r"[^\w%.,/-]+", " ", str(text or "").lower()).strip(" .")


def is_numeric(answer: Any) -> bool:
    """Whether ``answer`` is a number (the math verifier compares it)."""
    return parse_number(normalize_answer(str(answer or ""))) is not None


async def same_answer(proposed: Any, reference: Any) -> tuple[bool, str]:
    """Whether two answers agree and how that was decided: the math verifier when ``reference`` is a
    number (``"3/4"`` equals ``"0.75"``), else the texts compared in lower case without punctuation."""
    if is_numeric(reference):
        verdict = await averify_math(str(proposed or ""), str(reference))
        return verdict.correct, "math"
    return _plain(proposed) == _plain(reference), "text"


def check_operations(operations: Iterable[str], sub_abilities: Iterable[str], where: str) -> tuple[list[str], list[str]]:
    """The operations and sub-abilities, checked against the paper's names."""
    ops, subs = list(operations), list(sub_abilities)
    for op in ops:
        if op not in OPERATIONS:
            raise ValueError(f"{where}: unknown operation {op!r}; operations: {', '.join(OPERATIONS)}")
    for sub in subs:
        if sub not in SUB_ABILITIES:
            raise ValueError(f"{where}: unknown sub-ability {sub!r}; sub_abilities: {', '.join(SUB_ABILITIES)}")
    if not ops:
        raise ValueError(f"{where}: operations is empty; name at least one of {', '.join(OPERATIONS)}")
    if "sub_ability_probing" in ops and not subs:
        raise ValueError(f"{where}: sub_ability_probing needs at least one of sub_abilities: {', '.join(SUB_ABILITIES)}")
    return ops, subs


def instance_of(record: dict[str, Any], step: str) -> dict[str, str]:
    """The row's instance (context, question, answer), each non-empty."""
    inst = {f: str(record.get(f) if record.get(f) is not None else "").strip() for f in FIELDS}
    missing = [f for f in ("question", "answer") if not inst[f]]
    if missing:
        raise ValueError(f"step {step!r}: column(s) {', '.join(missing)} empty; a benchmark instance needs "
                         "context, question and answer")
    return inst


class SelfEvolvingOperations(ExpandStep):
    """One row per reframing operation of each instance (``operation``, ``evaluation``: scalable,
    robust or fine_grained; ``sub_ability`` for ``sub_ability_probing``, one row per sub-ability),
    the original instance kept in ``original``. ``max_fanout`` keeps that many of them per instance,
    a different deterministic draw for each (the recipe passes ``-n``)."""

    type_name = "self_evolving_operations"

    def __init__(self, name: str, *, operations: list[str] | None = None, sub_abilities: list[str] | None = None,
                 max_fanout: int | None = None, inputs: Iterable[str] = ()) -> None:
        ops, subs = check_operations(list(OPERATIONS) if operations is None else operations,
                                     list(SUB_ABILITIES) if sub_abilities is None else sub_abilities,
                                     f"self_evolving_operations {name!r}")
        super().__init__(name, inputs=inputs, reads=list(FIELDS), writes=["operation", "evaluation", "sub_ability", "original"],
                         citations=[CITATION])
        self.variants = [(op, sub) for op in ops for sub in (subs if op == "sub_ability_probing" else [None])]
        self.max_fanout = check_max_fanout(max_fanout)

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        original = instance_of(record, self.name)
        variants = list(self.variants)
        if self.max_fanout is not None and self.max_fanout < len(variants):
            random.Random(stable_int(record.get(ID, ""), self.name)).shuffle(variants)
        return [{**record, "operation": op, "evaluation": OPERATIONS[op][0], "sub_ability": sub, "original": original}
                for op, sub in variants[:bounded(len(variants), self.max_fanout)]]


class SelfEvolvingReframe(ModelStep):
    """The instance creator: rewrites the row's instance by its ``operation`` (the question or the
    context, and the answer, under a JSON schema) into ``context``, ``question`` and ``answer``
    (the original stays in ``original``). Rejected when the rewrite is empty or the same text, when
    an answer-preserving operation changed the answer, and when a polarity reversal left it the
    same (numbers compared by the math verifier)."""

    type_name = "self_evolving_reframe"
    default_sampling = {"temperature": 0.7, "max_tokens": 512}

    def __init__(self, name: str, *, template: str | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(name, reads=["operation", "sub_ability", "original"], writes=list(FIELDS),
                         citations=[CITATION, *citations], **kwargs)
        self.template = template if template is not None else self.load_template("self_evolving_reframe.jinja")
        self.read_columns(self.template, not_columns={"original", "operation", "sub_ability", "evaluation", "field"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        op = record.get("operation")
        if op not in OPERATIONS:
            raise ValueError(f"step {self.name!r}: column 'operation' must be one of {', '.join(OPERATIONS)}, not {op!r} "
                             "(self_evolving_operations writes it)")
        original = record.get("original") if isinstance(record.get("original"), dict) else instance_of(record, self.name)
        _, field, policy = OPERATIONS[op]
        prompt = self.render(self.template, {**record, "original": original, "operation": op, "field": field})
        response, entry = await self.call(record, chat(prompt.strip()), json_schema=reframe_schema(op))
        reply = response.parsed if isinstance(response.parsed, dict) else {}
        new = {**original, field: str(reply.get(field) or "").strip(), "answer": str(reply.get("answer") or "").strip()}
        if not new[field] or not new["answer"]:
            return Rejected(f"{op}: the generator wrote no {field} or no answer")
        if _plain(new[field]) == _plain(original[field]):
            return Rejected(f"{op}: the new {field} is the original one")
        agree, how = await same_answer(new["answer"], original["answer"])
        if policy == "same" and not agree:
            return Rejected(f"{op} must keep the answer, but the generator's answer {new['answer'][:60]!r} differs from "
                            f"{original['answer'][:60]!r} ({how})")
        if policy == "changed" and agree:
            return Rejected(f"polarity reversal left the answer unchanged ({new['answer'][:60]!r}, {how}); the reversed "
                            "context must lead to a different answer")
        return adopt_rows(record, {**record, **new}, self.name, [entry])


class SelfEvolvingVerify(ModelStep):
    """The instance verifier: asks a verifier agent (JSON-schema constrained) whether the new instance
    is ``answerable`` from its context, whether the proposed answer is ``answer_correct``, whether the
    instance is ``consistent`` (with the context, and for polarity reversal with the reversal), and
    for its own ``verifier_answer``. Kept only when all three are true and, where the answer is a
    number (``math_check``), the math verifier finds the verifier's answer equal to the proposed one;
    otherwise rejected with the verifier's reason. Writes ``verification``."""

    type_name = "self_evolving_verify"
    default_sampling = {"temperature": 0.0, "max_tokens": 256}

    def __init__(self, name: str, *, math_check: bool = True, template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(name, reads=["operation", *FIELDS], writes=["verification"], citations=[CITATION, *citations], **kwargs)
        self.math_check = bool(math_check)
        self.template = template if template is not None else self.load_template("self_evolving_verify.jinja")
        self.read_columns(self.template, not_columns={"original", "operation", "sub_ability"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        inst = instance_of(record, self.name)
        original = record.get("original") if isinstance(record.get("original"), dict) else None
        prompt = self.render(self.template, {**record, **inst, "original": original, "operation": record.get("operation"),
                                             "sub_ability": record.get("sub_ability")})
        response, entry = await self.call(record, chat(prompt.strip()), json_schema=VERDICT_SCHEMA)
        verdict = response.parsed if isinstance(response.parsed, dict) else {}
        verification = {k: verdict.get(k) for k in VERDICT_SCHEMA["properties"]}
        why = str(verdict.get("explanation") or "").strip()[:160] or "no explanation"
        failed = [k for k in ("answerable", "answer_correct", "consistent") if verdict.get(k) is not True]
        if failed:
            return Rejected(f"the verifier said not {', not '.join(failed)}: {why}")
        if self.math_check and is_numeric(inst["answer"]):
            agree, _ = await same_answer(verdict.get("verifier_answer"), inst["answer"])
            verification["math_check"] = agree
            if not agree:
                return Rejected(f"the verifier's own answer {str(verdict.get('verifier_answer'))[:40]!r} is not the proposed "
                                f"answer {inst['answer'][:40]!r} (math verifier)")
        return adopt_rows(record, {**record, "verification": verification}, self.name, [entry])
