"""AgentInstruct-style flows (Mitra et al. 2024, "AgentInstruct: Toward Generative Teaching with
Agentic Flows", arXiv:2407.03502 — the data behind Orca-3).

Raw documents are the seeds. Three flows, each a chain of agents:

1. **Content transformation** — an agent turns a document into an intermediate form that suits
   the target skill: argument passage, debate, conversation, meeting transcript, poem, satirical
   passage, instructional passage, long text, or the text unchanged (``identity``). Flows are
   picked by name (``agent_instruct_flows``: one or more per document, deterministic).
2. **Seed instruction generation** — per skill, a taxonomy of question types (the paper lists 43
   for reading comprehension; ``agent_instruct_skills.json`` bundles a smaller hand-written set for
   reading comprehension, text modification and text extraction); an agent writes one instruction
   per sampled question type about the transformed passage.
3. **Refinement** — a Suggester proposes ways to make an instruction harder and an Editor rewrites
   it accordingly, for N rounds (:class:`AgentInstructRefine`); every round is kept in
   ``refinements`` and in the lineage (``round`` on each model call).

Answers are written by any LLM step (the built-in recipe uses ``type: llm``).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ...llm.types import Request, Response
from ...pipeline.model_step import RowError, is_refusal, reply_text
from ...pipeline.step import ExpandStep, LoopStep, Rejected
from .samplers import stable_int
from .taxonomy_parsing import clean_item, parse_list, strip_label
from .taxonomy_prompt_step import BundledPromptStep

HERE = Path(__file__).parent

CITATION = ("Mitra, A. et al. (2024). AgentInstruct: Toward Generative Teaching with Agentic Flows. "
            "arXiv:2407.03502")
FLOWS: dict[str, dict[str, str]] = json.loads((HERE / "agent_instruct_flows.json").read_text(encoding="utf-8"))
SKILLS: dict[str, dict[str, Any]] = json.loads((HERE / "agent_instruct_skills.json").read_text(encoding="utf-8"))
#: the flows a document may get by default: all but ``identity``
DEFAULT_FLOWS = tuple(f for f in FLOWS if f != "identity")
_PREAMBLE = re.compile(r"^\s*(?:sure|certainly|of course|okay|ok|here(?:'s| is| are))\b[^\n]*:\s*\n", re.IGNORECASE)
_TYPED_ITEM = re.compile(r"^\s*\[([^\]]+)\]\s*[:\-–]?\s*(.*)$", re.DOTALL)


def _check_flows(flows: list[str]) -> list[str]:
    unknown = [f for f in flows if f not in FLOWS]
    if unknown or not flows:
        raise ValueError(f"unknown transformation flow(s) {unknown}; known: {', '.join(FLOWS)}")
    return list(flows)


class AgentInstructFlows(ExpandStep):
    """Assigns transformation flows to each document: ``per_document`` of ``flows`` (default all
    but ``identity``), a different deterministic choice per document, one output row each.
    Writes ``flow``."""

    type_name = "agent_instruct_flows"

    def __init__(self, name: str, *, flows: Sequence[str] = DEFAULT_FLOWS, per_document: int = 1) -> None:
        super().__init__(name, writes=["flow"], citations=[CITATION])
        self.flows = _check_flows(list(flows))
        if not 1 <= per_document <= len(self.flows):
            raise ValueError(f"per_document must be between 1 and {len(self.flows)} (the number of flows)")
        self.per_document = int(per_document)

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        order = list(self.flows)
        random.Random(stable_int(record.get("id", ""), self.name)).shuffle(order)
        return [{**record, "flow": f} for f in order[: self.per_document]]


def strip_preamble(text: str) -> str:
    """The reply without a ``Sure! Here is the debate:`` opening line."""
    return _PREAMBLE.sub("", text.strip(), count=1).strip()


class AgentInstructTransform(BundledPromptStep):
    """Content transformation: rewrites ``document_column`` into the form named by the record's
    ``flow`` (``identity`` copies it without a model call). Writes ``passage``. Refusals are
    rejected."""

    type_name = "agent_instruct_transform"
    template_file = "agent_instruct_transform.jinja"
    provided = frozenset({"flow_instructions", "flow_form", "document"})
    writes_columns = frozenset({"passage"})
    citation = CITATION

    def __init__(self, name: str, *, document_column: str = "text", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads |= {document_column, "flow"}
        self.document_column = document_column

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        flow = FLOWS.get(str(record.get("flow")))
        if flow is None:
            raise ValueError(f"record has flow {record.get('flow')!r}; known flows: {', '.join(FLOWS)}")
        return {"flow_instructions": flow["instructions"], "flow_form": flow["form"],
                "document": str(record.get(self.document_column, ""))}

    async def process(self, record: dict[str, Any]) -> Any:
        if record.get("flow") == "identity":
            return [{**record, "passage": str(record.get(self.document_column, ""))}]
        return await super().process(record)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = reply_text(response, "transformation")
        if isinstance(text, Rejected):
            return text
        passage = strip_preamble(text)
        if not passage:
            raise RowError("empty transformation", raw_text=response.text)
        return {**record, "passage": passage}


def parse_typed_instructions(text: str, types: list[str], *, truncated: bool = False) -> list[tuple[str, str]]:
    """``(question_type, instruction)`` pairs from ``1. [inference] ...`` items. An item without a
    bracketed type takes the type at its position; unknown bracketed types too. Refusals dropped."""
    out = []
    for i, item in enumerate(parse_list(text, truncated=truncated)):
        m = _TYPED_ITEM.match(item)
        qtype, body = (m.group(1).strip().lower().replace(" ", "_"), m.group(2)) if m else (None, item)
        if qtype not in types:
            qtype = types[i] if i < len(types) else types[-1]
        body = strip_label(clean_item(body), ("instruction", "question", "task"))
        if body and not is_refusal(body):
            out.append((qtype, body))
    return out


def join_instruction(passage: str, question: str) -> str:
    """The user turn: the passage, a blank line, then the question."""
    return f"{passage.strip()}\n\n{question.strip()}" if passage.strip() else question.strip()


class AgentInstructSeed(BundledPromptStep):
    """Seed instruction generation for one ``skill``: samples ``types_per_passage`` question types
    of the skill's taxonomy (deterministic per record) and writes one instruction per type; one
    output row each with ``skill``, ``question_type``, ``question`` and ``instruction`` (passage +
    question when ``include_passage``). ``skills_file`` replaces the bundled taxonomy."""

    type_name = "agent_instruct_seed"
    template_file = "agent_instruct_seed.jinja"
    provided = frozenset({"skill_description", "question_types", "passage"})
    writes_columns = frozenset({"skill", "question_type", "question", "instruction"})
    citation = CITATION

    def __init__(self, name: str, *, skill: str = "reading_comprehension", types_per_passage: int = 2,
                 passage_column: str = "passage", include_passage: bool = True, skills_file: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads.add(passage_column)
        skills = SKILLS
        if skills_file:
            try:
                skills = json.loads(Path(skills_file).read_text(encoding="utf-8"))
            except OSError as e:
                raise ValueError(f"cannot read skills_file {skills_file!r}: {e}") from None
        if skill not in skills:
            raise ValueError(f"unknown skill {skill!r}; known: {', '.join(skills)}")
        self.skill, self.taxonomy = skill, skills[skill]
        self.types = list(self.taxonomy["question_types"])
        if not 1 <= types_per_passage <= len(self.types):
            raise ValueError(f"types_per_passage must be between 1 and {len(self.types)} for skill {skill!r}")
        self.types_per_passage, self.passage_column, self.include_passage = int(types_per_passage), passage_column, include_passage

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "taxonomy": self.taxonomy}  # the skill as read (``skills_file``)

    def chosen_types(self, record: dict[str, Any]) -> list[str]:
        rng = random.Random(stable_int(record.get("id", ""), self.name, "types"))
        return sorted(rng.sample(self.types, self.types_per_passage), key=self.types.index)

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        qts = [{"name": t, "description": self.taxonomy["question_types"][t]} for t in self.chosen_types(record)]
        return {"skill_description": self.taxonomy["description"], "question_types": qts,
                "passage": str(record.get(self.passage_column, ""))}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        types = self.chosen_types(record)
        pairs = parse_typed_instructions(response.text, types, truncated=response.choices[0].finish_reason == "length")
        if not pairs:
            raise RowError("no instructions could be parsed from the reply", raw_text=response.text)
        passage = str(record.get(self.passage_column, ""))
        return [{**record, "skill": self.skill, "question_type": t, "question": q,
                 "instruction": join_instruction(passage, q) if self.include_passage else q} for t, q in pairs]


class _RoundStep(BundledPromptStep):
    """A refinement agent: knows which round it is in (from the ``refinements`` history) and marks
    its lineage entry with it."""

    provided = frozenset({"passage", "question", "n_suggestions"})
    citation = CITATION

    def __init__(self, name: str, *, question_column: str, passage_column: str | None, n_suggestions: int,
                 **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads |= {question_column} | ({passage_column} if passage_column else set())
        self.question_column, self.passage_column, self.n_suggestions = question_column, passage_column, n_suggestions

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"passage": str(record.get(self.passage_column, "")) if self.passage_column else "",
                "question": str(record.get(self.question_column, "")), "n_suggestions": self.n_suggestions}

    async def call(self, record: dict[str, Any], messages: list[dict[str, str]] | str | Request,
                   **kwargs: Any) -> tuple[Response, dict[str, Any]]:
        """The model call, its lineage entry marked with the refinement round."""
        round_no = len(record.get("refinements") or []) + 1
        return await super().call(record, messages, lineage={"round": round_no}, **kwargs)


class AgentInstructSuggester(_RoundStep):
    """Proposes ``n_suggestions`` ways to make the instruction more challenging (``suggestions``)."""

    template_file = "agent_instruct_suggester.jinja"
    writes_columns = frozenset({"suggestions"})

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        suggestions = parse_list(response.text, truncated=response.choices[0].finish_reason == "length",
                                 max_items=self.n_suggestions, labels=("suggestion",))
        suggestions = [s for s in suggestions if not is_refusal(s)]
        if not suggestions:
            raise RowError("the suggester gave no suggestions", raw_text=response.text)
        return {**record, "suggestions": suggestions}


class AgentInstructEditor(_RoundStep):
    """Rewrites the instruction following the suggestions; appends the round to ``refinements``
    and rebuilds ``instruction`` (passage + question)."""

    template_file = "agent_instruct_editor.jinja"
    provided = _RoundStep.provided | {"suggestions"}
    writes_columns = frozenset({"refinements", "instruction"})

    def __init__(self, name: str, *, include_passage: bool = True, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads.add("suggestions")
        self.include_passage = include_passage

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**super().variables(record), "suggestions": list(record.get("suggestions") or [])}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = reply_text(response, "rewritten instruction")
        if isinstance(text, Rejected):
            return text
        text = strip_preamble(text)
        text = strip_label(clean_item(text), ("new instruction", "instruction", "rewritten instruction"))
        if not text:
            raise RowError("the editor returned no instruction", raw_text=response.text)
        history = list(record.get("refinements") or [])
        history.append({"round": len(history) + 1, "before": record[self.question_column],
                        "suggestions": list(record.get("suggestions") or []), "after": text})
        passage = str(record.get(self.passage_column, "")) if self.passage_column else ""
        return {**record, self.question_column: text, "refinements": history,
                "instruction": join_instruction(passage, text) if self.include_passage else text}


class AgentInstructRefine(LoopStep):
    """Suggester → Editor refinement, ``rounds`` times. Reads the question (and passage); writes the
    refined ``question`` and ``instruction``, ``suggestions`` (the last round's), ``refinements``
    (every round: before, suggestions, after) and ``refine_rounds``. Each model call's lineage
    entry carries its ``round``. ``suggester_model`` / ``editor_model`` name the models."""

    type_name = "agent_instruct_refine"

    def __init__(self, name: str, *, rounds: int = 2, n_suggestions: int = 3, question_column: str = "question",
                 passage_column: str | None = "passage", include_passage: bool = True,
                 suggester_model: str = "default", editor_model: str = "default", temperature: float | None = 0.7,
                 max_tokens: int | None = 512, inputs: Iterable[str] = ()) -> None:
        common = {"question_column": question_column, "passage_column": passage_column, "n_suggestions": n_suggestions,
                  "temperature": temperature, "max_tokens": max_tokens}
        body = [AgentInstructSuggester(f"{name}.suggester", model=suggester_model, **common),
                AgentInstructEditor(f"{name}.editor", model=editor_model, include_passage=include_passage, **common)]
        super().__init__(name, body, max_rounds=rounds, round_column="refine_rounds", inputs=inputs)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "body": [s.describe() for s in self.body]}  # their bundled templates
