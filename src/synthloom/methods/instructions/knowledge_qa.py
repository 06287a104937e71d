"""Knowledge-infused question–answer data: facts of a knowledge table drive what is asked and how,
and every answer is checked against its fact.

Xu, R., Cui, H., Yu, Y., Kan, X., Shi, W., Zhuang, Y., Jin, W., Ho, J., Yang, C. (2023). *Knowledge-Infused
Prompting: Assessing and Advancing Clinical Text Data Generation with Large Language Models* (ClinGen),
arXiv:2311.00287. ClinGen samples *topics* from a knowledge graph (and from an LLM) and *writing styles*
(suggested by an LLM), and prompts the generator with one of each, so the synthetic data covers the
domain's knowledge instead of the model's favourite few subjects. Medical instruction data built from a
knowledge graph — HuaTuo (Wang et al. 2023, arXiv:2304.06975) and DISC-MedLLM (Bao et al. 2023,
arXiv:2308.14346) — likewise generates question–answer pairs grounded in the knowledge base's facts.

Here the topic is one row of a fact table (subject, relation, object and the fact as a sentence), drawn
with a writing style by ``attribute_sampler`` (:mod:`.samplers`, balanced: every fact and style used once
per block), then:

* ``knowledge_qa`` asks for ``{"question", "answer"}`` (a JSON schema, a grammar on the embedded model)
  in the sampled style, grounded in the fact;
* ``fact_check`` keeps a pair only when it is faithful: programmatically (:mod:`.knowledge_facts`: the
  question names the subject and does not give the answer away; the answer states the fact's object and
  names no rival object of a one-to-one relation), then, with ``judge``, by an LLM judge whose verdict is
  constrained to ``supported`` / ``contradicted`` / ``unsupported``. Every other pair is a rejected row
  with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import xxhash

from ...curate.judges.constrained import verdict_schema
from ...pipeline.model_step import ModelStep, RowError, chat
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from .knowledge_facts import FactTable, check_answer, check_question, load_facts

CLINGEN = ("Xu et al. 2023, Knowledge-Infused Prompting: Assessing and Advancing Clinical Text Data Generation with "
           "Large Language Models (ClinGen), arXiv:2311.00287")
HUATUO = "Wang et al. 2023, HuaTuo: Tuning LLaMA Model with Chinese Medical Knowledge, arXiv:2304.06975"
VERDICTS = ["supported", "contradicted", "unsupported"]
QA_SCHEMA = {"type": "object", "properties": {"question": {"type": "string", "minLength": 1, "maxLength": 200},
                                              "answer": {"type": "string", "minLength": 1, "maxLength": 240}},
             "required": ["question", "answer"], "additionalProperties": False}


def _fact(record: dict[str, Any], columns: dict[str, str], step: str) -> dict[str, str]:
    out = {}
    for role, column in columns.items():
        value = str(record.get(column) or "").strip()
        if not value:
            raise ValueError(f"step {step!r}: column {column!r} ({role}) is empty; every row needs a fact "
                             "(subject, relation, object, fact)")
        out[role] = value
    return out


class KnowledgeQA(ModelStep):
    """Writes a question and its answer grounded in the row's fact (``subject``, ``relation``, ``object``,
    ``fact`` columns) in the row's writing ``style`` (ClinGen's knowledge-infused prompting, Xu et al.
    2023): a JSON-schema-constrained ``{"question", "answer"}``, into ``question`` and ``answer``."""

    type_name = "knowledge_qa"
    default_sampling = {"temperature": 0.7, "max_tokens": 256}

    def __init__(self, name: str, *, subject_column: str = "subject", relation_column: str = "relation",
                 object_column: str = "object", fact_column: str = "fact", style_column: str = "style",
                 template: str | None = None, **kwargs: Any) -> None:
        self.columns = {"subject": subject_column, "relation": relation_column, "object": object_column,
                        "fact": fact_column}
        self.style_column = style_column
        kwargs.setdefault("citations", [CLINGEN, HUATUO])
        super().__init__(name, reads=list(self.columns.values()), writes=["question", "answer"], **kwargs)
        self.template = template or self.load_template("knowledge_qa.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        fact = _fact(record, self.columns, self.name)
        view = {**user_columns(record), **fact, "style": record.get(self.style_column),
                "domain": record.get("domain")}
        response, entry = await self.call(record, chat(self.render(self.template, view).strip()), json_schema=QA_SCHEMA)
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the question and answer hit max_tokens (finish_reason=length)")
        parsed = response.parsed or {}
        question, answer = " ".join(str(parsed.get("question", "")).split()), " ".join(str(parsed.get("answer", "")).split())
        if not question or not answer:
            raise RowError(f"knowledge_qa {self.name!r}: the reply has an empty question or answer", raw_text=response.text)
        return adopt_rows(record, {**record, "question": question, "answer": answer}, self.name, [entry])


class FactCheck(ModelStep):
    """Keeps a question–answer pair only when it is faithful to the row's fact: the question names the
    subject without giving the answer away, the answer states the fact's object and no rival one
    (``facts``: the fact table, for the rivals of one-to-one relations), and — with ``judge`` — an LLM
    judge says ``supported`` (a JSON-schema-constrained verdict). Writes ``judge_verdict`` and
    ``judge_rationale``; rejected rows say which check failed."""

    type_name = "fact_check"
    default_sampling = {"temperature": 0.0, "max_tokens": 160}

    def __init__(self, name: str, *, facts: str | None = None, judge: bool = True, question_column: str = "question",
                 answer_column: str = "answer", subject_column: str = "subject", relation_column: str = "relation",
                 object_column: str = "object", fact_column: str = "fact", template: str | None = None,
                 **kwargs: Any) -> None:
        where = f"fact_check {name!r}"
        try:
            self.table = FactTable(load_facts(facts)) if facts else None
        except ValueError as e:
            raise ValueError(f"{where}: facts: {e}") from None
        self.facts_digest = xxhash.xxh3_64_hexdigest(Path(facts).read_bytes()) if facts else None
        self.columns = {"subject": subject_column, "relation": relation_column, "object": object_column,
                        "fact": fact_column, "question": question_column, "answer": answer_column}
        self.judge = bool(judge)
        kwargs.setdefault("citations", [CLINGEN])
        super().__init__(name, reads=list(self.columns.values()), writes=["judge_verdict", "judge_rationale"], **kwargs)
        self.template = template or self.load_template("knowledge_qa_judge.jinja")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "facts_digest": self.facts_digest}  # an edited table recomputes

    def programmatic(self, record: dict[str, Any]) -> str | None:
        """Why the row's pair fails the programmatic checks, ``None`` when it passes."""
        row = _fact(record, {k: v for k, v in self.columns.items() if k not in ("question", "answer")}, self.name)
        question = str(record.get(self.columns["question"]) or "")
        answer = str(record.get(self.columns["answer"]) or "")
        rivals = self.table.rivals(row["relation"], row["subject"]) if self.table else []
        return check_question(question, row["subject"], row["object"]) or check_answer(answer, row["object"], rivals)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        problem = self.programmatic(record)
        if problem:
            return Rejected(f"fact check: {problem}")
        if not self.judge:
            return adopt_rows(record, {**record, "judge_verdict": None, "judge_rationale": None}, self.name, [])
        view = {**user_columns(record), **{k: record.get(v) for k, v in self.columns.items()}}
        schema = verdict_schema("verdict", VERDICTS, max_tokens=self.sampling.get("max_tokens"))
        response, entry = await self.call_constrained(record, chat(self.render(self.template, view).strip()),
                                                      json_schema=schema)
        verdict, rationale = self.read_verdict(response)
        if verdict is None:
            raise RowError(f"fact_check {self.name!r}: no verdict ({', '.join(VERDICTS)}) in the judge's reply",
                           raw_text=response.text)
        if verdict != "supported":
            return Rejected(f"fact check: the judge found the answer {verdict}: {rationale[:160]!r}")
        return adopt_rows(record, {**record, "judge_verdict": verdict, "judge_rationale": rationale}, self.name, [entry])

    @staticmethod
    def read_verdict(response: Any) -> tuple[str | None, str]:
        """The judge's verdict and rationale: the constrained JSON, or the one verdict word of a free reply."""
        parsed = response.parsed if isinstance(response.parsed, dict) else None
        if parsed and parsed.get("verdict") in VERDICTS:
            return parsed["verdict"], str(parsed.get("rationale", ""))
        text = (response.text or "").strip()
        found = set(re.findall(r"\b(supported|contradicted|unsupported)\b", text.lower()))
        return (found.pop(), text) if len(found) == 1 else (None, text)
