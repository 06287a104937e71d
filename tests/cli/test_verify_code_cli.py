"""`synthloom verify code FILE --code-column C --tests-column T -o OUT`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner
from verify_cli_process import pids_named, start_cli, wait_for

from synthloom.cli.main import app
from synthloom.io.shards import read_shards

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")
runner = CliRunner()

ROWS = [
    {"id": "ok", "solution": "def add(a, b):\n    return a + b", "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]},
    {"id": "wrong", "solution": "def add(a, b):\n    return a - b", "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]},
    {"id": "crash", "solution": "def add(a, b):\n    raise ValueError('no')", "tests": ["assert add(1, 2) == 3"]},
    {"id": "hang", "solution": "def add(a, b):\n    while True:\n        pass", "tests": ["assert add(1, 2) == 3"]},
    {"id": "syntax", "solution": "def add(a, b) return a", "tests": ["assert add(1, 2) == 3"]},
]


def _write(tmp_path, rows):
    path = tmp_path / "solutions.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _verify(tmp_path, rows, timeout: str) -> tuple:
    """Run `synthloom verify code` on ``rows``: ``(CLI result, output rows by id, run.json)``; every
    id comes back, in order."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["verify", "code", str(_write(tmp_path, rows)), "--code-column", "solution",
                                 "--tests-column", "tests", "-o", str(out), "--timeout", timeout, "--quiet"])
    assert result.exit_code == 0, result.output
    got = {r["id"]: r for r in read_shards(out / "data")}
    assert list(got) == [r["id"] for r in rows]  # ids kept, nothing dropped
    return result, got, json.loads((out / "run.json").read_text())


def test_every_row_comes_back_with_its_verdict(tmp_path):
    result, rows, run = _verify(tmp_path, ROWS, "1")
    assert {k: rows[k]["status"] for k in rows} == {
        "ok": "passed", "wrong": "failed", "crash": "failed", "hang": "timeout", "syntax": "failed"}
    assert [rows[k]["passed"] for k in rows] == [True, False, False, False, False]
    assert rows["wrong"]["pass_rate"] == 0.5
    assert [t["status"] for t in rows["wrong"]["test_results"]] == ["failed", "passed"]
    assert "ValueError: no" in rows["crash"]["test_results"][0]["stderr"]
    assert rows["ok"]["solution"] == ROWS[0]["solution"]  # input columns kept
    assert run["status"] == "completed" and run["rows"]["data"] == len(ROWS)
    assert "verdicts: passed 1, failed 3, timeout 1" in result.output


def test_stdio_and_call_kinds(tmp_path):
    rows = [{"id": "s1", "code": "print(int(input()) * 2)", "cases": [{"input": "2\n", "output": "4"},
                                                                     {"input": "5\n", "output": "11"}]}]
    out = tmp_path / "stdio"
    result = runner.invoke(app, ["verify", "code", str(_write(tmp_path, rows)), "--code-column", "code",
                                 "--tests-column", "cases", "--kind", "stdio", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    (row,) = read_shards(out / "data")
    assert (row["status"], row["pass_rate"]) == ("failed", 0.5)

    rows = [{"id": "c1", "code": "def sq(x):\n    return x * x", "cases": json.dumps([{"input": [3], "output": 9}])}]
    (tmp_path / "c").mkdir()
    out = tmp_path / "call"
    result = runner.invoke(app, ["verify", "code", str(_write(tmp_path / "c", rows)), "--code-column", "code",
                                 "--tests-column", "cases", "--kind", "call", "--entry-point", "sq", "-o", str(out),
                                 "--format", "jsonl", "--quiet"])
    assert result.exit_code == 0, result.output
    (row,) = read_shards(out / "data")
    assert row["passed"] is True and row["test_results"][0]["got"] == "9"


def test_a_missing_column_is_a_clear_error_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["verify", "code", str(_write(tmp_path, ROWS)), "--code-column", "program",
                                 "--tests-column", "tests", "-o", str(out), "--quiet"])
    assert result.exit_code == 2
    assert "program" in result.output and "--code-column" in result.output
    assert not out.exists()


def test_bad_options_are_clear_errors(tmp_path):
    path = _write(tmp_path, ROWS)
    result = runner.invoke(app, ["verify", "code", str(path), "--code-column", "solution", "--tests-column", "tests",
                                 "--kind", "call", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--entry-point" in result.output
    result = runner.invoke(app, ["verify", "code", str(path), "--code-column", "solution", "--tests-column", "tests",
                                 "--kind", "unit", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "assert, call, stdio" in result.output
    result = runner.invoke(app, ["verify", "code", str(tmp_path / "nope.jsonl"), "--code-column", "a",
                                 "--tests-column", "b", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "does not exist" in result.output


# -- hostile and honest rows together: every row gets a verdict, the run ends completed ---------------

MIXED = [
    {"id": "honest", "solution": "def add(a, b):\n    return a + b", "tests": ["assert add(1, 2) == 3"]},
    {"id": "empty-test", "solution": "def add(a, b):\n    return 0", "tests": ""},
    {"id": "comment-test", "solution": "def add(a, b):\n    return 0", "tests": "# assert add(1, 2) == 3"},
    {"id": "uncalled-check", "solution": "def add(a, b):\n    return 0",
     "tests": "def check(candidate):\n    assert candidate(1, 2) == 3\n"},
    {"id": "no-assert", "solution": "def add(a, b):\n    return 0", "tests": ["add(1, 2)"]},
    {"id": "compile-bomb", "solution": "x = " + "-" * 20_000 + "1", "tests": ["assert x"]},
    {"id": "recursion-bomb", "solution": "x = " + "1+" * 20_000 + "1", "tests": ["assert x"]},
    {"id": "broken-bytes", "solution": "import sys\nsys.stdout.buffer.write(b'\\xed\\xa0\\x80\\xff\\n')\n"
                                       "sys.stderr.buffer.write(b'\\xed\\xb2\\x80 oops\\n')\n"
                                       "def add(a, b):\n    return 0",
     "tests": ["assert add(1, 2) == 3"]},
    {"id": "early-exit", "solution": "import os\nos._exit(0)", "tests": ["assert add(1, 2) == 3"]},
]


def test_hostile_and_broken_rows_each_get_a_verdict_and_the_run_completes(tmp_path):
    result, rows, run = _verify(tmp_path, MIXED, "5")
    assert {k: rows[k]["status"] for k in rows} == {
        "honest": "passed", "empty-test": "error", "comment-test": "error", "uncalled-check": "error",
        "no-assert": "error", "compile-bomb": "failed", "recursion-bomb": "failed", "broken-bytes": "failed",
        "early-exit": "failed"}
    assert "is empty" in rows["empty-test"]["test_results"][0]["detail"]
    assert "never calls it" in rows["uncalled-check"]["test_results"][0]["detail"]
    assert "MemoryError" in rows["compile-bomb"]["test_results"][0]["stderr"]
    assert run["status"] == "completed"
    assert run["rows"] == {"data": len(MIXED), "rejected": 0, "errors": 0}


# -- writing in place -----------------------------------------------------------------------------------

def test_writing_over_its_own_input_is_refused_and_the_input_is_kept(tmp_path):
    first = tmp_path / "first"
    base = ["--code-column", "solution", "--tests-column", "tests", "--quiet"]
    result = runner.invoke(app, ["verify", "code", str(_write(tmp_path, ROWS[:2])), *base, "-o", str(first)])
    assert result.exit_code == 0, result.output
    shards = sorted((first / "data").iterdir())
    before = {p: p.read_bytes() for p in shards}
    (tmp_path / "alias").symlink_to(first)
    attempts = [
        (first / "data", first, "lies in data of the output folder"),
        (shards[0], first, "lies in data of the output folder"),
        (tmp_path / "alias" / "data", first, "lies in data of the output folder"),
        (first / "data", tmp_path / "alias", "lies in data of the output folder"),
        (first, first, "is the output folder"),
        (tmp_path, first, "lies inside the input folder"),
    ]
    for source, target, why in attempts:
        for fresh in ([], ["--fresh"]):
            result = runner.invoke(app, ["verify", "code", str(source), *base, "-o", str(target), *fresh])
            assert result.exit_code == 2, (source, target, result.output)
            assert why in result.output and "fix: give -o a new folder" in result.output
            assert len(result.output.strip().splitlines()) == 1, result.output
    assert {p: p.read_bytes() for p in sorted((first / "data").iterdir())} == before
    result = runner.invoke(app, ["verify", "code", str(first / "data"), *base, "-o", str(tmp_path / "second")])
    assert result.exit_code == 0, result.output  # the safe way: a new folder
    assert [r["id"] for r in read_shards(tmp_path / "second" / "data")] == ["ok", "wrong"]


# -- SIGTERM / SIGINT --------------------------------------------------------------------------------------

PROBE = "slprobe-verify"  # the name the held solution gives its process, so the test sees it run
HELD = f'''import ctypes, signal
def add(a, b):
    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGUSR1}})
    ctypes.CDLL(None).prctl(15, {PROBE.encode()!r}, 0, 0, 0)
    signal.sigwait({{signal.SIGUSR1}})  # held until the test releases it (or the run is stopped)
    return a + b
'''
SIGNAL_ROWS = [
    {"id": "ok", "solution": "def add(a, b):\n    return a + b", "tests": ["assert add(1, 2) == 3"]},
    {"id": "held", "solution": HELD, "tests": ["assert add(1, 2) == 3"]},
    {"id": "wrong", "solution": "def add(a, b):\n    return a - b", "tests": ["assert add(1, 2) == 3"]},
]


@pytest.mark.parametrize("how", ["SIGTERM to the process", "SIGINT to its process group (Ctrl-C)"])
def test_a_signal_stops_verify_at_once_and_a_rerun_resumes(tmp_path, how):
    out = tmp_path / "run"
    args = ["verify", "code", str(_write(tmp_path, SIGNAL_ROWS)), "--code-column", "solution", "--tests-column",
            "tests", "-o", str(out), "--timeout", "300", "--workers", "2", "--quiet"]
    proc = start_cli(args, tmp_path)
    try:
        wait_for(lambda: pids_named(PROBE), "the held test to start")
        if how.startswith("SIGTERM"):
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)  # the held test's own limit is 300 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert stderr.strip().splitlines() == [stderr.strip()] and "interrupted" in stderr and "rerun" in stderr
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted"
    wait_for(lambda: not pids_named(PROBE), "the held test's process to be gone")  # nothing outlives the command

    rerun = start_cli(args, tmp_path)
    try:
        (held,) = wait_for(lambda: pids_named(PROBE), "the held test to start again")
        os.kill(held, signal.SIGUSR1)
        stdout, stderr = rerun.communicate(timeout=120)
    finally:
        if rerun.poll() is None:
            rerun.kill()
            rerun.communicate()
    assert rerun.returncode == 0, stderr
    rows = {r["id"]: r for r in read_shards(out / "data")}
    assert {k: rows[k]["status"] for k in rows} == {"ok": "passed", "held": "passed", "wrong": "failed"}
    assert json.loads((out / "run.json").read_text())["status"] == "completed"
