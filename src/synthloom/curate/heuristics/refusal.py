"""Refusals, apologies and prompt leaks: phrases that mark a reply as unusable training data.

The refusal list gathers the phrases that instruction-data cleaning commonly removes (the
"unfiltered" ShareGPT/WizardLM cleaning lists, Alpaca-style cleaning): AI self-reference ("As an AI
language model"), inability ("I cannot", "I'm unable to"), and apology openings ("I'm sorry", "I
apologize"). Strong phrases reject wherever they occur; weak ones (apologies, "I cannot") only when
the reply *opens* with them (at its very start, or after a first sentence of at most three words
such as "Hmm."), because "I'm sorry to hear that your plant died; here is how to..." or "you cannot
divide by zero" are fine answers.

Prompt-leak words are template and role markers that should never appear in a finished reply
("### Instruction:", "<|im_start|>", "Human:"...), plus any the user adds (their own template words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .rule import Failure, Rule, as_list, check_count

#: phrases that mark a refusal or AI self-reference anywhere in the reply
STRONG_REFUSALS = (
    "as an ai language model", "as a language model", "as an ai assistant", "as an ai model",
    "as a large language model", "i am an ai language model", "i'm an ai language model",
    "i am just an ai", "i'm just an ai", "i am only an ai", "i'm only an ai",
    "i am not able to provide", "i'm not able to provide", "i cannot fulfill", "i can't fulfill",
    "i cannot comply", "i can't comply", "i cannot assist with that", "i can't assist with that",
    "i cannot help with that", "i can't help with that", "i won't be able to help",
    "against my programming", "my programming prevents", "openai's content policy", "openai's use case policy",
    "violates my guidelines", "it is not appropriate for me to", "it's not appropriate for me to",
    "i do not have personal opinions", "i don't have personal opinions",
    "i don't have the ability to", "i do not have the ability to",
)
#: phrases that mark a refusal or apology only when the reply opens with them
WEAK_REFUSALS = (
    "i'm sorry", "i am sorry", "sorry, but", "sorry, i", "i apologize", "i apologise", "my apologies",
    "apologies, but", "i cannot", "i can't", "i can not", "i'm unable", "i am unable", "i'm not able",
    "i am not able", "unfortunately, i", "i won't", "i will not", "i must decline", "i refuse",
)
#: template and role markers that mean the prompt leaked into the reply
LEAK_WORDS = (
    "### instruction", "### response", "### input", "\ninstruction:", "### human", "### assistant",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|start_header_id|>", "[inst]", "[/inst]",
    "<<sys>>", "<</sys>>", "\nhuman:", "\nassistant:", "\nuser:",
)

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text.translate(_QUOTES).lower())


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern | None:
    if not phrases:
        return None
    alts = "|".join(re.escape(_norm(p)) for p in sorted(set(phrases), key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alts})(?![a-z0-9])")


@dataclass
class RefusalRule(Rule):
    """Rejects refusals and apologies. ``phrases`` / ``opening_phrases`` add to the built-in strong
    (anywhere) and weak (opening only) lists; ``builtin: false`` uses only yours. ``window`` bounds how
    many characters of the reply are searched for the opening phrases."""

    name = "refusal"
    phrases: Any = ()
    opening_phrases: Any = ()
    builtin: bool = True
    window: int = 200
    _strong: re.Pattern | None = field(default=None, init=False, repr=False)
    _weak: re.Pattern | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.phrases = list(as_list(self.name, "phrases", self.phrases))
        self.opening_phrases = list(as_list(self.name, "opening_phrases", self.opening_phrases))
        check_count(self.name, "window", self.window)
        strong = (STRONG_REFUSALS if self.builtin else ()) + tuple(self.phrases)
        weak = (WEAK_REFUSALS if self.builtin else ()) + tuple(self.opening_phrases)
        if not strong and not weak:
            raise ValueError("heuristic rule 'refusal' with builtin: false needs `phrases` or `opening_phrases`")
        self._strong, self._weak = _phrase_pattern(strong), _phrase_pattern(weak)

    def check(self, text: str, record: dict[str, Any]) -> Failure | None:
        norm = _norm(text)
        if self._strong is not None and (m := self._strong.search(norm)):
            return Failure(f"contains {m.group(0)!r}")
        if self._weak is not None:
            opening = norm.lstrip(" \"'*#>-")[: self.window]
            for m in self._weak.finditer(opening):
                if _at_sentence_start(opening, m.start()):
                    return Failure(f"opens with {m.group(0)!r}")
        return None


def _at_sentence_start(text: str, pos: int) -> bool:
    """True when ``pos`` starts the reply, or follows a short first sentence such as "Hmm." or "Hello!"
    (so "you cannot divide by zero" or a quoted "I'm sorry" later on does not count)."""
    before = text[:pos].rstrip()
    return not before or (before[-1] in ".!?\n" and len(before.split()) <= 3)


@dataclass
class PromptLeakRule(Rule):
    """Rejects replies containing template or role markers (``words`` adds yours; case-insensitive;
    ``builtin: false`` uses only yours)."""

    name = "prompt_leak"
    words: Any = ()
    builtin: bool = True
    _pattern: re.Pattern | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.words = list(as_list(self.name, "words", self.words))
        words = (LEAK_WORDS if self.builtin else ()) + tuple(self.words)
        if not words:
            raise ValueError("heuristic rule 'prompt_leak' with builtin: false needs a `words` list")
        alts = "|".join(re.escape(w.lower()) for w in sorted(set(words), key=len, reverse=True))
        self._pattern = re.compile(alts)

    def check(self, text: str, record: dict[str, Any]) -> Failure | None:
        assert self._pattern is not None
        m = self._pattern.search("\n" + text.translate(_QUOTES).lower())
        return Failure(f"contains template marker {m.group(0).strip()!r}") if m else None

