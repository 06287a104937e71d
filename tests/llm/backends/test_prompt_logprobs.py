"""Prompt log-probabilities from OpenAI-compatible servers (echo, vLLM's prompt_logprobs, auto-detection, refusal)
against the fake server, and the parsing of real servers' reply shapes."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.llm.backends.openai import OpenAIBackend
from synthloom.llm.backends.prompt_logprobs import PromptLogprobsMissing, continuation_logprobs, echo_tokens, vllm_tokens
from synthloom.llm.server_scoring import ServerScorer
from synthloom.llm.spec import ModelSpecError, parse_model_spec
from synthloom.llm.types import PermanentError, PromptToken, Request, Response
from synthloom.testing.fake_replies import prompt_tokens
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

PROMPT = "Below is an instruction.\n\n### Response: Jupiter is the largest planet."


def ask(url: str, *requests: Request, **settings) -> tuple[list[Response | Exception], OpenAIBackend]:
    backend = OpenAIBackend(parse_model_spec(f"openai:fake@{url}", name="scorer", **settings))

    async def go() -> list[Response | Exception]:
        try:
            return await asyncio.gather(*(backend.complete(r) for r in requests), return_exceptions=True)
        finally:
            await backend.aclose()

    return asyncio.run(go()), backend


def request(text: str = PROMPT) -> Request:
    return Request.completion(text, prompt_logprobs=True, max_tokens=1, temperature=0)


@pytest.mark.parametrize("served, expected_mode", [("echo,vllm", "echo"), ("vllm", "vllm"), ("echo", "echo")])
def test_auto_finds_the_mode_the_server_offers(served, expected_mode):
    with FakeOpenAIServer(FakeServerConfig(prompt_logprobs=served)) as server:
        responses, backend = ask(server.url, request(), request(PROMPT + " More."))
    assert backend.prompt_logprobs.mode == expected_mode
    assert responses[0].choices[0].prompt_logprobs == [PromptToken(t, lp) for t, lp in prompt_tokens(PROMPT)]
    assert responses[0].text == "Reply"  # the echoed prompt is not part of the answer


@pytest.mark.parametrize("mode", ["echo", "vllm"])
def test_a_configured_mode_is_sent_as_is(fake_server, mode):
    (response,), backend = ask(fake_server.url, request(), prompt_logprobs=mode)
    body = fake_server.last_request()["body"]
    assert ('"echo":true' in body) == (mode == "echo") and ('"prompt_logprobs":0' in body) == (mode == "vllm")
    assert [t.logprob for t in response.choices[0].prompt_logprobs] == [lp for _, lp in prompt_tokens(PROMPT)]


def test_a_server_without_prompt_logprobs_gives_one_clear_error():
    with FakeOpenAIServer(FakeServerConfig(prompt_logprobs="")) as server:
        responses, backend = ask(server.url, request(), request("Another text."))
        asked = server.stats()["by_path"].get("/v1/completions", 0)
    for error in responses:
        assert isinstance(error, PermanentError)
        assert "model 'scorer'" in str(error) and "gives no prompt log-probabilities" in str(error)
        assert "echo: HTTP 400" in str(error) and "vllm: the reply has no prompt_logprobs" in str(error)
        assert "gguf:" in str(error) and "\n" not in str(error)
    assert backend.prompt_logprobs.mode == "none" and asked == 2  # detected once: the second request fails at once


def test_a_configured_mode_the_server_lacks_fails_clearly(fake_server):
    (error,), _ = ask(fake_server.url, request(), prompt_logprobs="none")
    assert isinstance(error, PermanentError) and "prompt_logprobs is set to 'none'" in str(error)
    with FakeOpenAIServer(FakeServerConfig(prompt_logprobs="echo")) as server:
        (error,), _ = ask(server.url, request(), prompt_logprobs="vllm")
    assert isinstance(error, PermanentError) and "with prompt_logprobs 'vllm'" in str(error)
    (error,), _ = ask(fake_server.url, request(), endpoint="chat")
    assert isinstance(error, PermanentError) and "endpoint 'chat'" in str(error)


def test_the_setting_is_checked():
    with pytest.raises(ModelSpecError, match="prompt_logprobs' must be one of auto, echo, vllm, none"):
        parse_model_spec("openai:m@http://127.0.0.1:9/v1", prompt_logprobs="yes")
    with pytest.raises(ValueError, match="need a raw prompt"):
        Request.chat([{"role": "user", "content": "x"}], prompt_logprobs=True)


def test_prompt_tokens_survive_the_cache_round_trip(fake_server):
    (response,), _ = ask(fake_server.url, request())
    again = Response.from_dict(response.to_dict())
    assert again.choices[0].prompt_logprobs == response.choices[0].prompt_logprobs
    assert request().fingerprint() != Request.completion(PROMPT, max_tokens=1, temperature=0).fingerprint()
    assert "prompt_logprobs" not in Response.from_dict(Response([]).to_dict()).to_dict()


def test_server_scorer_scores_the_continuation(fake_server):
    from synthloom.llm.client import build_model

    model = build_model(parse_model_spec(f"openai:fake@{fake_server.url}"))
    context, answer = "### Response:", " Jupiter is the largest planet."

    async def go():
        try:
            return await ServerScorer(model).ascore(context, answer)
        finally:
            await model.aclose()

    got = asyncio.run(go())
    tokens = prompt_tokens(context + answer)
    assert got.tokens == [" Jupiter", " is", " the", " largest", " planet."]
    assert got.logprobs == [lp for _, lp in tokens[-5:]]


# -- reply shapes of real servers ------------------------------------------------------------------------------------

def test_echo_reply_of_a_server_that_keeps_the_generated_token():
    choice = {"text": "The cat.\n", "logprobs": {"tokens": ["The", " cat", ".", "\n"],
                                                 "token_logprobs": [None, -2.0, -1.0, -0.5]}}
    assert echo_tokens(choice, "The cat.", 1) == [PromptToken("The", None), PromptToken(" cat", -2.0),
                                                  PromptToken(".", -1.0)]


def test_echo_reply_paired_with_the_logits_after_each_token_is_refused():
    # llama-cpp-python's server, model without BOS: the generated "\n" is in the text but not among the tokens
    choice = {"text": "The capital of France is Paris.\n",
              "logprobs": {"tokens": ["The", " capital", " of", " France", " is", " Paris", "."],
                           "token_logprobs": [None, -9.6, -10.46, -11.23, -11.79, -8.45, -18.18]}}
    with pytest.raises(PromptLogprobsMissing, match="paired with the logits after it"):
        echo_tokens(choice, "The capital of France is Paris.", 1)
    with pytest.raises(PromptLogprobsMissing, match="does not echo the prompt"):
        echo_tokens({"text": "\n", "logprobs": None}, "The capital", 1)


def test_vllm_reply_with_a_bos_token():
    entries = [None, {"791": {"logprob": -3.5, "rank": 12, "decoded_token": "The"}},
               {"8415": {"logprob": -4.25, "rank": 30, "decoded_token": " cat"}}]
    tokens = vllm_tokens(entries, "The cat")
    assert tokens == [PromptToken("", None), PromptToken("The", -3.5), PromptToken(" cat", -4.25)]
    assert continuation_logprobs(tokens, " cat") == ([" cat"], [-4.25])
    with pytest.raises(PromptLogprobsMissing):
        vllm_tokens(None, "The cat")


def test_a_token_across_the_join_counts_as_the_continuation():
    tokens = [PromptToken("Q", None), PromptToken(":", -1.0), PromptToken("Ans", -2.0), PromptToken("wer", -3.0)]
    assert continuation_logprobs(tokens, "nswer") == (["Ans", "wer"], [-2.0, -3.0])
    assert continuation_logprobs(tokens, "Q:Answer") == ([":", "Ans", "wer"], [-1.0, -2.0, -3.0])
