"""Deterministic Message objects of the fake Anthropic server (see ``fake_anthropic``).

The reply scripting is the fake OpenAI server's (``fake_replies``), read through the Messages API's
shapes: the text answers the last user turn (``"Reply to: ..."``, cut at ``max_tokens`` words or a
stop sequence); ``[[call:NAME]]`` directives (several: parallel calls) and ``tool_choice`` make
``tool_use`` blocks whose input is a minimal instance of the tool's ``input_schema`` (a forced tool
is how clients ask for structured output); after a ``tool_result`` turn the model answers in text.
Token counts are whitespace words. Prompt caching is simulated: the prefix up to each
``cache_control`` breakpoint is remembered, and a later request with the same prefix reads it
(``cache_read_input_tokens``) instead of writing it (``cache_creation_input_tokens``).
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import xxhash

from synthloom.testing import fake_replies

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               529: "overloaded_error"}


def error_body(status: int, message: str) -> bytes:
    """An API error body: ``{"type": "error", "error": {"type", "message"}}``."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def block_text(block: Any) -> str:
    """The words a content block carries (text, tool results, tool inputs), for token counts."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text") or "")
    if kind == "tool_result":
        content = block.get("content")
        return content if isinstance(content, str) else " ".join(block_text(b) for b in content or ())
    if kind == "tool_use":
        return orjson.dumps(block.get("input") or {}).decode()
    return ""


def _blocks(content: Any) -> list[Any]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content or ())


def check_body(req: Any) -> None:
    """Raise ValueError where a real Messages API would answer 400."""
    if not isinstance(req, dict):
        raise ValueError("the body must be a JSON object")
    for key in ("model", "max_tokens", "messages"):
        if key not in req:
            raise ValueError(f"{key}: Field required")
    if not isinstance(req["max_tokens"], int) or req["max_tokens"] < 1:
        raise ValueError("max_tokens: must be a whole number >= 1")
    messages = req["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: at least one message is required")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise ValueError(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i and messages[i - 1]["role"] == m["role"]:
            raise ValueError(f"messages.{i}: roles must alternate between 'user' and 'assistant'")
    if "temperature" in req and not 0 <= req["temperature"] <= 1:
        raise ValueError("temperature: range: 0..1")
    for key in ("n", "logprobs", "stop", "seed", "response_format"):
        if key in req:
            raise ValueError(f"{key}: Extra inputs are not permitted")
    marks = sum(1 for b in _flatten(req) if isinstance(b, dict) and "cache_control" in b)
    if marks > 4:
        raise ValueError(f"A maximum of 4 blocks with cache_control may be provided. Found {marks}.")


def source_text(req: dict[str, Any]) -> tuple[str, bool]:
    """``(text of the last user turn, whether that turn answers tool calls)``."""
    users = [m for m in req["messages"] if m.get("role") == "user"]
    if not users:
        return "", False
    blocks = _blocks(users[-1].get("content"))
    answered = any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)
    text = " ".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
    return text, answered


def fault_text(req: dict[str, Any]) -> str:
    """The text searched for ``[[fault:...]]`` directives: the whole last user turn."""
    users = [m for m in req["messages"] if m.get("role") == "user"]
    return " ".join(block_text(b) for b in _blocks(users[-1].get("content"))) if users else ""


def _openai_tool_request(req: dict[str, Any], answered: bool) -> dict[str, Any]:
    """The request as ``fake_replies.tool_calls`` reads it (OpenAI shapes)."""
    tools = [{"type": "function", "function": {"name": t["name"], "parameters": t.get("input_schema") or {}}}
             for t in req.get("tools") or () if isinstance(t, dict) and "name" in t]
    choice = req.get("tool_choice") or {}
    kind = choice.get("type")
    openai_choice: Any = {"any": "required", "auto": "auto", "none": "none"}.get(kind)
    if kind == "tool":
        openai_choice = {"type": "function", "function": {"name": choice.get("name")}}
    return {"tools": tools, "tool_choice": openai_choice, "messages": [{"role": "tool" if answered else "user"}]}


def message_reply(req: dict[str, Any], model: str, cache: set[str], reasoning: bool = False) -> dict[str, Any]:
    """The Message object answering ``req`` (checked by :func:`check_body`); ``cache`` holds the
    prompt-cache prefixes seen so far and is updated."""
    source, answered = source_text(req)
    calls = fake_replies.tool_calls(_openai_tool_request(req, answered), source) if req.get("tools") else []
    content: list[dict[str, Any]] = []
    if reasoning:
        content.append({"type": "thinking", "thinking": f"Thinking about: {source}", "signature": "fake"})
    stop_sequence = None
    if calls:
        for j, (name, args) in enumerate(calls):
            try:
                arguments = orjson.loads(args)
            except orjson.JSONDecodeError:
                arguments = {}
            content.append({"type": "tool_use", "id": f"toolu_{zlib.crc32(f'{source}:{j}'.encode()):08x}",
                            "name": name, "input": arguments})
        stop_reason = "tool_use"
    else:
        stops = [s for s in req.get("stop_sequences") or () if s]
        [(text, _)] = fake_replies.reply_texts(source, 1, req["max_tokens"], stops)
        [(uncut, finish)] = fake_replies.reply_texts(source, 1, req["max_tokens"], [])
        if text != uncut:
            stop_reason, stop_sequence = "stop_sequence", min((uncut.find(s), s) for s in stops if s in uncut)[1]
        else:
            stop_reason = "max_tokens" if finish == "length" else "end_turn"
        content.append({"type": "text", "text": text})
    output = sum(len(block_text(b).split()) for b in content)
    written, read, total = prompt_cache_usage(req, cache)
    return {"id": f"msg_{zlib.crc32(orjson.dumps(req, option=orjson.OPT_SORT_KEYS)):08x}", "type": "message",
            "role": "assistant", "model": req.get("model") or model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": stop_sequence,
            "usage": {"input_tokens": total - written - read, "output_tokens": output,
                      "cache_creation_input_tokens": written, "cache_read_input_tokens": read}}


def _flatten(req: dict[str, Any]) -> list[Any]:
    """The prompt's blocks in cache-prefix order: tools, system, then each message's blocks."""
    system = req.get("system") or []
    out: list[Any] = [*(req.get("tools") or ()), *_blocks(system)]
    for m in req.get("messages") or ():
        out.append({"role": m.get("role")})  # a turn boundary is part of the prefix
        out.extend(_blocks(m.get("content")))
    return out


def prompt_cache_usage(req: dict[str, Any], cache: set[str]) -> tuple[int, int, int]:
    """``(written, read, total)`` prompt tokens: the longest remembered breakpoint prefix is read,
    the rest up to the last breakpoint is written (and remembered)."""
    digest = xxhash.xxh3_128(str(req.get("model")).encode())
    total = 0
    marks: list[tuple[str, int]] = []
    for block in _flatten(req):
        plain = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        digest.update(orjson.dumps(plain, option=orjson.OPT_SORT_KEYS))
        if isinstance(block, dict) and "name" in block and "input_schema" in block:
            total += len(orjson.dumps(block["input_schema"]).decode().split())
        else:
            total += len(block_text(block).split())
        if isinstance(block, dict) and "cache_control" in block:
            marks.append((digest.hexdigest(), total))
    if not marks:
        return 0, 0, total
    read = max((words for key, words in marks if key in cache), default=0)
    written = max(marks[-1][1] - read, 0) if marks[-1][0] not in cache else 0
    cache.update(key for key, _ in marks)
    return written, read, total
