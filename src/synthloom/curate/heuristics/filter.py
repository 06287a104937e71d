"""The ``heuristic_filter`` step: a list of cheap rules over one text column.

Recipe form (rules run in the order given; the first failing rule rejects the row, and the reason
starts with that rule's name)::

    - name: clean
      type: heuristic_filter
      column: response
      rules:
        - length: {min_words: 3, max_chars: 4000}
        - refusal                                  # default options
        - prompt_leak: {words: ["Question:"]}      # your template words, besides the built-in ones
        - truncation: {mid_sentence: false}
        - repetition: {}                           # Gopher's limits
        - language: {lang: en}

``rules`` may also be a mapping ``{rule: options}`` (``true`` for defaults). Rules: see :data:`RULES`.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from ...pipeline.step import FilterStep, Rejected
from .language import LanguageRule
from .refusal import PromptLeakRule, RefusalRule
from .repetition import RepetitionRule
from .rule import Rule
from .text_rules import KeywordRule, LengthRule, RegexRule
from .truncation import TruncationRule

RULES: dict[str, type[Rule]] = {
    cls.name: cls
    for cls in (LengthRule, KeywordRule, RegexRule, RefusalRule, PromptLeakRule, TruncationRule, RepetitionRule,
                LanguageRule)
}


def build_rule(name: Any, options: Any, where: str = "heuristic_filter") -> Rule:
    """One rule from its name and options (``None``/``True``/``{}`` = defaults), with clear errors."""
    if not isinstance(name, str) or name not in RULES:
        close = difflib.get_close_matches(str(name), list(RULES), n=1)
        raise ValueError(f"{where}: unknown rule {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                         + f"; rules: {', '.join(RULES)}")
    if options is None or options is True:
        options = {}
    if not isinstance(options, dict):
        raise ValueError(f"{where}: options of rule {name!r} must be a mapping, e.g. {{min_words: 3}}; got {options!r}")
    cls = RULES[name]
    known = [p for p in inspect.signature(cls).parameters]
    unknown = [k for k in options if k not in known]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), known, n=1)
        raise ValueError(f"{where}: rule {name!r} has no option {unknown[0]!r}"
                         + (f" (did you mean {close[0]!r}?)" if close else "") + f"; options: {', '.join(known)}")
    try:
        return cls(**options)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def build_rules(rules: Any, where: str = "heuristic_filter") -> list[Rule]:
    """Rules from the recipe's ``rules:`` (a list of names / one-key mappings, or one mapping)."""
    if isinstance(rules, dict):
        items = [(k, v) for k, v in rules.items() if v is not False]
    elif isinstance(rules, (list, tuple)):
        items = []
        for entry in rules:
            if isinstance(entry, Rule):
                items.append((entry, None))
            elif isinstance(entry, str):
                items.append((entry, None))
            elif isinstance(entry, dict) and len(entry) == 1:
                items.append(next(iter(entry.items())))
            else:
                raise ValueError(f"{where}: each rule is a name or a one-key mapping {{rule: options}}; got {entry!r}")
    else:
        raise ValueError(f"{where}: `rules` must be a list (or a mapping) of rules; got {rules!r}")
    built = [k if isinstance(k, Rule) else build_rule(k, v, where) for k, v in items]
    if not built:
        raise ValueError(f"{where}: `rules` is empty; add at least one of {', '.join(RULES)}")
    return built


class HeuristicFilter(FilterStep):
    """Rejects rows whose ``column`` text fails one of ``rules`` (length, keywords, regex, refusal,
    prompt_leak, truncation, repetition, language); the reason names the rule, e.g.
    ``"refusal: opens with \"i'm sorry\""``, and the score is the measured value when there is one.
    A missing or non-text value fails with reason ``"<column>: no text"``."""

    type_name = "heuristic_filter"

    def __init__(self, name: str, *, column: str, rules: Any, inputs: list[str] | None = None) -> None:
        if not isinstance(column, str) or not column:
            raise ValueError(f"heuristic_filter {name!r}: `column` must name the text column to check")
        super().__init__(name, reads=[column], inputs=inputs or ())
        self.column = column
        self.rules = build_rules(rules, f"heuristic_filter {name!r}")

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        text = record.get(self.column)
        if not isinstance(text, str):
            return Rejected(f"{self.column}: no text (got {type(text).__name__})")
        for rule in self.rules:
            failure = rule.check(text, record)
            if failure is not None:
                return Rejected(f"{rule.name}: {failure.detail}", failure.score)
        return True

    def why(self, text: str, record: dict[str, Any] | None = None) -> str | None:
        """The rejection reason for ``text`` (``None`` = kept) — handy outside a pipeline."""
        verdict = self.check({self.column: text, **(record or {})} if record else {self.column: text})
        return verdict.reason if isinstance(verdict, Rejected) else None
