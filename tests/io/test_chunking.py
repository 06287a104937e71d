"""Chunks by tokens: never inside a word (a word longer than a chunk is the one exception), at most
``max_tokens`` tokens, the overlap exactly the whole words that fit, every token with text covered."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthloom.io.chunking import chunk_spans, chunk_text, cut_points
from synthloom.io.text_tokenizers import WhitespaceTokenizer, load_tokenizer
from synthloom.testing.recipe_runs import embedded_model_available

WORD = st.text(alphabet="abcxyzé東🙂.,'-", min_size=1, max_size=12)
SPACE = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \n "])
TEXT = st.lists(st.tuples(SPACE, WORD), max_size=60).map(lambda parts: "".join(s + w for s, w in parts))
LONG_WORDS = st.lists(st.tuples(SPACE, st.one_of(WORD, st.text(alphabet="qwerty東", min_size=30, max_size=90))),
                      max_size=25).map(lambda parts: "".join(s + w for s, w in parts))


def token_spans(text: str, starts: list[int]) -> list[tuple[int, int]]:
    """Each token's characters; a token starting inside a character gets the span of the one before."""
    bounds = sorted({s for s in starts if s >= 0} | {len(text)})
    spans: list[tuple[int, int]] = []
    for s in starts:
        spans.append(spans[-1] if s < 0 else (s, next((b for b in bounds if b > s), s)))
    return spans


def check_chunks(text: str, starts: list[int], max_tokens: int, overlap: int) -> None:
    chunks = chunk_spans(text, starts, max_tokens, overlap)
    allowed = set(cut_points(text, starts))
    n = len(starts)
    for i, c in enumerate(chunks):
        assert c.index == i and 0 < c.token_count <= max_tokens or (c.word_split and c.token_count <= 4)  # 4: a character's bytes
        piece = text[c.char_start:c.char_end]
        assert piece and piece == piece.strip()
        whole_start = c.char_start == 0 or text[c.char_start - 1].isspace()
        whole_end = c.char_end == len(text) or text[c.char_end].isspace()
        assert c.word_split or (whole_start and whole_end), (text, c)
        if c.word_split:  # only a word with more tokens than a chunk is ever cut
            word = next(m for m in re.finditer(r"\S+", text) if m.start() <= c.char_start < m.end() or m.start() < c.char_end <= m.end())
            assert sum(1 for s, e in token_spans(text, starts) if s < word.end() and e > word.start()) > max_tokens
    for prev, cur in zip(chunks, chunks[1:]):
        assert 0 <= cur.overlap_tokens <= overlap and cur.overlap_tokens == max(0, prev.token_end - cur.token_start)
        assert not text[starts[prev.token_end]:starts[cur.token_start]].strip()  # only whitespace is skipped
        if prev.token_end in allowed and overlap:
            # the overlap is the longest run of whole words within `overlap` tokens, unless the word after
            # the chunk would not fit beside it
            first = min((i for i in allowed if max(prev.token_end - overlap, prev.token_start + 1) <= i < prev.token_end),
                        default=None)
            if first is not None and cur.token_start != first and text[starts[first]:starts[prev.token_end]].strip():
                assert cur.token_start >= prev.token_end
                assert not any(prev.token_end < i <= first + max_tokens for i in allowed)
        if cur.overlap_tokens:
            shared = text[cur.char_start:prev.char_end]
            assert text[prev.char_start:prev.char_end].endswith(shared) and text[cur.char_start:cur.char_end].startswith(shared)
    covered = {i for c in chunks for i in range(c.token_start, c.token_end)}
    bounds = [s for s in starts if s >= 0] + [len(text)]
    for i, s in enumerate(starts):
        if s >= 0:
            end = next(b for b in bounds if b > s) if s < len(text) else s
            if text[s:end].strip():
                assert i in covered, (text, i)
    assert all(c.token_end <= n for c in chunks)


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(1, 12), st.data())
def test_whitespace_tokens_chunk_at_word_boundaries_with_exact_overlap(text, max_tokens, data):
    overlap = data.draw(st.integers(0, max_tokens - 1))
    check_chunks(text, WhitespaceTokenizer().token_starts(text), max_tokens, overlap)


needs_gguf = pytest.mark.skipif(not embedded_model_available(), reason="the embedded GGUF (extra 'local') is not installed")


@needs_gguf
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LONG_WORDS, st.integers(2, 24), st.data())
def test_model_tokens_chunk_at_word_boundaries_and_cut_only_overlong_words(text, max_tokens, data):
    tokenizer = load_tokenizer("embedded")
    starts = tokenizer.token_starts(text)
    assert len(starts) == tokenizer.count(text)
    check_chunks(text, starts, max_tokens, data.draw(st.integers(0, max_tokens - 1)))


@needs_gguf
def test_gguf_token_starts_spell_the_text_in_characters():
    tokenizer = load_tokenizer("embedded")
    text = "Naïve café — 東京 🙂 tabs\tand\r\nend."
    starts = tokenizer.token_starts(text)
    assert starts[0] == 0 and all(-1 <= s < len(text) for s in starts)
    valid = [s for s in starts if s >= 0]
    assert valid == sorted(valid) and len(set(valid)) == len(valid)
    assert tokenizer.identity.startswith("gguf:") and load_tokenizer("embedded") is tokenizer


def test_a_word_longer_than_a_chunk_is_cut_and_flagged_and_the_rest_stays_whole():
    text = "alpha beta " + "x" * 30 + " gamma delta"
    tokenizer = _FixedWidthTokenizer(5)  # a token is 5 characters of a word, or a whitespace run
    chunks = chunk_text(text, tokenizer, 4, 0)
    assert [(piece, c.word_split) for c, piece in chunks] == [
        ("alpha beta", False), ("x" * 20, True), ("x" * 10 + " gamma", True), ("delta", False)]


def test_overlap_carries_whole_words_and_sizes_are_checked():
    text = "one two three four five six seven eight nine ten"
    chunks = chunk_text(text, WhitespaceTokenizer(), 4, 2)
    assert [p for _, p in chunks] == ["one two three four", "three four five six", "five six seven eight",
                                      "seven eight nine ten"]
    assert [c.overlap_tokens for c, _ in chunks] == [0, 2, 2, 2]
    assert chunk_text("", WhitespaceTokenizer(), 4) == [] and chunk_text("  \n ", WhitespaceTokenizer(), 4) == []
    with pytest.raises(ValueError, match="overlap < max_tokens"):
        chunk_spans("a b", [0, 1], 2, 2)


class _FixedWidthTokenizer(WhitespaceTokenizer):
    """Whitespace runs are one token; words are tokens of ``width`` characters."""

    def __init__(self, width: int) -> None:
        self.width = width

    def token_starts(self, text: str) -> list[int]:
        starts = []
        for m in re.finditer(r"\s+|\S+", text):
            step = len(m.group()) if m.group().isspace() else self.width
            starts += range(m.start(), m.end(), step)
        return starts
