"""``recipe.lock.yaml`` states every option of every step (defaults included) and is itself a
recipe: running it gives the same rows."""

from __future__ import annotations

import yaml

from synthloom.testing import recipe_runs


def test_the_lock_file_lists_every_option_and_reruns_to_the_same_rows(tmp_path, fake_model):
    first = tmp_path / "first"
    recipe_runs.run_recipe("demo", first, extra_cli_args=("-n", "3", "--model", fake_model))
    lock = yaml.safe_load((first / "recipe.lock.yaml").read_text())
    question = next(s for s in lock["steps"] if s["name"] == "question")
    assert question["structured_attempts"] == 3 and question["reject_truncated"] is False  # defaults stated
    assert lock["models"]["default"]["spec"] == fake_model
    again = tmp_path / "again"
    recipe_runs.run_recipe(str(first / "recipe.lock.yaml"), again, extra_cli_args=("-n", "3"))
    assert recipe_runs.data_rows(again) == recipe_runs.data_rows(first)
    assert recipe_runs.side_rows(again, "rejected") == recipe_runs.side_rows(first, "rejected")
