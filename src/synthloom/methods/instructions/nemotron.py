"""Nemotron-style synthetic prompt generation and two-turn dialogues (NVIDIA 2024, "Nemotron-4 340B
Technical Report", arXiv:2406.11704, §3.2.1 "Synthetic prompts" and "Synthetic dialogue").

Prompts are generated across task types from topic lists, each by asking the generator for a list:

* **open Q&A** — macro topics → subtopics → questions about a topic → revisions that add context or
  detail (two to four sentences);
* **writing** — tasks that ask for a type of text (essay, poem, newsletter, …) about a topic →
  revisions with more detailed requirements;
* **closed Q&A** — questions or tasks about a given document; the prompt is the document followed
  by the question;
* **math** and **coding** — problems about a topic (key concept) at a level, or in a language.

**Two-turn dialogues**: the assistant answers the prompt, a *simulated user* (the same instruct
model, prompted with the conversation and a user style — plain, complex or concise/critical)
writes the follow-up, and the assistant answers again.

Steps: :class:`NemotronGenerate` (one task, or the task named by each row's ``task_column``),
:class:`NemotronRevise`, :class:`NemotronAssistantTurn`, :class:`NemotronUserTurn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...llm.types import Response
from ...pipeline.llm_step import LLMStep
from ...pipeline.model_step import RowError, is_refusal, reply_text
from ...pipeline.step import Rejected
from .samplers import stable_int
from .taxonomy_parsing import clean_item, first_paragraph, parse_list, strip_label
from .taxonomy_prompt_step import BundledPromptStep

CITATION = "NVIDIA (2024). Nemotron-4 340B Technical Report. arXiv:2406.11704"

#: task -> (template file, output column)
TASKS: dict[str, tuple[str, str]] = {
    "macro_topics": ("nemotron_macro_topics.jinja", "macro_topic"),
    "subtopics": ("nemotron_subtopics.jinja", "topic"),
    "open_qa": ("nemotron_open_qa.jinja", "prompt"),
    "writing": ("nemotron_writing.jinja", "prompt"),
    "closed_qa": ("nemotron_closed_qa.jinja", "prompt"),
    "math": ("nemotron_math.jinja", "prompt"),
    "coding": ("nemotron_coding.jinja", "prompt"),
}
REVISIONS = {"open_qa": "nemotron_revise_open_qa.jinja", "writing": "nemotron_revise_writing.jinja"}
USER_STYLES = {
    "normal": "",
    "complex": "Make the request complex and diverse enough to be a good follow-up.",
    "concise": "Be critical. Make the request concise, with a real-life tone.",
}
#: the task types that write a ``prompt``
PROMPT_TASKS = tuple(t for t, (_, column) in TASKS.items() if column == "prompt")
_LIST_LABELS = ("question", "request", "task", "topic", "problem", "revised question", "revised task")


def _check_tasks(tasks: list[str]) -> list[str]:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"unknown Nemotron task(s) {unknown}; known: {', '.join(TASKS)}")
    return tasks


class NemotronGenerate(LLMStep):
    """Asks for a list of ``n_items`` topics, questions, tasks or problems and writes one row per
    item. ``task`` fixes the task type; without it the type is read per row from ``task_column``
    and ``tasks`` lists the types that may occur (their template columns are checked before the
    run). Output column: ``macro_topic`` (macro_topics), ``topic`` (subtopics) or ``prompt``
    (others; also ``prompt_type``). Closed Q&A prompts are the document (``text``) followed by
    the question, which is kept in ``question``."""

    type_name = "nemotron_generate"

    def __init__(self, name: str, *, task: str | None = None, task_column: str = "task",
                 tasks: Sequence[str] = PROMPT_TASKS, n_items: int = 5, **kwargs: Any) -> None:
        used = _check_tasks([task] if task else list(tasks))
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, **kwargs)
        self.templates = {t: self.load_template(TASKS[t][0]).rstrip("\n") for t in used}
        self.read_columns(*self.templates.values(), not_columns=["n_items"])
        self.reads |= set() if task else {task_column}
        written = {TASKS[t][1] for t in used}
        self.writes |= written | ({"prompt_type", "question"} if "prompt" in written else set())
        self.task, self.task_column, self.n_items = task, task_column, int(n_items)

    def task_of(self, record: dict[str, Any]) -> str:
        task = self.task or str(record.get(self.task_column, ""))
        if task not in self.templates:
            raise ValueError(f"record task {task!r} is not one of this step's tasks ({', '.join(self.templates)})")
        return task

    def prompt(self, record: dict[str, Any]) -> str:
        return self.render(self.templates[self.task_of(record)], {**record, "n_items": self.n_items})

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        task = self.task_of(record)
        items = parse_list(response.text, truncated=response.choices[0].finish_reason == "length",
                           max_items=self.n_items, labels=_LIST_LABELS)
        items = [i for i in items if not is_refusal(i)]
        if not items:
            raise RowError(f"no {task} items could be parsed from the reply", raw_text=response.text)
        column = TASKS[task][1]
        if column != "prompt":
            return [{**record, column: item} for item in items]
        if task == "closed_qa":
            return [{**record, "prompt_type": task, "question": q, "prompt": f"{record['text'].strip()}\n\n{q}"}
                    for q in items]
        return [{**record, "prompt_type": task, "question": q, "prompt": q} for q in items]


class NemotronRevise(LLMStep):
    """Revises open Q&A and writing prompts (``prompt_type``) into ``n_items`` more detailed
    variants, one row each; the prompt before revision is kept in ``original_prompt``. Rows of
    other task types pass through unchanged (``original_prompt`` = ``prompt``)."""

    type_name = "nemotron_revise"

    def __init__(self, name: str, *, n_items: int = 2, **kwargs: Any) -> None:
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, **kwargs)
        self.reads |= {"prompt", "prompt_type"}
        self.writes |= {"prompt", "original_prompt"}
        self.templates = {t: self.load_template(f).rstrip("\n") for t, f in REVISIONS.items()}
        self.n_items = int(n_items)

    def prompt(self, record: dict[str, Any]) -> str:
        return self.render(self.templates[str(record.get("prompt_type"))], {**record, "n_items": self.n_items})

    async def process(self, record: dict[str, Any]) -> Any:
        if str(record.get("prompt_type")) not in self.templates:
            return [{**record, "original_prompt": record.get("prompt")}]
        return await super().process(record)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        items = parse_list(response.text, truncated=response.choices[0].finish_reason == "length",
                           max_items=self.n_items, labels=_LIST_LABELS)
        items = [i for i in items if not is_refusal(i)]
        if not items:
            raise RowError("no revisions could be parsed from the reply", raw_text=response.text)
        return [{**record, "original_prompt": record["prompt"], "prompt": item} for item in items]


def format_conversation(messages: list[dict[str, str]]) -> str:
    """``User: …`` / ``Assistant: …`` lines, blank-line separated."""
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages if m.get("role") != "system")


class NemotronAssistantTurn(LLMStep):
    """The assistant's turn: answers the conversation so far (``messages``; a record without
    ``messages`` starts one from ``prompt_column``) and appends the answer. Writes ``messages``."""

    type_name = "nemotron_assistant_turn"

    def __init__(self, name: str, *, prompt_column: str = "prompt", **kwargs: Any) -> None:
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, **kwargs)
        self.reads.add(prompt_column)
        self.writes.add("messages")
        self.prompt_column = prompt_column

    def history(self, record: dict[str, Any]) -> list[dict[str, str]]:
        messages = record.get("messages")
        if messages:
            return [dict(m) for m in messages]
        return [{"role": "user", "content": str(record[self.prompt_column])}]

    def prompt(self, record: dict[str, Any]) -> list[dict[str, str]]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return system + self.history(record)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = response.text.strip()
        if not text:
            raise RowError("the assistant returned an empty turn", raw_text=response.text)
        return {**record, "messages": self.history(record) + [{"role": "assistant", "content": text}]}


def parse_user_turn(text: str) -> str:
    """The simulated user's request: first paragraph, without a ``User:`` label or quotes."""
    return strip_label(clean_item(first_paragraph(text)), ("user", "follow-up", "followup", "question", "request"))


class NemotronUserTurn(BundledPromptStep):
    """The simulated user: shown the conversation, writes the user's follow-up in one of the user
    styles (``normal``, ``complex``, ``concise``): ``style`` fixes it, else it is drawn per record
    from ``styles``. Appends the turn to ``messages`` and records ``user_style``. Refusals are
    rejected."""

    type_name = "nemotron_user_turn"
    template_file = "nemotron_user_turn.jinja"
    provided = frozenset({"conversation", "style_instruction"})
    writes_columns = frozenset({"messages", "user_style"})
    citation = CITATION

    def __init__(self, name: str, *, style: str | None = None, styles: Sequence[str] = tuple(USER_STYLES),
                 **kwargs: Any) -> None:
        self.styles = [style] if style else list(styles)
        unknown = [s for s in self.styles if s not in USER_STYLES]
        if unknown or not self.styles:
            raise ValueError(f"unknown user style(s) {unknown}; known: {', '.join(USER_STYLES)}")
        super().__init__(name, **kwargs)
        self.reads.add("messages")

    def style_of(self, record: dict[str, Any]) -> str:
        return self.styles[stable_int(record.get("id", ""), self.name) % len(self.styles)]

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        messages = record.get("messages") or []
        if not messages:
            raise ValueError("the simulated user needs a conversation in `messages` (run an assistant turn first)")
        return {"conversation": format_conversation(messages), "style_instruction": USER_STYLES[self.style_of(record)]}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = reply_text(response, "user turn")
        if isinstance(text, Rejected):
            return text
        turn = parse_user_turn(text)
        if not turn:
            raise RowError("the simulated user wrote nothing", raw_text=response.text)
        return {**record, "messages": [*record["messages"], {"role": "user", "content": turn}],
                "user_style": self.style_of(record)}
