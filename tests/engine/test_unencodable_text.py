"""A row holding a lone surrogate (text UTF-8 cannot store) neither aborts the run nor is lost: the
character is stored as U+FFFD and the run says so."""

from __future__ import annotations

from synthloom import MapStep, Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.io.shards import read_shards
from synthloom.records_text import has_lone_surrogate, storable


class Garble(MapStep):
    def map(self, record):
        if record["n"] == 2:
            raise ValueError("bad row \udc80 here")
        return {**record, "text": f"row {record['n']}" + ("\udc80" if record["n"] % 3 == 0 else "")}


def test_lone_surrogates_are_stored_as_replacement_characters(tmp_path):
    logs: list[str] = []
    pipe = Pipeline([RecordsSource("rows", rows=[{"n": i} for i in range(7)]), Garble("garble")])
    res = run_pipeline(pipe, tmp_path / "o", RunOptions(progress="quiet", log=logs.append, partition_size=4))
    assert res.ok and res.rows == {"data": 6, "rejected": 0, "errors": 1}
    texts = sorted(r["text"] for r in read_shards(tmp_path / "o" / "data"))
    assert texts == ["row 0\ufffd", "row 1", "row 3\ufffd", "row 4", "row 5", "row 6\ufffd"]
    assert any("lone surrogates" in m and "U+FFFD" in m for m in logs)
    (err,) = [r for sub in (tmp_path / "o" / "errors").iterdir() for r in read_shards(sub)]
    assert "\ufffd" in err["_error"] and err["_step"] == "garble"


def test_storable_replaces_only_lone_surrogates_in_nested_values():
    value = {"a": ["ok", "x\ud800y"], "b": {"c": "\udfff"}, "n": 3}
    assert has_lone_surrogate(value) and not has_lone_surrogate(storable(value))
    assert storable(value) == {"a": ["ok", "x\ufffdy"], "b": {"c": "\ufffd"}, "n": 3}
    assert storable("émoji 😀") == "émoji 😀"  # real non-ASCII text is untouched
