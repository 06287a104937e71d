"""10,000 requests through the openai backend with 20% mixed injected faults (500, 429 with
Retry-After, truncated bodies, stalls past a short timeout, malformed JSON, connection resets): every
row is accounted for (ok + rejected + errors == input, as run.json says), transient faults are
retried to the right answer, and only the rows whose every attempt fails end as error rows."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.shards import read_shards
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.recipe_runs import prompt_answer_recipe

N = 10_000
KINDS = ("500", "429", "truncate", "stall", "malformed", "reset")

MODEL_SETTINGS = {"max_in_flight": 128, "adaptive": False, "timeout_s": 1.0, "max_retries": 4,
                  "backoff_base_s": 0.01, "backoff_max_s": 0.05}


@pytest.mark.slow
def test_ten_thousand_requests_with_twenty_percent_faults_account_for_every_row(tmp_path):
    rng = random.Random(20261204)
    rows, doomed, faulty = [], set(), 0
    for i in range(N):
        prompt = f"Question number {i}"
        if rng.random() < 0.2:
            faulty += 1
            kind = rng.choice(KINDS)
            if rng.random() < 0.05:  # fails every attempt: must end as an error row
                prompt += f" [[fault:{kind}]]"
                doomed.add(prompt)
            else:  # fails the first one or two attempts: retried to the right answer
                prompt += f" [[fault:{kind}:{rng.choice((1, 2))}]]"
        rows.append({"prompt": prompt})
    assert 1800 < faulty < 2200 and doomed
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))

    config = FakeServerConfig(latency_s=0.0, retry_after_s=0.01, stall_s=5.0)
    with FakeOpenAIServer(config) as server:
        recipe = tmp_path / "storm.yaml"
        recipe.write_text(prompt_answer_recipe("faultstorm", {"spec": f"openai:fake@{server.url}", **MODEL_SETTINGS},
                                               temperature=0.0, max_tokens=16))
        out = tmp_path / "out"
        result = CliRunner().invoke(app, ["run", str(recipe), "--set", f"input={prompts}", "-o", str(out), "--quiet",
                                          "--partition-size", "1000"])
        stats = server.stats()
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed"
    counts = run["counts"]["answer"]
    assert counts["in"] == N and counts["ok"] + counts["rejected"] + counts["errors"] == N
    assert run["rows"]["data"] + run["rows"]["rejected"] + run["rows"]["errors"] == N

    data = list(read_shards(out / "data"))
    errors = list(read_shards(out / "errors" / "answer")) if (out / "errors" / "answer").exists() else []
    assert len(data) == run["rows"]["data"] and len(errors) == run["rows"]["errors"]
    assert {json.loads(e["_record"])["prompt"] for e in errors} == doomed
    for row in data:
        assert row["answer"] == " ".join(f"Reply to: {row['prompt']}".split()[:16])
    assert run["retryable_errors"] == len(doomed)
    assert stats["requests"] > N  # the retries really happened
