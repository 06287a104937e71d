"""The ``ifeval_constraints`` / ``ifeval_check`` steps, and the ``ifeval-constraints`` recipe on a
scripted model (its filter logic) and on the embedded model (the machinery)."""

from __future__ import annotations

import json

import pytest

from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import install_scripted_backend
from synthloom.verify.instructions import REGISTRY, conflicting
from synthloom.verify.instructions.steps import IfevalCheck, IfevalConstraints


def test_constraints_are_composed_seeded_and_recorded():
    rows = [{"id": f"r{i}", "prompt": "Explain how tides work."} for i in range(60)]
    step = IfevalConstraints("c", max_constraints=3)
    out = [step.map(dict(r)) for r in rows]
    assert out == [step.map(dict(r)) for r in rows]
    assert [o["constraints"] for o in out] != [IfevalConstraints("c", seed=1).map(dict(r))["constraints"] for r in rows]
    for o in out:
        ids = [c["id"] for c in o["constraints"]]
        assert 1 <= len(ids) <= 3 and not any(conflicting(a, b) for i, a in enumerate(ids) for b in ids[i + 1:])
        assert o["base_prompt"] == "Explain how tides work." and "Explain how tides work." in o["prompt"]
        assert all(c["text"] in o["prompt"] for c in o["constraints"])
    with pytest.raises(ValueError, match="unknown kind"):
        IfevalConstraints("c", kinds=["case:camel"])
    with pytest.raises(ValueError, match="min_constraints <= max_constraints"):
        IfevalConstraints("c", min_constraints=3, max_constraints=1)


def test_the_check_keeps_only_responses_every_checker_passes_and_names_the_misses():
    specs = [REGISTRY["punctuation:no_comma"].spec({}), REGISTRY["startend:end_checker"].spec({"end_phrase": "Bye."})]
    ok = IfevalCheck("v").map({"id": "a", "constraints": specs, "response": "Hello there. Bye."})
    assert ok["followed_strict"] and ok["followed_loose"] and [r["strict"] for r in ok["constraint_results"]] == [True, True]
    missed = IfevalCheck("v").map({"id": "b", "constraints": specs, "response": "Hello, there. Bye.\nP.S. more"})
    assert isinstance(missed, Rejected) and missed.score == 0.0
    assert "punctuation:no_comma" in missed.reason and "startend:end_checker" in missed.reason
    loose_only = {"id": "c", "constraints": specs, "response": "Hello there. Bye.\nP.S. more"}
    assert isinstance(IfevalCheck("v").map(dict(loose_only)), Rejected)
    kept = IfevalCheck("v", mode="loose").map(dict(loose_only))
    assert kept["followed_loose"] and not kept["followed_strict"]
    recorded = IfevalCheck("v", require=False).map({"id": "d", "constraints": specs, "response": "a, b"})
    assert recorded["followed_strict"] is False
    with pytest.raises(ValueError, match="mode must be one of strict, loose"):
        IfevalCheck("v", mode="lenient")


def follow_some(req) -> str:
    """Follows the no-comma / end-phrase / lowercase constraints when asked; ignores the rest."""
    text = req.messages[-1]["content"]
    reply = "here is my answer without any pause. it is short."
    if "exact phrase" in text and "Finish your response" in text:
        reply += " " + text.split("exact phrase ", 1)[1].split(". No other words", 1)[0]
    return reply.lower() if "all lowercase letters" in text else reply


def test_recipe_keeps_rows_whose_checks_pass_and_rejects_the_others_with_reasons(tmp_path, monkeypatch, fake_server):
    spec = install_scripted_backend(monkeypatch, follow_some, fake_server.url)
    out = tmp_path / "ifeval"
    run = run_recipe("ifeval-constraints", out, "samples=1", "steps.constrain.kinds=[punctuation:no_comma,"
                     "startend:end_checker,detectable_format:title,change_case:english_lowercase]",
                     extra_cli_args=("-n", "12", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and data and rejected and len(data) + len(rejected) == 12
    for row in data:
        assert all(r["strict"] for r in row["constraint_results"]) and row["followed_strict"]
        assert "detectable_format:title" not in {c["id"] for c in row["constraints"]}
        json.dumps(row["constraints"])
    for row in rejected:
        assert row["_rejected_by"] == "verify" and "detectable_format:title" in row["_reason"]


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "ifeval"
    run = run_recipe("ifeval-constraints", out, "samples=1", "max_tokens=48", extra_cli_args=("-n", "2"))
    assert run["status"] == "completed" and run["counts"]["respond"]["out"] == 2
    for r in side_rows(out, "rejected"):
        assert r["_rejected_by"] == "verify" and "does not follow" in r["_reason"]
