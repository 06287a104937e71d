"""Readability filters of long chain-of-thought data, after DeepSeek-R1's cold-start and SFT data.

DeepSeek-AI 2025, "DeepSeek-R1", arXiv:2501.12948, §2.3.3: "we have filtered out chain-of-thought
with mixed languages, long paragraphs, and code blocks" — R1-Zero's traces mixed languages and
were hard to read, so the distilled data keeps only traces in the problem's language, in readable
paragraphs. The two checks here are deterministic:

* :func:`language_mixing` — the share of a text's letters written in a script other than the
  problem's main script (Latin, CJK, Cyrillic, Arabic, …). Mathematics is not language: Greek
  letters, LaTeX commands (``\\boxed``, ``\\frac``), ``$…$`` spans and one-letter variables
  (``x``) are not counted;
* :func:`readability_problem` — a fenced code block, or a paragraph over ``max_paragraph_words``
  words (a wall of text), named in words.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_SCRIPTS = (("CJK", "CJK"), ("HIRAGANA", "CJK"), ("KATAKANA", "CJK"), ("HANGUL", "CJK"), ("LATIN", "Latin"),
            ("CYRILLIC", "Cyrillic"), ("ARABIC", "Arabic"), ("HEBREW", "Hebrew"), ("DEVANAGARI", "Devanagari"),
            ("THAI", "Thai"), ("GREEK", None))
_NOT_LANGUAGE = re.compile(r"\\[A-Za-z]+|\$[^$]*\$|(?<![A-Za-z])[A-Za-z](?![A-Za-z])")
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_PARAGRAPHS = re.compile(r"\n\s*\n")


def script_of(char: str) -> str | None:
    """The script of a letter (``Latin``, ``CJK``, …, ``Other``), ``None`` for a non-letter or Greek."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    for prefix, script in _SCRIPTS:
        if name.startswith(prefix):
            return script
    return "Other"


def script_counts(text: str) -> Counter[str]:
    """How many letters of ``text`` each script has (Greek, LaTeX, ``$…$`` math, one-letter
    variables and non-letters left out)."""
    return Counter(s for s in map(script_of, _NOT_LANGUAGE.sub(" ", text or "")) if s is not None)


def main_script(text: str, default: str = "Latin") -> str:
    """The script most of ``text``'s letters are written in (``default`` when it has none)."""
    counts = script_counts(text)
    return counts.most_common(1)[0][0] if counts else default


def language_mixing(text: str, script: str) -> tuple[float, str | None]:
    """``(share, other)``: the share of ``text``'s letters not in ``script`` and the most common
    other script (``None`` when there is none)."""
    counts = script_counts(text)
    total = sum(counts.values())
    others = Counter({s: n for s, n in counts.items() if s != script})
    if not total or not others:
        return 0.0, None
    return sum(others.values()) / total, others.most_common(1)[0][0]


def readability_problem(text: str, *, max_paragraph_words: int | None, allow_code_blocks: bool) -> str | None:
    """Why ``text`` is hard to read (a code block, an over-long paragraph), or ``None``."""
    if not allow_code_blocks and _FENCE.search(text or ""):
        return "a code block"
    if max_paragraph_words is not None:
        longest = max((len(p.split()) for p in _PARAGRAPHS.split(text or "")), default=0)
        if longest > max_paragraph_words:
            return f"a paragraph of {longest} words (over {max_paragraph_words})"
    return None
