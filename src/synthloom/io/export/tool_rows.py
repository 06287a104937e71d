"""Tool-use rows as one conversation shape, whatever method wrote them (the input side of the exports).

Two row layouts exist (see ``docs/export.md``):

* single-turn rows (APIGen, ToolACE, ToolAlpaca): ``query``, ``tools``, ``calls`` (``{"id", "name",
  "arguments"}``), ``results`` (one ``CallResult.to_dict()`` per call, same order), ``answer``, ``form``,
  ``simulated``;
* multi-turn rows (APIGen-MT): ``messages`` (OpenAI chat messages with ``tool_calls`` and ``role: tool``
  replies) and ``tools``.

ToolAlpaca's single-turn rows also carry the ``messages`` of their conversation, whose rounds of calls may depend
on each other; when a row has ``messages`` the conversation is read from them (its skips and BFCL category still
follow the single-turn columns).

:func:`conversation` turns either into a :class:`Conversation`: an optional system prompt, OpenAI-style messages
whose call ``arguments`` are JSON objects (not JSON text) and whose ``tool`` replies carry the called tool's
``name``, and the offered tools. Each export format is then a function of that conversation.

Parquet shards give these nested columns back exactly: the shard writer stores a column of dicts as JSON text
whenever a struct type would not round-trip (``io/formats.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SINGLE_TURN_COLUMNS = ("query", "tools", "calls", "results")
MULTI_TURN_COLUMNS = ("messages", "tools")
TOOL_COLUMNS = frozenset({"tools", "calls", "results", "messages"})
_ROLES = ("system", "user", "assistant", "tool")


class ToolRowError(ValueError):
    """A row that claims to be a tool-use row but cannot be read as one; the message says what is wrong."""


@dataclass
class Conversation:
    """One tool-use example: ``messages`` exclude the system prompt; assistant ``tool_calls`` are
    ``{"id", "type": "function", "function": {"name", "arguments": dict}}``; a ``tool`` message has
    ``tool_call_id``, ``name``, ``content`` (text) and, for the formats that embed it, ``value`` (the
    result as a JSON value) and ``failed`` (the call raised, timed out, ...)."""

    system: str | None
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]

    def calls(self) -> list[dict[str, Any]]:
        """Every call the assistant makes, in order, as ``{"id", "name", "arguments"}``."""
        return [{"id": c["id"], **c["function"]} for m in self.messages for c in m.get("tool_calls") or ()]


def _layout(row: dict[str, Any]) -> tuple[str, ...]:
    """The columns of the layout ``row`` claims: single-turn when it has a ``query`` (ToolAlpaca rows also carry
    their ``messages``), multi-turn when it has ``messages`` and no ``query``."""
    if row.get("query") is not None:
        return SINGLE_TURN_COLUMNS
    multi = row.get("messages") is not None or ("messages" in row and "query" not in row)
    return MULTI_TURN_COLUMNS if multi else SINGLE_TURN_COLUMNS


def row_problem(row: dict[str, Any]) -> str | None:
    """Why ``row`` is not a tool-use row of either layout (a column missing, null or not a list), or None."""
    wanted = _layout(row)
    missing = [c for c in wanted if row.get(c) is None]
    if missing:
        return f"no {', '.join(missing)}"
    not_lists = [c for c in wanted if c != "query" and not isinstance(row[c], list)]
    if not_lists:
        return f"{', '.join(not_lists)} must be a list, not {type(row[not_lists[0]]).__name__}"
    return None


def row_kind(row: dict[str, Any]) -> str | None:
    """``"multi_turn"``, ``"single_turn"`` or None when the row is neither layout (see :func:`row_problem`)."""
    if row_problem(row) is not None:
        return None
    return "multi_turn" if _layout(row) == MULTI_TURN_COLUMNS else "single_turn"


def absent_columns(row: dict[str, Any]) -> list[str]:
    """The columns of the closer layout that ``row`` does not have at all (a run without them holds no tool rows)."""
    return [c for c in _layout(row) if c not in row]


def failed_calls(row: dict[str, Any]) -> int:
    """How many of a single-turn row's results are not ``ok`` (0 for multi-turn rows)."""
    if row_kind(row) != "single_turn":
        return 0
    return sum(1 for r in row["results"] if not (isinstance(r, dict) and r.get("status", "ok") == "ok"))


# -- reading a row --------------------------------------------------------------------------------


def conversation(row: dict[str, Any]) -> Conversation:
    """The row as a :class:`Conversation`; :class:`ToolRowError` when it is not a well-formed tool-use row."""
    problem = row_problem(row)
    if problem is not None:
        raise ToolRowError(f"not a tool-use row: {problem}")
    tools = _tools(row["tools"])
    conv = _multi_turn(row, tools) if isinstance(row.get("messages"), list) else _single_turn(row, tools)
    offered = [t["function"]["name"] for t in tools]
    for call in conv.calls():
        if call["name"] not in offered:
            raise ToolRowError(f"a call names {call['name']!r}, which is not among the row's tools ({', '.join(offered) or 'none'})")
    return conv


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise ToolRowError(f"tools must be a list of function tools, not {type(tools).__name__}")
    out = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) and "function" in tool else tool
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ToolRowError(f"tools[{i}] is not a function tool ({{'type': 'function', 'function': {{'name', ...}}}})")
        params = fn.get("parameters")
        if params is not None and not (isinstance(params, dict) and isinstance(params.get("properties", {}), dict)):
            raise ToolRowError(f"tools[{i}] ({fn['name']}): parameters must be a JSON schema object with properties")
        out.append({"type": "function", "function": fn})
    return out


def _arguments(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolRowError(f"{where}: the arguments are not valid JSON ({exc.msg})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ToolRowError(f"{where}: the arguments are {type(value).__name__}, not a JSON object")
    return value


def _tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _single_turn(row: dict[str, Any], tools: list[dict[str, Any]]) -> Conversation:
    query, calls, results = row["query"], row["calls"], row["results"]
    answer = row.get("answer") or ""
    if not isinstance(query, str) or not query.strip():
        raise ToolRowError("query is empty")
    if not isinstance(calls, list) or not isinstance(results, list):
        raise ToolRowError("calls and results must be lists")
    if len(calls) != len(results):
        raise ToolRowError(f"{len(calls)} calls but {len(results)} results; each call needs its result")
    if not calls and not answer:
        raise ToolRowError("the row has neither calls nor an answer")
    messages: list[dict[str, Any]] = [{"role": "user", "content": query}]
    tool_calls, replies = [], []
    for i, (call, result) in enumerate(zip(calls, results, strict=True)):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ToolRowError(f"calls[{i}] has no function name")
        call_id = str(call.get("id") or f"call_{i}")
        if not isinstance(result, dict):
            raise ToolRowError(f"results[{i}] is not a result object ({{'call_id', 'name', 'status', 'value', 'error'}})")
        if result.get("call_id") not in (None, call_id):
            raise ToolRowError(f"results[{i}] answers call {result['call_id']!r}, not calls[{i}] ({call_id!r})")
        tool_calls.append(_tool_call(call_id, call["name"], _arguments(call.get("arguments"), f"calls[{i}]")))
        replies.append(_reply(call_id, call["name"], result))
    if tool_calls:
        messages.append({"role": "assistant", "content": "", "tool_calls": tool_calls})
        messages.extend(replies)
    if answer:
        messages.append({"role": "assistant", "content": answer})
    return Conversation(None, messages, tools)


def _reply(call_id: str, name: str, result: dict[str, Any]) -> dict[str, Any]:
    status = result.get("status", "ok")
    if status == "ok":
        value = result.get("value")
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return {"role": "tool", "tool_call_id": call_id, "name": name, "content": text, "value": value, "failed": False}
    text = result.get("error") or f"the call returned no result ({status})"
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": text, "value": text, "failed": True}


def _multi_turn(row: dict[str, Any], tools: list[dict[str, Any]]) -> Conversation:
    system: str | None = None
    messages: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, message in enumerate(row["messages"]):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise ToolRowError(f"messages[{i}] has role {role!r}; use one of {', '.join(_ROLES)}")
        content = message.get("content")
        text = content if isinstance(content, str) else "" if content is None else json.dumps(content, ensure_ascii=False)
        if role == "system":
            if i != 0:
                raise ToolRowError(f"messages[{i}] is a system message; only the first message may be one")
            system = text
        elif role == "assistant" and message.get("tool_calls"):
            calls = [_message_call(c, f"messages[{i}].tool_calls[{j}]") for j, c in enumerate(message["tool_calls"])]
            names.update((c["id"], c["function"]["name"]) for c in calls)
            messages.append({"role": "assistant", "content": text, "tool_calls": calls})
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in names:
                raise ToolRowError(f"messages[{i}] answers call {call_id!r}, which no earlier assistant message made")
            messages.append({"role": "tool", "tool_call_id": call_id, "name": message.get("name") or names[call_id],
                             "content": text, "value": _json_or_text(text), "failed": False})
        else:
            messages.append({"role": role, "content": text})
    if not any(m["role"] == "user" for m in messages):
        raise ToolRowError("the conversation has no user message")
    return Conversation(system, messages, tools)


def _message_call(call: Any, where: str) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise ToolRowError(f"{where} is not a call")
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    if not isinstance(fn.get("name"), str):
        raise ToolRowError(f"{where} has no function name")
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise ToolRowError(f"{where} has no id (the tool message that answers it names it)")
    return _tool_call(call["id"], fn["name"], _arguments(fn.get("arguments"), where))


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text
