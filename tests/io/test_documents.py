"""Document readers: the main text of an HTML page without its navigation and footer, a PDF's pages
(written here with fpdf2), Markdown and text with their metadata; patterns; files that cannot be read."""

from __future__ import annotations

import hashlib

import pytest

from synthloom.io.documents import SourceError, UnreadableDocument, find_documents, missing_extra, read_document
from synthloom.testing.documents import ARTICLE, PAGES, write_html, write_pdf


def test_html_main_text_leaves_navigation_and_footer_out(tmp_path):
    path = write_html(tmp_path)
    doc = read_document(path, "page.html")
    assert ARTICLE in doc.text and "wrung-out sponge" in doc.text
    assert "Log in" not in doc.text and "Copyright" not in doc.text and "Privacy" not in doc.text
    assert (doc.doc_id, doc.format, doc.title, doc.pages) == ("page.html", "html", "Composting at home", None)
    assert doc.bytes == path.stat().st_size and doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.modified.endswith("Z") and doc.modified.startswith("20")


def test_pdf_pages_are_read_in_order_with_their_offsets_and_title(tmp_path):
    doc = read_document(write_pdf(tmp_path))
    assert (doc.format, doc.title, doc.pages) == ("pdf", "Bee notes", 2)
    assert [doc.text[start:].startswith(page[:30]) for start, page in zip(doc.page_starts, PAGES)] == [True, True]
    record = doc.record()
    assert record["page_starts"] == [0, len(PAGES[0]) + 2] and record["doc_id"].endswith("notes.pdf")


def test_markdown_and_text_keep_their_text_and_find_a_title(tmp_path):
    (tmp_path / "a.md").write_text("Intro line\n\n# Tides and the Moon\n\nThe Moon pulls the sea.\n")
    (tmp_path / "b.md").write_text("---\ntitle: \"Front matter title\"\nauthor: x\n---\n# Heading\n\nBody.\n")
    (tmp_path / "c.txt").write_bytes("Caf\xe9 au lait.".encode("latin-1"))
    a, b, c = (read_document(tmp_path / n) for n in ("a.md", "b.md", "c.txt"))
    assert a.title == "Tides and the Moon" and a.text.startswith("Intro line") and a.format == "markdown"
    assert b.title == "Front matter title"
    assert (c.text, c.format, c.title) == ("Café au lait.", "text", None)


def test_folders_and_globs_find_each_document_once_with_ids_relative_to_the_pattern(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("doc10.txt", "doc2.txt", "sub/page.html", "sub/data.csv", ".hidden/x.txt"):
        (tmp_path / name).write_text("words")
    found = find_documents([str(tmp_path), str(tmp_path / "**" / "*.txt")])
    assert list(found.values()) == ["doc2.txt", "doc10.txt", "sub/page.html"]
    assert list(find_documents([str(tmp_path / "sub" / "*.html")]).values()) == ["page.html"]


def test_patterns_that_match_nothing_are_one_clear_error_before_reading(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match=r"no such file or folder: .*missing; fix the path"):
        find_documents([str(tmp_path / "missing")])
    with pytest.raises(SourceError, match=r"matches no document .* fix the pattern"):
        find_documents([str(tmp_path / "*.pdf")])
    with pytest.raises(SourceError, match=r"data.csv is not a document this source reads; .*type: load"):
        find_documents([str(tmp_path / "data.csv")])
    assert missing_extra(["text", "markdown"]) is None


def test_a_missing_extra_is_named_with_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pypdf" else real(name, *a))
    assert missing_extra(["text", "pdf"]) == "reading PDF files needs the 'pypdf' package: pip install 'synthloom[docs]'"
    assert missing_extra(["html"]) is None


def test_files_that_give_no_text_say_why(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    (tmp_path / "nav.html").write_text("<html><head><style>p {}</style></head><body><script>var x = 1;</script></body></html>")
    locked = write_pdf(tmp_path, "locked.pdf", password="secret")
    cases = {"empty.txt": "the file is empty", "broken.pdf": "pypdf could not read the PDF",
             "nav.html": "no main text", "locked.pdf": "encrypted with a password"}
    for name, reason in cases.items():
        with pytest.raises(UnreadableDocument, match=reason):
            read_document(tmp_path / name)
    assert locked.exists()
