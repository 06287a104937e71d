"""What the viewer reads from a run directory — and that reading never changes it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from synthloom.io.shards import read_shards
from synthloom.viewer.lineage import revision_chain
from synthloom.viewer.query import Filter, Query
from synthloom.viewer.run_source import RunSource, ViewerError


def snapshot(root):
    """Every file and folder under ``root`` with its size, mtime and bytes."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            data = open(path, "rb").read() if name in files else b""
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, data)
    return out


def test_summary_matches_run_json_and_the_files(small_run):
    run = RunSource(small_run)
    info = json.loads((small_run / "run.json").read_text())
    s = run.summary()
    assert s["status"] == "completed" and s["counts"] == info["counts"] and s["name"] == "viewer-test"
    assert s["tables"]["data"] == info["rows"]["data"] and s["tables"]["rejected"] == info["rows"]["rejected"]
    assert s["tables"]["errors"] == info["rows"]["errors"] > 0
    assert s["tables"]["steps"] == 40  # the source rows, kept for the dedup step
    assert [x["name"] for x in s["steps"]] == ["prompts", "unique_prompts", "answer", "judge", "long_enough"]
    assert s["card"].startswith("# viewer-test") and s["report"] is None


def test_browsing_everything_leaves_the_run_directory_as_it_was(small_run):
    before = snapshot(small_run)
    run = RunSource(small_run)
    run.summary()
    for table in run.tables.values():
        table.page(Query())
        table.page(Query("question", sort="id", descending=True))
        table.values("id")
        table.find(["nope"])
    data = run.table("data").page(Query(), 0, 5).rows
    for row in data:
        for entry in row["_lineage"]:
            assert run.calls(entry["prompt_hash"], entry["model"])["calls"]
        revision_chain(run, row)
    assert snapshot(small_run) == before
    assert not any(p.name.endswith(("-wal", "-shm")) for p in (small_run / ".state").iterdir())


def test_a_lineage_entry_leads_to_the_exact_request_and_raw_response(small_run):
    run = RunSource(small_run)
    row = run.table("data").page(Query(filters=(Filter("conversation", "!null"),)), 0, 1).rows[0]
    answer, judge = row["_lineage"]
    got = run.calls(answer["prompt_hash"], answer["model"])
    (call,) = got["calls"]
    assert call["request"]["messages"] == [{"role": "user", "content": row["prompt"]}]
    assert call["request"]["n"] == 2 and call["request"]["seed"] == answer["params"]["seed"]
    assert row["answer"] in [c["text"] for c in call["response"]["choices"]]
    assert call["response"]["usage"] == answer["usage"]
    (judged,) = run.calls(judge["prompt_hash"], judge["model"])["calls"]
    assert judged["request"]["json_schema"]["required"] == ["score"]
    assert json.loads(judged["response"]["choices"][0]["text"]) == {"score": row["score"]}
    assert got["note"] == ""
    other = run.calls(answer["prompt_hash"], "another-model")
    assert other["calls"] == [] and "not in the cache" in other["note"]


def test_a_run_without_its_cache_says_where_to_look(tmp_path, small_run):
    copy = tmp_path / "run"
    shutil.copytree(small_run, copy)
    (copy / ".state" / "cache.sqlite").unlink()
    got = RunSource(copy).calls("abcdef0123456789", None)
    assert got["calls"] == [] and "--cache" in got["note"]


def test_a_running_run_is_counted_from_its_journal_without_touching_it(tmp_path, small_run):
    copy = tmp_path / "run"
    shutil.copytree(small_run, copy)
    info = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({"status": "running", "pipeline": "viewer-test", "started": info["started"]}))
    journal = copy / ".state" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    parts = [json.loads(x) for x in lines if '"part"' in x]
    kept = [p for p in parts if p["seg"] == "prompts"]
    torn = '{"seg": "output", "par'
    journal.write_text("\n".join([*lines[:3], *map(json.dumps, kept), json.dumps({"seg": "prompts", "reset": True}),
                                  *map(json.dumps, kept[:1]), torn]))
    size = journal.stat().st_size
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (copy / ".state" / "run.lock").write_text(f"{live.pid}\n")
        s = RunSource(copy).summary()
        assert s["status"] == "running" and s["alive"] is True and s["elapsed_s"] > 0
        assert s["counts"] == kept[0]["counts"]  # the reset dropped the earlier partitions
    finally:
        live.kill()
        live.wait()
    assert journal.stat().st_size == size  # the torn line is left for the engine
    assert RunSource(copy).summary()["alive"] is False


def test_paths_the_viewer_cannot_show_are_one_line_errors(tmp_path, small_run):
    with pytest.raises(ViewerError, match="no such run directory"):
        RunSource(tmp_path / "missing")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(ViewerError, match="neither a run directory"):
        RunSource(tmp_path / "notes")
    with pytest.raises(ViewerError, match="not a .parquet or .jsonl file"):
        RunSource(tmp_path / "notes" / "a.txt")


def test_a_single_shard_file_or_folder_of_shards_is_a_data_table(small_run):
    shard = small_run / "data" / "part-00000.parquet"
    one = RunSource(shard)
    assert list(one.tables) == ["data"]
    in_shard = pq.read_metadata(shard).num_rows
    assert [r["id"] for r in one.table("data").page(Query()).rows] == [r["id"] for r in read_shards(small_run / "data")][:in_shard]
    folder = RunSource(small_run / "rejected" / "long_enough")
    assert folder.table("data").page(Query()).total == len(list(read_shards(small_run / "rejected" / "long_enough")))
