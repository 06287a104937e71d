"""The batch journal: appends, settled batches, a torn last line after a kill."""

from __future__ import annotations

from synthloom.llm.batch.journal import BatchJournal


def test_a_torn_journal_line_is_ignored_and_cut(tmp_path):
    path = tmp_path / "batches.jsonl"
    journal = BatchJournal(path)
    journal.submitted("b1", "openai:x", ["k1", "k2"])
    journal.submitted("b2", "openai:x", ["k3"])
    journal.settled("b2")
    with open(path, "ab") as f:
        f.write(b'{"batch": "b3", "identity": "openai:x", "ids": ["k')
    again = BatchJournal(path)
    assert list(again.pending) == ["b1"] and again.pending_for("openai:x")[0].ids == ["k1", "k2"]
    assert again.pending_for("openai:other") == []
    assert path.read_bytes().endswith(b'{"settled":"b2"}\n')


def test_an_in_memory_journal_keeps_state_without_a_file(tmp_path):
    journal = BatchJournal(None)
    journal.submitted("b1", "openai:x", ["k1"])
    assert list(journal.pending) == ["b1"]
    journal.settled("b1")
    assert journal.pending == {} and not list(tmp_path.iterdir())
