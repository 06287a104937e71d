"""API keys and auth headers never reach the cache, the lock file, the card, run.json, logs or outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

KEY = "sk-test-SECRET-4f9a1c0b7e"
HEADER = "org-SECRET-HEADER-77d2"

RECIPE = """
name: secrets
params:
  input: prompts.jsonl
models:
  default:
    spec: openai:fake@{url}
    api_key_env: SYNTHLOOM_TEST_KEY
    header_env: {{X-Org: SYNTHLOOM_TEST_ORG}}
steps:
  - name: prompts
    type: load
    path: ${{input}}
  - name: respond
    type: llm
    prompt: "{{{{ prompt }}}}"
    output: response
    max_tokens: 8
"""


def test_no_file_a_run_writes_contains_a_secret(tmp_path: Path, prompts_file):
    prompts = prompts_file(30)
    # every 4th request fails once with 401 echoing nothing, plus a permanent 403 for one prompt: error rows too
    prompts.write_text(prompts.read_text() + '{"prompt": "[[fault:403]] forbidden one"}\n')
    env = {**os.environ, "SYNTHLOOM_TEST_KEY": KEY, "SYNTHLOOM_TEST_ORG": HEADER}
    config = FakeServerConfig(api_key=KEY, required_headers={"x-org": HEADER})
    with FakeOpenAIServer(config) as server:
        recipe = tmp_path / "secrets.yaml"
        recipe.write_text(RECIPE.format(url=server.url))
        out = tmp_path / "out"
        proc = subprocess.run([sys.executable, "-m", "synthloom.cli.main", "run", str(recipe), "--set", f"input={prompts}",
                               "-o", str(out), "--plain"], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert server.stats()["by_status"].get("200", 0) >= 30, (server.stats(), server.last_request(), proc.stderr[-2000:])
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "cache.sqlite" for p in files) and any(p.parent.name == "data" for p in files)
    assert any("errors" in p.parts for p in files)  # the 403 row
    for path in files:
        data = path.read_bytes()
        assert KEY.encode() not in data and HEADER.encode() not in data, f"secret leaked into {path}"
    assert KEY not in proc.stdout + proc.stderr and HEADER not in proc.stdout + proc.stderr
    lock = (out / "recipe.lock.yaml").read_text()
    assert "SYNTHLOOM_TEST_KEY" in lock  # the env var's name is recorded, not its value


def test_missing_api_key_env_is_a_clear_error(tmp_path: Path, prompts_file, fake_server):
    prompts = prompts_file(2)
    recipe = tmp_path / "secrets.yaml"
    recipe.write_text(RECIPE.format(url=fake_server.url))
    env = {k: v for k, v in os.environ.items() if k not in ("SYNTHLOOM_TEST_KEY", "SYNTHLOOM_TEST_ORG")}
    proc = subprocess.run([sys.executable, "-m", "synthloom.cli.main", "run", str(recipe), "--set", f"input={prompts}",
                           "-o", str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "SYNTHLOOM_TEST_KEY" in proc.stderr and f"{recipe}:" in proc.stderr
    assert not (tmp_path / "out" / "data").exists()
