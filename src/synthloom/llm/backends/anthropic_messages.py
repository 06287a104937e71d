"""The wire format of Anthropic's Messages API: a :class:`Request` as a ``/v1/messages`` body, and a
reply (a Message object) as :class:`Choice`/:class:`Usage`. Pure functions, shared by the
``anthropic`` backend and its Message Batches provider.

Mapping (OpenAI shapes in, Anthropic shapes out): ``system``/``developer`` messages become the
top-level ``system`` blocks; ``role: tool`` messages become ``tool_result`` blocks of a user turn
(consecutive results in one turn, as parallel calls need); assistant ``tool_calls`` become ``tool_use``
blocks; OpenAI content parts (``text``, ``image_url``) become content blocks, Anthropic blocks pass
as they are. ``tools`` become ``{name, description, input_schema}``; ``tool_choice`` ``auto``/``none``/
``required``/a function becomes ``auto``/``none``/``any``/``tool``. A ``json_schema`` without tools is
asked for by forcing one tool whose ``input_schema`` is the schema (the documented way to get JSON
from Claude); its input comes back as the choice's text. Prompt caching puts ``cache_control``
breakpoints on the system prompt (or the tools) and, for a conversation or repeated samples, on the
last block, never more than the API's four.
"""

from __future__ import annotations

from typing import Any

import orjson

from synthloom.llm.tools import ToolCall, stable_call_id
from synthloom.llm.types import Choice, Request, Usage

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # the API requires max_tokens; every Claude model can give this many
OUTPUT_TOOL = "structured_output"  # the forced tool that carries a json_schema answer (an object)
WRAPPED_OUTPUT_TOOL = "structured_output_value"  # ... any other JSON value, as its input's "value"
MAX_BREAKPOINTS = 4
_EPHEMERAL = {"type": "ephemeral"}
_NATIVE_BLOCKS = {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
                  "search_result", "server_tool_use", "web_search_tool_result"}
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
           "pause_turn": "stop", "refusal": "content_filter", "model_context_window_exceeded": "length"}


class MessageFormatError(ValueError):
    """A message cannot be written in the Messages API's format; the text says which and why."""


def message_body(model: str, request: Request, *, prompt_cache: bool, repeated: bool = False) -> dict[str, Any]:
    """The ``/v1/messages`` body for one sample of ``request`` (the API has no ``n``).

    ``repeated`` says the same body is sent again for more samples: the whole prompt then gets a
    cache breakpoint too. Raises :class:`MessageFormatError` for what the API cannot take.
    """
    if request.messages is None:
        raise MessageFormatError("the Anthropic Messages API takes chat messages only, not a raw prompt")
    system, messages = split_messages(request.messages)
    body: dict[str, Any] = {"model": model, "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
    if system:
        body["system"] = system
    body["messages"] = messages
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools is not None:
        body["tools"] = [anthropic_tool(t) for t in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = anthropic_tool_choice(request.tool_choice)
    elif request.json_schema is not None:
        schema, wrapped = output_tool_schema(request.json_schema)
        name = WRAPPED_OUTPUT_TOOL if wrapped else OUTPUT_TOOL
        body["tools"] = [{"name": name, "description": "Give the answer as this tool's input, which must match "
                          "its schema.", "input_schema": schema}]
        body["tool_choice"] = {"type": "tool", "name": name}
    if prompt_cache:
        add_cache_breakpoints(body, whole_prompt=repeated or len(messages) > 1)
    for key, value in request.extra:  # last: what the step set explicitly goes as it is
        body[key] = value
    return body


def split_messages(messages: tuple[dict[str, Any], ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, messages)`` in the API's form; consecutive turns of one role are merged."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        role = m["role"]
        if role in ("system", "developer"):
            system.extend(b for b in content_blocks(m.get("content"), i) if b.get("text", True))
            continue
        if role == "tool":
            result = [b for b in content_blocks(m.get("content"), i) if b.get("type") != "text" or b["text"]]
            blocks = [{"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": result or ""}]
            role = "user"
        elif role == "user":
            blocks = content_blocks(m.get("content"), i)
        elif role == "assistant":
            blocks = [b for b in content_blocks(m.get("content"), i) if b.get("type") != "text" or b["text"]]
            blocks += [tool_use_block(call, i) for call in m.get("tool_calls") or ()]
        else:
            raise MessageFormatError(f"message {i} has role {role!r}; the Anthropic API knows system, user, "
                                     "assistant and tool")
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[-1]["role"] == "assistant":  # a prefill: the API refuses trailing whitespace there
        last = turns[-1]["content"]
        if last and last[-1].get("type") == "text":
            last[-1] = {**last[-1], "text": last[-1]["text"].rstrip()}
    return system, turns


def content_blocks(content: Any, i: int) -> list[dict[str, Any]]:
    """Message content (text or a list of OpenAI parts / Anthropic blocks) as Anthropic blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image_url":
            blocks.append(_image_block(part, i))
        elif kind in _NATIVE_BLOCKS:
            blocks.append(dict(part))
        else:
            raise MessageFormatError(f"message {i} has a content part of type {kind!r}; use text, image_url "
                                     "or an Anthropic content block")
    return blocks


def _image_block(part: dict[str, Any], i: int) -> dict[str, Any]:
    url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else part.get("image_url")
    if not isinstance(url, str):
        raise MessageFormatError(f"message {i}: an image_url part needs {{'url': ...}}")
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        media_type = head[len("data:"):].split(";")[0]
        if ";base64" not in head or not media_type:
            raise MessageFormatError(f"message {i}: image data URLs must be base64 ('data:image/png;base64,...')")
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    else:
        source = {"type": "url", "url": url}
    block = {"type": "image", "source": source}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def tool_use_block(call: dict[str, Any], i: int) -> dict[str, Any]:
    """An assistant ``tool_calls`` entry (OpenAI form) as a ``tool_use`` block. Arguments that are
    not a JSON object (a broken call kept in the history) are sent as an empty input."""
    fn = call["function"]
    try:
        arguments = orjson.loads(fn["arguments"] or "{}")
    except orjson.JSONDecodeError:
        arguments = {}
    return {"type": "tool_use", "id": call["id"], "name": fn["name"],
            "input": arguments if isinstance(arguments, dict) else {}}


def anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI function tool as an Anthropic tool definition."""
    fn = tool["function"]
    out: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        out["description"] = fn["description"]
    out["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
    return out


def anthropic_tool_choice(choice: str | dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``tool_choice`` (already checked by :class:`Request`) in the Messages API's form."""
    if isinstance(choice, dict):
        return {"type": "tool", "name": choice["function"]["name"]}
    return {"type": {"required": "any"}.get(choice, choice)}


def output_tool_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The forced tool's ``input_schema`` for ``schema`` and whether the value is wrapped (a tool's
    input must be an object, so any other schema travels as ``{"value": ...}``)."""
    if schema.get("type") == "object":
        return schema, False
    return {"type": "object", "properties": {"value": schema}, "required": ["value"]}, True


def add_cache_breakpoints(body: dict[str, Any], *, whole_prompt: bool) -> None:
    """Mark the shared prefix for Anthropic's prompt cache, within the four breakpoints the API
    allows (breakpoints already in the request count): the system prompt (it covers the tools
    before it) or else the last tool, and with ``whole_prompt`` the last block of the messages."""
    free = MAX_BREAKPOINTS - count_breakpoints(body)
    targets: list[dict[str, Any]] = []
    if body.get("system"):
        targets.append(body["system"][-1])
    elif body.get("tools"):
        targets.append(body["tools"][-1])
    if whole_prompt and body["messages"] and body["messages"][-1]["content"]:
        targets.append(body["messages"][-1]["content"][-1])
    for block in targets[:max(free, 0)]:
        if block.get("type") not in ("thinking", "redacted_thinking") and "cache_control" not in block:
            block["cache_control"] = dict(_EPHEMERAL)


def count_breakpoints(body: dict[str, Any]) -> int:
    """How many ``cache_control`` marks the body holds (tools, system and message blocks)."""
    blocks = [*(body.get("tools") or ()), *(body.get("system") or ())]
    for m in body.get("messages") or ():
        blocks.extend(m["content"] if isinstance(m["content"], list) else ())
    return sum(1 for b in blocks if isinstance(b, dict) and "cache_control" in b)


def parse_message(data: dict[str, Any], request: Request, choice: int) -> tuple[Choice, Usage, str]:
    """``(choice, usage, model)`` of one Message object answering ``request`` (as its choice number
    ``choice``). The forced output tool of a request without tools is read as the answer's text, by
    its name alone, so a reply decodes the same without its request (a batch collected after a
    restart). Raises KeyError/TypeError/ValueError on a reply of the wrong shape."""
    if data.get("type") != "message" or not isinstance(data.get("content"), list):
        raise ValueError(f"not a Message object (type {data.get('type')!r})")
    texts, thoughts, calls = [], [], []
    structured = False
    for block in data["content"]:
        kind = block.get("type")
        if kind == "text":
            texts.append(block["text"])
        elif kind == "thinking":
            thoughts.append(block.get("thinking") or "")
        elif kind == "tool_use" and request.tools is None and block.get("name") in (OUTPUT_TOOL, WRAPPED_OUTPUT_TOOL):
            structured = True
            value = block.get("input")
            if block["name"] == WRAPPED_OUTPUT_TOOL and isinstance(value, dict):
                value = value.get("value")
            texts.append(orjson.dumps(value).decode())
        elif kind == "tool_use":
            call_id = block.get("id") or stable_call_id(request.fingerprint(), choice, len(calls))
            call = ToolCall.parse(str(call_id), str(block.get("name") or ""), block.get("input"))
            if not call.name and call.error is None:
                call.error = "the call names no function"
            calls.append(call)
    stop = data.get("stop_reason")
    finish = _FINISH.get(stop, stop)
    if structured and finish == "tool_calls":
        finish = "stop"
    elif calls and finish in (None, "stop"):
        finish = "tool_calls"
    u = data.get("usage") or {}
    written, read = int(u.get("cache_creation_input_tokens") or 0), int(u.get("cache_read_input_tokens") or 0)
    usage = Usage(int(u.get("input_tokens") or 0) + written + read, int(u.get("output_tokens") or 0), written, read)
    reasoning = "".join(thoughts) or None
    return Choice("".join(texts), finish, None, reasoning, calls), usage, str(data.get("model") or "")


def error_message(body: bytes) -> str:
    """The message of an API error body (``{"type": "error", "error": {"type", "message"}}``)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        kind = error.get("type")
        text = f"{kind}: {error['message']}" if isinstance(kind, str) else error["message"]
    else:
        text = body.decode("utf-8", "replace").strip() or "(empty body)"
    return text if len(text) <= 500 else text[:500] + "..."
