"""Grammar-constrained sampling that checks the drawn token (``llamacpp_grammar.GrammarGate``): greedy replies are the
tokens of masking the vocabulary first, every reply (greedy or sampled) follows its schema, and replies that need
the grammar to step in (the model would not write the format on its own) still come out right."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.llm.structured import parse_and_validate
from synthloom.llm.types import Request

SCHEMAS = [
    {"type": "object", "properties": {"score": {"type": "integer", "enum": [0, 1, 2]}, "reason": {"type": "string", "maxLength": 80}},
     "required": ["score", "reason"], "additionalProperties": False},
    {"type": "object", "properties": {"pairs": {"type": "array", "minItems": 1, "maxItems": 2, "items": {
        "type": "object", "properties": {"question": {"type": "string", "maxLength": 60}, "answer": {"type": "string", "maxLength": 60}},
        "required": ["question", "answer"], "additionalProperties": False}}}, "required": ["pairs"], "additionalProperties": False},
    {"type": "object", "properties": {"label": {"type": "string", "enum": ["very poor", "poor", "average", "good", "excellent"]}},
     "required": ["label"], "additionalProperties": False},
]
PROMPTS = ["Rate this answer: 'Paris is the capital of France.'", "Write questions about honey bees.",
           "How good is the query 'tell me a joke'?"]


@pytest.fixture(scope="module")
def one_thread():
    """The embedded model on one thread without prefix reuse: greedy outputs are then bit-reproducible."""
    pytest.importorskip("llama_cpp")
    from synthloom.llm.backends.llamacpp import LlamaCppBackend
    from synthloom.llm.spec import parse_model_spec

    backend = LlamaCppBackend(parse_model_spec("embedded", n_ctx=512, n_seq=4, n_threads=1, prefix_cache=False))
    yield backend
    asyncio.run(backend.aclose())


def _replies(backend, **sampling):
    async def go():
        return await asyncio.gather(*[backend.complete(Request.chat([{"role": "user", "content": p}], json_schema=s,
                                                                     max_tokens=200, **sampling))
                                      for p, s in zip(PROMPTS, SCHEMAS, strict=True)])
    return [r.text for r in asyncio.run(go())]


@pytest.mark.slow
def test_greedy_replies_are_the_tokens_of_masking_first_and_follow_the_schema(one_thread):
    gated = _replies(one_thread, temperature=0)
    engine = one_thread._engine
    redraws_before = engine.stats["grammar_redraws"]
    engine.grammar_first = True
    try:
        masked = _replies(one_thread, temperature=0)
    finally:
        engine.grammar_first = False
    assert gated == masked
    for text, schema in zip(gated, SCHEMAS, strict=True):
        parse_and_validate(text, schema)
    assert redraws_before > 0  # the model's own first tokens broke the format: the grammar stepped in


@pytest.mark.slow
def test_sampled_replies_follow_the_schema(one_thread):
    for seed in (1, 2):
        for text, schema in zip(_replies(one_thread, temperature=1.0, seed=seed), SCHEMAS, strict=True):
            value = parse_and_validate(text, schema)
            assert json.loads(text) == value
