"""Text measures the instruction checkers share: words, sentences, paragraphs, and the response
variants of IFEval's loose checking (Zhou et al. 2023, arXiv:2311.07911)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_STAR_DIVIDER = re.compile(r"\s?\*\s?\*\s?\*\s?")
_BLANK_LINE = re.compile(r"\n\s*\n")


def words(text: str) -> list[str]:
    """The words of ``text`` (letters and digits, with inner apostrophes: ``don't`` is one word)."""
    return _WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


def count_sentences(text: str) -> int:
    """Sentences: pieces ending in ``.``, ``!`` or ``?`` followed by space (the last needs no end mark)."""
    return len([s for s in _SENTENCE_END.split(text.strip()) if words(s)])


def star_paragraphs(text: str) -> list[str] | None:
    """Paragraphs separated by the markdown divider ``***``; None when one between two others is empty."""
    parts = _STAR_DIVIDER.split(text)
    inner = [p.strip() for p in parts]
    while inner and not inner[0]:
        inner.pop(0)
    while inner and not inner[-1]:
        inner.pop()
    return None if any(not p for p in inner) else inner


def blank_line_paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines (empty ones dropped)."""
    return [p.strip() for p in _BLANK_LINE.split(text.strip()) if p.strip()]


def has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", text, re.IGNORECASE) is not None


def count_word(text: str, word: str) -> int:
    return len(re.findall(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", text, re.IGNORECASE))


def loose_variants(text: str) -> list[str]:
    """IFEval's loose variants of a response: as it is, without its first line, without its last,
    without both — and each of those with markdown asterisks removed (non-empty ones only)."""
    lines = text.split("\n")
    base = [text, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    out: list[str] = []
    for v in [*base, *(b.replace("*", "") for b in base)]:
        if v.strip() and v not in out:
            out.append(v)
    return out


def strip_code_fence(text: str) -> str:
    """The body of a response wrapped in one markdown code fence (``\u0060\u0060\u0060json ... \u0060\u0060\u0060``), else the text."""
    return re.sub(r"^```[A-Za-z]*\s*|\s*```$", "", text.strip())
