"""The Messages API body mapping and reply decoding, without a server."""

from __future__ import annotations

import orjson
import pytest

from synthloom.llm.backends.anthropic_messages import (
    MessageFormatError,
    count_breakpoints,
    error_message,
    message_body,
    parse_message,
)
from synthloom.llm.types import Request

PNG = "iVBORw0KGgo="


def body(messages: list[dict], prompt_cache: bool = False, **params) -> dict:
    return message_body("claude-x", Request.chat(messages, **params), prompt_cache=prompt_cache)


def test_image_parts_become_image_blocks():
    content = [{"type": "text", "text": "what is this?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
               {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
               {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}}]
    blocks = body([{"role": "user", "content": content}])["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    assert blocks[3] == content[3]  # an Anthropic block passes as it is


@pytest.mark.parametrize("messages, problem", [
    ([{"role": "user", "content": [{"type": "audio", "data": "x"}]}], "content part of type 'audio'"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}], "base64"),
    ([{"role": "narrator", "content": "once"}], "role 'narrator'"),
])
def test_what_the_api_cannot_take_is_a_format_error(messages, problem):
    with pytest.raises(MessageFormatError, match=problem):
        body(messages)


def test_prefill_loses_trailing_whitespace_and_turns_merge():
    sent = body([{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                 {"role": "assistant", "content": "The answer is "}])
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "The answer is"}]}]


def test_broken_call_arguments_in_the_history_are_sent_as_empty_input():
    call = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    sent = body([{"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": [call]},
                 {"role": "tool", "tool_call_id": "toolu_1", "content": "error: bad arguments"}])
    assert sent["messages"][1]["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]


def test_breakpoints_never_exceed_four():
    marked = [{"type": "text", "text": f"p{i}", "cache_control": {"type": "ephemeral"}} for i in range(4)]
    sent = body([{"role": "system", "content": "rules"}, {"role": "user", "content": marked}], prompt_cache=True, n=2)
    assert count_breakpoints(sent) == 4 and "cache_control" not in sent["system"][-1]


def test_reply_decoding_maps_stop_reasons_thinking_and_usage():
    reply = {"type": "message", "model": "claude-x", "stop_reason": "max_tokens",
             "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Hel"}],
             "usage": {"input_tokens": 5, "output_tokens": 2, "cache_creation_input_tokens": 10,
                       "cache_read_input_tokens": 20}}
    choice, usage, model = parse_message(reply, Request.chat([{"role": "user", "content": "hi"}]), 0)
    assert (choice.text, choice.finish_reason, choice.reasoning, model) == ("Hel", "length", "hmm", "claude-x")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cache_creation_tokens, usage.cache_read_tokens) == (
        35, 2, 10, 20)
    refusal = parse_message({**reply, "stop_reason": "refusal"}, Request.chat([{"role": "user", "content": "x"}]), 0)
    assert refusal[0].finish_reason == "content_filter"
    with pytest.raises(ValueError, match="not a Message object"):
        parse_message({"type": "error"}, Request.chat([{"role": "user", "content": "x"}]), 0)


def test_error_message_reads_the_api_error_shape():
    api = orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert error_message(api) == "overloaded_error: Overloaded"
    assert error_message(b"<html>bad gateway</html>") == "<html>bad gateway</html>"
    assert error_message(b"") == "(empty body)"
