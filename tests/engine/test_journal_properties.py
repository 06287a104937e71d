"""Property tests of the run journal: whatever sequence of commits, resets and completions, a reload
sees exactly what was appended; a kill at any byte of an append (a torn last line) loses at most
that line, and the journal is usable (appendable) again after the reload."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from synthloom.engine.journal import Journal

SEGMENTS = st.sampled_from(["load", "answer", "dedup", "seg with space", "ünïcode"])
COUNTS = st.dictionaries(st.sampled_from(["in", "ok", "rejected", "errors", "out"]), st.integers(0, 10**9), max_size=5)

commit = st.tuples(st.just("commit"), SEGMENTS, st.integers(0, 50), st.dictionaries(SEGMENTS, COUNTS, max_size=3),
                   st.fixed_dictionaries({"data": st.integers(0, 1000), "rejected": st.integers(0, 1000),
                                          "error": st.integers(0, 1000)}), st.integers(0, 5))
reset = st.tuples(st.just("reset"), SEGMENTS)
complete = st.tuples(st.just("complete"), SEGMENTS, st.integers(0, 50))
OPS = st.lists(st.one_of(commit, commit, reset, complete), max_size=40)


def apply(journal: Journal, op: tuple) -> None:
    if op[0] == "commit":
        _, seg, part, counts, rows, retry = op
        journal.commit_partition(seg, part, counts, rows, retry)
    elif op[0] == "reset":
        journal.reset(op[1])
    else:
        journal.mark_complete(op[1], op[2])


def model(ops: list[tuple], fingerprint: str) -> dict:
    """What the journal should say after ``ops``, computed without it."""
    parts: dict[str, dict[int, dict]] = {}
    done: dict[str, int] = {}
    for op in ops:
        if op[0] == "commit":
            _, seg, part, counts, rows, retry = op
            entry = {"seg": seg, "part": part, "counts": counts, "rows": rows}
            if retry:
                entry["retry"] = retry
            parts.setdefault(seg, {})[part] = entry
        elif op[0] == "reset":
            parts.pop(op[1], None)
            done.pop(op[1], None)
        else:
            done[op[1]] = op[2]
    return {"fingerprint": fingerprint, "partitions": {s: p for s, p in parts.items() if p}, "complete": done}


def state(journal: Journal) -> dict:
    return {"fingerprint": journal.fingerprint,
            "partitions": {s: dict(p) for s, p in journal.partitions.items() if p},
            "complete": dict(journal.complete)}


def fresh_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("journal") / "journal.jsonl"


@settings(max_examples=60, deadline=None)
@given(ops=OPS, fingerprint=st.text(min_size=1, max_size=20))
def test_reload_sees_exactly_what_was_appended(tmp_path_factory, ops, fingerprint):
    path = fresh_path(tmp_path_factory)
    journal = Journal(path)
    journal.start(fingerprint)
    for op in ops:
        apply(journal, op)
    expected = model(ops, fingerprint)
    assert state(journal) == expected
    assert state(Journal(path)) == expected
    for seg, parts in expected["partitions"].items():
        assert Journal(path).done(seg) == {p for p, e in parts.items() if not e.get("retry")}


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.one_of(commit, reset, complete), min_size=1, max_size=15), data=st.data())
def test_a_torn_last_line_loses_only_that_line(tmp_path_factory, ops, data):
    path = fresh_path(tmp_path_factory)
    journal = Journal(path)
    journal.start("fp")
    for op in ops[:-1]:
        apply(journal, op)
    before = path.read_bytes()
    apply(journal, ops[-1])
    after = path.read_bytes()
    cut = data.draw(st.integers(len(before), len(after) - 1), label="kill at byte")
    path.write_bytes(after[:cut])  # the process died after writing `cut` bytes of the last line

    reloaded = Journal(path)
    assert state(reloaded) == model(ops[:-1], "fp")
    assert path.read_bytes() == before  # the torn tail is cut off
    apply(reloaded, ops[-1])  # and appending works again
    assert state(Journal(path)) == model(ops, "fp")
