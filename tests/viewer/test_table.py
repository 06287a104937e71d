"""Pages, search, filters, sort and value summaries over a run of a few thousand rows made by the
engine, checked against the rows read back with ``read_shards``."""

from __future__ import annotations

import shutil
from collections import Counter

import orjson
import pytest

from synthloom.io.shards import ShardWriter, read_shards
from synthloom.viewer.query import Filter, Query, QueryError
from synthloom.viewer.run_source import RunSource


@pytest.fixture(scope="module")
def data(big_run):
    return RunSource(big_run).table("data")


@pytest.fixture(scope="module")
def rows(big_run):
    return list(read_shards(big_run / "data"))


def strip(row):
    return {k: v for k, v in row.items() if k != "_ref"}


def all_pages(table, query, limit, **kw):
    out, offset = [], 0
    while True:
        page = table.page(query, offset, limit, **kw)
        out += page.rows
        if len(page.rows) < limit:
            return out, page
        offset += limit


def test_the_run_spans_many_chunks(data, rows):
    assert len(data.chunks()) >= 10
    assert len(rows) > 2000


def test_pages_in_order_give_every_row_once(data, rows):
    got, last = all_pages(data, Query(), 97)
    assert [strip(r) for r in got] == rows
    assert last.total == len(rows)
    assert len({r["_ref"] for r in got}) == len(rows)


def test_a_page_deep_inside_reads_the_right_rows(data, rows):
    page = data.page(Query(), 1234, 10, ["id", "prompt"])
    assert page.columns == ["id", "prompt"]
    assert [r["id"] for r in page.rows] == [r["id"] for r in rows[1234:1244]]
    assert set(page.rows[0]) == {"id", "prompt", "_ref"}


def test_search_finds_what_a_scan_finds_case_insensitively(data, rows):
    def text(v):
        return v if isinstance(v, str) else orjson.dumps(v).decode() if isinstance(v, (list, dict)) else ""

    def expected(word):
        return [r for r in rows if any(word.lower() in text(v).lower() for k, v in r.items() if k != "_lineage")]

    for word in ('"question 12"', "TRAVEL", "snow"):
        want = expected(word.strip('"'))
        got, last = all_pages(data, Query(word), 50)
        assert [strip(r) for r in got] == want, word
        assert last.total == len(want) > 0


def test_words_must_all_match_and_quotes_keep_a_phrase(data, rows):
    both = [r for r in rows if "math" in r["prompt"] and "question 100" in r["prompt"].lower()]
    got, _ = all_pages(data, Query("math 100"), 50)
    assert {r["id"] for r in got} >= {r["id"] for r in both}
    phrase, _ = all_pages(data, Query('"Question 100 about"'), 50)
    assert {r["id"] for r in phrase} == {r["id"] for r in rows if "Question 100 about" in r["prompt"]}


def test_search_looks_inside_chat_messages_and_tool_calls(data, rows):
    got, _ = all_pages(data, Query("get_weather"), 50)
    assert got and all(r["conversation"] for r in got)
    assert len(got) == sum(1 for r in rows if r.get("conversation"))
    scoped, _ = all_pages(data, Query("get_weather", search_columns=("prompt",)), 50)
    assert scoped == []


def test_filters_on_values_scores_and_nulls(data, rows):
    cases = [
        (Filter("category", "=", "travel"), lambda r: r["category"] == "travel"),
        (Filter("score", ">=", "7"), lambda r: r["score"] is not None and r["score"] >= 7),
        (Filter("score", "<", 2), lambda r: r["score"] is not None and r["score"] < 2),
        (Filter("chosen", "!null"), lambda r: r["chosen"] is not None),
        (Filter("difficulty", "!=", "3"), lambda r: r["difficulty"] != 3),
        (Filter("prompt", "contains", "ABOUT CODING"), lambda r: "about coding" in r["prompt"].lower()),
        (Filter("calls", "contains", "convert_units"), lambda r: bool(r["calls"])),
    ]
    for f, keep in cases:
        want = [r for r in rows if keep(r)]
        got, last = all_pages(data, Query(filters=(f,)), 200)
        assert [strip(r) for r in got] == want, f
        assert last.total == len(want) > 0, f
    combined, _ = all_pages(data, Query("question", filters=(Filter("category", "=", "math"), Filter("score", ">", 4))), 200)
    assert [strip(r) for r in combined] == [r for r in rows if r["category"] == "math" and r["score"] > 4]


def test_sort_ascending_and_descending_with_ties_in_table_order(data, rows):
    got, last = all_pages(data, Query(sort="score", descending=True), 300, columns=["id", "score"])
    want = sorted(rows, key=lambda r: -r["score"])  # stable: ties keep the table order
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert last.total == len(rows)
    up = data.page(Query(sort="prompt", filters=(Filter("category", "=", "writing"),)), 5, 20, ["prompt"])
    wanted = sorted(r["prompt"] for r in rows if r["category"] == "writing")[5:25]
    assert [r["prompt"] for r in up.rows] == wanted


def test_a_search_can_stop_at_a_full_page_and_count_later(data, rows):
    query = Query("about")
    page = data.page(query, 0, 20, exact_total=False)
    assert len(page.rows) == 20 and page.total is None and page.at_least >= 20
    assert data.total(query) == sum("about" in r["prompt"] for r in rows)
    assert data.page(query, 0, 20, exact_total=False).total == len(rows)  # every chunk counted now


def test_value_summaries(data, rows):
    cats = data.values("category")
    assert cats["kind"] == "values" and dict(map(tuple, cats["values"])) == Counter(r["category"] for r in rows)
    score = data.values("score")
    scores = [r["score"] for r in rows]
    assert score["min"] == min(scores) and score["max"] == max(scores)
    assert score["mean"] == pytest.approx(sum(scores) / len(scores))
    ids = data.values("id")
    assert ids["distinct"] == len(rows) and "values" not in ids  # every value different: no list
    assert data.values("conversation")["kind"] == "nested"
    travel = data.values("difficulty", Query(filters=(Filter("category", "=", "travel"),)))
    assert sum(n for _, n in travel["values"]) == sum(r["category"] == "travel" for r in rows)


def test_refs_find_and_rows(data, rows):
    page = data.page(Query(), 700, 3)
    for r in page.rows:
        assert data.row(r["_ref"]) == r
        assert not r["_ref"].startswith("/")  # relative to the run
    found = data.find([rows[5]["id"], rows[2000]["id"]])
    assert {r["id"] for r in found} == {rows[5]["id"], rows[2000]["id"]}


def test_mistakes_are_one_line_errors(data):
    with pytest.raises(QueryError, match="no such column"):
        data.page(Query(filters=(Filter("nope", "=", 1),)))
    with pytest.raises(QueryError, match="holds numbers; give a number"):
        data.page(Query(filters=(Filter("score", ">", "high"),)))
    with pytest.raises(QueryError, match="use `contains`"):
        data.page(Query(filters=(Filter("conversation", ">", "x"),)))
    with pytest.raises(QueryError, match="sort by a column of text or numbers"):
        data.page(Query(sort="conversation"))
    with pytest.raises(QueryError, match="not a row address"):
        data.row("garbage")
    with pytest.raises(QueryError, match="unknown operator"):
        Query(filters=(Filter("score", "~", 1),))


def test_new_shards_of_a_running_run_are_picked_up(tmp_path, small_run):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    table = RunSource(run).table("data")
    query = Query("question")
    before = table.page(query).total
    ShardWriter(run / "data").write_shard(99, [{"id": "new", "prompt": "Question brand new", "score": 1}])
    after = table.page(query)
    assert after.total == before + 1
    assert table.page(Query(filters=(Filter("id", "=", "new"),))).rows[0]["prompt"] == "Question brand new"
