"""``documents``: a source of text, Markdown, HTML and PDF files; ``chunk``: documents cut into token chunks.

.. code-block:: yaml

    - name: documents
      type: documents
      paths: ["${recipe_dir}/docs/**/*.html", "reports/"]
    - name: chunks
      type: chunk
      max_tokens: 300
      overlap: 30
      tokenizer: embedded          # or gguf:PATH, tokenizers:PATH/tokenizer.json, whitespace

A pattern matching nothing stops the run before it starts (one line naming the pattern). A matched
file that gives no text (a broken or encrypted PDF, an empty file, an HTML page without main text)
is a rejected row of the source, with the reason and the file's metadata: the run goes on and the
file is listed in ``rejected/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import xxhash

from ..io.chunking import chunk_text
from ..io.documents import DOCUMENT_COLUMNS, UnreadableDocument, document_format, find_documents, missing_extra, read_document
from ..io.formats import SourceError
from ..io.text_tokenizers import TextTokenizer, load_tokenizer, tokenizer_problem
from ..pipeline.step import ExpandStep, Rejected, RejectedRow, SourceStep
from ..records import ID

CHUNK_COLUMNS = ["doc_id", "chunk_index", "chunk_count", "char_start", "char_end", "token_count", "overlap_tokens",
                 "word_split"]


class DocumentsSource(SourceStep):
    """Reads the documents that ``paths`` name (files, folders, globs; ``.txt``, ``.md``, ``.html``,
    ``.pdf``), one record per document: ``text`` and its source metadata. ``formats`` keeps only some
    formats (``text``, ``markdown``, ``html``, ``pdf``)."""

    type_name = "documents"

    def __init__(self, name: str, *, paths: list[str] | str, formats: list[str] | None = None) -> None:
        super().__init__(name)
        self.patterns = [paths] if isinstance(paths, str) else [str(p) for p in paths]
        if not self.patterns:
            raise ValueError("paths must name at least one file, folder or glob")
        known = {"text", "markdown", "html", "pdf"}
        if formats is not None and (not formats or set(formats) - known):
            raise ValueError(f"formats must be a non-empty list of {', '.join(sorted(known))}, not {formats!r}")
        self.formats = set(formats) if formats is not None else None
        self._files: dict[Any, str] | None = None

    @property
    def columns(self) -> list[str]:
        """The document record's columns (checking the patterns first: a SourceError names a bad one)."""
        self.files()
        return DOCUMENT_COLUMNS

    def files(self) -> dict[Any, str]:
        """The matched files (checked once: a pattern matching nothing or a missing extra is a SourceError)."""
        if self._files is None:
            files = find_documents(self.patterns, where=f"step {self.name!r}")
            if self.formats is not None:
                files = {f: doc_id for f, doc_id in files.items() if document_format(f) in self.formats}
                if not files:
                    raise SourceError(f"step {self.name!r}: no document of formats {sorted(self.formats)} in {self.patterns}")
            problem = missing_extra(document_format(f) for f in files)
            if problem is not None:
                raise SourceError(f"step {self.name!r}: {problem}")
            self._files = files
        return self._files

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any] | RejectedRow]:
        for i, (path, doc_id) in enumerate(self.files().items()):
            if limit is not None and i >= limit:
                return
            try:
                yield read_document(path, doc_id).record()
            except UnreadableDocument as exc:
                row = {c: None for c in DOCUMENT_COLUMNS} | {"doc_id": doc_id, "path": str(path), "text": "",
                                                             "format": document_format(path)}
                yield RejectedRow(row, Rejected(f"unreadable document {path}: {exc}"))

    def count(self, limit: int | None = None) -> int | None:
        try:
            n = len(self.files())
        except SourceError:
            return None
        return n if limit is None else min(n, limit)

    def fingerprint(self) -> str:
        h = xxhash.xxh3_64("\x1f".join(self.patterns).encode())
        try:
            files = self.files()
        except SourceError:  # reported by the column check, with the step's name
            return h.hexdigest()
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            h.update(f"{os.path.abspath(f)}\x1f{st.st_size}\x1f{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


class ChunkDocuments(ExpandStep):
    """Cuts the text in column ``column`` into chunks of at most ``max_tokens`` tokens of ``tokenizer``
    (``embedded``, ``gguf:PATH``, ``tokenizers:PATH``, ``whitespace``), ``overlap`` tokens shared by
    neighbours, never inside a word: one row per chunk, its text in ``output``, with ``doc_id`` (the
    column ``doc_id`` if the row has one, else its id), ``chunk_index``, ``chunk_count``,
    ``char_start``/``char_end`` (in the document's text), ``token_count``, ``overlap_tokens`` and
    ``word_split``; a PDF's chunk also gets ``page`` (where it starts). Other columns are kept."""

    type_name = "chunk"
    cpu_bound = True

    def __init__(self, name: str, *, max_tokens: int = 300, overlap: int = 0, tokenizer: str = "embedded",
                 column: str = "text", output: str = "text", **kwargs: Any) -> None:
        if max_tokens < 1 or not 0 <= overlap < max_tokens:
            raise ValueError(f"need max_tokens >= 1 and 0 <= overlap < max_tokens; got max_tokens={max_tokens}, overlap={overlap}")
        if (problem := tokenizer_problem(tokenizer)) is not None:
            raise ValueError(problem)
        super().__init__(name, reads=[column], writes=[output, *CHUNK_COLUMNS], **kwargs)
        self.max_tokens, self.overlap, self.tokenizer_spec = max_tokens, overlap, tokenizer
        self.column, self.output = column, output
        self._tokenizer: TextTokenizer | None = None

    def output_columns(self, available: set[str]) -> set[str]:
        return (available - {"page_starts"}) | self.writes | ({"page"} if "page_starts" in available else set())

    @property
    def tokenizer(self) -> TextTokenizer:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.tokenizer_spec)
        return self._tokenizer

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "tokenizer_identity": self.tokenizer.identity}

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        text = record.get(self.column)
        if not isinstance(text, str):
            raise ValueError(f"column {self.column!r} holds {type(text).__name__}, not text")
        chunks = chunk_text(text, self.tokenizer, self.max_tokens, self.overlap)
        base = {k: v for k, v in record.items() if k not in (ID, "_lineage", "page_starts")}
        doc_id = record.get("doc_id") or record.get(ID)
        page_starts = record.get("page_starts")
        rows = []
        for chunk, piece in chunks:
            row = {**base, self.output: piece, "doc_id": doc_id, "chunk_index": chunk.index, "chunk_count": len(chunks),
                   "char_start": chunk.char_start, "char_end": chunk.char_end, "token_count": chunk.token_count,
                   "overlap_tokens": chunk.overlap_tokens, "word_split": chunk.word_split}
            if page_starts:
                row["page"] = sum(1 for s in page_starts if s <= chunk.char_start)
            rows.append(row)
        return rows

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        text = record.get(self.column)
        if isinstance(text, str) and not text.strip():
            return Rejected(f"column {self.column!r} has no text to chunk")
        return await super().process(record)
