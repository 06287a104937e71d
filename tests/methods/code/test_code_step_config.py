"""The code methods' declared options: what goes into a step's fingerprint (options, packaged
templates), what does not (``workers``), the per-call seeds, and the tests' ``kind`` option that
must not shadow the step's kind."""

from __future__ import annotations

from synthloom.methods.code.case2code import Case2CodeExecute
from synthloom.methods.code.code_repair import CodeRepair
from synthloom.methods.code.codet import CodeT
from synthloom.methods.code.oss_instruct import OssInstruct
from synthloom.pipeline.model_step import ModelStep
from synthloom.testing.scripted import ScriptedModel, run_step
from synthloom.verify.code_step import VerifyCode


def test_workers_do_not_change_the_fingerprint_other_options_do():
    assert CodeT("c", workers=2).describe() == CodeT("c", workers=8).describe()
    assert CodeT("c", workers=2).options()["workers"] == 2  # still in the lock file
    base = CodeT("c").describe()
    for change in ({"timeout": 2.0}, {"memory_mb": 256}, {"n_solutions": 3}, {"temperature": 0.5}, {"top_p": 1.0}):
        assert CodeT("c", **change).describe() != base, change
    assert Case2CodeExecute("e", workers=1).describe() == Case2CodeExecute("e", workers=4).describe()
    assert Case2CodeExecute("e", timeout=3.0).describe() != Case2CodeExecute("e").describe()


def test_packaged_templates_are_in_the_fingerprint_and_a_given_one_replaces_them():
    d = OssInstruct("g").describe()
    assert set(d["templates"]) == {"oss_instruct.jinja", "oss_instruct_system.jinja", "oss_instruct_tests.jinja"}
    mine = OssInstruct("g", template="Write a problem from {{ seed }}.", system="")
    assert set(mine.describe()["templates"]) == {"oss_instruct_tests.jinja"}
    assert mine.options()["template"] == "Write a problem from {{ seed }}."
    assert set(CodeT("c").describe()["templates"]) == {"codet_solution.jinja", "codet_tests.jinja"}
    packaged = Case2CodeExecute("e").describe()["options"]["template"]
    assert "Infer the function" in packaged and Case2CodeExecute("e").options()["template"] is None
    assert Case2CodeExecute("e", template="{{ cases }}").describe()["options"]["template"] == "{{ cases }}"


def test_template_columns_are_read_except_the_names_the_step_fills():
    step = CodeRepair("r", solve_template="{{ problem }} in {{ language }}", system="You write {{ style }} code.")
    assert {"language", "style"} <= step.reads and "problem" not in step.reads


def test_tests_kind_option_keeps_the_step_kind():
    repair = CodeRepair("r", kind="call", entry_point="f")
    assert repair.kind == "llm" and repair.tests_kind == "call" and repair.options()["kind"] == "call"
    assert isinstance(repair, ModelStep)
    verify = VerifyCode("v", kind="stdio")
    assert verify.kind == "map" and verify.tests_kind == "stdio" and verify.options()["kind"] == "stdio"


def test_each_call_of_a_record_has_its_own_seed_derived_like_every_model_step():
    model = ScriptedModel(lambda req, j: "no code")
    step = CodeT("c", n_solutions=2, n_test_samples=1)
    [out] = run_step(step, model, [{"id": "p1", "question": "Write f."}])
    seeds = sorted(r.seed for r in model.requests)
    assert seeds == sorted([step.seed_for({"id": "p1"}, "solutions"), step.seed_for({"id": "p1"}, "tests")])
    assert seeds[0] != seeds[1]
    assert [r.n for r in model.requests] in ([2, 1], [1, 2])
