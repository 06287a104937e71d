"""Deterministic reply bodies of the fake OpenAI-compatible server (see ``fake_server``).

Everything here is a pure function of the request JSON, so tests can predict every reply.
"""

from __future__ import annotations

import math
import re
import zlib
from typing import Any

import orjson

_TOKEN = re.compile(r"\s*\S+")
_CALL = re.compile(r"\[\[call:([A-Za-z0-9_-]{1,64})(:broken)?\]\]")
_REWARD = re.compile(r"\[\[reward:(-?\d+(?:\.\d+)?)\]\]")
_FORMATS = {"date-time": "1970-01-01T00:00:00Z", "date": "1970-01-01", "time": "00:00:00Z",
            "email": "user@example.com", "uri": "http://example.com/", "url": "http://example.com/",
            "uuid": "00000000-0000-0000-0000-000000000000", "hostname": "example.com", "ipv4": "127.0.0.1"}


def source_text(req: dict[str, Any], chat: bool) -> str:
    """The text a reply answers: the last user message (chat) or the prompt (completions)."""
    if not chat:
        prompt = req["prompt"]
        if isinstance(prompt, list):
            prompt = prompt[0] if prompt else ""
        if not isinstance(prompt, str):
            raise TypeError("prompt must be a string")
        return prompt
    messages = req["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    users = [m for m in messages if m.get("role") == "user"]
    return _content_text((users or messages)[-1].get("content"))


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # multi-part content: keep the text parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def reply_texts(source: str, n: int, max_tokens: int | None, stop: list[str]) -> list[tuple[str, str]]:
    """``n`` distinct ``(text, finish_reason)`` pairs answering ``source``."""
    out = []
    for i in range(n):
        words = (f"Reply to: {source}" if i == 0 else f"Reply {i + 1} to: {source}").split()
        finish = "stop"
        if max_tokens is not None and len(words) > max_tokens:
            words, finish = words[:max_tokens], "length"
        text = " ".join(words)
        cuts = [k for k in (text.find(s) for s in stop if s) if k >= 0]
        if cuts:
            text, finish = text[: min(cuts)], "stop"
        out.append((text, finish))
    return out


def fake_logprob(token: str) -> float:
    """A stable pseudo log probability in [-5, -0.001] for ``token``."""
    return -round((zlib.crc32(token.encode()) % 5000) / 1000 + 0.001, 3)


def _top(token: str, k: int) -> list[tuple[str, float]]:
    lp = fake_logprob(token)
    return [(token, lp)] + [(f"{token}~{j}", round(lp - j, 3)) for j in range(1, k)]


def chat_logprobs(text: str, k: int) -> dict[str, Any]:
    """OpenAI chat-format logprobs: ``{"content": [{token, logprob, bytes, top_logprobs}]}``."""
    content = []
    for tok in _TOKEN.findall(text):
        top = _top(tok, k)
        content.append({"token": tok, "logprob": top[0][1], "bytes": list(tok.encode()),
                        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]})
    return {"content": content}


def completion_logprobs(text: str, k: int) -> dict[str, Any]:
    """Legacy completions-format logprobs: tokens, token_logprobs, top_logprobs, text_offset."""
    tokens = _TOKEN.findall(text)
    offsets, pos = [], 0
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    return {"tokens": tokens, "token_logprobs": [fake_logprob(t) for t in tokens],
            "top_logprobs": [dict(_top(t, k)) for t in tokens] if k > 0 else None, "text_offset": offsets}


def build_reply(req: dict[str, Any], chat: bool, source: str, model: str, reasoning: bool) -> dict[str, Any]:
    """The full JSON body answering ``req`` on /v1/chat/completions or /v1/completions."""
    n = int(req.get("n") or 1)
    if not 1 <= n <= 128:
        raise ValueError("n must be between 1 and 128")
    stop = req.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    max_tokens = req.get("max_tokens", req.get("max_completion_tokens"))
    rf = req.get("response_format") or {}
    calls = tool_calls(req, source) if chat else []
    if calls:
        texts = [("", "tool_calls")] * n
    elif rf.get("type") == "json_schema":
        schema = (rf.get("json_schema") or {}).get("schema") or {}
        texts = [(orjson.dumps(minimal_instance(schema, variant=f"Reply {i + 1} to: {source}" if i else
                                                f"Reply to: {source}")).decode(), "stop") for i in range(n)]
    else:
        texts = reply_texts(source, n, max_tokens, stop)
    if chat:
        prompt_words = sum(len(_content_text(m.get("content")).split()) for m in req["messages"])
        top_k = int(req.get("top_logprobs") or 0) if req.get("logprobs") else -1
    else:
        prompt_words = len(source.split())
        top_k = -1 if req.get("logprobs") is None else int(req["logprobs"])
    choices = []
    for i, (text, finish) in enumerate(texts):
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                message["content"] = None
                message["tool_calls"] = [{"id": f"call_{zlib.crc32(f'{source}:{i}:{j}'.encode()):08x}",
                                          "type": "function", "function": {"name": name, "arguments": args}}
                                         for j, (name, args) in enumerate(calls)]
            if reasoning:
                message["reasoning_content"] = f"Thinking about: {source}"
            choice = {"index": i, "message": message,
                      "logprobs": chat_logprobs(text, top_k) if top_k >= 0 else None, "finish_reason": finish}
        else:
            choice = {"index": i, "text": text,
                      "logprobs": completion_logprobs(text, top_k) if top_k >= 0 else None, "finish_reason": finish}
        choices.append(choice)
    completion_words = sum(len(t.split()) for t, _ in texts) + n * sum(len(a.split()) for _, a in calls)
    return {"id": f"fake-{zlib.crc32(orjson.dumps(req, option=orjson.OPT_SORT_KEYS)):08x}",
            "object": "chat.completion" if chat else "text_completion", "created": 0,
            "model": req.get("model") or model, "choices": choices,
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": completion_words,
                      "total_tokens": prompt_words + completion_words}}


def tool_calls(req: dict[str, Any], source: str) -> list[tuple[str, str]]:
    """The ``(name, arguments JSON text)`` calls answering a chat request that offers ``tools``:
    one per ``[[call:NAME]]`` directive in ``source`` (several: parallel calls; ``[[call:NAME:broken]]``
    sends arguments that are not valid JSON) while the last message is not a ``tool`` result, else
    the forced function of ``tool_choice`` (its first tool for ``"required"``). Arguments are
    :func:`minimal_instance` of the tool's parameters, strings saying the source text."""
    tools = {t["function"]["name"]: t["function"] for t in req.get("tools") or ()}
    choice = req.get("tool_choice")
    if not tools or choice == "none":
        return []
    answered = (req["messages"][-1] or {}).get("role") == "tool"
    wanted = [] if answered or "[[call:" not in source else [(m.group(1), bool(m.group(2)))
                                                             for m in _CALL.finditer(source)]
    if not wanted:
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            if name not in tools:
                raise ValueError(f"tool_choice names {name!r}, which is not among the tools")
            wanted = [(name, False)]
        elif choice == "required":
            wanted = [(next(iter(tools)), False)]
    calls = []
    for name, broken in wanted:
        params = (tools.get(name) or {}).get("parameters") or {}
        args = orjson.dumps(minimal_instance(params, variant=_CALL.sub("", source).strip()) or {}).decode()
        calls.append((name, args[: max(1, len(args) // 2)] if broken else args))
    return calls


def minimal_instance(schema: Any, variant: str = "", root: Any = None) -> Any:
    """A small JSON value that validates ``schema``: required properties only, ``minItems`` items,
    the lowest allowed numbers; free-form strings get ``variant`` (so choices differ).

    ``pattern`` constraints are not solved (the variant string is used as is).
    """
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return minimal_instance(_resolve(root, schema["$ref"]), variant, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return minimal_instance(schema[key][0], variant, root)
    if schema.get("allOf"):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(root, part["$ref"]) if "$ref" in part else part
            for k, v in part.items():
                if k == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **v}
                elif k == "required":
                    merged["required"] = [*merged.get("required", []), *v]
                else:
                    merged.setdefault(k, v)
        return minimal_instance(merged, variant, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((t for t in kind if t != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    if kind == "object":
        props = schema.get("properties", {})
        return {name: minimal_instance(props.get(name, {}), variant, root) for name in schema.get("required", [])}
    if kind == "array":
        prefix = schema.get("prefixItems", [])
        count = max(int(schema.get("minItems", 0)), 0)
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [minimal_instance(prefix[i] if i < len(prefix) else items, variant, root) for i in range(count)]
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        text = variant[: schema["maxLength"]] if "maxLength" in schema else variant
        return text.ljust(int(schema.get("minLength", 0)), "x")
    if kind in ("integer", "number"):
        return _lowest_number(schema, kind == "integer")
    if kind == "boolean":
        return False
    return None


def _lowest_number(schema: dict[str, Any], integer: bool) -> int | float:
    value: float = 0
    if "minimum" in schema:
        value = schema["minimum"]
    elif "exclusiveMinimum" in schema:
        value = math.floor(schema["exclusiveMinimum"]) + 1 if integer else schema["exclusiveMinimum"] + 0.5
    elif "maximum" in schema and schema["maximum"] < 0:
        value = schema["maximum"]
    step = schema.get("multipleOf")
    if step:
        value = math.ceil(value / step) * step
    return int(math.ceil(value)) if integer else value


def _resolve(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node = root
    for part in filter(None, ref[1:].split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def pooling_source(req: dict[str, Any]) -> tuple[str, str]:
    """``(all text, last text)`` of a ``/pooling`` or ``/classify`` request: its messages' contents
    (or its ``input``) joined, and the last message (the response a reward model scores)."""
    if req.get("messages") is not None:
        messages = req["messages"]
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        texts = [_content_text(m.get("content")) for m in messages]
    else:
        given = req.get("input")
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise TypeError("input must be a string or a non-empty list of strings")
    return "\n".join(texts), texts[-1]


def fake_reward(text: str) -> float:
    """The reward of ``text``: the value of a ``[[reward:X]]`` directive in it, else a tenth of its
    number of whitespace words."""
    m = _REWARD.search(text)
    return float(m.group(1)) if m else len(text.split()) / 10


def pooling_reply(req: dict[str, Any], endpoint: str, model: str) -> dict[str, Any]:
    """The JSON body answering ``req`` on ``/pooling`` (one value: the reward of the last message) or
    ``/classify`` (two classes, ``bad``/``good``, ``p(good) = sigmoid(reward)``)."""
    joined, last = pooling_source(req)
    reward = fake_reward(last)
    if endpoint == "classify":
        p = 1 / (1 + math.exp(-reward))
        item: dict[str, Any] = {"index": 0, "label": "good" if p >= 0.5 else "bad", "probs": [1 - p, p],
                                "num_classes": 2}
    else:
        item = {"index": 0, "object": "pooling", "data": [reward]}
    words = len(joined.split())
    return {"id": f"{endpoint}-{zlib.crc32(orjson.dumps(req, option=orjson.OPT_SORT_KEYS)):08x}", "object": "list",
            "created": 0, "model": req.get("model") or model, "data": [item],
            "usage": {"prompt_tokens": words, "total_tokens": words, "completion_tokens": 0}}


_PROMPT_TOKEN = re.compile(r"\s*\S+|\s+$")


def prompt_tokens(prompt: str) -> list[tuple[str, float | None]]:
    """The fake tokens of a prompt (whitespace words, trailing whitespace its own token) and their log
    probabilities: none for the first, then a stable value of (previous token, token)."""
    tokens = _PROMPT_TOKEN.findall(prompt)
    return [(tok, None if i == 0 else fake_logprob(tokens[i - 1] + tok)) for i, tok in enumerate(tokens)]


def add_prompt_logprobs(reply: dict[str, Any], req: dict[str, Any], prompt: str) -> dict[str, Any]:
    """Add the prompt's log probabilities to a ``/v1/completions`` reply as servers do: ``echo`` (the prompt
    echoed before the text, its tokens first in the legacy ``logprobs``, as llama-cpp-python's server and vLLM)
    and vLLM's ``prompt_logprobs`` (``null``, then ``{token_id: {logprob, rank, decoded_token}}`` per token)."""
    tokens = prompt_tokens(prompt)
    for choice in reply["choices"]:
        if req.get("echo"):
            generated = _TOKEN.findall(choice["text"])
            gen_lp = [fake_logprob(t) for t in generated]
            choice["text"] = prompt + choice["text"]
            if req.get("logprobs") is not None:
                all_tokens = [t for t, _ in tokens] + generated
                offsets, pos = [], 0
                for tok in all_tokens:
                    offsets.append(pos)
                    pos += len(tok)
                choice["logprobs"] = {"tokens": all_tokens, "token_logprobs": [lp for _, lp in tokens] + gen_lp,
                                      "top_logprobs": None, "text_offset": offsets}
        if req.get("prompt_logprobs") is not None:
            choice["prompt_logprobs"] = [None if lp is None else
                                         {str(zlib.crc32(tok.encode()) % 50000): {"logprob": lp, "rank": 1,
                                                                                 "decoded_token": tok}}
                                         for tok, lp in tokens]
    return reply
