"""The ``reward-pairs`` recipe (pool -> reward -> pairs) end to end: on a scripted model through the
CLI, and on the embedded model with its offline expected-score reward."""

from __future__ import annotations

import re

import pytest

from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import user_text

PAIR_COLUMNS = {"prompt", "chosen", "rejected", "chosen_score", "rejected_score", "chosen_model", "rejected_model",
                "margin", "pair_rule", "system", "chosen_index", "rejected_index"}


def reply(req, j):
    """Completions "answer j: <prompt>"; the judge scores a completion by its answer number (j + 2)."""
    if req.json_schema:
        judged = re.search(r"answer (\d+):", user_text(req))
        return f'{{"score": {int(judged.group(1)) + 2 if judged else 1}}}'
    return f"answer {j}: {user_text(req)[:40]}"


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(reply)
    out = tmp_path / "rp"
    run = run_recipe("reward-pairs", out, "k=3", extra_cli_args=("-n", "3", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 3 and not rejected and not errors
    for row in data:
        assert set(row) - {"id", "_lineage"} == PAIR_COLUMNS
        assert row["chosen"].startswith("answer 2:") and row["rejected"].startswith("answer 0:")
        assert (row["chosen_score"], row["rejected_score"], row["margin"]) == (4.0, 2.0, 2.0)
        assert (row["chosen_index"], row["rejected_index"], row["pair_rule"]) == (2, 0, "best_vs_worst")
        assert row["chosen_model"] == row["rejected_model"] == "default"
    assert run["counts"]["reward"]["ok"] == 3


def test_recipe_with_a_reward_model_server_as_the_docs_show(tmp_path, scripted_model, fake_server):
    spec = scripted_model(lambda req, j: "yes " * (j + 1) + user_text(req)[:20])  # the fake reward: words / 10
    out = tmp_path / "rp"
    run = run_recipe("reward-pairs", out, "k=3", f"models.rm.spec=openai:rm@{fake_server.url}", "reward_model=rm",
                     "reward_method=pooling", extra_cli_args=("-n", "2", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 2 and not rejected and not errors
    for row in data:
        assert row["chosen"].startswith("yes yes yes ") and row["rejected"].startswith("yes ")
        assert row["margin"] == pytest.approx(0.2) and (row["chosen_index"], row["rejected_index"]) == (2, 0)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "rp"
    run = run_recipe("reward-pairs", out, "k=2", "steps.pool.max_tokens=24", "steps.pairs.skip_truncated=false",
                     extra_cli_args=("-n", "2"))
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["reward"]["in"] == 2 and not errors
    assert len(data) + len(rejected) == 2
    for row in data:
        assert row["margin"] > 0 and row["chosen_score"] > row["rejected_score"] and 1 <= row["rejected_score"] <= 5
    for row in rejected:  # a tie, or identical completions: the reason says which
        assert row["_rejected_by"] == "pairs" and row["_reason"]
