"""Tokenizers that say where each token of a text starts, for chunking text by a model's tokens.

A tokenizer is named by a spec string a person can type:

* ``embedded`` — the vocabulary of the embedded model's GGUF (SmolLM2-135M-Instruct);
* ``gguf:PATH`` — the vocabulary of any GGUF file, loaded by llama-cpp-python with ``vocab_only=True``
  (no weights are read, so loading takes well under a second);
* ``tokenizers:PATH`` (or a path ending in ``.json``) — a Hugging Face ``tokenizer.json`` read by the
  ``tokenizers`` package (extra ``embed``);
* ``whitespace`` — one token per word with the whitespace before it (no dependency; a rough count).

:meth:`TextTokenizer.token_starts` gives, for each token of a text, the character offset where it
starts, or ``-1`` where a byte-level token starts inside a multi-byte character (no cut may fall there).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.util
import os
import re
import threading
from itertools import accumulate
from typing import Any

from .formats import SourceError

__all__ = ["TextTokenizer", "load_tokenizer", "tokenizer_problem"]

_WORD_UNIT = re.compile(r"\s*\S+|\s+")
_SPEC_HELP = "use embedded, gguf:PATH (a .gguf file), tokenizers:PATH (a tokenizer.json) or whitespace"


class TextTokenizer:
    """Base of the tokenizers: ``token_starts(text)`` and ``count(text)``; ``identity`` names the
    vocabulary (a content hash for files), so a changed tokenizer file recomputes a run's chunks."""

    spec: str = ""
    identity: str = ""

    def token_starts(self, text: str) -> list[int]:
        raise NotImplementedError

    def count(self, text: str) -> int:
        """How many tokens ``text`` has."""
        return len(self.token_starts(text))


class WhitespaceTokenizer(TextTokenizer):
    """One token per whitespace-separated word, with the whitespace before it."""

    spec = identity = "whitespace"

    def token_starts(self, text: str) -> list[int]:
        return [m.start() for m in _WORD_UNIT.finditer(text)]


class GgufTokenizer(TextTokenizer):
    """The vocabulary of a GGUF model through llama.cpp (``vocab_only=True``: no weights loaded)."""

    def __init__(self, spec: str, path: str) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise SourceError(f"tokenizer {spec!r} needs llama-cpp-python: pip install 'synthloom[local]'") from None
        from ..llm.backends.llamacpp import gguf_fingerprint

        self.spec, self.path = spec, path
        self.identity = "gguf:" + gguf_fingerprint(path)
        self._lock = threading.Lock()  # a llama.cpp vocabulary is not documented as thread-safe
        try:
            self._model = llama_cpp.Llama(path, vocab_only=True, verbose=False, n_ctx=8)
        except (ValueError, RuntimeError) as exc:
            raise SourceError(f"tokenizer {spec!r}: llama.cpp cannot load the vocabulary of {path} ({exc})") from None
        self._pieces = [self._model.detokenize([i]) for i in range(self._model.n_vocab())]
        atexit.register(self._model.close)  # before interpreter teardown, when llama.cpp's own cleanup fails

    def _ids(self, data: bytes) -> list[int]:
        with self._lock:
            return self._model.tokenize(data, add_bos=False, special=False)

    def count(self, text: str) -> int:
        return len(self._ids(text.encode("utf-8"))) if text else 0

    def token_starts(self, text: str) -> list[int]:
        if not text:
            return []
        data = text.encode("utf-8")
        ids = self._ids(data)
        lengths = [len(self._pieces[i]) for i in ids]
        joined = b"".join(self._pieces[i] for i in ids)
        shift = 0
        if joined != data:
            if joined[1:] == data and joined[:1] == b" ":  # SentencePiece adds a space before the text
                shift = 1
            else:  # the pieces do not spell the text: count word by word, which always adds up
                return _unitwise_starts(text, self.count)
        byte_starts = [b - shift for b in accumulate(lengths, initial=0)][:-1]
        byte_starts[0] = max(byte_starts[0], 0)
        if len(data) == len(text):  # ASCII: bytes are characters
            return byte_starts
        char_at = _char_offsets_of_bytes(text)
        return [char_at.get(b, -1) for b in byte_starts]


class HuggingFaceTokenizer(TextTokenizer):
    """A ``tokenizer.json`` through the ``tokenizers`` package (its offsets are character offsets)."""

    def __init__(self, spec: str, path: str) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise SourceError(f"tokenizer {spec!r} needs the 'tokenizers' package: pip install 'synthloom[embed]'") from None
        self.spec, self.path = spec, path
        with open(path, "rb") as handle:
            self.identity = "tokenizers:" + hashlib.sha256(handle.read()).hexdigest()
        try:
            self._tokenizer = Tokenizer.from_file(path)
        except Exception as exc:  # noqa: BLE001 - the library raises bare Exceptions for bad files
            raise SourceError(f"tokenizer {spec!r}: {path} is not a tokenizer.json the tokenizers package can read ({exc})") from None
        self._tokenizer.no_padding()  # a document is tokenized whole: no padding to, or cut at, a model's length
        self._tokenizer.no_truncation()

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids) if text else 0

    def token_starts(self, text: str) -> list[int]:
        if not text:
            return []
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        starts: list[int] = []
        previous = -1
        for start, _end in offsets:
            # pieces of one character share its offsets: only the first may start a cut
            starts.append(start if start > previous else -1)
            previous = max(previous, start)
        if starts and starts[0] > 0:
            starts[0] = 0  # leading whitespace the tokenizer drops belongs to the first token
        return starts


def _char_offsets_of_bytes(text: str) -> dict[int, int]:
    """Byte offset -> character offset, for every character start of ``text`` (UTF-8)."""
    widths = (1 if c < "\x80" else 2 if c < "\u0800" else 3 if c < "\U00010000" else 4 for c in text)
    return {b: i for i, b in enumerate(accumulate(widths, initial=0))}


def _unitwise_starts(text: str, count: Any) -> list[int]:
    """Token starts from tokenizing each word (with the whitespace before it) on its own."""
    starts: list[int] = []
    for match in _WORD_UNIT.finditer(text):
        n = count(match.group())
        starts.append(match.start())
        starts.extend([-1] * (n - 1))
    return starts


def tokenizer_problem(spec: str) -> str | None:
    """What is wrong with a tokenizer spec (checked when a step is built), or None."""
    if not isinstance(spec, str) or not spec.strip():
        return f"tokenizer must be a non-empty string; {_SPEC_HELP}"
    if spec == "whitespace":
        return None
    kind, path = ("gguf", "") if spec == "embedded" else _split(spec)
    if kind is None:
        return f"unknown tokenizer {spec!r}; {_SPEC_HELP}"
    if path and not os.path.isfile(path):
        return f"tokenizer {spec!r}: no such file {path}; fix the path"
    module, extra = ("llama_cpp", "local") if kind == "gguf" else ("tokenizers", "embed")
    if importlib.util.find_spec(module) is None:
        return f"tokenizer {spec!r} needs the '{module}' package: pip install 'synthloom[{extra}]' (or use tokenizer: whitespace)"
    return None


def _split(spec: str) -> tuple[str | None, str]:
    if spec.startswith("gguf:"):
        return "gguf", os.path.abspath(os.path.expanduser(spec[5:]))
    if spec.startswith("tokenizers:"):
        return "tokenizers", os.path.abspath(os.path.expanduser(spec[11:]))
    if spec.endswith(".json"):
        return "tokenizers", os.path.abspath(os.path.expanduser(spec))
    return None, spec


@functools.lru_cache(maxsize=8)
def load_tokenizer(spec: str) -> TextTokenizer:
    """The tokenizer a spec names (loaded once per process); raises :class:`SourceError` with the fix."""
    problem = tokenizer_problem(spec)
    if problem is not None:
        raise SourceError(problem)
    if spec == "whitespace":
        return WhitespaceTokenizer()
    if spec == "embedded":
        from ..llm.embedded import EmbeddedModelMissing, embedded_gguf_path

        try:
            return GgufTokenizer(spec, embedded_gguf_path())
        except EmbeddedModelMissing as exc:
            raise SourceError(f"tokenizer 'embedded': {exc}") from None
    kind, path = _split(spec)
    return GgufTokenizer(spec, path) if kind == "gguf" else HuggingFaceTokenizer(spec, path)
