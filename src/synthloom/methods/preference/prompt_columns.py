"""How the preference steps read a row's prompt: a text column, or a chat message list, plus a system prompt.

Every preference step names its prompt the same way: ``prompt`` (the column holding the user's text,
default ``prompt``; many recipes use ``instruction``), or ``prompt_messages`` (a column holding a
chat message list, for multi-turn prompts; it wins over ``prompt``), and ``system_column`` (a column
holding a system prompt, optional). :class:`PromptColumns` turns a row into the chat messages a model
answers, and into the ``prompt`` / ``system`` / ``prompt_messages`` fields of pair and KTO rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...pipeline.model_step import RowError


@dataclass(frozen=True)
class PromptColumns:
    """The columns a row's prompt is read from (see the module docstring)."""

    prompt: str = "prompt"
    prompt_messages: str | None = None
    system_column: str | None = None

    def reads(self) -> set[str]:
        """The columns read."""
        cols = {self.prompt_messages} if self.prompt_messages else {self.prompt}
        return cols | ({self.system_column} if self.system_column else set())

    def system(self, record: dict[str, Any]) -> str | None:
        """The row's system prompt: the ``system_column`` value when set and not empty, else the
        leading system message of ``prompt_messages``."""
        if self.system_column:
            value = record.get(self.system_column)
            if isinstance(value, str) and value.strip():
                return value
        if self.prompt_messages:
            messages = record.get(self.prompt_messages) or []
            if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
                return messages[0].get("content")
        return None

    def messages(self, record: dict[str, Any], extra_system: str | None = None) -> list[dict[str, Any]]:
        """The chat messages to answer: the row's system prompt (joined with ``extra_system``, e.g. a
        sampled principle), then the conversation ending in a user turn. A missing or empty prompt,
        or a conversation that does not end with the user, raises :class:`RowError`."""
        if self.prompt_messages:
            turns = record.get(self.prompt_messages)
            if not isinstance(turns, list) or not turns or not all(isinstance(m, dict) and "role" in m for m in turns):
                raise RowError(f"column {self.prompt_messages!r} must hold a list of chat messages, got {turns!r:.80}")
            turns = [dict(m) for m in turns]
            if turns[-1].get("role") != "user":
                raise RowError(f"the conversation in {self.prompt_messages!r} must end with a user message, "
                               f"not {turns[-1].get('role')!r}")
            if turns[0].get("role") == "system":
                turns = turns[1:]  # it is the system prompt (unless ``system_column`` gives one)
        else:
            text = record.get(self.prompt)
            if not isinstance(text, str) or not text.strip():
                raise RowError(f"the prompt in column {self.prompt!r} is empty or not text: {text!r:.80}")
            turns = [{"role": "user", "content": text}]
        system = "\n\n".join(s for s in (self.system(record), extra_system) if s)
        return ([{"role": "system", "content": system}] if system else []) + turns

    def text(self, record: dict[str, Any]) -> str:
        """The prompt as text: the ``prompt`` column, or the last user message of ``prompt_messages``."""
        if self.prompt_messages:
            return str(self.messages(record)[-1].get("content") or "")
        return str(record.get(self.prompt) or "")

    def fields(self, record: dict[str, Any]) -> dict[str, Any]:
        """``prompt``, ``system`` and (for a multi-turn prompt) ``prompt_messages`` of a pair or KTO row."""
        out: dict[str, Any] = {"prompt": self.text(record), "system": self.system(record)}
        if self.prompt_messages:
            out["prompt_messages"] = [m for m in self.messages(record) if m.get("role") != "system"]
        return out
