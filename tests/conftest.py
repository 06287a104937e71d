"""Shared fixtures: a loopback fake OpenAI-compatible server, prompt files, the embedded model."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

# keep Hugging Face datasets' cache (locks, streaming state) out of the user's home
os.environ.setdefault("HF_DATASETS_CACHE", str(Path(os.environ.get("TMPDIR", "/tmp")) / "synthloom-test-hf-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def fake_server():
    """One fast fake server for the whole session (zero latency, no faults)."""
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    with FakeOpenAIServer(FakeServerConfig()) as server:
        yield server


@pytest.fixture
def fake_model(fake_server) -> str:
    return f"openai:fake@{fake_server.url}"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.fixture
def prompts_file(tmp_path: Path):
    def make(n: int, name: str = "prompts.jsonl") -> Path:
        return write_jsonl(tmp_path / name, [{"prompt": f"Tell me about item {i}"} for i in range(n)])

    return make


@pytest.fixture(scope="session")
def chromium():
    """The process's shared headless Chromium (``synthloom.testing.web``); skips where it is not installed."""
    from synthloom.testing.web import shared_chromium

    browser = shared_chromium()
    if browser is None:
        pytest.skip("chromium is not installed (make system-deps installs it)")
    return browser
