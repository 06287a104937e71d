"""Parsers for what models write back in the taxonomy-, attribute- and document-driven instruction
methods (GLAN, LAB, Nemotron-style generators, Humpback, AgentInstruct): numbered or bulleted lists,
blocks between tags (InstructLab's ``[Start of Question]`` … ``[End of Question]``), integer scores
from judges, and leading labels such as ``Instruction:``.

Every parser is a pure function of the text, tolerant of the junk small models add (preambles,
closing remarks, markdown, a list cut off by ``max_tokens``) and returns ``None`` or ``[]`` when
nothing usable is there, so the calling step can turn that into an error or rejected row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# "1. x", "1) x", "(1) x", "#1: x", "Question 1: x", "Q1. x", "Task 3 - x", "- x", "* x", "• x"
_ITEM = re.compile(
    r"""^\s*(?:
        \(?\d{1,3}[.):]\)?\s+                                   # 1.  1)  (1)  1:
      | \#\s?\d{1,3}[.):]?\s+                                   # #1:
      | (?:question|task|prompt|instruction|problem|q)\s*\#?\d{1,3}\s*[.):\-–]\s*  # Question 1:
      | [-*•]\s+                                                # bullets
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_MARKDOWN = re.compile(r"\*\*|__|`")
_QUOTES = "\"'“”‘’"
_LABEL = re.compile(r"^\s*(?:\*\*)?\s*([A-Za-z][A-Za-z \-]{0,30}?)\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*")


def clean_item(text: str) -> str:
    """One list item without markdown emphasis, surrounding quotes or trailing spaces."""
    text = _MARKDOWN.sub("", text).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def parse_list(
    text: str,
    *,
    truncated: bool = False,
    max_items: int | None = None,
    fallback_lines: bool = True,
    labels: Iterable[str] = (),
) -> list[str]:
    """Items of a numbered or bulleted list.

    Lines before the first item (``Here are 5 questions:``) are dropped; a line that does not
    start an item continues the current one until a blank line; text after a blank line that does
    not start a new item (``I hope this helps!``) is dropped. When the response was cut off
    (``truncated``) the last item is dropped, since it may be partial. Items are cleaned, labels
    such as ``Question:`` removed (``labels``), and repeats dropped (case-insensitive). Without any
    numbering or bullets the non-empty lines are the items (``fallback_lines``), minus a preamble
    line that ends with ``:``.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    items: list[str] = []
    current: list[str] | None = None
    saw_item = False
    for line in lines:
        m = _ITEM.match(line)
        if m:
            if current is not None:
                items.append(" ".join(current))
            current = [line[m.end():].strip()]
            saw_item = True
        elif not line.strip():
            if current is not None:
                items.append(" ".join(current))
                current = None
        elif current is not None:
            current.append(line.strip())
    if current is not None:
        items.append(" ".join(current))
    if not saw_item and fallback_lines:
        items = [ln.strip() for ln in lines if ln.strip()]
        if len(items) > 1 and items[0].rstrip().endswith(":"):
            items = items[1:]
    if truncated and items:
        items = items[:-1]
    label_set = {lb.lower() for lb in labels}
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        item = clean_item(item)
        if label_set:
            item = strip_label(item, label_set)
        key = " ".join(item.lower().split())
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(item)
        if max_items is not None and len(out) >= max_items:
            break
    return out


def strip_label(text: str, labels: Iterable[str]) -> str:
    """``Instruction: do x`` -> ``do x`` when the label (case-insensitive) is one of ``labels``."""
    wanted = {lb.lower() for lb in labels}
    m = _LABEL.match(text)
    if m and m.group(1).strip().lower() in wanted:
        return clean_item(text[m.end():])
    return text


def parse_tagged(text: str, start: str, end: str, *, truncated: bool = False) -> list[str]:
    """Contents of every ``start`` … ``end`` block (tags matched case-insensitively). A last block
    with a start tag but no end tag is kept unless the response was ``truncated``."""
    pattern = re.compile(re.escape(start) + r"(.*?)(" + re.escape(end) + r"|(?=" + re.escape(start) + r")|\Z)",
                         re.IGNORECASE | re.DOTALL)
    out = []
    for m in pattern.finditer(text):
        open_at_end = not m.group(2) and m.end() == len(text)
        body = m.group(1).strip()
        if open_at_end and truncated:
            continue
        if body:
            out.append(body)
    return out


_SCORE_LABEL = re.compile(
    r"\b(?:score|rating|rated|grade|rate(?:\s+(?:it|this(?:\s+\w+)?|the\s+\w+))?)\s*(?:\*\*)?\s*(?:is|of|=|:|-|–)?\s*(?:\*\*)?\s*\[?\s*(-?\d+(?:\.\d+)?)\s*\]?"
    r"(?:\s*(?:/|out of)\s*(\d+))?",
    re.IGNORECASE,
)
_LONE_NUMBER = re.compile(r"^\s*(?:\*\*)?\s*\[?\s*(-?\d+(?:\.\d+)?)\s*\]?\s*(?:\*\*)?\s*(?:/\s*(\d+))?\s*\.?\s*$")


def _as_int(value: str, allowed: set[int]) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    if not number.is_integer() or int(number) not in allowed:
        return None
    return int(number)


def parse_score(text: str, allowed: Iterable[int], *, tags: tuple[str, str] | None = None) -> int | None:
    """An integer score in ``allowed`` from a judge's reply, or ``None``.

    Looked for, in order: inside ``tags`` (``[Start of Score] 2 [End of Score]``); the last
    ``Score: N`` / ``Rating: N`` / ``Score: N/5`` (markdown allowed); a last line that is only a
    number. A placeholder (``Score: <rating>``), a value outside ``allowed``, a fraction (``4.5``)
    or a denominator that is not the top of the scale (``3/10`` on a 1–5 scale) gives ``None``.
    """
    allowed_set = set(allowed)
    top = max(allowed_set)
    if tags is not None:
        blocks = parse_tagged(text, *tags)
        for block in reversed(blocks):
            m = _LONE_NUMBER.match(block) or _SCORE_LABEL.search(block)
            if m:
                return _checked(m, allowed_set, top)
    labelled = list(_SCORE_LABEL.finditer(text))
    if labelled:
        return _checked(labelled[-1], allowed_set, top)
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        m = _LONE_NUMBER.match(lines[-1])
        if m:
            return _checked(m, allowed_set, top)
    return None


def _checked(m: re.Match[str], allowed: set[int], top: int) -> int | None:
    denominator = m.group(2)
    if denominator is not None and int(denominator) != top:
        return None
    return _as_int(m.group(1), allowed)


def score_explanation(text: str, *, tags: tuple[str, str] | None = None) -> str:
    """The judge's reasoning: the tagged block when present, else the text before the score line."""
    if tags is not None:
        blocks = parse_tagged(text, *tags)
        if blocks:
            return blocks[0]
    labelled = list(_SCORE_LABEL.finditer(text))
    if labelled:
        return text[: labelled[-1].start()].strip()
    return text.strip()


def first_paragraph(text: str) -> str:
    """The first non-empty paragraph (blank-line separated) of ``text``, stripped."""
    for para in re.split(r"\n\s*\n", text.strip()):
        if para.strip():
            return para.strip()
    return ""
