"""Run a built-in reasoning recipe on the embedded model (tiny) and check the run's accounting."""

from __future__ import annotations

from synthloom.testing import recipe_runs


def run_recipe(tmp_path, recipe: str, step: str, *sets: str, n: int = 1, max_tokens: int = 48):
    """``(run.json, data rows, rejected rows)`` of ``recipe`` with ``--set`` ``sets`` and its model
    step ``step`` answering in at most ``max_tokens``; asserts in == ok + rejected + errors per
    step, a completed run and its row counts."""
    out = tmp_path / recipe
    run = recipe_runs.run_recipe(recipe, out, f"steps.{step}.max_tokens={max_tokens}", *sets,
                                 extra_cli_args=("-n", str(n)))
    data, rejected, _ = recipe_runs.completed_outputs(run, out)
    return run, data, rejected
