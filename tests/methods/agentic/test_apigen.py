"""APIGen: tool and form sampling, the generator's prompt and schema, and each verification stage on a
scripted model and the real sandbox — calls that must pass and calls that must be rejected (wrong argument
type, unknown tool, missing required argument, a call that raises, a semantically wrong call, hostile tool
code) — then the recipe end to end (scripted: exact stage counts; embedded: kept calls validate)."""

from __future__ import annotations

import json
import os

import pytest

from synthloom.llm.structured import SchemaValidationError, validate
from synthloom.llm.types import Choice
from synthloom.methods.agentic.apigen import FORMS, ApigenGenerate, ApigenSample, generation_schema
from synthloom.methods.agentic.apigen_checks import (
    ApigenAnswer,
    ApigenExecute,
    ApigenFormat,
    ApigenSemantics,
    form_of,
    offered_tools,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import run_step, user_text
from synthloom.tools import load_tools
from synthloom.tools.validate import call_problem

FIXTURE_TOOLS = '''"""A tiny fixture catalogue for the APIGen tests."""
from typing import Literal

CATEGORY = "fixture"


def convert_temperature(value: float, from_unit: Literal["celsius", "fahrenheit", "kelvin"],
                        to_unit: Literal["celsius", "fahrenheit", "kelvin"]) -> float:
    """Convert a temperature between units.

    Args:
        value: the temperature.
        from_unit: its unit.
        to_unit: the unit to convert to.

    Returns:
        The converted temperature.
    """
    kelvin = {"celsius": value + 273.15, "fahrenheit": (value - 32) * 5 / 9 + 273.15, "kelvin": value}[from_unit]
    return round({"celsius": kelvin - 273.15, "fahrenheit": (kelvin - 273.15) * 9 / 5 + 32, "kelvin": kelvin}[to_unit], 4)


def word_count(text: str) -> int:
    """Count the words of a text.

    Args:
        text: the text.

    Returns:
        How many words it has.
    """
    return len(text.split())


def divide(a: float, b: float) -> float:
    """Divide a by b.

    Args:
        a: the dividend.
        b: the divisor.

    Returns:
        The quotient.
    """
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


def reverse_text(text: str) -> str:
    """Reverse a text.

    Args:
        text: the text.

    Returns:
        The text backwards.
    """
    return text[::-1]
'''

HOSTILE_TOOLS = '''"""Hostile tools: each tries to reach out of the sandbox or exhaust it."""
CATEGORY = "hostile"


def fetch_page(url: str) -> str:
    """Fetch a web page.

    Args:
        url: the address.

    Returns:
        The page.
    """
    import urllib.request
    return urllib.request.urlopen(url, timeout=2).read().decode()


def save_note(text: str) -> str:
    """Save a note.

    Args:
        text: the note.

    Returns:
        Where it went.
    """
    with open("/etc/synthloom_apigen_note", "w") as f:
        f.write(text)
    return "saved"


def spin(n: int) -> int:
    """Count for ever.

    Args:
        n: the start.

    Returns:
        Nothing, ever.
    """
    while True:
        n += 1


def hoard(mb: int) -> int:
    """Allocate memory without end.

    Args:
        mb: megabytes per block.

    Returns:
        Nothing, ever.
    """
    blocks = []
    while True:
        blocks.append(bytearray(1 << 26))
'''


@pytest.fixture
def tools_file(tmp_path):
    path = tmp_path / "fixture_tools.py"
    path.write_text(FIXTURE_TOOLS)
    return str(path)


@pytest.fixture
def hostile_file(tmp_path):
    path = tmp_path / "hostile_tools.py"
    path.write_text(HOSTILE_TOOLS)
    return str(path)


def row(tools_path: str, names: list[str], query: str, answers, form: str | None = "simple", rid: str = "r1") -> dict:
    by_name = {t.name: t for t in load_tools(tools_path)}
    out = {"id": rid, "tools": [by_name[n].openai() for n in names], "query": query, "answers": answers}
    if form is not None:
        out["form"] = form
    return out


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


# -- sampling ------------------------------------------------------------------------------------------------------
def test_sampler_draws_forms_and_tools_deterministically_from_the_bundled_catalogue():
    step = ApigenSample("sample", n=40, k=3, seed=7)
    rows = list(step.read())
    assert rows == list(ApigenSample("sample", n=40, k=3, seed=7).read())  # a rerun draws the same examples
    assert rows != list(ApigenSample("sample", n=40, k=3, seed=8).read())
    assert {r["form"] for r in rows} == set(FORMS)
    for r in rows:
        names = [t["function"]["name"] for t in r["tools"]]
        assert len(set(names)) == len(names)
        if r["form"] in ("simple", "parallel"):
            assert len(names) == 1
        else:
            assert 2 <= len(names) <= 3
        categories = {step_tool.category for step_tool in step.pool if step_tool.name in names}
        assert categories == {r["category"]}  # one category per example
    assert list(step.read(limit=5)) == rows[:5] and step.count(5) == 5


def test_sampler_needs_two_tools_of_a_category_for_the_multi_tool_forms(tmp_path):
    one = tmp_path / "one_tool.py"
    one.write_text(FIXTURE_TOOLS.split("def word_count")[0])  # convert_temperature only
    assert len(list(ApigenSample("s", n=3, tools_file=str(one), forms=["simple", "parallel"]).read())) == 3
    with pytest.raises(ValueError, match="need 2 tools of one category, and the tools to sample from do not have them"):
        ApigenSample("s", tools_file=str(one), forms=["multiple"])


def test_sampler_options_forms_mix_categories_and_tools_file(tools_file):
    only_parallel = list(ApigenSample("s", n=20, forms={"parallel": 1, "simple": 0}).read())
    assert {r["form"] for r in only_parallel} == {"parallel"}
    rows = list(ApigenSample("s", n=20, categories=["arithmetic"], forms=["multiple"], k=2).read())
    assert all(r["category"] == "arithmetic" and len(r["tools"]) == 2 for r in rows)
    mine = list(ApigenSample("s", n=12, tools_file=tools_file, forms=["parallel_multiple"], k=4).read())
    assert {t["function"]["name"] for r in mine for t in r["tools"]} <= {"convert_temperature", "word_count", "divide", "reverse_text"}
    assert all(r["category"] == "fixture" for r in mine)


@pytest.mark.parametrize("options, message", [
    ({"categories": ["arithmatic"]}, "no tool category 'arithmatic'"),
    ({"forms": ["simple", "nested"]}, "unknown form 'nested'"),
    ({"forms": {"simple": 0}}, "at least one form"),
    ({"k": 1}, "set k >= 2"),
    ({"k": 0}, "k (the most tools per example) must be >= 1"),
])
def test_sampler_refuses_bad_options_with_one_clear_line(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ApigenSample("sample", **options)


# -- generation ----------------------------------------------------------------------------------------------------
def test_generation_schema_holds_the_tool_schemas_and_the_form(tools_file):
    r = row(tools_file, ["convert_temperature", "divide"], "q", [])
    schema = generation_schema(r["tools"], "multiple", queries=2, max_calls=4)
    good = [{"query": "72 F in C?", "answers": [call("convert_temperature", value=72, from_unit="fahrenheit", to_unit="celsius")]}]
    validate(good, schema)
    bad = [
        [{"query": "x", "answers": [call("convert_temperature", value="hot", from_unit="celsius", to_unit="kelvin")]}],
        [{"query": "x", "answers": [call("explode", value=1)]}],
        [{"query": "x", "answers": [call("divide", a=1)]}],
        [{"query": "x", "answers": [call("convert_temperature", value=1, from_unit="rankine", to_unit="kelvin")]}],
        [{"query": "x", "answers": [call("divide", a=1, b=2), call("divide", a=3, b=4)]}],  # multiple: one call
        good * 3,  # more pairs than asked for
    ]
    for value in bad:
        with pytest.raises(SchemaValidationError):
            validate(value, schema)
    parallel = generation_schema(r["tools"][:1], "parallel", queries=1, max_calls=3)
    with pytest.raises(SchemaValidationError):
        validate(good, parallel)  # parallel: two or more calls


def test_generator_prompt_schema_and_rows(tools_file):
    pairs = [{"query": "Convert 20 C to F.", "answers": [call("convert_temperature", value=20, from_unit="celsius", to_unit="fahrenheit")]},
             {"query": "And 0 K to C?", "answers": [call("convert_temperature", value=0, from_unit="kelvin", to_unit="celsius")]}]
    step = ApigenGenerate("generate", queries=2)
    seen = []

    def reply(req):
        seen.append(req)
        return json.dumps(pairs)

    src = row(tools_file, ["convert_temperature"], None, None, form="parallel", rid="p1")
    del src["query"], src["answers"]
    [out] = run_step(step, reply, [src])
    assert [r["query"] for r in out] == ["Convert 20 C to F.", "And 0 K to C?"]
    assert out[0]["answers"] == pairs[0]["answers"] and out[0]["form"] == "parallel" and out[0]["tools"] == src["tools"]
    assert len({r["id"] for r in out}) == 2 and all(r["id"] != "p1" for r in out)
    req = seen[0]
    prompt, system = user_text(req), req.messages[0]["content"]
    assert system.startswith("You are a data labeler")
    assert '"name": "convert_temperature"' in prompt and "generate 2 diverse query and answer pairs" in prompt
    assert "same function, called once per request" in prompt  # the parallel form's guidance
    assert prompt.count("QUERY:") == 2 and "factorial" in prompt  # few-shot pairs of the row's form first
    assert req.json_schema == generation_schema(src["tools"], "parallel", queries=2, max_calls=4)
    assert req.temperature == 0.7 and req.seed is not None


def test_generator_rejects_replies_it_cannot_read(tools_file):
    src = {"id": "g", "tools": row(tools_file, ["divide"], "", [])["tools"], "form": "simple"}
    out = run_step(ApigenGenerate("generate", constrain=False), lambda req: "Sure! Here you go.", [src])
    assert isinstance(out[0], Rejected) and "not the JSON list" in out[0].reason
    cut = run_step(ApigenGenerate("generate"), lambda req, j: ('[{"query": "Divide 1', None, "length"), [src])
    assert isinstance(cut[0], Rejected) and "max_tokens" in cut[0].reason
    seen = []
    run_step(ApigenGenerate("generate", constrain=False), lambda req: seen.append(req) or "[]", [src])
    assert seen[0].json_schema is None


# -- stage 1: format -----------------------------------------------------------------------------------------------
def test_format_stage_passes_valid_calls_and_writes_the_row_format(tools_file):
    good = row(tools_file, ["convert_temperature"], "Convert 72 F to C.",
               [call("convert_temperature", value=72, from_unit="fahrenheit", to_unit="celsius")])
    text_args = row(tools_file, ["divide", "word_count"], "Halve 9.",
                    [{"name": "divide", "arguments": '{"a": 9, "b": 2}'}], form=None, rid="r2")
    [[a], [b]] = run_step(ApigenFormat("format"), None, [good, text_args])
    assert a["calls"] == [{"id": a["calls"][0]["id"], "name": "convert_temperature",
                           "arguments": {"value": 72, "from_unit": "fahrenheit", "to_unit": "celsius"}}]
    assert a["calls"][0]["id"].startswith("call_") and a["answer"] == "" and a["simulated"] is False
    assert a["stage_results"] == {"format": {"passed": True, "calls": 1}}
    assert b["calls"][0]["arguments"] == {"a": 9, "b": 2} and b["form"] == "multiple"  # form inferred: 1 call, 2 tools


@pytest.mark.parametrize("names, query, answers, form, reason", [
    (["convert_temperature"], "Convert hot to C.",
     [call("convert_temperature", value="hot", from_unit="celsius", to_unit="kelvin")], "simple", "'value'"),
    (["divide"], "Divide 4 by 2.", [call("divide_numbers", a=4, b=2)], "simple", "unknown tool 'divide_numbers'"),
    (["divide"], "Divide 4.", [call("divide", a=4)], "simple", "missing the required argument 'b'"),
    (["convert_temperature"], "Convert 3 R.",
     [call("convert_temperature", value=3, from_unit="rankine", to_unit="kelvin")], "simple", "from_unit"),
    (["divide"], "Divide 4 by 2.", [call("divide", a=4, b=2, precision=3)], "simple", "unknown argument 'precision'"),
    (["divide"], "   ", [call("divide", a=4, b=2)], "simple", "the query is empty"),
    (["divide"], "The generated query.", [call("divide", a=4, b=2)], "simple", "the prompt's placeholder"),
    (["divide"], "Divide 4 by 2.", [], "simple", "no calls"),
    (["divide"], "Divide 4 by 2.", ["divide(4, 2)"], "simple", "is not a {name, arguments} object"),
    (["divide"], "Divide 4 by 2 and 6 by 3.", [call("divide", a=4, b=2), call("divide", a=6, b=3)], "simple",
     "exactly one call, not 2"),
    (["divide"], "Divide 4 by 2.", [call("divide", a=4, b=2)], "parallel", "two or more calls, not 1"),
    (["divide", "word_count"], "Divide 4 by 2, count 'a b'.", [call("divide", a=4, b=2), call("word_count", text="a b")],
     "parallel", "all of one function"),
    (["divide", "word_count"], "Divide 4 by 2 and 6 by 3.", [call("divide", a=4, b=2), call("divide", a=6, b=3)],
     "parallel_multiple", "two or more different functions"),
    (["divide"], "Divide 4 by 2 twice.", [call("divide", a=4, b=2), call("divide", a=4, b=2)], "parallel",
     "calls 1 and 2 are the same call"),
])
def test_format_stage_rejects_with_the_reason(tools_file, names, query, answers, form, reason):
    [out] = run_step(ApigenFormat("format"), None, [row(tools_file, names, query, answers, form=form)])
    assert isinstance(out, Rejected), out
    assert reason in out.reason


def test_form_of_calls():
    one, two = [{"name": "a"}], [{"name": "a"}, {"name": "a"}]
    assert [form_of(one, 1), form_of(one, 3), form_of(two, 1), form_of([*one, {"name": "b"}], 2)] == \
        ["simple", "multiple", "parallel", "parallel_multiple"]


# -- stage 2: execution --------------------------------------------------------------------------------------------
def formatted(tools_file: str, names: list[str], answers: list[dict], form: str = "simple", rid: str = "r1") -> dict:
    [[out]] = run_step(ApigenFormat("format"), None, [row(tools_file, names, "a query", answers, form=form, rid=rid)])
    return out


def test_execution_stage_records_results_and_rejects_a_call_that_raises(tools_file):
    ok = formatted(tools_file, ["divide", "convert_temperature"],
                   [call("divide", a=9, b=2), call("convert_temperature", value=100, from_unit="celsius", to_unit="fahrenheit")],
                   form="parallel_multiple")
    raises = formatted(tools_file, ["divide"], [call("divide", a=1, b=3), call("divide", a=1, b=0)], form="parallel", rid="r2")
    [[kept], rejected] = run_step(ApigenExecute("execution", tools_file=tools_file), None, [ok, raises])
    assert [(r["name"], r["status"], r["value"], r["error"]) for r in kept["results"]] == \
        [("divide", "ok", 4.5, None), ("convert_temperature", "ok", 212.0, None)]
    assert [r["call_id"] for r in kept["results"]] == [c["id"] for c in kept["calls"]]
    assert kept["stage_results"]["execution"] == {"passed": True, "statuses": ["ok", "ok"]}
    assert isinstance(rejected, Rejected)
    assert rejected.reason.startswith("error: call 2 divide(") and "cannot divide by zero" in rejected.reason


def test_execution_stage_rejects_a_tool_without_implementation(tools_file):
    r = formatted(tools_file, ["divide"], [call("divide", a=1, b=2)])
    [out] = run_step(ApigenExecute("execution"), None, [r])  # the bundled catalogue has no `divide`
    assert isinstance(out, Rejected) and out.reason.startswith("not_run: no implementation of divide")


@pytest.mark.slow
def test_hostile_tool_code_is_contained_and_rejected_with_the_sandbox_status(hostile_file):
    cases = {"fetch_page": ({"url": "http://example.com"}, ("error", "forbidden")), "save_note": ({"text": "x"}, ("forbidden",)),
             "spin": ({"n": 1}, ("timeout",)), "hoard": ({"mb": 64}, ("memory",))}
    rows = [formatted(hostile_file, [name], [call(name, **args)], rid=name) for name, (args, _) in cases.items()]
    outs = run_step(ApigenExecute("execution", tools_file=hostile_file, timeout=2.0, memory_mb=256), None, rows)
    for (name, (_, statuses)), out in zip(cases.items(), outs):
        assert isinstance(out, Rejected), (name, out)
        assert out.reason.split(":")[0] in statuses, (name, out.reason)
        assert f"call 1 {name}(" in out.reason
    assert not os.path.exists("/etc/synthloom_apigen_note")


# -- stage 3: semantics, and the final answer ----------------------------------------------------------------------
def executed(tools_file: str) -> dict:
    r = formatted(tools_file, ["convert_temperature"], [call("convert_temperature", value=100, from_unit="celsius", to_unit="fahrenheit")])
    [[out]] = run_step(ApigenExecute("execution", tools_file=tools_file), None, [r])
    return out


def test_semantic_stage_keeps_what_the_checker_passes_and_rejects_what_it_fails(tools_file):
    r = executed(tools_file)
    seen = []

    def checker(req):
        seen.append(req)
        passes = "100" in user_text(req)
        return json.dumps({"thought": "" if passes else "The call converts the wrong value.", "passes": passes})

    [[kept]] = run_step(ApigenSemantics("semantics"), checker, [r])
    assert kept["stage_results"]["semantics"] == {"passed": True, "thought": ""} and kept["id"] == r["id"]
    prompt = user_text(seen[0])
    assert "a query" in prompt and '"convert_temperature"' in prompt and '"result": 212.0' in prompt
    assert seen[0].messages[0]["content"].startswith("As a data quality evaluator")
    assert seen[0].json_schema["required"] == ["thought", "passes"] and seen[0].temperature == 0.0
    wrong = {**r, "calls": [{**r["calls"][0], "arguments": {"value": 37, "from_unit": "celsius", "to_unit": "fahrenheit"}}],
             "results": [{**r["results"][0], "value": 98.6}]}
    [out] = run_step(ApigenSemantics("semantics"), checker, [wrong])
    assert isinstance(out, Rejected) and out.reason.endswith("The call converts the wrong value.")


def test_answer_step_writes_the_final_reply_from_the_results(tools_file):
    r = executed(tools_file)
    seen = []
    [[out]] = run_step(ApigenAnswer("answer"), lambda req: seen.append(req) or "100 °C is 212 °F.", [r])
    assert out["answer"] == "100 °C is 212 °F." and "212.0" in user_text(seen[0])
    [refused] = run_step(ApigenAnswer("answer"), lambda req: "I'm sorry, I cannot help with that.", [r])
    assert isinstance(refused, Rejected)


def test_offered_tools_refuses_a_malformed_tools_column():
    with pytest.raises(ValueError, match="column 'tools' must be a list of OpenAI function tools"):
        offered_tools([{"name": "x"}], "apigen_format 'format'")


# -- the recipe ----------------------------------------------------------------------------------------------------
def scripted_apigen(req):
    """Generator: one simple pair per tool — convert_temperature right, word_count with a wrong argument
    type, divide by zero (raises), reverse_text off-topic (the checker fails it). Checker: passes unless
    the query is off-topic. Answer: a fixed sentence."""
    text = user_text(req)
    if req.json_schema and req.json_schema.get("type") == "array":
        name = next(n for n in ("convert_temperature", "word_count", "divide", "reverse_text") if f'"name": "{n}"' in text)
        answers = {"convert_temperature": call("convert_temperature", value=20, from_unit="celsius", to_unit="kelvin"),
                   "word_count": call("word_count", text=42), "divide": call("divide", a=1, b=0),
                   "reverse_text": call("reverse_text", text="stressed")}[name]
        return json.dumps([{"query": f"Please help: {name}", "answers": [answers]}])
    if req.json_schema:
        passes = "reverse_text" not in text
        return json.dumps({"thought": "" if passes else "The query asks for nothing the call does.", "passes": passes})
    return Choice("Here is your result.", "stop")


@pytest.mark.slow
def test_recipe_stage_counts_add_up_on_a_scripted_model(tmp_path, scripted_model, tools_file):
    spec = scripted_model(scripted_apigen)
    out = tmp_path / "run"
    run = run_recipe("apigen", out, f"tools_file={tools_file}", "steps.sample.forms=[simple]", "n=16",
                     extra_cli_args=("--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    drawn = [r["tools"][0]["function"]["name"] for r in ApigenSample("s", n=16, tools_file=tools_file, forms=["simple"]).read()]
    c = run["counts"]
    assert not errors and c["generate"]["in"] == 16 and c["generate"]["out"] == 16
    assert c["format"]["rejected"] == drawn.count("word_count")
    assert c["execution"]["in"] == c["format"]["ok"] and c["execution"]["rejected"] == drawn.count("divide")
    assert c["semantics"]["in"] == c["execution"]["ok"] and c["semantics"]["rejected"] == drawn.count("reverse_text")
    assert len(data) == c["answer"]["ok"] == drawn.count("convert_temperature") > 0
    assert len(rejected) == 16 - len(data)
    reasons = {r["_rejected_by"]: r["_reason"] for r in rejected}
    assert "'text'" in reasons["format"] and reasons["execution"].startswith("error: call 1 divide(")
    assert "nothing the call does" in reasons["semantics"]
    for r in data:
        assert set(r) >= {"query", "tools", "calls", "results", "answer", "form", "simulated", "stage_results"}
        assert r["results"][0]["value"] == 293.15 and r["answer"] == "Here is your result." and r["simulated"] is False
        assert set(r["stage_results"]) == {"format", "execution", "semantics"}


@pytest.mark.slow
def test_recipe_with_hostile_tools_rejects_rows_instead_of_crashing(tmp_path, scripted_model, hostile_file):
    def reply(req):
        args = {"fetch_page": {"url": "http://example.com"}, "save_note": {"text": "x"}, "spin": {"n": 1}, "hoard": {"mb": 64}}
        name = next(n for n in args if f'"name": "{n}"' in user_text(req))
        return json.dumps([{"query": f"Run {name}", "answers": [call(name, **args[name])]}])

    out = tmp_path / "run"
    run = run_recipe("apigen", out, f"tools_file={hostile_file}", "steps.sample.forms=[simple]", "n=6",
                     "steps.execution.timeout=2", "steps.execution.memory_mb=256", extra_cli_args=("--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not data and not errors and len(rejected) == 6
    assert all(r["_rejected_by"] == "execution" for r in rejected)
    statuses = {r["_reason"].split(":")[0] for r in rejected}
    assert statuses <= {"error", "forbidden", "timeout", "memory"} and len(statuses) >= 2


@pytest.mark.slow
@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "run"
    run = run_recipe("apigen", out, "concurrency=2", "categories=[arithmetic, units]", "n=2",
                     "steps.generate.max_tokens=200", "steps.semantics.max_tokens=150", "steps.answer.max_tokens=64")
    data, rejected, errors = completed_outputs(run, out)
    zero = {"in": 0, "ok": 0, "out": 0, "rejected": 0, "errors": 0}
    c = {step: run["counts"].get(step, zero) for step in ("generate", "format", "execution", "semantics", "answer")}
    assert c["generate"]["in"] == 2
    for first, then in (("generate", "format"), ("format", "execution"), ("execution", "semantics"), ("semantics", "answer")):
        assert c[then]["in"] == c[first]["out"]  # a step no row reached counts zeros
    assert len(data) + len(rejected) + len(errors) == c["generate"]["out"] + c["generate"]["rejected"] + c["generate"]["errors"]
    for r in data:  # grammar-constrained calls: every kept call validates against its tool's schema
        tools = offered_tools(r["tools"], "test")
        assert all(call_problem(c, tools) is None for c in r["calls"]) and all(x["status"] == "ok" for x in r["results"])
    for r in rejected:
        assert r["_reason"] and r["_rejected_by"] in ("generate", "format", "execution", "semantics", "answer")
    # the schema-constrained generator's calls are well-formed: a format rejection is never about a call's schema
    for r in rejected:
        if r["_rejected_by"] == "format":
            assert all(call_problem(a, offered_tools(r["tools"], "test")) is None for a in r["answers"]), r["_reason"]


def test_recipe_builds_and_validates_with_its_citation():
    from synthloom.recipes.build import load_pipeline

    pipeline = load_pipeline("apigen", check_models=False).pipeline  # columns checked before any model call
    assert pipeline.description and pipeline.citations
    assert set(pipeline.citations) <= {c for s in pipeline.steps for c in s.citations}
    assert [s.type_name for s in pipeline.steps][:6] == ["apigen_sample", "apigen_generate", "apigen_format", "apigen_execute",
                                                         "apigen_semantics", "apigen_answer"]
