"""Explanation tuning — Orca (Mukherjee et al. 2023, "Orca: Progressive Learning from Complex
Explanation Traces of GPT-4", arXiv:2306.02707) and Orca 2 (Mitra et al. 2023, "Orca 2: Teaching
Small Language Models How to Reason", arXiv:2311.11045).

Orca: each user query gets one of 16 hand-written system messages (Table 2, bundled verbatim in
``orca_system_messages.json``) that ask the teacher for detailed, step-by-step or explained answers;
which messages a query may draw depends on its FLAN-v2 sub-collection (Figure 6: CoT → 6, 11, 16;
NiV2 → 1, 2, 5, 7, 9, 12–15; T0 → 1, 2, 3, 5, 7; Flan 2021 → 3, 4, 7, and 8 or 10 for multiple-choice
questions). The student is trained on ⟨system message, query, teacher response⟩.

Orca 2: the system instruction names a task-specific *strategy* (direct answer, step-by-step,
explain-then-answer, recall-then-generate, recall-reason-generate, extract-generate; our wording in
``orca2_strategies.json``). **Prompt erasure**: the training record replaces that instruction with a
generic system message, so the student must learn to pick the strategy itself.

Steps: :class:`OrcaSystemMessage` (choose the teacher's system message), :class:`OrcaTeacher`
(answer with it), :class:`PromptErasure` (build the training ``messages``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...llm.types import Response
from ...pipeline.llm_step import LLMStep
from ...pipeline.model_step import RowError, chat
from ...pipeline.step import MapStep
from .samplers import stable_int

HERE = Path(__file__).parent

CITATIONS = [
    "Mukherjee, S. et al. (2023). Orca: Progressive Learning from Complex Explanation Traces of GPT-4. arXiv:2306.02707",
    "Mitra, A. et al. (2023). Orca 2: Teaching Small Language Models How to Reason. arXiv:2311.11045",
]
_ORCA = json.loads((HERE / "orca_system_messages.json").read_text(encoding="utf-8"))
SYSTEM_MESSAGES: dict[int, str] = {int(k): v for k, v in _ORCA["messages"].items()}
COLLECTIONS: dict[str, list[int]] = _ORCA["collections"]
STRATEGIES: dict[str, str] = json.loads((HERE / "orca2_strategies.json").read_text(encoding="utf-8"))
#: Orca 2's generic training system message, without the model's name and maker
GENERIC_SYSTEM = ("You are a cautious assistant. You carefully follow instructions. You are helpful and harmless and "
                  "you follow ethical guidelines and promote positive behavior.")

_OPTION_LINE = re.compile(r"^\s*(?:\(?[A-Ha-h][).:]|\([A-Ha-h]\)|[-*]\s|\d[).]\s)", re.MULTILINE)
_OPTIONS_WORD = re.compile(r"\b(?:options?|choices?|choose (?:from|one|the)|select (?:from|one|the)|pick (?:from|one)|"
                           r"which of the following)\b", re.IGNORECASE)


def is_multiple_choice(text: str) -> bool:
    """Whether a query offers answer options: an ``Options:``/``Choose from`` cue followed by at
    least two option lines (or inline ``- a - b`` options), three or more lettered options (``A)``,
    ``(b)``), or ``which of the following``."""
    option_lines = len(_OPTION_LINE.findall(text))
    if re.search(r"which of the following", text, re.IGNORECASE):
        return True
    cue = _OPTIONS_WORD.search(text)
    if cue and (option_lines >= 2 or len(re.findall(r"\s-\s+\S", text[cue.end():])) >= 2):
        return True
    lettered = re.findall(r"(?:^|\s)\(?([A-Ha-h])[).]\s", text)
    return len({x.upper() for x in lettered}) >= 3


def orca_message_ids(collection: str, query: str) -> list[int]:
    """The system-message ids Orca samples from for a query of ``collection`` (Figure 6)."""
    key = collection.lower().replace("-", "").replace("_", "").replace(" ", "")
    aliases = {"cot": "cot", "niv2": "niv2", "niv": "niv2", "t0": "t0", "flan2021": "flan2021", "flan": "flan2021"}
    if key not in aliases:
        raise ValueError(f"unknown FLAN-v2 collection {collection!r}; use one of cot, niv2, t0, flan2021")
    name = aliases[key]
    if name == "flan2021" and is_multiple_choice(query):
        name = "flan2021_multiple_choice"
    return COLLECTIONS[name]


class OrcaSystemMessage(MapStep):
    """Chooses the teacher's system message per record, deterministically from its id.

    ``mode: orca`` — one of Orca's 16 messages allowed for the record's FLAN-v2 collection
    (``collection`` for every row, else the row's ``collection_column``); writes
    ``system_message`` and ``system_message_id``. ``mode: orca2`` — the instruction of a
    reasoning strategy: ``strategy``, unless ``strategies`` maps the row's ``task_column`` value
    to another, or the row's ``strategy_column`` names one; ``custom_strategies`` adds or
    overrides strategy texts. Writes ``system_message`` and ``strategy``."""

    type_name = "orca_system_message"

    def __init__(self, name: str, *, mode: str = "orca2", instruction_column: str = "instruction",
                 collection: str | None = None, collection_column: str = "collection",
                 strategy: str | None = "step_by_step", strategy_column: str | None = None,
                 task_column: str = "task", strategies: dict[str, str] | None = None,
                 custom_strategies: dict[str, str] | None = None) -> None:
        if mode not in ("orca", "orca2"):
            raise ValueError(f"mode must be 'orca' or 'orca2', got {mode!r}")
        reads = [instruction_column]
        texts = {**STRATEGIES, **(custom_strategies or {})}
        if mode == "orca":
            if collection is not None:
                orca_message_ids(collection, "")  # validates the name
            else:
                reads.append(collection_column)
            writes = ["system_message", "system_message_id"]
        else:
            if strategies:
                reads.append(task_column)
            if strategy_column:
                reads.append(strategy_column)
            for s in [strategy, *(strategies or {}).values()]:
                if s is not None and s not in texts:
                    raise ValueError(f"unknown strategy {s!r}; known: {', '.join(sorted(texts))} "
                                     "(or define it under `custom_strategies`)")
            writes = ["system_message", "strategy"]
        super().__init__(name, reads=reads, writes=writes, citations=CITATIONS)
        self.mode, self.instruction_column = mode, instruction_column
        self.collection, self.collection_column = collection, collection_column
        self.strategy, self.strategy_column, self.task_column = strategy, strategy_column, task_column
        self.strategies, self.texts = dict(strategies or {}), texts

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        query = str(record.get(self.instruction_column, ""))
        if self.mode == "orca":
            collection = self.collection or str(record.get(self.collection_column, ""))
            ids = orca_message_ids(collection, query)
            chosen = ids[stable_int(record.get("id", ""), self.name) % len(ids)]
            return {**record, "system_message": SYSTEM_MESSAGES[chosen], "system_message_id": chosen}
        strategy = self.strategy
        if str(record.get(self.task_column)) in self.strategies:
            strategy = self.strategies[str(record.get(self.task_column))]
        if self.strategy_column and record.get(self.strategy_column):
            strategy = str(record[self.strategy_column])
        if strategy not in self.texts:
            raise ValueError(f"record has strategy {strategy!r}, which is not known; known: {', '.join(sorted(self.texts))}")
        return {**record, "system_message": self.texts[strategy], "strategy": strategy}


class OrcaTeacher(LLMStep):
    """The teacher's answer to ``instruction_column`` under the record's ``system_message`` (an
    empty message sends no system turn). Writes ``output`` (``response``); empty answers are error
    rows."""

    type_name = "orca_teacher"

    def __init__(self, name: str, *, instruction_column: str = "instruction", system_column: str = "system_message",
                 **kwargs: Any) -> None:
        kwargs.setdefault("citations", CITATIONS)
        super().__init__(name, **kwargs)
        self.reads |= {instruction_column, system_column}
        self.writes.add(self.output)
        self.instruction_column, self.system_column = instruction_column, system_column

    def prompt(self, record: dict[str, Any]) -> list[dict[str, str]]:
        system = record.get(self.system_column)
        return chat(str(record[self.instruction_column]), str(system) if system else None)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = response.text.strip()
        if not text:
            raise RowError("the teacher returned an empty answer", raw_text=response.text)
        return {**record, self.output: text}


class PromptErasure(MapStep):
    """Builds the training record: ``messages`` = [system, user, assistant]. With ``erase`` (Orca 2's
    prompt erasure) the teacher's strategy instruction is replaced by ``generic_system`` (empty: no
    system turn) and the ``system_message`` column is dropped unless ``keep_teacher_system``;
    without it (Orca) the teacher's system message is kept. Writes ``messages`` and ``system``."""

    type_name = "prompt_erasure"

    def __init__(self, name: str, *, erase: bool = True, generic_system: str = GENERIC_SYSTEM,
                 instruction_column: str = "instruction", response_column: str = "response",
                 system_column: str = "system_message", keep_teacher_system: bool = False) -> None:
        super().__init__(name, reads=[instruction_column, response_column, system_column],
                         writes=["messages", "system"], citations=CITATIONS)
        self.erase, self.generic_system, self.keep_teacher_system = erase, generic_system, keep_teacher_system
        self.instruction_column, self.response_column, self.system_column = instruction_column, response_column, system_column

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        system = self.generic_system if self.erase else str(record.get(self.system_column) or "")
        messages = [{"role": "system", "content": system}] if system else []
        messages += [{"role": "user", "content": str(record[self.instruction_column])},
                     {"role": "assistant", "content": str(record[self.response_column])}]
        out = {**record, "messages": messages, "system": system}
        if self.erase and not self.keep_teacher_system:
            out.pop(self.system_column, None)
        return out
