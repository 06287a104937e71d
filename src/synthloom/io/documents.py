"""Read documents — plain text, Markdown, HTML and PDF files, from paths, folders and globs — as records.

Each document becomes one record (:meth:`Document.record`): ``text`` and its source metadata,
``doc_id`` (the path relative to the folder or glob that matched it), ``path``, ``format`` (``text``, ``markdown``, ``html`` or ``pdf``),
``title`` where the file says one (a Markdown ``# heading`` or front-matter ``title:``, the HTML
title, the PDF's ``/Title``), ``pages`` and ``page_starts`` (PDF: the character offset of each page's
text), ``bytes``, ``sha256`` (of the file's bytes) and ``modified`` (ISO 8601, UTC).

* Text and Markdown are decoded as UTF-8 (a byte-order mark is dropped); a file that is not UTF-8
  is read as Latin-1 rather than refused.
* HTML: the main text by ``trafilatura`` (navigation, footers, cookie banners left out), extra ``docs``.
* PDF: the text of each page by ``pypdf`` (extra ``docs``), pages joined by a blank line.

A pattern that matches nothing, or an explicitly named file of a format not listed, is a
:class:`SourceError` (one line, before anything is read). A file that matches but cannot be read —
a broken or encrypted PDF, an HTML page with no main text, an empty file — raises
:class:`UnreadableDocument` with the reason, so a source can keep it as a rejected row.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import itertools
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .formats import SourceError

__all__ = ["DOCUMENT_COLUMNS", "DOCUMENT_FORMATS", "Document", "UnreadableDocument", "find_documents", "read_document"]

DOCUMENT_FORMATS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
                    ".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf"}
DOCUMENT_COLUMNS = ["doc_id", "text", "path", "format", "title", "pages", "page_starts", "bytes", "sha256", "modified"]
_EXTRA = {"html": ("trafilatura", "HTML pages"), "pdf": ("pypdf", "PDF files")}
_FRONT_MATTER_TITLE = re.compile(r"\A---\s*\n(?:.*\n)*?title:\s*[\"']?(.+?)[\"']?\s*\n(?:.*\n)*?---\s*\n")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class UnreadableDocument(Exception):
    """A document file that exists but gives no text; the message says why."""


@dataclass
class Document:
    """One document's text and where it came from."""

    text: str
    doc_id: str
    path: str
    format: str
    bytes: int
    sha256: str
    modified: str
    title: str | None = None
    pages: int | None = None
    page_starts: list[int] | None = field(default=None)

    def record(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "text": self.text, "path": self.path, "format": self.format, "title": self.title,
                "pages": self.pages, "page_starts": self.page_starts, "bytes": self.bytes, "sha256": self.sha256,
                "modified": self.modified}


def document_format(path: str | os.PathLike[str]) -> str | None:
    """``text``, ``markdown``, ``html`` or ``pdf`` by the file's extension; None for others."""
    return DOCUMENT_FORMATS.get(Path(path).suffix.lower())


def find_documents(patterns: Iterable[str], *, where: str = "documents") -> dict[Path, str]:
    """The document files that ``patterns`` name (files, folders searched recursively, globs with ``**``),
    each once, in natural order per pattern, with their document ids: the path relative to the folder
    or to the glob's fixed part (a named file: its name; the whole path where two ids would clash).
    Raises :class:`SourceError` for a pattern matching no document."""
    found: dict[Path, str] = {}
    for pattern in patterns:
        expanded = os.path.expanduser(str(pattern))
        if glob.has_magic(expanded):
            root = _glob_root(expanded)
            matches = [Path(p) for p in glob.glob(expanded, recursive=True)]
            files = [p for p in matches if p.is_file() and document_format(p)]
            for folder in (p for p in matches if p.is_dir()):
                files += _folder_documents(folder)
        else:
            path = Path(expanded)
            root = path if path.is_dir() else path.parent
            if not path.exists():
                raise SourceError(f"{where}: no such file or folder: {path}; fix the path (relative paths start "
                                  f"from the working directory; in a recipe use ${{recipe_dir}})")
            if path.is_dir():
                files = _folder_documents(path)
            elif document_format(path) is None:
                raise SourceError(f"{where}: {path} is not a document this source reads; use "
                                  f"{', '.join(sorted(DOCUMENT_FORMATS))} files (or `type: load` for data files)")
            else:
                files = [path]
        if not files:
            raise SourceError(f"{where}: {pattern!r} matches no document ({', '.join(sorted(DOCUMENT_FORMATS))}); "
                              f"fix the pattern")
        taken = set(found.values())
        for file in sorted(files, key=_natural_key):
            if file not in found:
                doc_id = file.relative_to(root).as_posix() if file.is_relative_to(root) else file.as_posix()
                found[file] = doc_id if doc_id not in taken else file.as_posix()
                taken.add(found[file])
    return found


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = list(itertools.takewhile(lambda part: not glob.has_magic(part), parts))
    return Path(*fixed) if fixed else Path(".")


def _folder_documents(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and document_format(p)
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def missing_extra(formats: Iterable[str]) -> str | None:
    """One line naming the extra to install when a reader ``formats`` needs is not installed, else None."""
    for fmt in sorted(set(formats)):
        if fmt in _EXTRA and importlib.util.find_spec(_EXTRA[fmt][0]) is None:
            module, what = _EXTRA[fmt]
            return f"reading {what} needs the '{module}' package: pip install 'synthloom[docs]'"
    return None


def read_document(path: str | os.PathLike[str], doc_id: str | None = None) -> Document:
    """The text and metadata of one document file (``doc_id``: default its path); raises
    :class:`UnreadableDocument` with the reason."""
    location = Path(path)
    fmt = document_format(location) or "text"
    try:
        data = location.read_bytes()
        stat = location.stat()
    except OSError as exc:
        raise UnreadableDocument(f"cannot read the file ({exc.strerror or exc})") from None
    if not data.strip():
        raise UnreadableDocument("the file is empty")
    meta = {"doc_id": doc_id or str(path), "path": str(path), "format": fmt, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat().replace("+00:00", "Z")}
    if fmt == "pdf":
        return _read_pdf(data, meta)
    text = _decode(data)
    if fmt == "html":
        return _read_html(text, meta)
    title = _markdown_title(text) if fmt == "markdown" else None
    return Document(text=text, title=title, **meta)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _markdown_title(text: str) -> str | None:
    match = _FRONT_MATTER_TITLE.match(text) or _HEADING.search(text)
    return match.group(1).strip() if match else None


def _read_html(html: str, meta: dict[str, Any]) -> Document:
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    try:
        extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=True)
    except Exception as exc:  # noqa: BLE001 - a parser failure on one page is that page's problem
        raise UnreadableDocument(f"trafilatura could not parse the HTML ({type(exc).__name__}: {exc})") from None
    text = getattr(extracted, "text", None) or ""
    if not text.strip():
        raise UnreadableDocument("trafilatura found no main text in the HTML page")
    title = getattr(extracted, "title", None) or None
    return Document(text=text.strip(), title=title, **meta)


def _read_pdf(data: bytes, meta: dict[str, Any]) -> Document:
    import io

    import pypdf
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is encrypted with a password")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
        title = str(info.title).strip() if info is not None and info.title else None
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocument(f"pypdf could not read the PDF ({type(exc).__name__}: {exc})") from None
    if not any(pages):
        raise UnreadableDocument(f"the PDF has no extractable text in its {len(pages)} page(s) (a scan needs OCR first)")
    starts, offset = [], 0
    for text in pages:
        starts.append(offset)
        offset += len(text) + 2
    return Document(text="\n\n".join(pages), title=title or None, pages=len(pages), page_starts=starts, **meta)
