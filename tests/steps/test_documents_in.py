"""The ``documents`` source and the ``chunk`` step: records with metadata, unreadable files as rejected
rows with the reason, a missing path as one error line before the run, chunk rows that map back to
their document's text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.formats import SourceError
from synthloom.pipeline.step import Rejected, RejectedRow
from synthloom.records import ID
from synthloom.steps.documents_in import ChunkDocuments, DocumentsSource
from synthloom.testing.documents import PAGES, write_html, write_pdf
from synthloom.testing.recipe_runs import completed_outputs, run_recipe

RECIPE = """\
name: docs-in
params:
  input: {input}
steps:
  - name: documents
    type: documents
    paths: ${{input}}
  - name: chunks
    type: chunk
    max_tokens: 12
    overlap: 3
    tokenizer: whitespace
"""


def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir(parents=True)
    write_html(folder)
    write_pdf(folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (folder / "notes.md").write_text("# Notes\n\n" + " ".join(f"word{i}" for i in range(30)) + "\n")
    return folder


def test_source_reads_each_document_and_keeps_an_unreadable_one_as_a_rejected_row(tmp_path):
    source = DocumentsSource("documents", paths=[str(corpus(tmp_path))])
    items = list(source.read())
    assert source.count() == 4 and len(items) == 4
    rejected = [i for i in items if isinstance(i, RejectedRow)]
    assert len(rejected) == 1 and rejected[0].record["doc_id"] == "broken.pdf"
    assert "unreadable document" in rejected[0].verdict.reason and "pypdf could not read the PDF" in rejected[0].verdict.reason
    records = {r["doc_id"]: r for r in items if not isinstance(r, RejectedRow)}
    assert set(records) == {"notes.md", "notes.pdf", "page.html"} and set(records["notes.pdf"]) == set(source.columns)
    assert records["notes.pdf"]["pages"] == 2 and records["notes.md"]["title"] == "Notes"
    assert list(DocumentsSource("d", paths=str(corpus(tmp_path / "x")), formats=["pdf"]).files().values()) == \
        ["broken.pdf", "notes.pdf"]
    with pytest.raises(ValueError, match="formats must be"):
        DocumentsSource("d", paths=["x"], formats=["docx"])


def test_chunk_rows_carry_their_document_and_map_back_to_its_text():
    text = " ".join(f"w{i}" for i in range(25))
    step = ChunkDocuments("chunks", max_tokens=10, overlap=2, tokenizer="whitespace")
    record = {ID: "d1", "doc_id": "a.txt", "text": text, "title": "A", "page_starts": [0, 40]}
    rows = asyncio.run(step.process(record))
    assert [r["chunk_index"] for r in rows] == [0, 1, 2] and {r["chunk_count"] for r in rows} == {3}
    for r in rows:
        assert text[r["char_start"]:r["char_end"]] == r["text"] and r["doc_id"] == "a.txt" and r["title"] == "A"
        assert r["token_count"] == len(r["text"].split()) <= 10 and "page_starts" not in r
        assert r["page"] == (1 if r["char_start"] < 40 else 2)
    assert [r["overlap_tokens"] for r in rows] == [0, 2, 2]
    assert len({r[ID] for r in rows}) == 3 and rows[0]["_lineage"][0] == {"step": "chunks", "parent": "d1"}
    assert isinstance(asyncio.run(step.process({ID: "d2", "text": " "})), Rejected)
    with pytest.raises(ValueError, match="unknown tokenizer"):
        ChunkDocuments("c", tokenizer="bert")
    with pytest.raises(ValueError, match="overlap < max_tokens"):
        ChunkDocuments("c", max_tokens=5, overlap=5)


def test_recipe_reads_chunks_and_lists_the_unreadable_file_in_rejected(tmp_path):
    recipe = tmp_path / "docs.yaml"
    recipe.write_text(RECIPE.format(input=corpus(tmp_path)))
    out = tmp_path / "run"
    run = run_recipe(str(recipe), out)
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["documents"]["rejected"] == 1 and not errors
    assert [r["doc_id"] for r in rejected] == ["broken.pdf"] and "pypdf" in rejected[0]["_reason"]
    by_doc: dict[str, list[dict]] = {}
    for r in data:
        by_doc.setdefault(r["doc_id"], []).append(r)
    assert set(by_doc) == {"notes.md", "notes.pdf", "page.html"} and len(by_doc["notes.md"]) == 4
    assert any(PAGES[1][:20] in r["text"] for r in by_doc["notes.pdf"])
    assert all(r["token_count"] <= 12 for r in data)


def test_a_missing_path_is_one_line_before_the_run(tmp_path):
    recipe = tmp_path / "docs.yaml"
    recipe.write_text(RECIPE.format(input=tmp_path / "nowhere"))
    result = CliRunner().invoke(app, ["run", str(recipe), "-o", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "no such file or folder" in result.output and "nowhere" in result.output
    assert not (tmp_path / "run" / "data").exists() or not any((tmp_path / "run" / "data").iterdir())
    with pytest.raises(SourceError, match="matches no document"):
        DocumentsSource("d", paths=[str(tmp_path / "*.pdf")]).files()
