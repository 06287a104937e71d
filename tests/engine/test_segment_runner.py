"""A source-headed segment under another ``-n``: committed partitions made from the same source
records are kept, the others recomputed or dropped, and the run equals a fresh run with that ``-n``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom import FilterStep, MapStep, Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.engine.journal import Journal
from synthloom.io.shards import list_shards, read_shards


class Counted(MapStep):
    """Adds ``seen``; counts the records it is given (to see which partitions were recomputed)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, reads=["k"], writes=["seen"])
        self.calls: list[int] = []  # set by the test, not an option (options are the fingerprint)

    def map(self, record):
        self.calls.append(record["k"])
        return {**record, "seen": True}


class NotThree(FilterStep):
    def check(self, record):
        return (record["k"] % 3 != 0, "k is a multiple of 3", None)


class Reversing(RecordsSource):
    """A source whose first records depend on the limit (not a prefix of a longer read)."""

    def read(self, limit=None):
        rows = list(super().read(None))
        rows = rows[:limit] if limit is not None else rows
        return iter(reversed(rows))


def _pipeline(source_cls=RecordsSource, calls=None) -> Pipeline:
    src = source_cls("seeds", rows=[{"k": i} for i in range(60)])
    counted = Counted("count")
    counted.calls = calls if calls is not None else []
    return Pipeline([src, counted, NotThree("not_three", reads=["k"])])


def _run(out: Path, limit, calls=None, source_cls=RecordsSource):
    result = run_pipeline(_pipeline(source_cls, calls), out, RunOptions(limit=limit, partition_size=8, progress="quiet",
                                                                         log=lambda m: None))
    assert result.ok
    return result


def _outputs(out: Path) -> dict:
    run = json.loads((out / "run.json").read_text())
    return {"data": list(read_shards(out / "data")), "rejected": list(read_shards(out / "rejected" / "not_three")),
            "counts": run["counts"], "rows": run["rows"]}


@pytest.mark.parametrize("limits", [(20, 10, 37, None, 16), (None, 5, 60, 59)])
def test_a_run_under_another_limit_equals_a_fresh_run_with_it(tmp_path, limits):
    out = tmp_path / "reused"
    previous_end = 0  # records the run before read (0: no run yet)
    for limit in limits:
        calls: list[int] = []
        _run(out, limit, calls)
        _run(tmp_path / f"fresh-{limit}", limit)
        assert _outputs(out) == _outputs(tmp_path / f"fresh-{limit}"), f"-n {limit} after {limits}"
        parts = {p for p, _ in list_shards(out / "data")} | {p for p, _ in list_shards(out / "rejected" / "not_three")}
        assert parts <= set(Journal(out / ".state" / "journal.jsonl").done("not_three"))  # no stale shard
        end = 60 if limit is None else limit
        # only the partitions full in both runs (8 records each) are kept; every other record is recomputed
        kept = {p for p in range(60 // 8) if (p + 1) * 8 <= min(previous_end, end)}
        assert sorted(calls) == [k for k in range(end) if k // 8 not in kept]
        previous_end = end


def test_a_source_that_is_not_a_prefix_of_itself_is_recomputed(tmp_path):
    out = tmp_path / "reused"
    for limit in (16, 24, 8):
        calls: list[int] = []
        _run(out, limit, calls, Reversing)
        _run(tmp_path / f"fresh-{limit}", limit, None, Reversing)
        assert _outputs(out) == _outputs(tmp_path / f"fresh-{limit}")
        assert sorted(calls) == list(range(limit))  # every record differs in place: nothing kept


def test_same_limit_resumes_without_reading_the_model_again(tmp_path):
    _run(tmp_path / "o", 30)
    calls: list[int] = []
    _run(tmp_path / "o", 30, calls)
    assert calls == []
    journal = Journal(tmp_path / "o" / ".state" / "journal.jsonl")
    assert journal.limits == {"not_three": 30}
    assert all(isinstance(e.get("src"), str) for e in journal.partitions["not_three"].values())


def test_segments_downstream_of_a_source_start_over_under_another_limit(tmp_path):
    from synthloom.curate.exact_dedup import ExactDedup

    def pipeline() -> Pipeline:  # source → filter (one segment) → dedup (a global step: a second segment)
        src = RecordsSource("seeds", rows=[{"k": i, "g": i % 7} for i in range(60)])
        return Pipeline([src, NotThree("not_three", reads=["k"]), ExactDedup("dedup", columns=["g"])])

    def data(out: Path, limit) -> list[dict]:
        options = RunOptions(limit=limit, partition_size=8, progress="quiet", log=lambda m: None)
        assert run_pipeline(pipeline(), out, options).ok
        run = json.loads((out / "run.json").read_text())
        return [list(read_shards(out / "data")), run["counts"], run["rows"]]

    for limit in (20, 45, 12, None):
        assert data(tmp_path / "reused", limit) == data(tmp_path / f"fresh-{limit}", limit), limit
