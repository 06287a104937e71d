"""Tool-use rows as training and evaluation records: OpenAI/TRL messages, ShareGPT, Hermes and BFCL.

Each converter is a pure function of one run row (single- or multi-turn, see :mod:`synthloom.io.export.tool_rows`):

* :func:`to_openai` — ``{"messages", "tools"}``, what TRL's ``SFTTrainer`` reads for tool calling (TRL docs,
  "Dataset formats — Tool Calling"): assistant messages carry ``tool_calls`` =
  ``[{"id", "type": "function", "function": {"name", "arguments": {...}}}]`` with the arguments as a JSON object,
  each call is answered by a ``{"role": "tool", "tool_call_id", "name", "content"}`` message, and ``tools`` is the
  list of function JSON schemas. :func:`to_openai_finetune` is the same conversation as OpenAI's fine-tuning API
  takes it (arguments as JSON text, replies without ``name``).
* :func:`to_sharegpt` — LLaMA-Factory's ShareGPT layout: ``conversations`` of ``human`` / ``function_call`` /
  ``observation`` / ``gpt`` turns (alternating), the system prompt in ``system`` and the tools as JSON text in
  ``tools``.
* :func:`to_hermes` — NousResearch's Hermes function-calling layout (hermes-function-calling-v1): ``system`` /
  ``human`` / ``gpt`` / ``tool`` turns, the tools inside ``<tools></tools>`` in the system prompt, calls as
  ``<tool_call>{"name", "arguments"}</tool_call>`` and results as ``<tool_response>{"name", "content"}
  </tool_response>``.
* :func:`to_bfcl` — a Berkeley Function Calling Leaderboard question (``{"id", "question", "function"}``) and its
  possible answer (``{"id", "ground_truth"}``), with BFCL's parameter types (``dict``, ``float``).
"""

from __future__ import annotations

import json
from typing import Any

from .tool_rows import Conversation, ToolRowError, conversation, row_kind

BFCL_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "multi_turn")

HERMES_SYSTEM = (
    "You are a function calling AI model. You are provided with function signatures within <tools></tools> XML "
    "tags. You may call one or more functions to assist with the user query. Don't make assumptions about what "
    "values to plug into functions. Here are the available tools: <tools>\n{tools}\n</tools>\n"
    "For each function call return a json object with function name and arguments within <tool_call></tool_call> "
    "XML tags as follows:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-dict>}}\n</tool_call>"
)


class NothingToScore(ToolRowError):
    """A row without any tool call: BFCL scores calls, so it has no BFCL record."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- OpenAI / TRL ---------------------------------------------------------------------------------------


def to_openai(row: dict[str, Any]) -> dict[str, Any]:
    """``{"messages": [...], "tools": [...]}`` for TRL's SFTTrainer (and any OpenAI-messages trainer)."""
    conv = conversation(row)
    messages = [{"role": "system", "content": conv.system}] if conv.system is not None else []
    for m in conv.messages:
        if m["role"] == "tool":
            messages.append({"role": "tool", "tool_call_id": m["tool_call_id"], "name": m["name"], "content": m["content"]})
        else:
            messages.append(dict(m))
    return {"messages": messages, "tools": conv.tools}


def to_openai_finetune(row: dict[str, Any]) -> dict[str, Any]:
    """``{"messages", "tools"}`` as OpenAI's fine-tuning API takes it: the same conversation as :func:`to_openai`
    with each call's ``arguments`` as JSON text (the Chat Completions shape) and ``tool`` replies of
    ``{"role", "tool_call_id", "content"}``."""
    record = to_openai(row)
    for m in record["messages"]:
        if m["role"] == "tool":
            m.pop("name", None)
        for call in m.get("tool_calls") or ():
            call["function"] = {**call["function"], "arguments": _dumps(call["function"]["arguments"])}
    return record


# -- ShareGPT (LLaMA-Factory) -------------------------------------------------------------------------


def to_sharegpt(row: dict[str, Any]) -> dict[str, Any]:
    """``{"conversations", "system", "tools"}`` in LLaMA-Factory's ShareGPT layout.

    Parallel calls are one ``function_call`` turn holding a JSON list, and their results one ``observation`` turn
    holding a JSON list (LLaMA-Factory alternates human/observation with gpt/function_call). An assistant message
    that both speaks and calls keeps only the calls, as LLaMA-Factory's own OpenAI converter does; a conversation
    that ends on tool results (no final answer) ends on its last call."""
    conv = conversation(row)
    turns: list[dict[str, str]] = []
    for group in _grouped(conv.messages):
        first = group[0]
        if first["role"] == "user":
            turns.append({"from": "human", "value": first["content"]})
        elif first["role"] == "tool":
            values = [_embedded_result(m) for m in group]
            single = first["content"] if not first["failed"] else _dumps(values[0])
            turns.append({"from": "observation", "value": single if len(group) == 1 else _dumps(values)})
        elif first.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in first["tool_calls"]]
            turns.append({"from": "function_call", "value": _dumps(calls[0] if len(calls) == 1 else calls)})
        else:
            turns.append({"from": "gpt", "value": first["content"]})
    if turns and turns[-1]["from"] == "observation":
        turns.pop()
    for i, turn in enumerate(turns):
        expected = ("human", "observation") if i % 2 == 0 else ("gpt", "function_call")
        if turn["from"] not in expected:
            raise ToolRowError(f"turn {i} is {turn['from']!r} where ShareGPT needs {' or '.join(expected)} "
                               f"(user/tool turns must alternate with assistant turns)")
    if len(turns) % 2:
        raise ToolRowError("the conversation ends on a user turn; ShareGPT needs it to end on an assistant turn")
    return {"conversations": turns, "system": conv.system or "",
            "tools": _dumps([t["function"] for t in conv.tools])}


def _grouped(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Messages with each run of consecutive ``tool`` replies as one group (every other message alone)."""
    groups: list[list[dict[str, Any]]] = []
    for m in messages:
        if m["role"] == "tool" and groups and groups[-1][0]["role"] == "tool":
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups


def _embedded_result(reply: dict[str, Any]) -> Any:
    """A tool reply as a JSON value to embed in text: the result, or ``{"error": ...}`` for a failed call."""
    return {"error": reply["content"]} if reply["failed"] else reply["value"]


# -- Hermes ------------------------------------------------------------------------------------------


def hermes_system_prompt(tools: list[dict[str, Any]], system: str | None = None) -> str:
    """The Hermes function-calling system prompt offering ``tools`` (after the row's own ``system`` prompt)."""
    prompt = HERMES_SYSTEM.format(tools=_dumps(tools))
    return f"{system}\n\n{prompt}" if system else prompt


def to_hermes(row: dict[str, Any]) -> dict[str, Any]:
    """``{"conversations": [...]}`` (plus the row's ``id``) in the Hermes function-calling layout."""
    conv = conversation(row)
    turns = [{"from": "system", "value": hermes_system_prompt(conv.tools, conv.system)}]
    for group in _grouped(conv.messages):
        first = group[0]
        if first["role"] == "user":
            turns.append({"from": "human", "value": first["content"]})
        elif first["role"] == "tool":
            turns.append({"from": "tool", "value": "\n".join(
                f"<tool_response>\n{_dumps({'name': m['name'], 'content': _embedded_result(m)})}\n</tool_response>"
                for m in group)})
        else:
            parts = [first["content"]] if first["content"] else []
            parts += [f"<tool_call>\n{_dumps({'name': c['function']['name'], 'arguments': c['function']['arguments']})}"
                      f"\n</tool_call>" for c in first.get("tool_calls") or ()]
            turns.append({"from": "gpt", "value": "\n".join(parts)})
    record: dict[str, Any] = {"conversations": turns}
    if isinstance(row.get("id"), (str, int)):
        record = {"id": row["id"], **record}
    return record


# -- BFCL ------------------------------------------------------------------------------------------


def bfcl_category(row: dict[str, Any]) -> str:
    """BFCL's test category for a row: ``multi_turn`` for conversations; for single-turn rows ``simple`` (one
    call, one tool offered), ``multiple`` (one call among several tools), ``parallel`` (several calls of one
    tool) or ``parallel_multiple`` (several calls of several tools). This is the row's ``form`` as the tool-use
    methods compute it, decided here from the calls because BFCL's checker for ``simple`` assumes one tool."""
    if row_kind(row) == "multi_turn":
        return "multi_turn"
    calls, tools = row.get("calls") or [], row.get("tools") or []
    if len(calls) <= 1:
        return "simple" if len(tools) <= 1 else "multiple"
    return "parallel" if len({c.get("name") for c in calls if isinstance(c, dict)}) == 1 else "parallel_multiple"


def to_bfcl(row: dict[str, Any], index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The BFCL question and possible-answer records for ``row``, with id ``<category>_<index>``.

    Single-turn ground truth lists, per call, each argument's acceptable values (``[value]``; an optional
    parameter the call leaves out gets ``[default, ""]`` or ``[""]``, BFCL's "may be omitted"). Multi-turn ground
    truth lists, per user turn, the calls as Python call strings (``name(arg='value')``), as BFCL's multi-turn
    categories do."""
    category = bfcl_category(row)
    conv = conversation(row)
    functions = [bfcl_function(t["function"]) for t in conv.tools]
    record_id = f"{category}_{index}"
    if category == "multi_turn":
        turns = _user_turns(conv)
        if not any(calls for _, calls in turns):
            raise NothingToScore("the conversation makes no tool call, so BFCL has nothing to score")
        question = [[*([{"role": "system", "content": conv.system}] if conv.system and i == 0 else []),
                     {"role": "user", "content": text}] for i, (text, _) in enumerate(turns)]
        truth: list[Any] = [[_call_string(c) for c in calls] for _, calls in turns]
    else:
        calls = conv.calls()
        if not calls:
            raise NothingToScore("the row makes no tool call, so BFCL has nothing to score")
        question = [[{"role": "user", "content": conv.messages[0]["content"]}]]
        params = {t["function"]["name"]: t["function"].get("parameters") or {} for t in conv.tools}
        truth = [{c["name"]: _possible_arguments(c["arguments"], params.get(c["name"], {}))} for c in calls]
    return ({"id": record_id, "question": question, "function": functions},
            {"id": record_id, "ground_truth": truth})


def _user_turns(conv: Conversation) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each user message with the calls the assistant made before the next user message."""
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for m in conv.messages:
        if m["role"] == "user":
            turns.append((m["content"], []))
        elif turns and m.get("tool_calls"):
            turns[-1][1].extend({"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                                for c in m["tool_calls"])
    return turns


def _call_string(call: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in call["arguments"].items())
    return f"{call['name']}({args})"


def _possible_arguments(arguments: dict[str, Any], parameters: dict[str, Any]) -> dict[str, list[Any]]:
    possible = {k: [_bfcl_value(v)] for k, v in arguments.items()}
    for name, schema in (parameters.get("properties") or {}).items():
        if name not in possible and name not in (parameters.get("required") or ()):
            default = schema.get("default") if isinstance(schema, dict) else None
            possible[name] = [default, ""] if default is not None else [""]
    return possible


def _bfcl_value(value: Any) -> Any:
    """A value as BFCL's checker compares it: a dict's entries become lists of acceptable values."""
    if isinstance(value, dict):
        return {k: [_bfcl_value(v)] for k, v in value.items()}
    if isinstance(value, list):
        return [_bfcl_value(v) if isinstance(v, dict) else v for v in value]
    return value


_BFCL_TYPES = {"object": "dict", "number": "float"}


def bfcl_function(function: dict[str, Any]) -> dict[str, Any]:
    """A function schema in BFCL's dialect: ``dict`` for objects, ``float`` for numbers, ``required`` always set."""
    params = bfcl_schema(function.get("parameters") or {"type": "object", "properties": {}})
    params.setdefault("required", [])
    return {"name": function["name"], "description": function.get("description", ""), "parameters": params}


def bfcl_schema(schema: Any) -> Any:
    """A JSON schema with its types renamed the way BFCL's AST checker names them."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "any")
    if kind is None and not {"properties", "items"} & schema.keys():
        kind = "any"
    if kind is not None:
        out["type"] = _BFCL_TYPES.get(kind, kind)
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: bfcl_schema(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = bfcl_schema(schema["items"])
    return out
