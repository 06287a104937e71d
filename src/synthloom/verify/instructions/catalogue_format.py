"""Constraints on a response's shape: placeholders, postscript, bullet and numbered lists, fixed
answers, highlights, sections, JSON, titles, markdown headings and tables, two responses, the
repeated prompt, start / end phrases and quotation. IFEval's ids and arguments (Zhou et al. 2023,
arXiv:2311.07911) plus four of synthloom's own (numbered items, headings, tables, start phrase)."""

from __future__ import annotations

import json
import re
from typing import Any

from .constraint import Constraint, register
from .text import strip_code_fence

END_PHRASES = ("Is there anything else I can help with?", "Let me know if you have additional questions.",
               "Any other questions?", "That is all you need to know.")
START_PHRASES = ("In short,", "Here is my answer:", "Good question.", "To begin,")
ANSWER_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
SECTION_WORDS = ("Section", "SECTION", "PART", "Part")
MARKERS = ("P.S.", "P.P.S")


def _json_ok(text: str) -> bool:
    try:
        json.loads(strip_code_fence(text))
    except (ValueError, RecursionError):
        return False
    return True


def _postscript(text: str, marker: str) -> bool:
    m = marker.lower()
    if m == "p.p.s":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif m == "p.s.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(m) + r".*$"
    return re.search(pattern, text.lower(), re.MULTILINE) is not None


def _bullets(text: str) -> int:
    return len(re.findall(r"^\s*[*-][^\S\n]+\S", text, re.MULTILINE))


def _numbered(text: str) -> int:
    return len(re.findall(r"^\s*\d+[.)][^\S\n]+\S", text, re.MULTILINE))


def _highlights(text: str) -> int:
    singles = [h for h in re.findall(r"(?<!\*)\*([^\n*]+)\*(?!\*)", text) if h.strip()]
    doubles = [h for h in re.findall(r"\*\*([^\n*]+)\*\*", text) if h.strip()]
    return len(singles) + len(doubles)


def _sections(text: str, word: str) -> int:
    return len(re.split(r"\s?" + re.escape(word) + r"\s?\d+\s?", text)) - 1


def _title(text: str) -> bool:
    return any(t.strip() for t in re.findall(r"<<([^\n]+?)>>", text))


def _headings(text: str) -> int:
    return len(re.findall(r"^\s{0,3}#{1,6}[^\S\n]+\S", text, re.MULTILINE))


def _table_rows(text: str) -> int:
    rows = [ln.strip() for ln in text.splitlines() if re.match(r"^\s*\|.*\|\s*$", ln)]
    divider = next((i for i, r in enumerate(rows) if re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", r)), None)
    return 0 if divider is None or divider == 0 else len(rows) - divider - 1


def _two_responses(text: str) -> bool:
    parts = [p.strip() for p in text.split("******")]
    kept = [p for p in parts if p]
    return len(kept) == 2 and len(parts) - len(kept) <= 2 and kept[0] != kept[1] and "******" in text


def _quoted(text: str) -> bool:
    t = text.strip()
    return len(t) > 1 and t[0] == '"' and t[-1] == '"'


def _starts(text: str, k: dict[str, Any]) -> bool:
    return text.strip().lower().startswith(str(k["start_phrase"]).strip().lower())


register(
    Constraint("detectable_content:number_placeholders", ("num_placeholders",),
               "The response must contain at least {num_placeholders} placeholders represented by square brackets, "
               "such as [address].",
               lambda t, k: len(re.findall(r"\[[^\[\]\n]+\]", t)) >= int(k["num_placeholders"]),
               lambda r, p: {"num_placeholders": r.randint(1, 4)}),
    Constraint("detectable_content:postscript", ("postscript_marker",),
               "At the end of your response, please explicitly add a postscript starting with {postscript_marker}",
               lambda t, k: _postscript(t, str(k["postscript_marker"])),
               lambda r, p: {"postscript_marker": r.choice(MARKERS)}),
    Constraint("detectable_format:number_bullet_lists", ("num_bullets",),
               "Your answer must contain exactly {num_bullets} bullet points. Use the markdown bullet points such as:\n"
               "* This is point 1.\n* This is point 2",
               lambda t, k: _bullets(t) == int(k["num_bullets"]), lambda r, p: {"num_bullets": r.randint(2, 6)}),
    Constraint("detectable_format:number_numbered_items", ("num_items",),
               "Your answer must be a numbered list of exactly {num_items} items (1., 2., ...).",
               lambda t, k: _numbered(t) == int(k["num_items"]), lambda r, p: {"num_items": r.randint(2, 6)}),
    Constraint("detectable_format:constrained_response", (),
               'Answer with one of the following options: ("My answer is yes.", "My answer is no.", "My answer is maybe.")',
               lambda t, k: sum(o in t for o in ANSWER_OPTIONS) == 1, lambda r, p: {}),
    Constraint("detectable_format:number_highlighted_sections", ("num_highlights",),
               "Highlight at least {num_highlights} sections in your answer with markdown, i.e. *highlighted section*.",
               lambda t, k: _highlights(t) >= int(k["num_highlights"]), lambda r, p: {"num_highlights": r.randint(1, 4)}),
    Constraint("detectable_format:multiple_sections", ("section_spliter", "num_sections"),
               "Your response must have {num_sections} sections. Mark the beginning of each section with {section_spliter} X, "
               "such as: {section_spliter} 1",
               lambda t, k: _sections(t, str(k["section_spliter"])) >= int(k["num_sections"]),
               lambda r, p: {"section_spliter": r.choice(SECTION_WORDS), "num_sections": r.randint(2, 5)}),
    Constraint("detectable_format:json_format", (),
               "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.",
               lambda t, k: _json_ok(t), lambda r, p: {}),
    Constraint("detectable_format:title", (),
               "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
               lambda t, k: _title(t), lambda r, p: {}),
    Constraint("detectable_format:markdown_headings", ("num_headings",),
               "Organise your answer under at least {num_headings} markdown headings (lines starting with #).",
               lambda t, k: _headings(t) >= int(k["num_headings"]), lambda r, p: {"num_headings": r.randint(2, 4)}),
    Constraint("detectable_format:markdown_table", ("num_rows",),
               "Include a markdown table with a header row and at least {num_rows} rows of data.",
               lambda t, k: _table_rows(t) >= int(k["num_rows"]), lambda r, p: {"num_rows": r.randint(2, 5)}),
    Constraint("combination:two_responses", (),
               "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******.",
               lambda t, k: _two_responses(t), lambda r, p: {}),
    Constraint("combination:repeat_prompt", ("prompt_to_repeat",),
               "First repeat the request word for word without change, then give your answer (1. do not say any words or "
               "characters before repeating the request; 2. the request you need to repeat does not include this sentence)",
               lambda t, k: t.strip().lower().startswith(str(k["prompt_to_repeat"]).strip().lower()),
               lambda r, p: {"prompt_to_repeat": p.strip()}),
    Constraint("startend:end_checker", ("end_phrase",),
               "Finish your response with this exact phrase {end_phrase}. No other words should follow this phrase.",
               lambda t, k: t.strip().lower().endswith(str(k["end_phrase"]).strip().lower()),
               lambda r, p: {"end_phrase": r.choice(END_PHRASES)}),
    Constraint("startend:start_phrase", ("start_phrase",), "Begin your response with the exact phrase {start_phrase}",
               _starts, lambda r, p: {"start_phrase": r.choice(START_PHRASES)}),
    Constraint("startend:quotation", (), "Wrap your entire response with double quotation marks.",
               lambda t, k: _quoted(t), lambda r, p: {}),
)
