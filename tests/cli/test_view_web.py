"""``synthloom view RUN --web``: serves the run until interrupted; mistakes are one line, exit 2."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request

from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.rundir import RunDir
from synthloom.io.shards import ShardWriter


def a_run(root):
    run = RunDir(root)
    run.create()
    ShardWriter(run.data).write_shard(0, [{"id": "a", "prompt": "hello"}, {"id": "b", "prompt": "world"}])
    run.write_run_json({"status": "completed", "pipeline": "tiny", "rows": {"data": 2, "rejected": 0, "errors": 0}})
    return root


def test_web_viewer_serves_the_run_and_stops_on_ctrl_c(tmp_path):
    run = a_run(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "synthloom.cli.main", "view", str(run), "--web", "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + proc.stderr.read()
        with urllib.request.urlopen(url.group(0) + "api/rows?table=data&q=world&exact=1", timeout=30) as response:
            page = json.loads(response.read())
        assert [r["prompt"] for r in page["rows"]] == ["world"] and page["total"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


def test_a_path_the_viewer_cannot_show_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["view", str(tmp_path / "missing"), "--web", "--no-browser"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no such run directory" in lines[0]
    result = CliRunner().invoke(app, ["view", str(a_run(tmp_path / "run")), "--web", "--port", "70000"])
    assert result.exit_code == 2 and "--port 70000" in result.output
