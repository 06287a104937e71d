"""Requests are checked when they are built: a value no server accepts never leaves the process."""

from __future__ import annotations

import math

import pytest

from synthloom.llm.types import InvalidRequest, Request, sampling_problem


@pytest.mark.parametrize("params, problem", [
    ({"temperature": "abc"}, "temperature must be a number >= 0"),
    ({"temperature": math.nan}, "temperature must be a number >= 0"),
    ({"temperature": -0.1}, "temperature must be a number >= 0"),
    ({"temperature": True}, "temperature must be a number >= 0"),
    ({"top_p": 1.5}, "top_p must be a number from 0 to 1"),
    ({"max_tokens": -5}, "max_tokens must be a whole number >= 1, not -5"),
    ({"max_tokens": 2.0}, "max_tokens must be a whole number >= 1"),
    ({"n": 0}, "n must be a whole number >= 1"),
    ({"seed": "x"}, "seed must be a whole number"),
    ({"top_logprobs": -1}, "top_logprobs must be a whole number >= 0"),
    ({"stop": [1, 2]}, "stop must be a string or a list of strings"),
    ({"logprobs": "yes"}, "logprobs must be true or false"),
])
def test_invalid_sampling_values_are_refused(params, problem):
    with pytest.raises(InvalidRequest, match=problem):
        Request.chat([{"role": "user", "content": "hi"}], **params)
    with pytest.raises(InvalidRequest, match=problem):
        Request.completion("hi", **params)


def test_valid_values_pass_and_none_means_the_server_default():
    req = Request.chat([{"role": "user", "content": "hi"}], temperature=0, top_p=1, max_tokens=1, n=2, seed=-3,
                       stop="###", top_logprobs=0, logprobs=True)
    assert req.to_dict()["temperature"] == 0
    assert sampling_problem("temperature", None) is None


@pytest.mark.parametrize("messages, problem", [
    ([{"role": "user", "content": None}], "message 0 \\(user\\) has no content"),
    ([{"content": "hi"}], "message 0 has no role"),
    ([{"role": "user", "content": 5}], "content must be text"),
    ([], "at least one message"),
])
def test_null_or_malformed_messages_are_refused(messages, problem):
    with pytest.raises(InvalidRequest, match=problem):
        Request.chat(messages)


def test_a_null_prompt_is_refused_not_sent_as_none():
    with pytest.raises(InvalidRequest, match="the prompt must be text"):
        Request(prompt=5)  # type: ignore[arg-type]


def test_tool_call_messages_may_have_no_content():
    call = {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    Request.chat([{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [call]}])
