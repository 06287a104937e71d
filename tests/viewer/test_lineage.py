"""A row's history followed back through stored rows."""

from __future__ import annotations

from synthloom.viewer.lineage import parent_of, revision_chain
from synthloom.viewer.query import Query
from synthloom.viewer.run_source import RunSource


def test_parent_comes_from_a_parent_id_column_or_the_last_expansion():
    assert parent_of({"parent_id": "p1", "_lineage": [{"parent": "x"}]}) == "p1"
    assert parent_of({"_lineage": [{"step": "a", "parent": "x"}, {"step": "b"}]}) == "x"
    assert parent_of({"_lineage": [{"step": "a"}]}) is None


def test_an_answer_leads_back_to_the_kept_source_row(small_run):
    run = RunSource(small_run)
    row = run.table("data").page(Query(), 0, 1).rows[0]
    chain = revision_chain(run, row)
    assert [link["table"] for link in chain] == ["steps", None]
    source = chain[0]["row"]
    assert source["id"] == parent_of(row) and source["prompt"] == row["prompt"] and "answer" not in source


def test_a_parent_nobody_kept_ends_the_chain():
    class NoRows:
        def find(self, row_id):
            return []

    chain = revision_chain(NoRows(), {"id": "c", "parent_id": "gone"})
    assert chain == [{"table": None, "row": None, "missing": "gone"}, {"table": None, "row": {"id": "c", "parent_id": "gone"}}]
