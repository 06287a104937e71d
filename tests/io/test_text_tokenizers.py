"""Tokenizer specs: each names where its tokens start in the text, so chunks can be cut between them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from synthloom.io.chunking import chunk_text
from synthloom.io.formats import SourceError
from synthloom.io.text_tokenizers import load_tokenizer, tokenizer_problem

MINILM = Path(__file__).resolve().parents[2] / "src" / "synthloom" / "curate" / "embedding_data" / "minilm-tokenizer.json"


def test_specs_are_checked_with_the_fix_in_the_message(tmp_path):
    assert tokenizer_problem("whitespace") is None and tokenizer_problem("embedded") is None
    assert "unknown tokenizer 'bert'" in tokenizer_problem("bert")
    assert "no such file" in tokenizer_problem(f"gguf:{tmp_path / 'missing.gguf'}")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(SourceError, match="not a tokenizer.json"):
        load_tokenizer(f"tokenizers:{bad}")


@pytest.mark.skipif(importlib.util.find_spec("tokenizers") is None or not MINILM.exists(), reason="extra 'embed' not installed")
def test_a_tokenizer_json_gives_character_starts_and_chunks_by_its_tokens():
    tokenizer = load_tokenizer(f"tokenizers:{MINILM}")
    text = "  Tokenization splits unbelievably long words into pieces, naïvely."
    starts = tokenizer.token_starts(text)
    assert starts[0] == 0 and len(starts) == tokenizer.count(text) > len(text.split())
    valid = [s for s in starts if s >= 0]
    assert valid == sorted(valid)
    chunks = chunk_text(text, tokenizer, 6, 0)
    assert " ".join(piece for _, piece in chunks).split() == text.split()  # whole words, all of them
    assert all(c.token_count <= 6 or c.word_split for c, _ in chunks)
    assert tokenizer.identity.startswith("tokenizers:")
