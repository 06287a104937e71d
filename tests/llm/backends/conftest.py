"""One embedded model for every backend test that needs it (a model load costs seconds)."""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture(scope="session")
def backend():
    """The in-process llama.cpp backend serving the embedded model (SmolLM2-135M)."""
    pytest.importorskip("llama_cpp")
    from synthloom.llm.backends.llamacpp import LlamaCppBackend
    from synthloom.llm.spec import parse_model_spec

    b = LlamaCppBackend(parse_model_spec("embedded", n_ctx=512, n_seq=8))
    yield b
    asyncio.run(b.aclose())
