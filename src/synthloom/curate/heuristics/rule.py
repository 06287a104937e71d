"""The rule contract of the heuristic filter: a named check over one text.

A rule returns ``None`` to keep the text, or a :class:`Failure` (what failed, and an optional score
such as the measured fraction). The filter step turns the first failure into a rejection whose reason
starts with the rule's name, e.g. ``"refusal: starts with \"I'm sorry\""``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a rule rejects a text, and the measured value when there is one."""

    detail: str
    score: float | None = None


class Rule:
    """Base of the heuristic rules. Subclasses are dataclasses whose fields are the YAML options."""

    name: ClassVar[str] = ""

    def check(self, text: str, record: dict[str, Any]) -> Failure | None:
        raise NotImplementedError


def check_fraction(rule: str, option: str, value: Any) -> None:
    if value is not None and not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"heuristic rule {rule!r}: {option} must be a fraction between 0 and 1, got {value!r}")


def check_count(rule: str, option: str, value: Any) -> None:
    if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ValueError(f"heuristic rule {rule!r}: {option} must be a whole number >= 0, got {value!r}")


def as_list(rule: str, option: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"heuristic rule {rule!r}: {option} must be a string or a list of strings, got {value!r}")
