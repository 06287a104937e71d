"""`synthloom verify math FILE --pred-column P --gold-column G -o OUT`."""

from __future__ import annotations

import json
import os
import signal

import orjson
import pytest
from typer.testing import CliRunner
from verify_cli_process import cmdline, descendants, start_cli, wait_for

from synthloom.cli.main import app
from synthloom.io.shards import read_shards

runner = CliRunner()

ROWS = [
    {"id": "q1", "solution": "Half of it: $\\boxed{\\frac{1}{2}}$", "gold": "0.5"},
    {"id": "q2", "solution": "The answer is 7.", "gold": "8"},
    {"id": "q3", "solution": "I do not know.", "gold": "3"},
    {"id": "q4", "solution": "\\boxed{\\sqrt{8}}", "gold": "2\\sqrt{2}"},
    {"id": "q5", "solution": "\\boxed{\\frac{1}{2004!}}", "gold": "\\frac{1}{2006!}"},
    {"id": "q6", "solution": "#### 1,200", "gold": "Total 600*2 = 1200\n#### 1200"},
]


def _write(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in ROWS))
    return path


def test_every_row_comes_back_with_its_verdict(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["verify", "math", str(_write(tmp_path)), "--pred-column", "solution",
                                 "--gold-column", "gold", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in read_shards(out / "data")}
    assert list(rows) == [r["id"] for r in ROWS]  # ids kept, order kept, nothing dropped
    assert {k: rows[k]["verify_status"] for k in rows} == {
        "q1": "correct", "q2": "wrong", "q3": "no_answer", "q4": "correct", "q5": "wrong", "q6": "correct"}
    assert [rows[k]["correct"] for k in rows] == [True, False, False, True, False, True]
    assert rows["q1"]["pred_answer"] == "\\frac{1}{2}" and rows["q1"]["gold_answer"] == "0.5"
    assert rows["q6"]["gold_answer"] == "1200"
    assert rows["q2"]["solution"] == "The answer is 7." and rows["q2"]["gold"] == "8"  # input columns kept
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed" and run["rows"]["data"] == len(ROWS)
    assert "verdicts: correct 3, wrong 2, no_answer 1" in result.output


def test_a_missing_column_is_a_clear_error_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["verify", "math", str(_write(tmp_path)), "--pred-column", "answer_text",
                                 "--gold-column", "gold", "-o", str(out), "--quiet"])
    assert result.exit_code == 2
    assert "answer_text" in result.output and "--pred-column" in result.output
    assert not out.exists()


def test_a_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["verify", "math", str(tmp_path / "nope.jsonl"), "--pred-column", "a",
                                 "--gold-column", "b", "-o", str(tmp_path / "run")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_writing_over_its_own_input_is_refused(tmp_path):
    first = tmp_path / "run"
    base = ["--pred-column", "solution", "--gold-column", "gold", "--quiet"]
    result = runner.invoke(app, ["verify", "math", str(_write(tmp_path)), *base, "-o", str(first)])
    assert result.exit_code == 0, result.output
    before = {p: p.read_bytes() for p in (first / "data").iterdir()}
    for source in (first / "data", first):
        result = runner.invoke(app, ["verify", "math", str(source), *base, "-o", str(first), "--fresh"])
        assert result.exit_code == 2 and "verify would overwrite its own input" in result.output, result.output
    assert {p: p.read_bytes() for p in (first / "data").iterdir()} == before


SLOW = [{"id": "q1", "solution": "\\boxed{\\frac{1}{2}}", "gold": "0.5"},
        {"id": "slow1", "solution": "\\boxed{(30000000)!}", "gold": "(30000001)!"},  # minutes of SymPy
        {"id": "slow2", "solution": "\\boxed{(30000002)!}", "gold": "(30000003)!"}]


@pytest.mark.parametrize("how", ["SIGTERM to the process", "SIGINT to its process group (Ctrl-C)"])
def test_a_signal_stops_verify_math_at_once(tmp_path, how):
    path = tmp_path / "slow.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in SLOW))
    out = tmp_path / "run"
    proc = start_cli(["verify", "math", str(path), "--pred-column", "solution", "--gold-column", "gold", "-o",
                      str(out), "--timeout", "600", "--workers", "2", "--quiet"], tmp_path)
    try:
        workers = wait_for(lambda: {p for p in descendants(proc.pid) if "synthloom.verify.math_pool" in cmdline(p)},
                           "the SymPy workers to start")
        wait_for(lambda: (out / "run.json").exists() and "running" in (out / "run.json").read_text(), "run.json")
        if how.startswith("SIGTERM"):
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)  # the slow comparisons' own limit is 600 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr and "Error" not in stderr
    assert stderr.strip().splitlines() == [stderr.strip()] and "interrupted" in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    wait_for(lambda: not any(cmdline(p) for p in workers), "the SymPy workers to be gone")
