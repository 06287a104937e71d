"""AgentInstruct flows (Mitra et al. 2024, "AgentInstruct: Toward Generative Teaching with Agentic
Flows", arXiv:2407.03502 — the data behind Orca-3).

Raw documents are the seeds. The paper's taxonomy has 17 skills (``agent_instruct_skills.json``:
reading comprehension, open-domain QA, text modification, web agent, brain teaser, analytical
reasoning, multiple choice, data to text, Fermi, coding, text extraction, text classification,
retrieval-augmented generation, tool use, creative content generation, few-shot reasoning,
conversation); each skill is a flow of agents:

1. **Content transformation** — an agent turns a document into an intermediate form that suits
   the skill (``agent_instruct_flows.json``): argument passage, debate, conversation, meeting
   transcript, poem, satirical passage, instructional passage, long text, a code snippet, a list
   of APIs, a data table, a web page's HTML, a puzzle setting, a list of quantities, labelled
   examples, or the text unchanged (``identity``). Two flows use a **search tool** over a bundled
   corpus (:mod:`.agent_instruct_search`): the agent calls ``search_corpus`` and writes research
   notes from the results (``search_notes``) or the results become the documents of a
   retrieval task (``retrieved_documents``). :class:`AgentInstructSkills` picks skills and a flow
   of each per document; :class:`AgentInstructFlows` picks flows alone (one fixed skill).
2. **Seed instruction generation** — per skill, a taxonomy of question types (the paper lists 43
   for reading comprehension; the bundled sets are smaller and hand-written); an agent writes one
   instruction per sampled question type about the transformed passage.
3. **Refinement** — a Suggester proposes ways to make an instruction harder and an Editor rewrites
   it, for N rounds (:mod:`.agent_instruct_refine`).

Answers come from :class:`~.agent_instruct_answer.AgentInstructAnswer`, which gives the coding,
analytical-reasoning and Fermi agents a Python interpreter in the sandbox and checks their answers
with it (or any LLM step).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...llm.tools import assistant_message, tool_message
from ...llm.types import Response
from ...pipeline.model_step import RowError, chat, is_refusal, reply_text
from ...pipeline.step import ExpandStep, Rejected
from ...records import adopt_rows
from ..fanout import bounded, check_max_fanout
from .agent_instruct_search import SEARCH_TOOL, SEARCH_TOOL_NAME, documents_passage, load_corpus, observation
from .samplers import stable_int
from .taxonomy_parsing import clean_item, parse_list, strip_label
from .taxonomy_prompt_step import BundledPromptStep

HERE = Path(__file__).parent

CITATION = ("Mitra, A. et al. (2024). AgentInstruct: Toward Generative Teaching with Agentic Flows. "
            "arXiv:2407.03502")
FLOWS: dict[str, dict[str, str]] = json.loads((HERE / "agent_instruct_flows.json").read_text(encoding="utf-8"))
SKILLS: dict[str, dict[str, Any]] = json.loads((HERE / "agent_instruct_skills.json").read_text(encoding="utf-8"))
ALL_SKILLS = tuple(SKILLS)
#: the flows a document may get by default: reading comprehension's (all text forms but ``identity``)
DEFAULT_FLOWS = tuple(SKILLS["reading_comprehension"]["flows"])
#: what a transformation may use of the text, unless its flow says otherwise (``rule``)
GROUNDED = "Use only the information in the text below and keep its facts, names and numbers accurate."
_PREAMBLE = re.compile(r"^\s*(?:sure|certainly|of course|okay|ok|here(?:'s| is| are))\b[^\n]*:\s*\n", re.IGNORECASE)
_TYPED_ITEM = re.compile(r"^\s*\[([^\]]+)\]\s*[:\-–]?\s*(.*)$", re.DOTALL)


def _check_flows(flows: list[str]) -> list[str]:
    unknown = [f for f in flows if f not in FLOWS]
    if unknown or not flows:
        raise ValueError(f"unknown transformation flow(s) {unknown}; known: {', '.join(FLOWS)}")
    return list(flows)


def load_skills(skills_file: str | None) -> dict[str, dict[str, Any]]:
    """The skill taxonomy: the bundled one, or the JSON file ``skills_file`` (same shape)."""
    if not skills_file:
        return SKILLS
    try:
        skills = json.loads(Path(skills_file).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read skills_file {skills_file!r}: {e}") from None
    except ValueError as e:
        raise ValueError(f"skills_file {skills_file!r} is not JSON: {e}") from None
    bad = [k for k, v in skills.items() if not (isinstance(v, dict) and isinstance(v.get("question_types"), dict)
                                                 and v["question_types"])] if isinstance(skills, dict) else ["(top level)"]
    if bad:
        raise ValueError(f"skills_file {skills_file!r}: skill(s) {bad} need a description and a non-empty "
                         "question_types object, as in agent_instruct_skills.json")
    return skills


class AgentInstructFlows(ExpandStep):
    """Assigns transformation flows to each document: ``per_document`` of ``flows`` (default
    reading comprehension's: all text forms but ``identity``), a different deterministic choice per
    document, one output row each. Writes ``flow``."""

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


class AgentInstructSkills(ExpandStep):
    """Assigns skills to each document: ``per_document`` of ``skills`` (default all 17), each with
    one of that skill's transformation flows, a deterministic choice per document; one output row
    per skill. Writes ``skill``, ``flow`` and ``document_skills`` (the document's skills, in order).
    ``skills_file`` replaces the bundled taxonomy; ``max_fanout`` bounds ``per_document``."""

    type_name = "agent_instruct_skills"

    def __init__(self, name: str, *, skills: Sequence[str] = ALL_SKILLS, per_document: int = 1,
                 skills_file: str | None = None, max_fanout: int | None = None) -> None:
        super().__init__(name, writes=["skill", "flow", "document_skills"], citations=[CITATION])
        self.taxonomy = load_skills(skills_file)
        unknown = [s for s in skills if s not in self.taxonomy]
        if unknown or not skills:
            raise ValueError(f"unknown skill(s) {unknown}; known: {', '.join(self.taxonomy)}")
        self.skills = list(dict.fromkeys(skills))
        for s in self.skills:
            flows = self.taxonomy[s].get("flows") or ["identity"]
            bad = [f for f in flows if f not in FLOWS]
            if bad:
                raise ValueError(f"skill {s!r} names unknown flow(s) {bad}; known: {', '.join(FLOWS)}")
        if not 1 <= per_document <= len(self.skills):
            raise ValueError(f"per_document must be between 1 and {len(self.skills)} (the number of skills)")
        self.per_document = int(per_document)
        self.max_fanout = check_max_fanout(max_fanout)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "flows": {s: self.taxonomy[s].get("flows") for s in self.skills}}

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        order = list(self.skills)
        random.Random(stable_int(record.get("id", ""), self.name)).shuffle(order)
        chosen = order[: bounded(self.per_document, self.max_fanout)]
        out = []
        for skill in chosen:
            flows = self.taxonomy[skill].get("flows") or ["identity"]
            flow = random.Random(stable_int(record.get("id", ""), self.name, skill)).choice(flows)
            out.append({**record, "skill": skill, "flow": flow, "document_skills": list(chosen)})
        return out


def strip_preamble(text: str) -> str:
    """The reply without a ``Sure! Here is the debate:`` opening line."""
    return _PREAMBLE.sub("", text.strip(), count=1).strip()


class AgentInstructTransform(BundledPromptStep):
    """Content transformation: rewrites ``document_column`` into the form named by the record's
    ``flow`` (``identity`` copies it without a model call). Writes ``passage`` and ``search``.
    Refusals are rejected. The search flows offer the ``search_corpus`` tool (forced: the agent
    must call it) over ``corpus`` (a JSONL of title/text passages; default the bundled one), run
    the query in-process (BM25, ``search_k`` results) and record ``search`` (query, results); a
    call without a query, or a query that finds nothing, is rejected."""

    type_name = "agent_instruct_transform"
    template_file = "agent_instruct_transform.jinja"
    provided = frozenset({"flow_instructions", "flow_form", "flow_rule", "document"})
    writes_columns = frozenset({"passage", "search"})
    citation = CITATION

    def __init__(self, name: str, *, document_column: str = "text", title_column: str = "title",
                 corpus: str | None = None, search_k: int = 3, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        if not 1 <= int(search_k) <= 20:
            raise ValueError(f"search_k must be between 1 and 20 (results per search), not {search_k}")
        self.reads |= {document_column, "flow"}
        self.document_column, self.title_column, self.corpus_path, self.search_k = document_column, title_column, corpus, int(search_k)
        self.corpus = load_corpus(corpus)
        self.search_template = self.load_template("agent_instruct_search.jinja").rstrip("\n")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "corpus_digest": self.corpus.digest}  # an edited corpus recomputes

    def flow_of(self, record: dict[str, Any]) -> dict[str, str]:
        flow = FLOWS.get(str(record.get("flow")))
        if flow is None:
            raise ValueError(f"record has flow {record.get('flow')!r}; known flows: {', '.join(FLOWS)}")
        return flow

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        flow = self.flow_of(record)
        return {"flow_instructions": flow["instructions"], "flow_form": flow["form"],
                "flow_rule": flow.get("rule", GROUNDED), "document": str(record.get(self.document_column, ""))}

    async def process(self, record: dict[str, Any]) -> Any:
        if record.get("flow") == "identity":
            return [{**record, "passage": str(record.get(self.document_column, "")), "search": None}]
        if self.flow_of(record).get("tool") == "search":
            return await self.search_agent(record)
        return await super().process(record)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = reply_text(response, "transformation")
        if isinstance(text, Rejected):
            return text
        passage = strip_preamble(text)
        if not passage:
            raise RowError("empty transformation", raw_text=response.text)
        return {**record, "passage": passage, "search": None}

    async def search_agent(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        """A transformation that searches: the forced ``search_corpus`` call, the in-process search,
        then (unless the flow's output is the documents themselves) the agent's write-up."""
        flow, document = self.flow_of(record), str(record.get(self.document_column, ""))
        writes = flow.get("output") != "documents"
        prompt = self.render(self.search_template, {**self.variables(record), "writes": writes})
        messages: list[dict[str, Any]] = chat(prompt)
        response, first = await self.call(record, messages, tools=[SEARCH_TOOL], tool_choice="required",
                                          salt="search", lineage={"tool": SEARCH_TOOL_NAME})
        call = next((c for c in response.tool_calls if c.name == SEARCH_TOOL_NAME and c.ok), None)
        query = str(call.arguments.get("query") or "").strip() if call else ""
        if not query:
            return Rejected(f"the search agent made no {SEARCH_TOOL_NAME} call with a query")
        hits = self.corpus.search(query, self.search_k)
        if not hits:
            return Rejected(f"the search for {query[:80]!r} found nothing in the corpus")
        search = {"query": query, "results": [h.brief() for h in hits]}
        lineage = [first]
        if not writes:
            passage = documents_passage(str(record.get(self.title_column) or ""), document, hits)
        else:
            messages += [assistant_message([call]), tool_message(call.id, observation(hits))]
            response, second = await self.call(record, messages, tools=[SEARCH_TOOL], tool_choice="none", salt="write")
            lineage.append(second)
            text = reply_text(response, "transformation")
            if isinstance(text, Rejected):
                return text
            passage = strip_preamble(text)
            if not passage:
                raise RowError("empty transformation", raw_text=response.text)
        return adopt_rows(record, {**record, "passage": passage, "search": search}, self.name, lineage)


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
    """Seed instruction generation for one ``skill`` (``null``: each record's ``skill`` column, as
    ``agent_instruct_skills`` writes it): samples ``types_per_passage`` question types of the
    skill's taxonomy (deterministic per record; fewer when the skill has fewer) and writes one
    instruction per type; one output row each with ``skill``, ``question_type``, ``question`` and
    ``instruction`` (passage + question when ``include_passage`` and the skill shows its passage;
    the question alone for skills such as open-domain QA). ``skills_file`` replaces the bundled taxonomy.
    ``max_fanout`` (the recipes pass ``-n``) bounds the instructions per document: the document's skills
    share it, at least one type each."""

    type_name = "agent_instruct_seed"
    template_file = "agent_instruct_seed.jinja"
    provided = frozenset({"skill_description", "question_types", "passage", "standalone"})
    writes_columns = frozenset({"skill", "question_type", "question", "instruction"})
    citation = CITATION

    def __init__(self, name: str, *, skill: str | None = "reading_comprehension", types_per_passage: int = 2,
                 passage_column: str = "passage", include_passage: bool = True, skills_file: str | None = None,
                 max_fanout: int | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads.add(passage_column)
        self.skills = load_skills(skills_file)
        if skill is not None and skill not in self.skills:
            raise ValueError(f"unknown skill {skill!r}; known: {', '.join(self.skills)}")
        most = len(self.skills[skill]["question_types"]) if skill else max(len(s["question_types"]) for s in self.skills.values())
        if not 1 <= types_per_passage <= most:
            raise ValueError(f"types_per_passage must be between 1 and {most} for skill {skill or '(per record)'!r}")
        if skill is None:
            self.reads.add("skill")
        self.skill = skill
        self.types_per_passage, self.passage_column, self.include_passage = int(types_per_passage), passage_column, include_passage
        self.max_fanout = check_max_fanout(max_fanout)

    @property
    def taxonomy(self) -> dict[str, Any]:
        """The fixed skill's taxonomy (``skill`` given)."""
        return self.skills[self.skill] if self.skill else {}

    def describe(self) -> dict[str, Any]:  # the skills as read (``skills_file``)
        return {**super().describe(), "taxonomy": self.taxonomy if self.skill else self.skills}

    def skill_of(self, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = self.skill or record.get("skill")
        if name not in self.skills:
            raise ValueError(f"record has skill {name!r}; known skills: {', '.join(self.skills)} "
                             "(agent_instruct_skills writes the column)")
        return str(name), self.skills[name]

    def shows_passage(self, taxonomy: dict[str, Any]) -> bool:
        return bool(self.include_passage and taxonomy.get("include_passage", True))

    def types_for(self, record: dict[str, Any]) -> int:
        """Question types for this row: ``types_per_passage``, or with ``max_fanout`` this skill's share of
        the document's ``max_fanout`` instructions (``document_skills``, written by ``agent_instruct_skills``)."""
        if self.max_fanout is None:
            return self.types_per_passage
        skills = record.get("document_skills") or [record.get("skill")]
        rank = skills.index(record.get("skill")) if record.get("skill") in skills else 0
        share = self.max_fanout // len(skills) + (1 if rank < self.max_fanout % len(skills) else 0)
        return max(1, min(self.types_per_passage, share))

    def chosen_types(self, record: dict[str, Any]) -> list[str]:
        types = list(self.skill_of(record)[1]["question_types"])
        rng = random.Random(stable_int(record.get("id", ""), self.name, "types"))
        return sorted(rng.sample(types, min(self.types_for(record), len(types))), key=types.index)

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        taxonomy = self.skill_of(record)[1]
        qts = [{"name": t, "description": taxonomy["question_types"][t]} for t in self.chosen_types(record)]
        return {"skill_description": taxonomy.get("description", self.skill_of(record)[0]), "question_types": qts,
                "passage": str(record.get(self.passage_column, "")), "standalone": not self.shows_passage(taxonomy)}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        skill, taxonomy = self.skill_of(record)
        types = self.chosen_types(record)
        pairs = parse_typed_instructions(response.text, types, truncated=response.choices[0].finish_reason == "length")
        # one instruction per asked type: a reply listing more items does not multiply the rows
        pairs = [p for i, p in enumerate(pairs) if p[0] not in {q[0] for q in pairs[:i]}][: len(types)]
        if not pairs:
            raise RowError("no instructions could be parsed from the reply", raw_text=response.text)
        passage = str(record.get(self.passage_column, ""))
        shows = self.shows_passage(taxonomy)
        return [{**record, "skill": skill, "question_type": t, "question": q,
                 "instruction": join_instruction(passage, q) if shows else q} for t, q in pairs]
