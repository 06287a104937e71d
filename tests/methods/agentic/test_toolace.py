"""ToolACE-style API synthesis: the domain taxonomy, the spec → evolution → implementation + tests synthesis on a
scripted model, the gate on the real sandbox (a tool whose tests pass enters the catalogue; failing tests, an invalid
spec and hostile implementations are rejected rows with the reason, never a crash), the catalogue file, the sampling
and execution of data over the new tools, and the recipe end to end (scripted: exact stage counts; embedded: the
counts add up and kept calls validate)."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.agentic.toolace import (
    INDICATORS,
    SPEC_SCHEMA,
    ToolaceDomains,
    ToolaceSynthesize,
    load_domains,
    signature_text,
)
from synthloom.methods.agentic.toolace_catalogue import ToolaceCatalogue, ToolaceExecute, ToolaceSample, entry_tool
from synthloom.methods.agentic.toolace_gate import ToolaceGate, calling_tests, function_schema, implementation_problem
from synthloom.pipeline.step import Rejected, RejectedRow
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import run_step, user_text
from synthloom.tools import load_tools
from synthloom.tools.executor import ToolExecutor
from synthloom.tools.validate import call_problem

SPEC = {"name": "cube_volume", "description": "Volume of a cube from its edge length.",
        "parameters": [{"name": "side", "type": "number", "description": "edge length in metres", "required": True}],
        "returns": "a number: the volume in cubic metres"}
EVOLVED = {**SPEC, "parameters": [*SPEC["parameters"],
                                  {"name": "decimals", "type": "integer", "description": "digits to round to", "required": False}]}
CODE = ("def cube_volume(side, decimals=None):\n"
        "    if side < 0:\n"
        "        raise ValueError('side must be >= 0')\n"
        "    v = side ** 3\n"
        "    return round(v, decimals) if decimals is not None else v\n")
TESTS = ["assert cube_volume(side=2) == 8", "assert cube_volume(side=1.5, decimals=2) == 3.38",
         "assert cube_volume(side=0) == 0"]


def synthesis_reply(spec=SPEC, evolved=EVOLVED, code=CODE, tests=TESTS):
    """A scripted model playing ToolACE's four prompts."""
    def reply(req):
        text = user_text(req)
        if "API designer" in text:
            return json.dumps(spec)
        if "Evolve it" in text:
            return json.dumps(evolved)
        if "Implement this API" in text:
            return f"Here it is:\n```python\n{code}```"
        return "```python\n# tests\n" + "\n".join(tests) + "\n```"
    return reply


def tool_row(code=CODE, tests=TESTS, spec=EVOLVED, domain="science_math", **extra):
    return {"id": f"r{abs(hash((code, json.dumps(spec))))}", "domain": domain, "subdomain": "geometry",
            "tool_spec": spec, "implementation": code, "tests": list(tests), **extra}


# -- speciation: the taxonomy ----------------------------------------------------------------------------------


def test_bundled_taxonomy_has_ten_domains_and_the_source_interleaves_them():
    tree = load_domains()
    assert len(tree) >= 10 and all(len(d["subdomains"]) >= 2 for d in tree)
    rows = list(ToolaceDomains("d").read())
    assert len(rows) == sum(len(d["subdomains"]) for d in tree) == ToolaceDomains("d").count()
    first = rows[: len(tree)]
    assert len({r["domain"] for r in first}) == len(tree)  # the first records already span every domain
    assert all(r["functionalities"] and r["subdomain"] and r["api_index"] == 0 for r in rows)
    two = ToolaceDomains("d", domains=["finance", "travel"], apis_per_subdomain=2)
    got = list(two.read())
    assert {r["domain"] for r in got} == {"finance", "travel"} and len(got) == 12 == two.count()
    assert [r["api_index"] for r in got].count(1) == 6


def test_taxonomy_errors_name_the_place(tmp_path):
    with pytest.raises(ValueError, match="unknown domain 'fianance'"):
        ToolaceDomains("d", domains=["fianance"])
    bad = tmp_path / "tax.json"
    bad.write_text(json.dumps({"domains": [{"domain": "x", "subdomains": [{"subdomain": "y", "functionalities": []}]}]}))
    with pytest.raises(ValueError, match=r"tax.json: domains\[0\].subdomains\[0\] needs"):
        load_domains(bad)
    with pytest.raises(ValueError, match="cannot be read"):
        load_domains(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="apis_per_subdomain must be >= 1"):
        ToolaceDomains("d", apis_per_subdomain=0)


# -- synthesis on a scripted model ------------------------------------------------------------------------------


def test_synthesis_runs_spec_evolution_implementation_and_independent_tests():
    rows = list(ToolaceDomains("d").read(1))
    step = ToolaceSynthesize("s", evolution_steps=1, functionalities_per_api=2)
    from synthloom.testing.scripted import ScriptedModel

    model = ScriptedModel(synthesis_reply())
    ((row,),) = run_step(step, model, rows)
    assert row["tool_spec"] == EVOLVED and row["evolution"][0] in INDICATORS
    assert row["implementation"].startswith("def cube_volume(") and row["tests"] == TESTS
    assert len(row["functionalities_used"]) == 2 and set(row["functionalities_used"]) <= set(rows[0]["functionalities"])
    assert len(row["_lineage"]) == 4  # spec, evolution, implementation, tests
    spec_req, evolve_req = model.requests[0], model.requests[1]
    assert spec_req.json_schema == SPEC_SCHEMA and evolve_req.json_schema == SPEC_SCHEMA
    assert all(f in user_text(spec_req) for f in row["functionalities_used"]) and rows[0]["subdomain"] in user_text(spec_req)
    assert INDICATORS[row["evolution"][0]] in user_text(evolve_req) and '"cube_volume"' in user_text(evolve_req)
    tests_req = next(r for r in model.requests if "unit tests" in user_text(r))
    assert "side ** 3" not in user_text(tests_req)  # the tests are written from the spec alone
    implement_req = next(r for r in model.requests if "Implement this API" in user_text(r))
    assert "side, decimals=None" in user_text(implement_req)


def test_synthesis_without_evolution_and_with_tests_that_see_the_code():
    rows = list(ToolaceDomains("d").read(1))
    from synthloom.testing.scripted import ScriptedModel

    model = ScriptedModel(synthesis_reply())
    ((row,),) = run_step(ToolaceSynthesize("s", evolution_steps=0, tests_see_implementation=True), model, rows)
    assert row["tool_spec"] == SPEC and row["evolution"] == []
    tests_req = next(r for r in model.requests if "unit tests" in user_text(r))
    assert "side ** 3" in user_text(tests_req)


def test_a_reply_without_code_leaves_an_empty_implementation_for_the_gate():
    rows = list(ToolaceDomains("d").read(1))
    base = synthesis_reply()

    def reply(req):
        return "I would need more details first." if "Implement this API" in user_text(req) else base(req)

    ((row,),) = run_step(ToolaceSynthesize("s"), reply, rows)
    assert row["implementation"] == ""
    out = run_step(ToolaceGate("g"), lambda r: "", [row])
    assert isinstance(out[0], Rejected) and "no Python code" in out[0].reason


def test_synthesis_option_errors():
    with pytest.raises(ValueError, match="indicators must be"):
        ToolaceSynthesize("s", indicators=["make_it_better"])
    with pytest.raises(ValueError, match="n_tests must be >= 1"):
        ToolaceSynthesize("s", n_tests=0)
    assert signature_text(EVOLVED) == "side, decimals=None"


# -- the gate -------------------------------------------------------------------------------------------------


def test_function_schema_turns_the_list_form_into_a_json_schema():
    fn, problem = function_schema(EVOLVED)
    assert problem is None and fn["name"] == "cube_volume" and fn["description"].endswith("Returns: a number: the volume in cubic metres")
    assert fn["parameters"] == {"type": "object", "properties": {
        "side": {"type": "number", "description": "edge length in metres"},
        "decimals": {"type": "integer", "description": "digits to round to"}}, "required": ["side"], "additionalProperties": False}


@pytest.mark.parametrize(("spec", "why"), [
    ({**SPEC, "name": "cube volume!"}, "not a Python function name"),
    ({**SPEC, "description": " "}, "has no description"),
    ({**SPEC, "parameters": [*SPEC["parameters"], *SPEC["parameters"]]}, "two parameters are named 'side'"),
    ({**SPEC, "parameters": [{"name": "side", "type": "float", "description": "", "required": True}]}, "has type 'float'"),
    ({**SPEC, "parameters": [{"name": "class", "type": "string", "description": "", "required": True}]}, "not a Python identifier"),
    ({**SPEC, "parameters": [{"name": "n", "type": "integer", "description": "", "required": True, "enum": ["a"]}]}, "enum"),
    ({**SPEC, "parameters": {"type": "object", "properties": {"side": {"type": "decimal"}}}}, "unknown type 'decimal'"),
    ("cube", "must be a JSON object"),
])
def test_invalid_specs_are_named(spec, why):
    fn, problem = function_schema(spec)
    assert fn is None and why in problem


def test_implementation_and_test_checks():
    assert implementation_problem("import numpy\ndef f(): pass") == \
        "the implementation imports 'numpy', which is not in the Python standard library"
    assert "does not parse" in implementation_problem("def f(:\n")
    assert implementation_problem("import math, json\nfrom collections import Counter\ndef f(): pass") is None
    assert calling_tests(["assert f(1) == 1", "assert g(1) == 1", "assert True", "nonsense ("], "f") == ["assert f(1) == 1"]


BAD_TOOLS = [
    # (what, code, tests, spec, expected start of the reason)
    ("failing tests", CODE.replace("side ** 3", "side ** 2"), TESTS, EVOLVED, "sandbox failed: tool 'cube_volume'"),
    ("invalid spec", CODE, TESTS, {**EVOLVED, "name": "cube-volume v2"}, "invalid tool spec"),
    ("spec and code disagree", CODE.replace("decimals=None", "places=None"), TESTS, EVOLVED,
     "the implementation does not match the spec"),
    ("non-stdlib import", "import requests\n" + CODE, TESTS, EVOLVED, "tool 'cube_volume': the implementation imports 'requests'"),
    ("too few tests", CODE, ["assert cube_volume(side=2) == 8", "assert 1 + 1 == 2"], EVOLVED, "tool 'cube_volume': 1 test(s)"),
]
HOSTILE = [
    ("network", "import socket\n" + CODE.replace("    v = side ** 3\n",
                                                  "    socket.create_connection(('93.184.216.34', 80), timeout=1)\n    v = side ** 3\n"),
     "sandbox forbidden"),
    ("write outside the workspace",
     CODE.replace("    v = side ** 3\n", "    open('/usr/lib/evil.txt', 'w').write('x')\n    v = side ** 3\n"),
     "sandbox forbidden"),
    ("endless loop", CODE.replace("    v = side ** 3\n", "    while True:\n        pass\n"), "sandbox timeout"),
    ("memory bomb", CODE.replace("    v = side ** 3\n", "    hog = bytearray(4 * 1024 ** 3)\n    v = side ** 3 + len(hog) * 0\n"),
     "sandbox memory"),
    ("exits before the tests run", "import os\nos._exit(0)\n" + CODE, "sandbox failed"),
    # the tests run in the trusted harness's process: a value equal to everything is compared by identity there
    ("forged equality", "class _Any:\n    def __eq__(self, other):\n        return True\n\n\n"
                        "def cube_volume(side, decimals=None):\n    return _Any()\n", "sandbox failed"),
    ("forged report", "print('PASSED ' * 3)\n" + CODE.replace("side ** 3", "side ** 2"), "sandbox failed"),
]


def test_the_gate_keeps_a_tool_whose_tests_pass_and_it_enters_the_catalogue(tmp_path):
    out = run_step(ToolaceGate("g", timeout=5), lambda r: "", [tool_row()])
    (row,) = out[0]
    tool = row["tool"]
    assert row["gate"]["status"] == "passed" and row["gate"]["pass_rate"] == 1.0 and len(row["gate"]["tests"]) == 3
    assert tool["name"] == "cube_volume" and tool["category"] == "science_math" and tool["source"] == CODE
    path = tmp_path / "new_tools.json"
    (kept,) = list(ToolaceCatalogue("c", path=str(path)).run(iter([row])))
    assert kept is row
    (loaded,) = load_tools(path)
    assert loaded.executable and loaded.name == "cube_volume" and loaded.category == "science_math"
    assert loaded.parameters == tool["parameters"] and entry_tool(tool) == loaded
    assert call_problem({"name": "cube_volume", "arguments": {"side": "2"}}, [loaded]) is not None
    with ToolExecutor(timeout=5) as ex:
        (result,) = ex.run([loaded], [{"id": "c1", "name": "cube_volume", "arguments": {"side": 3}}])
    assert result.status == "ok" and result.value == 27


@pytest.mark.parametrize(("what", "code", "tests", "spec", "reason"), BAD_TOOLS, ids=[b[0] for b in BAD_TOOLS])
def test_the_gate_rejects_with_the_reason(what, code, tests, spec, reason):
    out = run_step(ToolaceGate("g", timeout=5), lambda r: "", [tool_row(code, tests, spec)])
    assert isinstance(out[0], Rejected) and out[0].reason.startswith(reason), out[0]


def test_hostile_implementations_are_contained_and_rejected_with_the_sandbox_status():
    rows = [tool_row(code, TESTS) for _, code, _ in HOSTILE]
    out = run_step(ToolaceGate("g", timeout=1.0, memory_mb=256, workers=2), lambda r: "", rows)
    for (what, _, reason), verdict in zip(HOSTILE, out):
        assert isinstance(verdict, Rejected), what
        assert verdict.reason.startswith(reason), (what, verdict.reason)


# -- the catalogue, sampling and execution over the new tools ----------------------------------------------------


def _kept(name: str, domain: str, body: str = "return a + b") -> dict:
    code = f"def {name}(a, b):\n    {body}\n"
    entry = {"name": name, "description": f"{name} of two numbers.",
             "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                            "required": ["a", "b"], "additionalProperties": False},
             "category": domain, "source": code}
    return {"id": f"id-{name}-{domain}", "tool": entry}


def test_the_catalogue_rejects_duplicate_and_bundled_names(tmp_path):
    rows = [_kept("plus_two", "finance"), _kept("plus_two", "travel"), _kept("add_numbers", "finance"), _kept("minus", "finance")]
    out = list(ToolaceCatalogue("c", path=str(tmp_path / "cat.json")).run(iter(rows)))
    kept = [r for r in out if not isinstance(r, RejectedRow)]
    rejected = {r.record["tool"]["category"] + "/" + r.record["tool"]["name"]: r.verdict for r in out if isinstance(r, RejectedRow)}
    assert [r["tool"]["name"] for r in kept] == ["minus", "plus_two"]
    assert "already has a tool named 'add_numbers'" in rejected["finance/add_numbers"].reason
    assert rejected["travel/plus_two"].duplicate_of == "id-plus_two-finance"
    assert [t.name for t in load_tools(tmp_path / "cat.json")] == ["minus", "plus_two"]


def test_sampling_over_the_new_tools_is_deterministic_and_carries_their_sources():
    rows = [_kept("plus_two", "finance"), _kept("minus", "finance", "return a - b"), _kept("times", "travel", "return a * b")]
    sample = ToolaceSample("s", examples_per_tool=4, k=2, seed=3)
    first, again = list(sample.run(iter(rows))), list(sample.run(iter(reversed(rows))))
    assert first == again and len(first) == 12
    for ex in first:
        names = [t["function"]["name"] for t in ex["tools"]]
        assert [e["name"] for e in ex["tool_sources"]] == names and all(e["source"] for e in ex["tool_sources"])
        assert len(names) == (1 if ex["form"] in ("simple", "parallel") else 2)
    assert {ex["form"] for ex in first} == {"simple", "multiple", "parallel", "parallel_multiple"}
    alone = list(ToolaceSample("s", examples_per_tool=6, forms=["multiple", "parallel_multiple"]).run(iter(rows[:1])))
    assert {ex["form"] for ex in alone} <= {"simple", "parallel"}  # one tool: the one-tool counterparts


def test_toolace_execute_runs_the_rows_own_implementations():
    rows = [_kept("plus_two", "finance"), _kept("divide", "finance", "return a / b")]
    examples = [{"id": "x", "tool_sources": [r["tool"] for r in rows], "calls": calls} for calls in (
        [{"id": "c1", "name": "plus_two", "arguments": {"a": 2, "b": 3}}, {"id": "c2", "name": "divide", "arguments": {"a": 1, "b": 4}}],
        [{"id": "c1", "name": "divide", "arguments": {"a": 1, "b": 0}}],
        [{"id": "c1", "name": "nowhere", "arguments": {}}])]
    out = run_step(ToolaceExecute("e", timeout=5), lambda r: "", examples)
    (ok,) = out[0]
    assert [r["value"] for r in ok["results"]] == [5, 0.25] and ok["simulated"] is False
    assert isinstance(out[1], Rejected) and out[1].reason.startswith("error: call 1 divide") and "ZeroDivisionError" in out[1].reason
    assert isinstance(out[2], Rejected) and out[2].reason.startswith("not_run: no implementation of nowhere")


# -- the recipe end to end ------------------------------------------------------------------------------------------


def recipe_reply(req):
    """Scripted ToolACE + APIGen: every synthesized tool is cube_volume_<subdomain> except for the loans subdomain,
    whose tests fail; the generator calls the first offered tool; the checker passes; the answer is text."""
    text = "\n".join(m.get("content") or "" for m in req.messages)
    if "API designer" in text or "Evolve it" in text:
        sub = text.split("Subdomain: ")[1].split("\n")[0] if "Subdomain: " in text else text.split(" / ")[1].split(":")[0]
        return json.dumps({**SPEC, "name": f"cube_volume_{sub.strip()}"})
    name = next((w.strip("`(") for w in text.split() if w.startswith(("`cube_volume_", "cube_volume_"))), "")
    name = name.split("(")[0].rstrip("`.:,")
    if "Implement this API" in text:
        body = "side ** 2" if name.endswith("_loans") else "side ** 3"
        return f"```python\ndef {name}(side):\n    return {body}\n```"
    if "unit tests" in text:
        return f"```python\nassert {name}(side=2) == 8\nassert {name}(side=3) == 27\n```"
    if req.json_schema and req.json_schema.get("type") == "array":  # apigen_generate
        first = req.json_schema["items"]["properties"]["answers"]["items"]
        option = first["anyOf"][0] if "anyOf" in first else first
        fname = option["properties"]["name"]["const"]
        count = req.json_schema["items"]["properties"]["answers"]["minItems"]
        answers = [{"name": fname, "arguments": {"side": 2 + i}} for i in range(count)]
        return json.dumps([{"query": f"What are the volumes for sides {', '.join(str(2 + i) for i in range(count))}?",
                            "answers": answers}])
    if req.json_schema:  # the semantic checker
        return json.dumps({"thought": "The calls answer the query.", "passes": True})
    return "The volumes are as computed."


@pytest.mark.slow
def test_toolace_recipe_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(recipe_reply)
    out = tmp_path / "toolace"
    run = run_recipe("toolace", out, "concurrency=2", "domains=[finance, science_math]", f"catalogue={tmp_path / 'cat.json'}",
                     "steps.sample.forms=[simple, parallel]", extra_cli_args=("-n", "4", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    c = run["counts"]
    assert not errors and c["synthesize"]["in"] == 4 and c["gate"]["in"] == 4
    assert c["gate"]["ok"] == 3 and c["gate"]["rejected"] == 1  # finance/loans: its implementation fails its tests
    (bad,) = [r for r in rejected if r["_rejected_by"] == "gate"]
    assert bad["subdomain"] == "loans" and bad["_reason"].startswith("sandbox failed")
    assert [t.name for t in load_tools(tmp_path / "cat.json")] == [  # ordered by domain, then name
        "cube_volume_investing", "cube_volume_chemistry", "cube_volume_physics"]
    assert c["catalogue"]["ok"] == 3 and c["sample"]["out"] == 6 == len(data)
    for row in data:
        tools = {t.name: t for t in load_tools(tmp_path / "cat.json")}
        assert all(call_problem(call, tools) is None for call in row["calls"])
        assert all(r["status"] == "ok" and r["value"] == call["arguments"]["side"] ** 3
                   for r, call in zip(row["results"], row["calls"]))
        assert row["simulated"] is False and row["answer"] and row["form"] in ("simple", "parallel")


STAGES = ("domains", "synthesize", "gate", "catalogue", "sample", "generate", "format", "execution", "semantics", "answer")


@pytest.mark.slow
@needs_embedded
def test_toolace_recipe_on_the_embedded_model(tmp_path):
    """One record through the whole recipe on the 135M model: whatever it writes, every row ends kept, rejected
    with a reason or as an error row, and a tool that got through the gate made rows whose calls ran."""
    out = tmp_path / "toolace-embedded"
    run = run_recipe("toolace", out, "concurrency=2", "steps.synthesize.max_tokens=320", "steps.synthesize.evolution_steps=0",
                     "steps.generate.max_tokens=200", "steps.semantics.max_tokens=96", "steps.answer.max_tokens=64",
                     "steps.gate.timeout=2", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    zero = {"in": 0, "ok": 0, "out": 0, "rejected": 0, "errors": 0}
    c = {name: run["counts"].get(name, zero) for name in STAGES}
    assert c["domains"]["out"] == 1 == c["synthesize"]["in"]
    assert c["gate"]["in"] == c["synthesize"]["out"] and c["catalogue"]["in"] <= c["gate"]["ok"]
    assert all(r["_reason"] for r in rejected) and {r["_rejected_by"] for r in rejected} <= set(STAGES)
    for r in [r for r in rejected if r["_rejected_by"] == "gate"]:
        assert r["_reason"].startswith(("invalid tool spec", "tool ", "the implementation", "sandbox "))
    assert len(data) == c["answer"]["ok"]
    for row in data:  # what survived: its calls validate against the new tools and ran
        assert row["calls"] and all(res["status"] == "ok" for res in row["results"])
