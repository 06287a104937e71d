"""JSON schemas for judges' replies, so that a model decoding under a grammar always gives a verdict.

A judge, tagger or score-reading step asks with :meth:`ModelStep.call_constrained` and one of these
schemas: where the backend enforces a schema (llama.cpp turns it into a grammar; an OpenAI-compatible
server that accepts ``response_format``) the reply *is* the JSON object, so even a 135M model returns
a readable score; where it cannot, the request goes without the schema and the step reads the reply
with its free-text parser (``parsing.py``), which reads such JSON objects too.

Two things make the constrained reply always hold the verdict:

* the verdict is an ``enum`` of the allowed values (llama.cpp's grammar converter does not enforce
  ``minimum``/``maximum``, an enum it does), an ``integer``/``number`` only for wide scales;
* the explanation comes first (the judge reasons, then scores, as the rubric prompts ask) but is
  capped with ``maxLength`` so that the verdict still fits in ``max_tokens``: one character a token
  after 24 tokens for the JSON around it, at most 400 characters. English prose takes about four
  characters a token, but a small model under a grammar can fill the field with digits or spaces at
  one character a token (seen with SmolLM2-135M: "1, 2, 3, 4, ..."), so the cap assumes the worst
  ASCII case. With a ``max_tokens`` too small for any explanation the schema holds the verdict alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: tokens kept for the JSON around the explanation (braces, keys, quotes, the verdict)
JSON_OVERHEAD_TOKENS = 24
#: the most characters an explanation may take
MAX_REASON_CHARS = 400
#: the widest integer scale written as an enum (wider: an integer with minimum/maximum)
MAX_ENUM_VALUES = 21


def reason_chars(max_tokens: int | None, parts: int = 1) -> int:
    """The ``maxLength`` of each of ``parts`` explanations so the verdicts fit in ``max_tokens``
    (``None``: the longest, 0: no room for an explanation)."""
    if max_tokens is None:
        return MAX_REASON_CHARS
    budget = (int(max_tokens) - JSON_OVERHEAD_TOKENS * max(1, parts)) // max(1, parts)
    return max(0, min(MAX_REASON_CHARS, budget)) if budget >= 16 else 0


def value_schema(values: Sequence[Any] | tuple[float, float]) -> dict[str, Any]:
    """The schema of one verdict: ``values`` is the list of allowed labels or integers, or a
    ``(lo, hi)`` pair of a numeric scale (an enum of its integers when they are few enough)."""
    if isinstance(values, tuple) and len(values) == 2 and all(isinstance(v, (int, float)) for v in values):
        lo, hi = values
        if float(lo).is_integer() and float(hi).is_integer() and hi - lo < MAX_ENUM_VALUES:
            return {"type": "integer", "enum": list(range(int(lo), int(hi) + 1))}
        kind = "integer" if float(lo).is_integer() and float(hi).is_integer() else "number"
        return {"type": kind, "minimum": _plain(lo), "maximum": _plain(hi)}
    values = list(values)
    if all(isinstance(v, str) for v in values):
        return {"type": "string", "enum": values}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return {"type": "integer", "enum": values}
    return {"enum": values}


def verdict_schema(key: str, values: Sequence[Any] | tuple[float, float], *, reason_key: str | None = "rationale",
                   max_tokens: int | None = None) -> dict[str, Any]:
    """``{reason_key: str (capped), key: verdict}``: one verdict with its explanation first (see the
    module docstring); ``reason_key=None`` asks for the verdict alone."""
    chars = reason_chars(max_tokens) if reason_key else 0
    properties: dict[str, Any] = {}
    if chars:
        properties[reason_key] = {"type": "string", "maxLength": chars}
    properties[key] = value_schema(values)
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def aspects_schema(aspects: Sequence[str], lo: float, hi: float, *, max_tokens: int | None = None) -> dict[str, Any]:
    """``{aspect: {"rationale": str, "rating": n}, ...}``: several aspects in one reply, each
    explanation capped so every rating fits in ``max_tokens``."""
    chars = reason_chars(max_tokens, parts=len(aspects))
    item: dict[str, Any] = {"rationale": {"type": "string", "maxLength": chars}} if chars else {}
    item["rating"] = value_schema((lo, hi))
    one = {"type": "object", "properties": item, "required": list(item), "additionalProperties": False}
    return {"type": "object", "properties": {a: one for a in aspects}, "required": list(aspects),
            "additionalProperties": False}


def constrained_value(text: str, schema: dict[str, Any]) -> Any:
    """The value of one reply ``text`` when it matches ``schema`` (a constrained answer), else ``None``
    (the step reads the text as free text). For choices past the first, which
    :meth:`ModelStep.call_constrained` does not parse."""
    from ...llm.structured import JSONParseError, SchemaValidationError, parse_and_validate

    try:
        return parse_and_validate(text or "", schema)
    except (JSONParseError, SchemaValidationError):
        return None


def _plain(x: float) -> int | float:
    return int(x) if float(x).is_integer() and not math.isinf(x) else float(x)
