"""Rerun = resume for the agent loop: a run killed with SIGKILL in the middle of a trajectory, after some rows were
committed, reruns to the rows an uninterrupted run makes (only the measured step times may differ)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthloom.io.shards import read_shards

COUNTRIES = ["Kenya", "Japan", "Spain", "Brazil", "Canada", "India"]
LONG = {"Canada", "India"}  # the last partition's rows explore for 7 more steps than the others' 3

#: runs ``synthloom run`` with a scripted model (an engine run in its own process, so it can be killed); with
#: KILL_MID_TRAJECTORY=1 the model kills its own process (SIGKILL) at the first request of a trajectory's second step
#: or later that comes after the journal committed a partition of the agent's rows
LAUNCHER = '''
import os, signal, sys
from pathlib import Path

import pytest

from synthloom.testing.scripted import install_scripted_backend, tool_calls

URL, OUT, RECIPE = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
KILL = os.environ.get("KILL_MID_TRAJECTORY") == "1"
LONG = __LONG__


def agent_partitions_committed():
    try:
        lines = (OUT / ".state" / "journal.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    return sum(1 for line in lines if '"part"' in line and '"seg":"agent"' in line)


def reply(req):
    turns = sum(1 for m in req.messages if m["role"] == "assistant")
    country = req.messages[1]["content"].split("from ")[1].rstrip("?")
    if KILL and turns >= 1 and agent_partitions_committed() >= 1:
        os.kill(os.getpid(), signal.SIGKILL)
    if turns == 0:
        return tool_calls(("list_tables", {}))
    if turns == 1 or (country in LONG and turns < 8):
        return tool_calls(("run_query", {"sql": f"SELECT name FROM students WHERE country = '{country}' "
                                                f"LIMIT {(req.seed + turns) % 5 + 1}"}))
    count = "COUNT(*)" if req.seed % 2 else "COUNT(*) + 1"  # some attempts are wrong
    return tool_calls(("finish", {"answer": f"SELECT {count} FROM students WHERE country = '{country}'"}))


spec = install_scripted_backend(pytest.MonkeyPatch(), reply, URL)

# each answer takes 50 ms, as a server's would: the short trajectories' partitions commit while the long ones are
# still running (an instant model can finish every trajectory before the first commit reaches the journal)
import asyncio
from synthloom.testing import scripted

_complete = scripted.ScriptedBackend.complete


async def _answer_after_a_while(self, req):
    await asyncio.sleep(0.05)
    return await _complete(self, req)


scripted.ScriptedBackend.complete = _answer_after_a_while
from synthloom.cli.main import app

app(["run", RECIPE, "-o", str(OUT), "--quiet", "--partition-size", "2", "--model", spec], standalone_mode=True)
'''.replace("__LONG__", repr(sorted(LONG)))


def recipe() -> str:
    rows = [{"task": {"database": "university", "question": f"How many students come from {c}?",
                      "reference_sql": f"SELECT COUNT(*) FROM students WHERE country = '{c}'"}} for c in COUNTRIES]
    return yaml.safe_dump({"name": "agent-resume", "models": {"default": {"spec": "embedded", "max_in_flight": 4}},
                           "steps": [{"name": "tasks", "type": "records", "rows": rows},
                                     {"name": "agent", "type": "agent_loop", "environment": "text_to_sql", "attempts": 2,
                                      "max_steps": 10, "workers": 2}]}, sort_keys=False)


def launch(tmp_path: Path, url: str, out: Path, *, kill: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "KILL_MID_TRAJECTORY": "1" if kill else "0"}
    return subprocess.run([sys.executable, str(tmp_path / "launch.py"), url, str(out), str(tmp_path / "recipe.yaml")],
                          env=env, capture_output=True, text=True, timeout=300)


def outputs(out: Path) -> dict:
    def untimed(rows):
        for row in rows:
            for step in row.get("steps") or []:
                step.pop("seconds"), step.pop("action_seconds")  # measured, not generated
        return rows

    run = json.loads((out / "run.json").read_text())
    rejected = [r for d in sorted((out / "rejected").iterdir()) for r in read_shards(d)] if (out / "rejected").exists() else []
    return {"status": run["status"], "counts": run["counts"], "rows": run["rows"], "data": untimed(list(read_shards(out / "data"))),
            "rejected": rejected}


@pytest.mark.slow
def test_a_run_killed_mid_trajectory_reruns_to_the_same_rows(tmp_path, fake_server):
    (tmp_path / "launch.py").write_text(LAUNCHER)
    (tmp_path / "recipe.yaml").write_text(recipe())
    reference_out, out = tmp_path / "reference", tmp_path / "killed"
    done = launch(tmp_path, fake_server.url, reference_out, kill=False)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = outputs(reference_out)
    assert reference["status"] == "completed" and reference["counts"]["agent"]["in"] == 6
    assert reference["data"] and reference["rejected"]  # both kinds of rows to reproduce
    assert max(len(r["steps"]) for r in reference["data"]) == 9  # long trajectories: list_tables, 7 queries, finish

    killed = launch(tmp_path, fake_server.url, out, kill=True)
    assert killed.returncode == -9, f"the run was not killed mid-trajectory (exit {killed.returncode}): {killed.stderr[-2000:]}"
    journal = (out / ".state" / "journal.jsonl").read_text()
    assert '"seg":"agent","part"' in journal and '"complete":true' not in journal

    rerun = launch(tmp_path, fake_server.url, out, kill=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert json.loads((out / "run.json").read_text())["resumed_partitions"] >= 1
    assert outputs(out) == reference
