"""One row's bad code or output never aborts verification: every row gets a verdict (or, when the
run is being stopped, none at all), and every verdict can be written."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from synthloom.io.shards import ShardWriter, read_shards
from synthloom.sandbox import ExecResult, PoolClosed, SandboxPool
from synthloom.verify.code import build_programs, judge, verify_code
from synthloom.verify.code_step import VerifyCode
from synthloom.verify.sandbox_client import SandboxClient

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

ADD = "def add(a, b):\n    return a + b"
PROBE = "slprobe-robust"  # the process name a hanging solution gives itself, so the test can see it run
HANG = f'''import ctypes, time
def add(a, b):
    ctypes.CDLL(None).prctl(15, {PROBE.encode()!r}, 0, 0, 0)
    while True:
        time.sleep(1)
'''


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, require_isolation=True) as p:
        yield p


def test_lone_surrogates_in_what_the_sandbox_returns_are_written_as_escapes(tmp_path):
    (stdio,) = build_programs("print(1)", [{"input": "", "output": "1"}], kind="stdio")
    (harnessed,) = build_programs(ADD, ["assert add(1, 2) == 3"])
    forged = ExecResult("passed", 0, "1\ud800\n", "trace \udfff", 0.01, detail="why \ud83d",
                        extra={"verdict": {"ok": True, "got": "\udc80", "error": ""}})
    rows = [{"id": str(i), "result": judge(p, forged, 0, 1.0)} for i, p in enumerate((stdio, harnessed))]
    for row in rows:
        assert row["result"]["stderr"] == "trace \\udfff"
        json.dumps(row["result"], ensure_ascii=False).encode("utf-8")  # valid UTF-8 throughout
    stdio_result, harness_result = rows[0]["result"], rows[1]["result"]
    assert (stdio_result["status"], stdio_result["detail"]) == ("failed", "wrong output")
    assert stdio_result["got"] == "1\\ud800\n"
    assert (harness_result["status"], harness_result["detail"]) == ("passed", "why \\ud83d")
    assert harness_result["got"] == "\\udc80"
    ShardWriter(tmp_path / "data").write_shard(0, rows)  # Parquet takes it (a surrogate it would refuse)
    assert [r["id"] for r in read_shards(tmp_path / "data")] == ["0", "1"]


@pytest.mark.parametrize(("code", "why"), [
    ("x = " + "-" * 20_000 + "1", "MemoryError"),         # the host's compile() runs out of parser stack
    ("x = " + "1+" * 20_000 + "1", "RecursionError"),     # ... or of recursion depth
    ("x = '\udc80'", "UnicodeEncodeError"),
    ("x = 1\x00", "SyntaxError"),
])
def test_code_the_host_cannot_compile_is_failed_with_the_reason(pool, code, why):
    v = verify_code(code, ["assert x"], pool=pool)
    assert (v.passed, v.status) == (False, "failed")
    assert "does not compile" in v.detail and why in v.detail
    assert why in v.results[0]["stderr"]


class ForgedReplyPool(SandboxPool):
    """Runs answer with a deeply nested JSON document, as a worker whose pipe a solution took over
    could send: reading it raises RecursionError inside the pool."""

    def run(self, code, **kwargs):
        return json.loads("[" * 200_000 + "]" * 200_000)


def test_an_unreadable_sandbox_reply_is_a_crashed_verdict():
    with ForgedReplyPool(workers=1, require_isolation=True) as forged:
        v = verify_code(ADD, ["assert add(1, 2) == 3", "assert add(0, 0) == 0"], pool=forged)
    assert (v.passed, v.status) == (False, "crashed")
    assert [r["status"] for r in v.results] == ["crashed", "crashed"]
    assert "RecursionError" in v.results[0]["detail"]


def test_a_closed_pool_gives_no_verdict(pool):
    closed = SandboxPool(workers=1, require_isolation=True)
    closed.close()
    with pytest.raises(PoolClosed):
        verify_code(ADD, ["assert add(1, 2) == 3"], pool=closed)


def test_closing_the_client_ends_a_running_test_at_once():
    client = SandboxClient(timeout=300, workers=1)
    outcome: list[BaseException | object] = []

    def verify() -> None:
        try:
            outcome.append(client.verify(HANG, ["assert add(1, 2) == 3"]))
        except BaseException as e:  # noqa: BLE001 - what the thread ended with is the assertion
            outcome.append(e)

    thread = threading.Thread(target=verify)
    thread.start()
    _wait_for(lambda: _pids_named(PROBE), "the hanging test to start")
    client.close()
    thread.join(timeout=60)  # the test's own limit is 300 s: only the close can end it this early
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], PoolClosed)  # no verdict for a cut run
    _wait_for(lambda: not _pids_named(PROBE), "the test's processes to be gone")


def test_the_step_gives_every_row_a_verdict():
    step = VerifyCode("verify", code_column="code", tests_column="tests", entry_point_column="entry", timeout=5.0,
                      workers=2)
    rows = [
        {"id": "ok", "code": ADD, "tests": ["assert add(1, 2) == 3"], "entry": None},
        {"id": "bytes", "code": b"def add(a, b): return a + b", "tests": ["assert add(1, 2) == 3"], "entry": None},
        {"id": "nested-json", "code": ADD, "tests": "[" * 100_000, "entry": None},
        {"id": "entry-int", "code": ADD, "tests": "def check(c):\n    assert c(1, 2) == 3\n", "entry": 7},
        {"id": "vacuous", "code": ADD, "tests": "# nothing", "entry": None},
        {"id": "compile-bomb", "code": "x = " + "-" * 20_000 + "1", "tests": ["assert x"], "entry": None},
    ]
    try:
        out = {r["id"]: step.verify_record(r) for r in rows}
    finally:
        step.sandbox.close()
    assert {k: v["status"] for k, v in out.items()} == {
        "ok": "passed", "bytes": "error", "nested-json": "error", "entry-int": "error", "vacuous": "error",
        "compile-bomb": "failed"}
    assert "entry point" in out["entry-int"]["test_results"][0]["detail"]
    assert "has no statements" in out["vacuous"]["test_results"][0]["detail"]


def _pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _wait_for(condition, what: str, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_verify_code_file_refuses_to_write_over_its_input(tmp_path):
    from synthloom.verify.code_step import verify_code_file
    from synthloom.verify.run_paths import in_place_problem

    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "data" / "part-00000.jsonl").write_text('{"id": "a", "code": "x = 1", "tests": "assert x"}\n')
    with pytest.raises(ValueError, match="lies in data of the output folder"):
        verify_code_file(out / "data", out, code_column="code", tests_column="tests")
    assert (out / "data" / "part-00000.jsonl").exists() and not (out / "run.json").exists()
    assert in_place_problem(out / ".state" / "nodes", out) is not None
    assert in_place_problem(out / "run.json", out) is not None
    assert in_place_problem(tmp_path / "in.jsonl", out) is None        # beside the output: fine
    assert in_place_problem(out / "notes" / "in.jsonl", out) is None   # in the folder, not in what a run writes
