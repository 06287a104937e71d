"""Reading UltraFeedback's annotations: the JSON a schema constrains, or the paper's text format.

One annotation per (aspect, text) has the same shape whatever the aspect, so every completion's
``ratings`` has the same columns: ``{"rating": int | None, "rationale": str, "type": list[int] | None,
"type_rationale": str | None, "problem": str | None}``. ``rating`` is ``None`` — with ``problem``
saying why — when the judge said "N/A" (honesty, creative writing), gave a rating off the 1–5
scale, or wrote nothing readable for that text; the completion itself is always kept.

The text format is the one the paper's templates ask for (``annotate_preference.py``'s ``process``):
per text a ``#### Output for Text i`` section with ``Rating:``/``Rationale:`` lines, preceded by
``Type:``/``Rationale:`` for truthfulness and helpfulness.
"""

from __future__ import annotations

import re
from typing import Any

ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")
#: aspects whose annotation starts with Type identifiers (1-3) and their rationale
TYPE_HINTS = {
    "truthfulness": 'List of numeric identifiers (or "None" if no hallucination observed) of hallucination types, '
                    'separated by commas',
    "helpfulness": 'List of numeric identifiers (or "None") for informativeness type, separated by commas',
}
#: aspects that may be rated "N/A" (honesty: creative writing tasks)
NOT_APPLICABLE = frozenset({"honesty"})
LO, HI = 1, 5
OVERALL_LO, OVERALL_HI = 1, 10

_SECTION = re.compile(r"^\s*#+\s*Output\s+for\s+Text\s*(\d+)\s*:?\s*$", re.IGNORECASE | re.MULTILINE)
_TYPED = re.compile(r"Type:\s*(.+?)\n\s*Rationale:\s*(.+?)\n\s*Rating:\s*(.+?)\n\s*Rationale:\s*(.+)",
                    re.IGNORECASE | re.DOTALL)
_PLAIN = re.compile(r"Rating:\s*(.+?)\n\s*Rationale:\s*(.+)", re.IGNORECASE | re.DOTALL)
_RATING_ONLY = re.compile(r"Rating:\s*([^\n]+)", re.IGNORECASE)
_NA = re.compile(r"^\W*n\s*/?\s*a\W*$", re.IGNORECASE)
_INT = re.compile(r"\b\d+\b")
_OVERALL = re.compile(r"Overall\s+Score\s*:\s*([^\n]*)", re.IGNORECASE)


def annotation(rating: int | None = None, rationale: str = "", *, type_: list[int] | None = None,
               type_rationale: str | None = None, problem: str | None = None) -> dict[str, Any]:
    """One annotation in the shape every aspect shares."""
    return {"rating": rating, "rationale": rationale, "type": type_, "type_rationale": type_rationale,
            "problem": problem}


def unreadable(problem: str) -> dict[str, Any]:
    """The annotation of a text the judge gave nothing readable for."""
    return annotation(problem=problem)


def read_rating(value: Any, aspect: str, lo: int = LO, hi: int = HI) -> tuple[int | None, str | None]:
    """``(rating, problem)`` from what the judge wrote: an int on the scale, "N/A" where the aspect
    allows it (honesty), the first integer of a string ("4 (almost there)"); otherwise ``None`` and why."""
    if isinstance(value, bool):
        return None, f"rating {value!r} is not a number"
    if isinstance(value, str):
        text = value.strip()
        if _NA.match(text):
            if aspect in NOT_APPLICABLE:
                return None, "not applicable (N/A)"
            return None, f"N/A is not a rating for {aspect}"
        found = _INT.search(text)
        if not found:
            return None, f"no rating in {text[:40]!r}"
        value = int(found.group())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        return None, f"rating {value!r} is not an integer"
    if not lo <= value <= hi:
        return None, f"rating {value} is outside {lo}-{hi}"
    return value, None


def read_types(value: Any) -> list[int]:
    """Type identifiers (1-3) from a list or a string such as "1, 3" or "None"."""
    items = value if isinstance(value, list) else _INT.findall(str(value or ""))
    out = []
    for item in items:
        try:
            v = int(item)
        except (TypeError, ValueError):
            continue
        if 1 <= v <= 3 and v not in out:
            out.append(v)
    return out


# -- the JSON form ----------------------------------------------------------------------------------------
def text_schema(aspect: str, rationale_chars: int) -> dict[str, Any]:
    """The schema of one text's annotation (properties in the paper's order)."""
    rationale = {"type": "string", "maxLength": rationale_chars}
    ratings: list[Any] = list(range(LO, HI + 1)) + (["N/A"] if aspect in NOT_APPLICABLE else [])
    props: dict[str, Any] = {}
    if aspect in TYPE_HINTS:
        props["type"] = {"type": "array", "items": {"enum": [1, 2, 3]}, "maxItems": 3}
        props["type_rationale"] = rationale
    props["rating"] = {"enum": ratings}
    props["rationale"] = rationale
    return {"type": "object", "properties": props, "required": list(props)}


def rating_schema(aspect: str, n_texts: int, rationale_chars: int) -> dict[str, Any]:
    """The schema of one aspect's reply for ``n_texts`` texts: ``{"text_1": {...}, ...}``."""
    keys = [f"text_{i}" for i in range(1, n_texts + 1)]
    return {"type": "object", "properties": {k: text_schema(aspect, rationale_chars) for k in keys}, "required": keys}


def json_shape(aspect: str, n_texts: int) -> str:
    """How the JSON answer looks, for the prompt."""
    typed = '"type": [<identifiers>], "type_rationale": "<rationale>", ' if aspect in TYPE_HINTS else ""
    one = '{' + typed + '"rating": <rating>, "rationale": "<rationale>"}'
    shown = [f'"text_{i}": {one}' for i in range(1, min(n_texts, 2) + 1)]
    return "{" + ", ".join(shown) + (", ..." if n_texts > 2 else "") + "}"


def read_json(aspect: str, value: Any, n_texts: int) -> list[dict[str, Any]]:
    """The annotations of ``n_texts`` texts from a parsed JSON reply (missing texts are unreadable)."""
    out = []
    for i in range(1, n_texts + 1):
        item = value.get(f"text_{i}") if isinstance(value, dict) else None
        if not isinstance(item, dict):
            out.append(unreadable(f"the reply has no annotation for text {i}"))
            continue
        rating, problem = read_rating(item.get("rating"), aspect)
        typed = aspect in TYPE_HINTS
        out.append(annotation(rating, str(item.get("rationale") or "").strip(),
                              type_=read_types(item.get("type")) if typed else None,
                              type_rationale=str(item.get("type_rationale") or "").strip() if typed else None,
                              problem=problem))
    return out


# -- the paper's text form --------------------------------------------------------------------------------
def _sections(text: str, n_texts: int) -> dict[int, str]:
    """Text number -> its part of the reply: by ``Output for Text i`` headers, else (as the paper's
    parser does) by blank-line-separated blocks when there are exactly ``n_texts`` of them."""
    heads = list(_SECTION.finditer(text))
    if heads:
        ends = [h.start() for h in heads[1:]] + [len(text)]
        return {int(h.group(1)): text[h.end():end].strip() for h, end in zip(heads, ends)}
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return {i + 1: b for i, b in enumerate(blocks)} if len(blocks) == n_texts else {}


def read_text(aspect: str, text: str, n_texts: int) -> list[dict[str, Any]]:
    """The annotations of ``n_texts`` texts from a reply in the paper's text format."""
    sections = _sections(text or "", n_texts)
    out = []
    for i in range(1, n_texts + 1):
        part = sections.get(i)
        if part is None:
            out.append(unreadable(f"the reply has no output for text {i}"))
            continue
        typed = _TYPED.search(part) if aspect in TYPE_HINTS else None
        if typed:
            rating, problem = read_rating(typed.group(3), aspect)
            out.append(annotation(rating, typed.group(4).strip(), type_=read_types(typed.group(1)),
                                  type_rationale=typed.group(2).strip(), problem=problem))
            continue
        plain = _PLAIN.search(part)
        if plain:
            rating, problem = read_rating(plain.group(1), aspect)
            out.append(annotation(rating, plain.group(2).strip(), type_=[] if aspect in TYPE_HINTS else None,
                                  problem=problem))
            continue
        only = _RATING_ONLY.search(part)
        if only:
            rating, problem = read_rating(only.group(1), aspect)
            out.append(annotation(rating, "", problem=problem))
            continue
        out.append(unreadable(f"no 'Rating:' line in the output for text {i}"))
    return out


# -- the overall score of the critique ---------------------------------------------------------------------
def read_overall(value: Any) -> tuple[str, float | None, str | None]:
    """``(feedback, overall score 1-10 or None, problem)`` from a critique reply: a parsed JSON
    ``{"feedback", "overall_score"}`` or the paper's ``### Feedback ... Overall Score: n`` text
    (``"8/10"`` reads as 8)."""
    if isinstance(value, dict):
        feedback, raw = str(value.get("feedback") or "").strip(), value.get("overall_score")
    else:
        text = str(value or "")
        found = _OVERALL.search(text)
        feedback = (text[:found.start()] if found else text).strip()
        feedback = re.sub(r"^#+\s*Feedback\s*", "", feedback, flags=re.IGNORECASE).strip()
        if not found:
            return feedback, None, "no 'Overall Score:' in the critique"
        raw = found.group(1).split("/")[0]
    score, problem = read_rating(raw, "overall", OVERALL_LO, OVERALL_HI)
    return feedback, None if score is None else float(score), problem
