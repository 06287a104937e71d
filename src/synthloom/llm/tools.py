"""Tool (function) calling in the model layer: the call type, request checks and reply parsing.

A request offers ``tools`` in the OpenAI function-tool form
``{"type": "function", "function": {"name", "description", "parameters"}}`` and may set
``tool_choice``: ``"auto"``, ``"none"``, ``"required"`` or ``{"type": "function", "function":
{"name": NAME}}``. A reply's choice carries :class:`ToolCall` objects (several for parallel calls).
The checks here return a problem sentence (or ``None``) so that ``types.Request`` can raise its
``InvalidRequest`` when the request is built; nothing here imports ``types``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import xxhash

TOOL_CHOICES = ("auto", "none", "required")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SCHEMA_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


@dataclass(slots=True)
class ToolCall:
    """One function call in a reply: ``arguments`` is the parsed JSON object, ``raw_arguments`` its
    JSON text (as the server sent it; re-serialised when the call came decoded, e.g. out of a
    grammar-constrained answer). When that text is not a JSON object, ``arguments`` is ``{}`` and ``error``
    says why (the row keeps the raw text; nothing crashes)."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments,
                             "raw_arguments": self.raw_arguments}
        if self.error is not None:
            d["error"] = self.error
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ToolCall:
        return ToolCall(d["id"], d["name"], d.get("arguments") or {}, d.get("raw_arguments", ""), d.get("error"))

    def to_message(self) -> dict[str, Any]:
        """The OpenAI wire form, as an assistant message's ``tool_calls`` entry carries it."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.raw_arguments}}

    @staticmethod
    def parse(call_id: str, name: str, arguments: Any) -> ToolCall:
        """A call from a reply's ``arguments``: a JSON string (parsed) or an already decoded object."""
        if isinstance(arguments, dict):
            return ToolCall(call_id, name, arguments, orjson.dumps(arguments).decode())
        raw = arguments if isinstance(arguments, str) else "" if arguments is None else str(arguments)
        try:
            value = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            return ToolCall(call_id, name, {}, raw, f"the arguments are not valid JSON ({exc})")
        if not isinstance(value, dict):
            return ToolCall(call_id, name, {}, raw, f"the arguments are JSON {type(value).__name__}, not an object")
        return ToolCall(call_id, name, value, raw)


def stable_call_id(fingerprint: str, choice: int, index: int) -> str:
    """A call id derived from the request (never random): the same request gets the same ids."""
    return "call_" + xxhash.xxh3_64_hexdigest(f"{fingerprint}:{choice}:{index}".encode())


def assistant_message(calls: list[ToolCall], content: str | None = None) -> dict[str, Any]:
    """The assistant message that records ``calls`` in a conversation (before the ``tool`` replies)."""
    return {"role": "assistant", "content": content, "tool_calls": [c.to_message() for c in calls]}


def tool_message(call_id: str, content: str) -> dict[str, Any]:
    """The ``role: tool`` message answering the call ``call_id``."""
    return {"role": "tool", "tool_call_id": call_id, "content": content}


# -- request checks --------------------------------------------------------------------------------


def tool_names(tools: Any) -> list[str]:
    return [t["function"]["name"] for t in tools or ()]


def tools_problem(tools: Any) -> str | None:
    """Why ``tools`` is not a valid list of OpenAI function tools, or None."""
    if not isinstance(tools, (list, tuple)) or not tools:
        return f"tools must be a non-empty list of function tools, not {_shown(tools)}"
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
            return f"{where} must be {{'type': 'function', 'function': {{'name', 'description', 'parameters'}}}}, " \
                   f"not {_shown(tool)}"
        fn = tool["function"]
        name = fn.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            return f"{where}: the function name must be 1-64 letters, digits, '_' or '-', not {_shown(name)}"
        where = f"tools[{i}] ({name})"
        if name in seen:
            return f"{where}: two tools are named {name!r}"
        seen.add(name)
        if "description" in fn and not isinstance(fn["description"], str):
            return f"{where}: description must be text, not {_shown(fn['description'])}"
        unknown = set(fn) - {"name", "description", "parameters", "strict"}
        if unknown:
            return f"{where}: unknown function field(s) {sorted(unknown)}; use name, description, parameters, strict"
        if "parameters" in fn:
            problem = _parameters_problem(fn["parameters"])
            if problem:
                return f"{where}: parameters {problem}"
    return None


def _parameters_problem(schema: Any) -> str | None:
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return f"must be a JSON schema of type 'object', not {_shown(schema)}"
    return _schema_problem(schema, "$")


def _schema_problem(schema: Any, path: str) -> str | None:
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"at {path} must be a JSON schema (an object), not {_shown(schema)}"
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        bad = [k for k in kinds if k not in _SCHEMA_TYPES]
        if bad:
            return f"at {path} uses unknown type {bad[0]!r} (one of {', '.join(sorted(_SCHEMA_TYPES))})"
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            return f"at {path}: properties must be an object, not {_shown(props)}"
        for key, sub in props.items():
            problem = _schema_problem(sub, f"{path}.{key}")
            if problem:
                return problem
    required = schema.get("required")
    if required is not None:
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            return f"at {path}: required must be a list of property names, not {_shown(required)}"
        missing = [r for r in required if props is not None and r not in props]
        if missing:
            return f"at {path}: required names {missing[0]!r}, which is not in properties"
    if "items" in schema:
        problem = _schema_problem(schema["items"], f"{path}[]")
        if problem:
            return problem
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            if not isinstance(schema[key], list) or not schema[key]:
                return f"at {path}: {key} must be a non-empty list of schemas"
            for j, sub in enumerate(schema[key]):
                problem = _schema_problem(sub, f"{path}.{key}[{j}]")
                if problem:
                    return problem
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        return f"at {path}: enum must be a non-empty list, not {_shown(schema['enum'])}"
    return None


def tool_choice_problem(choice: Any, tools: Any) -> str | None:
    """Why ``choice`` is not a valid ``tool_choice`` for ``tools`` (already checked), or None."""
    if choice is None:
        return None
    if tools is None:
        return f"tool_choice {_shown(choice)} needs tools: the request offers none"
    if isinstance(choice, str):
        if choice in TOOL_CHOICES:
            return None
        return f"tool_choice must be one of {', '.join(TOOL_CHOICES)} or {{'type': 'function', 'function': " \
               f"{{'name': NAME}}}}, not {_shown(choice)}"
    fn = choice.get("function") if isinstance(choice, dict) and choice.get("type") == "function" else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str):
        return f"tool_choice must be one of {', '.join(TOOL_CHOICES)} or {{'type': 'function', 'function': " \
               f"{{'name': NAME}}}}, not {_shown(choice)}"
    names = tool_names(tools)
    if name not in names:
        return f"tool_choice names the function {name!r}, which is not among the tools ({', '.join(names)})"
    return None


def chosen_tool(choice: Any) -> str | None:
    """The function name a ``tool_choice`` forces, or None."""
    return choice["function"]["name"] if isinstance(choice, dict) else None


def message_tool_problem(i: int, role: str, message: dict[str, Any]) -> str | None:
    """Why message ``i``'s tool fields are malformed (``tool_call_id`` of a ``tool`` message, the
    ``tool_calls`` of an assistant message), or None."""
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            return f"message {i} (tool) needs a tool_call_id: the id of the call it answers"
    calls = message.get("tool_calls")
    if calls is None:
        return None
    if role != "assistant":
        return f"message {i} ({role}) has tool_calls; only assistant messages make calls"
    if not isinstance(calls, (list, tuple)) or not calls:
        return f"message {i} (assistant): tool_calls must be a non-empty list, not {_shown(calls)}"
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not (isinstance(call, dict) and isinstance(call.get("id"), str) and call.get("type") == "function"
                and isinstance(fn, dict) and isinstance(fn.get("name"), str) and isinstance(fn.get("arguments"), str)):
            return f"message {i} (assistant): tool_calls[{j}] must be {{'id', 'type': 'function', 'function': " \
                   f"{{'name', 'arguments': JSON text}}}} (ToolCall.to_message() makes one), not {_shown(call)}"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- constraining a model to call --------------------------------------------------------------


def call_schema(tool: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of one call of ``tool``: ``{"name": NAME, "arguments": <its parameters>}``."""
    fn = tool["function"]
    params = fn.get("parameters") or {"type": "object", "properties": {}, "additionalProperties": False}
    return {"type": "object", "properties": {"name": {"const": fn["name"]}, "arguments": params},
            "required": ["name", "arguments"], "additionalProperties": False}


def calls_schema(tools: Any, choice: Any) -> dict[str, Any]:
    """The JSON schema a forced call must satisfy: one call of the chosen function, or (``required``)
    one call of any tool or a list of them (parallel calls)."""
    name = chosen_tool(choice)
    if name is not None:
        return call_schema(next(t for t in tools if t["function"]["name"] == name))
    options = [call_schema(t) for t in tools]
    one = options[0] if len(options) == 1 else {"anyOf": options}
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}


def calls_from_json(text: str, fingerprint: str, choice: int) -> list[ToolCall] | None:
    """The calls in ``text`` written in the :func:`calls_schema` form, or None when it does not parse."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in items):
        return None
    return [ToolCall.parse(stable_call_id(fingerprint, choice, i), v["name"], v.get("arguments"))
            for i, v in enumerate(items)]
