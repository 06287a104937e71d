"""Structured (JSON) output: ask, parse leniently, validate against a schema, re-ask on failure.

Models wrap JSON in prose and code fences, leave trailing commas, use single quotes and stop
mid-object. :func:`parse_json_text` finds and repairs the JSON (with ``json-repair``);
:func:`validate` checks it against the JSON-schema subset used for LLM output; and
:func:`complete_structured` shows the model its bad answer and the validation error and asks
again, up to ``max_attempts`` times, before raising :class:`StructuredOutputError`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import json_repair
import orjson

from synthloom.llm.cache import request_origin
from synthloom.llm.types import ModelBackend, ModelError, Request, Response

_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_DECODER = json.JSONDecoder()
_MAX_STARTS = 32  # candidate '{' / '[' positions tried before falling back to repair


class JSONParseError(ValueError):
    """The text contains no JSON value that could be found or repaired."""


class SchemaValidationError(ValueError):
    """A parsed value does not match its schema; ``path`` points at the offending part."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class StructuredOutputError(ModelError):
    """The model gave no valid structured answer in ``attempts`` tries. ``raw_text`` is its last
    answer and ``validation_error`` why it was rejected, for the run's error rows."""

    def __init__(self, message: str, *, raw_text: str, validation_error: str, attempts: int) -> None:
        super().__init__(message)
        self.raw_text = raw_text
        self.validation_error = validation_error
        self.attempts = attempts


# -- parsing ---------------------------------------------------------------------------------


def parse_json_text(text: str, expect: str | None = None) -> Any:
    """The first JSON object or array in ``text`` (``expect`` = "object" / "array" to prefer one).

    Strips ``<think>`` blocks and code fences, tolerates prose around the JSON, and repairs
    trailing commas, single quotes, comments and truncation. Raises :class:`JSONParseError`.
    """
    text = _THINK.sub("", text).strip()
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1).strip(), text] if fenced else [text]
    for candidate in candidates:
        try:
            value = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(value, (dict, list)):
                return value
        for start in _starts(candidate, expect)[:_MAX_STARTS]:
            try:
                value, _ = _DECODER.raw_decode(candidate, start)
            except ValueError:
                value = _repair(candidate[start:])
                if value in ({}, []) and candidate[start : start + 2] not in ("{}", "[]"):
                    value = None  # json-repair's answer to text it could not read
            if isinstance(value, (dict, list)):
                return value
    raise JSONParseError("no JSON object or array found in the model output")


def _starts(text: str, expect: str | None) -> list[int]:
    opener = {"object": "{", "array": "["}.get(expect or "")
    positions = [i for i, ch in enumerate(text) if ch == "{" or ch == "["]
    if opener:
        positions.sort(key=lambda i: text[i] != opener)  # stable: preferred opener first
    return positions


def _repair(text: str) -> Any:
    try:
        return json_repair.loads(text)
    except Exception:  # noqa: BLE001 - json-repair gives up on some inputs by raising
        return None


# -- validation ------------------------------------------------------------------------------

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Check ``value`` against ``schema`` (type, properties, required, additionalProperties,
    items, enum, const, minimum/maximum and their exclusive forms, minItems/maxItems,
    minLength/maxLength, pattern, anyOf/oneOf). Raises :class:`SchemaValidationError`."""
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        unknown = [k for k in kinds if k not in _TYPES]
        if unknown:
            raise ValueError(f"schema at {path} uses unsupported type {unknown[0]!r}")
        if not any(_TYPES[k](value) for k in kinds):
            raise SchemaValidationError(path, f"expected {' or '.join(kinds)}, got {_describe(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaValidationError(path, f"{_short(value)} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        raise SchemaValidationError(path, f"expected {schema['const']!r}, got {_short(value)}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            problems = []
            for option in schema[key]:
                try:
                    validate(value, option, path)
                    break
                except SchemaValidationError as exc:
                    problems.append(str(exc))
            else:
                raise SchemaValidationError(path, "matches none of the allowed forms: " + "; ".join(problems))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_bounds(value, schema, path)
    elif isinstance(value, str):
        _check_string(value, schema, path)
    elif isinstance(value, list):
        _check_array(value, schema, path)
    elif isinstance(value, dict):
        _check_object(value, schema, path)


def _check_bounds(value: float, schema: dict[str, Any], path: str) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        raise SchemaValidationError(path, f"{value} is less than the minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise SchemaValidationError(path, f"{value} is more than the maximum {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise SchemaValidationError(path, f"{value} must be more than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        raise SchemaValidationError(path, f"{value} must be less than {schema['exclusiveMaximum']}")


def _check_string(value: str, schema: dict[str, Any], path: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise SchemaValidationError(path, f"string shorter than minLength {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaValidationError(path, f"string longer than maxLength {schema['maxLength']}")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise SchemaValidationError(path, f"{_short(value)} does not match pattern {schema['pattern']!r}")


def _check_array(value: list[Any], schema: dict[str, Any], path: str) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise SchemaValidationError(path, f"{len(value)} items, fewer than minItems {schema['minItems']}")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise SchemaValidationError(path, f"{len(value)} items, more than maxItems {schema['maxItems']}")
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            validate(item, items, f"{path}[{i}]")


def _check_object(value: dict[str, Any], schema: dict[str, Any], path: str) -> None:
    properties: dict[str, Any] = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in value:
            raise SchemaValidationError(path, f"missing required property {name!r}")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], f"{path}.{name}")
        elif extra is False:
            allowed = ", ".join(repr(p) for p in properties) or "none"
            raise SchemaValidationError(path, f"unexpected property {name!r} (allowed: {allowed})")
        elif isinstance(extra, dict):
            validate(item, extra, f"{path}.{name}")


def _describe(value: Any) -> str:
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value))
    if kind is None:
        kind = "integer" if isinstance(value, int) else "number"
    return f"{kind} {_short(value)}"


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- asking ----------------------------------------------------------------------------------


def parse_and_validate(text: str, schema: dict[str, Any]) -> Any:
    """Parse ``text`` leniently and validate it; raises JSONParseError / SchemaValidationError."""
    expect = schema.get("type") if isinstance(schema.get("type"), str) else None
    value = parse_json_text(text, expect)
    validate(value, schema)
    return value


def _reask(request: Request, bad_text: str, problem: str, attempt: int) -> Request:
    if request.messages is None:
        # a raw prompt cannot hold a conversation; a new seed asks for a different sample
        return request.replace(seed=(request.seed or 0) + attempt)
    messages = list(request.messages) + [
        {"role": "assistant", "content": bad_text},
        {
            "role": "user",
            "content": f"That answer is not valid: {problem}. Reply again with only the corrected JSON, "
            "matching the required schema, and nothing else.",
        },
    ]
    return request.replace(messages=tuple(messages))


async def complete_structured(
    backend: ModelBackend, request: Request, schema: dict[str, Any], max_attempts: int = 3
) -> tuple[Any, Response]:
    """Ask ``backend`` for JSON matching ``schema``; return (parsed value, the response it came from,
    with the value also in ``response.parsed``).

    The schema is sent for server-side constrained decoding when the backend's
    ``supports_json_schema`` is not False, and the answer is always validated here. With
    ``request.n > 1`` the first valid choice wins.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    origin = request_origin.set(request.fingerprint())  # the cache records it beside each attempt
    try:
        return await _complete_structured(backend, request, schema, max_attempts)
    finally:
        request_origin.reset(origin)


async def _complete_structured(backend: ModelBackend, request: Request, schema: dict[str, Any],
                               max_attempts: int) -> tuple[Any, Response]:
    if request.json_schema is None and getattr(backend, "supports_json_schema", None) is not False:
        request = request.replace(json_schema=schema)
    current = request
    problem = ""
    raw_text = ""
    for attempt in range(1, max_attempts + 1):
        response = await backend.complete(current)
        raw_text = response.text
        for choice in response.choices:
            try:
                response.parsed = parse_and_validate(choice.text, schema)
                return response.parsed, response
            except (JSONParseError, SchemaValidationError) as exc:
                if choice is response.choices[0]:
                    problem = str(exc)
        if attempt < max_attempts:
            current = _reask(request, raw_text, problem, attempt)
    raise StructuredOutputError(
        f"{backend.identity}: no valid JSON after {max_attempts} attempts: {problem}",
        raw_text=raw_text,
        validation_error=problem,
        attempts=max_attempts,
    )
