"""Format checks of tool calls (APIGen's first verification stage): the call names an offered tool and its arguments
validate against that tool's JSON schema (JSON Schema draft 2020-12, through ``jsonschema``).

:func:`call_problem` answers None or one short sentence naming the tool and the argument at fault, the reason a
rejected row carries.
"""

from __future__ import annotations

import difflib
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from synthloom.llm.tools import ToolCall
from synthloom.tools.spec import Tool

_KINDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
          "array": "a list", "object": "an object", "null": "null"}
_CACHE_SIZE = 4096
# id(parameters) -> (parameters, validator): keeping the dict alive keeps its id from being reused while cached
_validators: OrderedDict[int, tuple[dict[str, Any], Draft202012Validator]] = OrderedDict()


def call_problem(call: ToolCall | Mapping[str, Any], tools: Mapping[str, Tool] | Iterable[Tool]) -> str | None:
    """Why ``call`` is not a valid call of one of ``tools``, or None.

    ``call`` is a :class:`ToolCall`, a ``{"name", "arguments"}`` dict (arguments decoded or JSON text) or the OpenAI
    ``{"function": {"name", "arguments"}}`` form; ``tools`` maps names to tools (any iterable of tools also works).
    Arguments the schema does not declare are refused unless it sets ``additionalProperties`` to allow them.
    """
    by_name = tools if isinstance(tools, Mapping) else {t.name: t for t in tools}
    name, arguments, error = _unpack(call)
    tool = by_name.get(name) if isinstance(name, str) else None
    if tool is None:
        return _unknown_tool(name, list(by_name))
    where = f"call of {name!r}"
    if error is not None:
        return f"{where}: {error}"
    if not isinstance(arguments, dict):
        return f"{where}: the arguments must be a JSON object, not {_shown(arguments)}"
    schema = tool.parameters
    properties = schema.get("properties") or {}
    if not schema.get("additionalProperties", False):
        for key in arguments:
            if key not in properties:
                return f"{where}: unknown argument {key!r}{_suggestion(key, list(properties), 'its arguments')}"
    for key in schema.get("required") or ():
        if key not in arguments:
            return f"{where}: missing the required argument {key!r}"
    found = best_match(_validator(schema).iter_errors(arguments))
    return None if found is None else f"{where}: {_sentence(found)}"


def _unpack(call: Any) -> tuple[Any, Any, str | None]:
    if isinstance(call, ToolCall):
        return call.name, call.arguments, call.error
    if not isinstance(call, Mapping):
        return None, None, None
    fn = call.get("function") if isinstance(call.get("function"), Mapping) else call
    arguments = fn.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError as exc:
            return fn.get("name"), None, f"the arguments are not valid JSON ({exc})"
    return fn.get("name"), arguments, None


def _unknown_tool(name: Any, names: list[str]) -> str:
    if not isinstance(name, str):
        return f"the call names no tool (name is {_shown(name)})"
    return f"unknown tool {name!r}{_suggestion(name, names, 'the tools')}"


def _suggestion(word: str, names: list[str], what: str) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if not names:
        return f" ({what}: none)"
    shown = ", ".join(sorted(names)[:12]) + (", ..." if len(names) > 12 else "")
    return f" ({what}: {shown})"


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    key = id(schema)
    cached = _validators.get(key)
    if cached is not None and cached[0] is schema:
        _validators.move_to_end(key)
        return cached[1]
    validator = Draft202012Validator(schema)
    _validators[key] = (schema, validator)
    if len(_validators) > _CACHE_SIZE:
        _validators.popitem(last=False)
    return validator


def _sentence(error: Any) -> str:
    arg = _path(error.absolute_path)
    kind = error.validator
    if kind == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{arg} must be {' or '.join(_KINDS.get(k, k) for k in kinds)}, not {_shown(error.instance)}"
    if kind == "enum":
        return f"{arg} must be one of {', '.join(_shown(v) for v in error.validator_value)}, not {_shown(error.instance)}"
    if kind == "const":
        return f"{arg} must be {_shown(error.validator_value)}, not {_shown(error.instance)}"
    return f"{arg}: {error.message}"


def _path(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"argument {text!r}" if text else "the arguments"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
