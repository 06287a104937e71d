"""The code-method recipes end to end on the embedded model (tiny n and max_tokens), and the bundled
problem file. The 135M model mostly writes broken code: these tests assert the machinery — the
sandbox verdicts recorded, kept rows verified, rejected rows carrying the step and reason, and
in == ok + rejected + errors for every step."""

from __future__ import annotations

import orjson
import pytest

from synthloom.recipes.build import load_pipeline
from synthloom.recipes.loader import BUILTIN_DIR
from synthloom.sandbox import STATUSES
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.verify.code import verify_code

PROBLEMS = BUILTIN_DIR / "code_problems.jsonl"
RECIPES = ["oss-instruct", "codet", "case2code", "code-repair", "unit-test-synthesis"]
VERDICTS = set(STATUSES) | {"error"}


def test_bundled_problems_reference_solutions_pass_their_tests():
    rows = [orjson.loads(line) for line in PROBLEMS.read_bytes().splitlines()]
    assert len(rows) == 20 and len({r["entry_point"] for r in rows}) == 20
    for r in rows:
        v = verify_code(r["reference"], r["tests"], timeout=5)
        assert v.passed, (r["entry_point"], v.detail)
        assert f"def {r['entry_point']}(" in r["question"]


@pytest.mark.parametrize("name", RECIPES)
def test_recipes_build_and_validate_with_description_and_citations(name):
    pipeline = load_pipeline(name, check_models=False).pipeline  # columns checked before any model call
    assert pipeline.description and pipeline.citations
    cited = {c for s in pipeline.steps for c in s.citations}
    assert set(pipeline.citations) <= cited  # the recipe cites what its steps implement


def _counts(run: dict) -> dict:
    """Per-step counts; a step no row reached counts zeros."""
    zero = {"in": 0, "ok": 0, "out": 0, "rejected": 0, "errors": 0}
    return {**{name: zero for name in ("generate", "verify", "passing", "unique", "inputs", "execute", "solve")},
            **run["counts"]}


def _run(tmp_path, recipe, *sets):
    out = tmp_path / recipe
    run = run_recipe(recipe, out, "concurrency=2", *sets, extra_cli_args=("-n", "2"))
    data, rejected, errors = completed_outputs(run, out)
    assert all(r["_reason"] for r in rejected)
    return run, data, rejected, errors


@pytest.mark.slow
@needs_embedded
def test_oss_instruct_recipe(tmp_path):
    run, data, rejected, errors = _run(tmp_path, "oss-instruct", "steps.generate.max_tokens=48")
    c = _counts(run)
    assert c["generate"]["in"] == 2 and not errors
    assert c["verify"]["in"] == c["generate"]["out"] == c["verify"]["out"]  # every parsed row was executed
    assert c["passing"]["in"] == c["verify"]["out"]
    for r in data:
        assert r["passed"] is True and r["status"] == "passed" and r["problem"] and r["code"] and r["tests"]
        assert all(t["passed"] for t in r["test_results"])
    for r in rejected:
        assert r["_rejected_by"] in ("generate", "passing", "unique")
        if r["_rejected_by"] == "passing":
            assert r["status"] in VERDICTS - {"passed"} and r["_reason"].split(":")[0] in VERDICTS
        elif r["_rejected_by"] == "generate":
            assert r["_reason"].startswith("no ")
    assert len(data) + len(rejected) == 2


@pytest.mark.slow
@needs_embedded
def test_codet_recipe(tmp_path):
    run, data, rejected, errors = _run(tmp_path, "codet", "steps.codet.max_tokens=48", "steps.codet.n_solutions=2",
                                       "steps.codet.n_test_samples=1")
    assert run["counts"]["codet"]["in"] == 2 and len(data) + len(rejected) + len(errors) == 2 and not errors
    for r in data:
        assert r["codet_score"] > 0 and r["passed_tests"] and r["solution"]
        assert r["gold_passed"] in (True, False) and len(r["candidates"]) == r["n_solutions"]
    for r in rejected:
        assert r["_rejected_by"] == "codet"
        assert any(k in r["_reason"] for k in ("contained Python code", "no usable assert", "agreement score 0"))


@pytest.mark.slow
@needs_embedded
def test_case2code_recipe(tmp_path):
    run, data, rejected, errors = _run(tmp_path, "case2code", "max_tokens=48", "inputs_max_tokens=48", "steps.inputs.n_inputs=3")
    c = _counts(run)
    assert c["inputs"]["in"] == 2 and c["execute"]["in"] == c["inputs"]["out"] and not errors
    for r in data:
        assert r["cases"] and any(case["error"] is None for case in r["cases"])
        assert r["prompt"].startswith("Here are input/output examples") and r["response"].startswith("```python")
        assert r["reproduces"] in (True, False) and r["solve_status"] in VERDICTS | {"no_code"}
    for r in rejected:
        assert r["_rejected_by"] in ("inputs", "execute")
    assert len(data) + len(rejected) == 2


@pytest.mark.slow
@needs_embedded
def test_code_repair_recipe(tmp_path):
    _, data, rejected, errors = _run(tmp_path, "code-repair", "steps.repair.max_tokens=48", "steps.repair.max_rounds=1",
                                     "steps.repair.require_pass=false")
    assert len(data) == 2 and not rejected and not errors  # without require_pass every problem is kept
    for r in data:
        traj = r["trajectory"]
        assert 1 <= len(traj) <= 2 and r["rounds"] == len(traj) - 1
        assert all(a["status"] in VERDICTS | {"no_code"} for a in traj)
        assert r["passed"] == (traj[-1]["passed"] and r["hidden_status"] in (None, "passed"))
        assert r["final_status"] == traj[-1]["status"]
        if len(traj) == 2:  # the first attempt failed: its feedback was sent and recorded
            assert not traj[0]["passed"] and traj[0]["feedback"] and traj[0]["reason"]
        if r["passed"]:
            assert verify_code(r["final_code"], r["tests"], timeout=5).passed
    # the model writes code blocks, so the sandbox verdicts are real ones, not only `no_code`
    assert any(a["status"] != "no_code" for r in data for a in r["trajectory"])


@pytest.mark.slow
@needs_embedded
def test_unit_test_synthesis_recipe(tmp_path):
    run, data, rejected, errors = _run(tmp_path, "unit-test-synthesis", "steps.tests.max_tokens=48")
    assert run["counts"]["tests"]["in"] == 2 and len(data) + len(rejected) == 2 and not errors
    for r in data:
        assert r["validated"] and r["n_valid"] == len(r["tests"]) >= 1
        assert verify_code(r["reference"], r["tests"], timeout=5).passed  # kept tests pass on the reference
        assert r["mutants_total"] == 0 or r["mutants_killed"] >= 1
    for r in rejected:
        assert r["_rejected_by"] == "tests"
        assert r["_reason"].startswith(("no assert test", "0 of", "the ")) or "generated tests pass" in r["_reason"]
