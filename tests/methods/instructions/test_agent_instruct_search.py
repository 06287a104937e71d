"""The search tool of AgentInstruct's search agents: BM25 over the bundled corpus (relevant passages
first, nothing for a query that shares no word with the corpus), the tool's reply and the numbered
documents of a retrieval task."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.instructions.agent_instruct_search import (
    SEARCH_TOOL,
    SearchCorpus,
    documents_passage,
    load_corpus,
    observation,
    terms,
)


def test_the_bundled_corpus_ranks_the_relevant_passage_first():
    corpus = load_corpus()
    assert len(corpus.passages) >= 30 and len({p["id"] for p in corpus.passages}) == len(corpus.passages)
    for query, best in (("hot compost heap temperature", "compost-temperature"), ("gear ratio teeth", "gear-ratio"),
                        ("Gutenberg Bible Mainz", "gutenberg"), ("herd immunity measles", "herd-immunity")):
        hits = corpus.search(query, 3)
        assert hits[0].id == best and len(hits) <= 3 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert corpus.search("zzzz qqqq") == [] and corpus.search("the of and") == []


def test_bm25_prefers_rarer_terms_and_shorter_documents():
    corpus = SearchCorpus([{"id": "a", "title": "Cats", "text": "cats cats dogs"},
                           {"id": "b", "title": "Dogs", "text": "dogs " * 30},
                           {"id": "c", "title": "Fish", "text": "fish swim"}])
    assert [h.id for h in corpus.search("cats dogs")] == ["a", "b"]
    assert terms("The Cats were running") == ["cat", "running"]
    with pytest.raises(ValueError, match="has no passages"):
        SearchCorpus([])


def test_the_tool_reply_and_the_documents_of_a_retrieval_task():
    hits = load_corpus().search("bicycle gears", 2)
    assert [r["title"] for r in json.loads(observation(hits))] == [h.title for h in hits]
    text = documents_passage("Gears", "Gears help.", hits)
    assert text.startswith("Document [1] Gears\nGears help.\n\nDocument [2] ") and "Document [3]" in text
    assert SEARCH_TOOL["function"]["parameters"]["required"] == ["query"]


def test_a_bad_corpus_file_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read the search corpus"):
        load_corpus(str(tmp_path / "missing.jsonl"))
