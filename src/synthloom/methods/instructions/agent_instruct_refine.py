"""AgentInstruct's refinement flow (Mitra et al. 2024, "AgentInstruct: Toward Generative Teaching
with Agentic Flows", arXiv:2407.03502): a Suggester proposes ways to make an instruction harder and
an Editor rewrites it accordingly, for N rounds (:class:`AgentInstructRefine`); every round is kept
in ``refinements`` and in the lineage (``round`` on each model call).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...llm.types import Request, Response
from ...pipeline.model_step import RowError, is_refusal, reply_text
from ...pipeline.step import LoopStep, Rejected
from .agent_instruct import CITATION, join_instruction, strip_preamble
from .taxonomy_parsing import clean_item, parse_list, strip_label
from .taxonomy_prompt_step import BundledPromptStep


class _RoundStep(BundledPromptStep):
    """A refinement agent: knows which round it is in (from the ``refinements`` history) and marks
    its lineage entry with it."""

    provided = frozenset({"passage", "question", "n_suggestions", "standalone"})
    citation = CITATION

    def __init__(self, name: str, *, question_column: str, passage_column: str | None, n_suggestions: int,
                 **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads |= {question_column} | ({passage_column} if passage_column else set())
        self.question_column, self.passage_column, self.n_suggestions = question_column, passage_column, n_suggestions

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        question = str(record.get(self.question_column, ""))
        passage = str(record.get(self.passage_column, "")) if self.passage_column else ""
        # the instruction is the question alone although there is a passage (open-domain QA, Fermi)
        standalone = bool(passage.strip()) and record.get("instruction") == question
        return {"passage": passage, "question": question, "n_suggestions": self.n_suggestions, "standalone": standalone}

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
    and rebuilds ``instruction`` in the shape it had: the question alone when it was the question
    alone (skills whose instructions carry no passage), else passage + question (``include_passage``)."""

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
        before = record[self.question_column]
        history = list(record.get("refinements") or [])
        history.append({"round": len(history) + 1, "before": before,
                        "suggestions": list(record.get("suggestions") or []), "after": text})
        passage = str(record.get(self.passage_column, "")) if self.passage_column else ""
        if record.get("instruction") == before or not self.include_passage:
            instruction = text
        else:
            instruction = join_instruction(passage, text)
        return {**record, self.question_column: text, "refinements": history, "instruction": instruction}


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
