"""Search words, text matching inside nested values, and filters over one chunk."""

from __future__ import annotations

import pyarrow as pa
import pytest

from synthloom.io.formats import json_field, rows_to_table
from synthloom.viewer.query import Filter, Query, QueryError, chunk_mask, filter_mask, search_terms, text_match


def test_search_terms_keep_quoted_phrases():
    assert search_terms('tool "get weather"  oslo') == ("tool", "get weather", "oslo")
    assert search_terms('it"s') == ('it"s',)  # an unclosed quote is a plain character
    assert search_terms("   ") == ()


def test_text_match_looks_inside_lists_and_objects():
    messages = pa.array([
        [{"role": "user", "content": "Weather in OSLO?"}],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}],
        None,
    ])
    assert text_match(messages, "oslo").tolist() == [True, False, False]
    assert text_match(messages, "assistant").tolist() == [False, True, False]
    assert text_match(pa.array([["a", "needle"], [], None]), "NEED").tolist() == [True, False, False]
    assert text_match(pa.array([{"k": "x", "n": 1}, None]), "x").tolist() == [True, False]
    assert text_match(pa.array([1, 2]), "1") is None
    assert text_match(pa.array(["a", "b"]).dictionary_encode(), "b").tolist() == [False, True]


def test_filters_compare_by_type_and_treat_nulls_as_not_matching():
    scores = pa.array([0.5, None, 2.0])
    assert filter_mask(scores, Filter("s", ">", "1"), pa.field("s", pa.float64())).tolist() == [False, False, True]
    assert filter_mask(scores, Filter("s", "!=", 2), pa.field("s", pa.float64())).tolist() == [True, True, False]
    assert filter_mask(scores, Filter("s", "null"), pa.field("s", pa.float64())).tolist() == [False, True, False]
    assert filter_mask(pa.array([True, False]), Filter("b", "=", "true"), pa.field("b", pa.bool_())).tolist() == [True, False]
    texts = pa.array(["Alpha", "beta", None])
    assert filter_mask(texts, Filter("t", "contains", "ALP"), pa.field("t", pa.string())).tolist() == [True, False, False]
    assert filter_mask(texts, Filter("t", "!contains", "alp"), pa.field("t", pa.string())).tolist() == [False, True, True]
    assert filter_mask(pa.array([1, 12]), Filter("n", "contains", "2"), pa.field("n", pa.int64())).tolist() == [False, True]


def test_json_columns_compare_with_the_values_json_text():
    table = rows_to_table([{"v": 3}, {"v": "3"}, {"v": [1]}])  # mixed types: stored as JSON text
    field = table.schema.field("v")
    assert field == json_field("v")
    assert filter_mask(table.column("v"), Filter("v", "=", 3), field).tolist() == [True, False, False]
    assert filter_mask(table.column("v"), Filter("v", "=", '"3"'), field).tolist() == [False, True, False]
    with pytest.raises(QueryError, match="use `contains`"):
        filter_mask(table.column("v"), Filter("v", ">", 1), field)


def test_a_chunk_mask_needs_every_word_and_every_filter():
    table = rows_to_table([
        {"prompt": "red apple", "answer": "sweet", "score": 5},
        {"prompt": "red car", "answer": "fast", "score": 9},
        {"prompt": "green apple", "answer": "sour", "score": 7},
    ])
    fields = {f.name: f for f in table.schema}
    assert chunk_mask(table, Query(), fields) is None
    assert chunk_mask(table, Query("apple red"), fields).tolist() == [True, False, False]
    assert chunk_mask(table, Query("apple", filters=(Filter("score", ">=", 6),)), fields).tolist() == [False, False, True]
    assert chunk_mask(table, Query("sweet", search_columns=("prompt",)), fields).tolist() == [False, False, False]
    with pytest.raises(QueryError, match="search in 'nope': no such column"):
        chunk_mask(table, Query("x", search_columns=("nope",)), fields)


def test_url_parameters_make_a_query():
    q = Query.from_params({"q": "hello", "f": '[["score", ">", 3], ["chosen", "!null"]]', "sort": "-score", "in": "a,b"})
    assert q.terms == ("hello",) and q.sort == "score" and q.descending and q.search_columns == ("a", "b")
    assert q.filters == (Filter("score", ">", 3), Filter("chosen", "!null"))
    assert Query.from_params({}).selects is False
    with pytest.raises(QueryError, match=r"give a JSON list of \[column, op, value\]"):
        Query.from_params({"f": "score > 3"})


def test_dictionary_columns_search_and_filter_like_plain_ones():
    plain = pa.array(["math", None, "Code", "math"])
    encoded = plain.dictionary_encode()
    field = pa.field("c", pa.string())
    assert text_match(encoded, "MAT").tolist() == text_match(plain, "MAT").tolist() == [True, False, False, True]
    for f in (Filter("c", "=", "math"), Filter("c", "!=", "math"), Filter("c", ">", "b"), Filter("c", "null")):
        assert filter_mask(encoded, f, field).tolist() == filter_mask(plain, f, field).tolist(), f
