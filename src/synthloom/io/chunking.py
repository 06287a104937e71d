"""Cut a text into chunks of at most N tokens with an overlap, never inside a word.

The text is tokenized once (see :mod:`synthloom.io.text_tokenizers`); a chunk is a run of whole
tokens ``[token_start, token_end)``. A chunk may end only where no word is split: at a token boundary
with whitespace on at least one side (or at the end of the text). The one exception is a single
word longer than a chunk, cut at token boundaries (never inside a character); the chunks that
start or end inside it are flagged ``word_split`` (and where one character alone has more byte
tokens than ``max_tokens``, its chunk holds all of them). The next chunk starts at the earliest allowed boundary at or after
``token_end - overlap``, so an overlap is whole words totalling at most ``overlap`` tokens, and as
many as fit. A chunk's characters are its tokens' text with the whitespace at both ends left out
(``text[char_start:char_end]``); a stretch of the text that is only whitespace makes no chunk.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from .text_tokenizers import TextTokenizer

__all__ = ["Chunk", "chunk_spans", "chunk_text", "cut_points"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of a text: its place in the text's tokens and characters."""

    index: int
    token_start: int
    token_end: int
    char_start: int
    char_end: int
    overlap_tokens: int  # tokens shared with the chunk before
    word_split: bool  # starts or ends inside a word longer than a chunk

    @property
    def token_count(self) -> int:
        return self.token_end - self.token_start


def cut_points(text: str, starts: list[int]) -> list[int]:
    """Token indices (0..n) where a chunk may start or end without splitting a word."""
    n = len(starts)
    allowed = [0]
    for i in range(1, n):
        pos = starts[i]
        if pos > 0 and (text[pos - 1].isspace() or text[pos].isspace()):
            allowed.append(i)
    if n:
        allowed.append(n)
    return allowed


def chunk_spans(text: str, starts: list[int], max_tokens: int, overlap: int = 0) -> list[Chunk]:
    """Chunks of ``text`` whose tokens start at ``starts`` (see the module doc)."""
    if max_tokens < 1 or not 0 <= overlap < max_tokens:
        raise ValueError(f"chunk sizes need max_tokens >= 1 and 0 <= overlap < max_tokens; got {max_tokens}, {overlap}")
    n = len(starts)
    allowed = cut_points(text, starts)
    allowed_set = set(allowed)

    def pos(i: int) -> int:
        return len(text) if i == n else starts[i]

    chunks: list[Chunk] = []
    a, previous_end = 0, 0
    while a < n:
        while a == previous_end and a + 1 in allowed_set and not text[pos(a):pos(a + 1)].strip():
            a = previous_end = a + 1  # a chunk does not spend its tokens on whitespace before its first word
        if a >= n:
            break
        limit = min(a + max_tokens, n)
        low = max(a, previous_end)
        k = bisect_right(allowed, limit) - 1
        if allowed[k] <= low and a < previous_end:  # the overlap leaves no room for the next whole word: drop it
            a = previous_end
            continue
        split = allowed[k] <= low
        if not split:
            b = allowed[k]
        else:  # one word longer than a chunk: cut it at the last token boundary that is a character boundary
            b = next((i for i in range(limit, low, -1) if i == n or starts[i] >= 0), None)
            if b is None:  # one character has more (byte) tokens than a chunk: the chunk takes all of them
                b = next(i for i in range(limit + 1, n + 1) if i == n or starts[i] >= 0)
        char_start, char_end = _strip(text, pos(a), pos(b))
        if char_start < char_end:
            shared = max(0, chunks[-1].token_end - a) if chunks else 0
            starts_inside = allowed[bisect_left(allowed, a)] != a
            chunks.append(Chunk(len(chunks), a, b, char_start, char_end, shared, split or starts_inside))
        if b >= n:
            break
        nxt = b
        if overlap:
            k = bisect_left(allowed, max(b - overlap, a + 1))
            if k < len(allowed) and allowed[k] < b:
                nxt = allowed[k]
        a, previous_end = nxt, b
    return chunks


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    return start + left, start + len(piece.rstrip())


def chunk_text(text: str, tokenizer: TextTokenizer, max_tokens: int, overlap: int = 0) -> list[tuple[Chunk, str]]:
    """``text`` cut into chunks of at most ``max_tokens`` tokens of ``tokenizer``, each with its text."""
    spans = chunk_spans(text, tokenizer.token_starts(text), max_tokens, overlap)
    return [(c, text[c.char_start:c.char_end]) for c in spans]
