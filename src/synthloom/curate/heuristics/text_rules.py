"""Length bounds, keyword lists and regular expressions: the simplest heuristic rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .rule import Failure, Rule, as_list, check_count

_WORD = re.compile(r"\S+")


@dataclass
class LengthRule(Rule):
    """Character and whitespace-word bounds (each optional, inclusive)."""

    name = "length"
    min_chars: int | None = None
    max_chars: int | None = None
    min_words: int | None = None
    max_words: int | None = None

    def __post_init__(self) -> None:
        for opt in ("min_chars", "max_chars", "min_words", "max_words"):
            check_count(self.name, opt, getattr(self, opt))
        if self.min_chars is self.max_chars is self.min_words is self.max_words is None:
            raise ValueError("heuristic rule 'length' needs at least one of min_chars, max_chars, min_words, max_words")

    def check(self, text: str, record: dict[str, Any]) -> Failure | None:
        n = len(text.strip())
        if self.min_chars is not None and n < self.min_chars:
            return Failure(f"{n} characters < min_chars {self.min_chars}", n)
        if self.max_chars is not None and n > self.max_chars:
            return Failure(f"{n} characters > max_chars {self.max_chars}", n)
        if self.min_words is not None or self.max_words is not None:
            w = len(_WORD.findall(text))
            if self.min_words is not None and w < self.min_words:
                return Failure(f"{w} word{'' if w == 1 else 's'} < min_words {self.min_words}", w)
            if self.max_words is not None and w > self.max_words:
                return Failure(f"{w} word{'' if w == 1 else 's'} > max_words {self.max_words}", w)
        return None


@dataclass
class KeywordRule(Rule):
    """``deny``: reject when any of these words/phrases occurs; ``require``: reject unless at least one
    occurs. Matching is on word boundaries and case-insensitive unless ``case_sensitive``."""

    name = "keywords"
    deny: Any = ()
    require: Any = ()
    case_sensitive: bool = False
    _deny: re.Pattern | None = field(default=None, init=False, repr=False)
    _require: re.Pattern | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.deny = list(as_list(self.name, "deny", self.deny))
        self.require = list(as_list(self.name, "require", self.require))
        if not self.deny and not self.require:
            raise ValueError("heuristic rule 'keywords' needs a `deny` or a `require` list")
        flags = 0 if self.case_sensitive else re.IGNORECASE
        self._deny = self._compile(self.deny, flags)
        self._require = self._compile(self.require, flags)

    @staticmethod
    def _compile(words: list[str], flags: int) -> re.Pattern | None:
        if not words:
            return None
        alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        return re.compile(rf"(?<!\w)(?:{alts})(?!\w)", flags)

    def check(self, text: str, record: dict[str, Any]) -> Failure | None:
        if self._deny is not None and (m := self._deny.search(text)):
            return Failure(f"contains denied keyword {m.group(0)!r}")
        if self._require is not None and not self._require.search(text):
            return Failure(f"contains none of the required keywords {self.require}")
        return None


@dataclass
class RegexRule(Rule):
    """``deny``: reject when any pattern matches (``re.search``); ``require``: reject unless every
    pattern matches. ``ignore_case`` applies to all patterns."""

    name = "regex"
    deny: Any = ()
    require: Any = ()
    ignore_case: bool = False
    _deny: list[re.Pattern] = field(default_factory=list, init=False, repr=False)
    _require: list[re.Pattern] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.deny = list(as_list(self.name, "deny", self.deny))
        self.require = list(as_list(self.name, "require", self.require))
        if not self.deny and not self.require:
            raise ValueError("heuristic rule 'regex' needs a `deny` or a `require` list of patterns")
        flags = re.IGNORECASE if self.ignore_case else 0
        self._deny = [self._compile(p, flags) for p in self.deny]
        self._require = [self._compile(p, flags) for p in self.require]

    @staticmethod
    def _compile(pattern: str, flags: int) -> re.Pattern:
        try:
            return re.compile(pattern, flags)
        except re.error as e:
            raise ValueError(f"heuristic rule 'regex': pattern {pattern!r} does not compile: {e}") from None

    def check(self, text: str, record: dict[str, Any]) -> Failure | None:
        for p in self._deny:
            if p.search(text):
                return Failure(f"matches denied pattern {p.pattern!r}")
        for p in self._require:
            if not p.search(text):
                return Failure(f"does not match required pattern {p.pattern!r}")
        return None

