"""AgentInstruct's answering agents: plain answers, background notes for skills that show no passage,
and the code-interpreter agents (coding, analytical reasoning, Fermi) whose program runs in the
sandbox — kept only when the run backs the answer: own asserts pass, the printed result is stated;
rejected without a call, with a failing, endless or escaping program, or an answer that disagrees."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.methods.instructions.agent_instruct_answer import AgentInstructAnswer, has_assert, states_result
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, scripted_context, tool_calls


def code_agent(code: str | None, final: str):
    def reply(req):
        if req.tool_choice == "required":
            assert [t["function"]["name"] for t in req.tools] == ["run_python"]
            return tool_calls(("run_python", {"code": code})) if code is not None else "I would rather not run code."
        assert req.tool_choice == "none" and req.messages[-1]["role"] == "tool"
        return final
    return reply


def answer(step: AgentInstructAnswer, model, record: dict):
    step.setup(scripted_context(model))

    async def go():
        try:
            return await step.process(dict(record))
        finally:
            await step.aclose()
    return asyncio.run(go())


def test_a_plain_skill_gets_one_call_and_no_tools():
    model = ScriptedModel(lambda req: "Paris.")
    out = answer(AgentInstructAnswer("answer"), model, {"id": "r", "skill": "reading_comprehension",
                                                        "passage": "P.", "instruction": "P.\n\nWhere?"})
    assert out[0]["response"] == "Paris." and out[0]["code_run"] is None
    assert len(model.requests) == 1 and model.requests[0].tools is None
    assert [m["role"] for m in model.requests[0].messages] == ["user"] and model.requests[0].temperature == 0
    refused = answer(AgentInstructAnswer("answer"), ScriptedModel(lambda req: "I'm sorry, I cannot answer."),
                     {"id": "r", "skill": "conversation", "passage": "", "instruction": "Hi"})
    assert isinstance(refused, Rejected) and "refused" in refused.reason


def test_a_standalone_question_is_answered_with_the_passage_as_background_notes():
    model = ScriptedModel(lambda req: "In Korea.")
    answer(AgentInstructAnswer("answer"), model, {"id": "r", "skill": "open_domain_qa", "passage": "Jikji: Korea, 1377.",
                                                  "instruction": "Where was the Jikji printed?"})
    system, user = model.requests[0].messages
    assert system["role"] == "system" and "Jikji: Korea, 1377." in system["content"] and "do not mention" in system["content"]
    assert user["content"] == "Where was the Jikji printed?"


CODING = {"id": "c", "skill": "coding", "passage": "def add(a, b): ...", "instruction": "Write add()."}
SUM = "def add(a, b):\n    return a + b\n\nassert add(2, 2) == 4\n"


def test_a_coding_answer_is_kept_when_its_own_tests_pass_in_the_sandbox():
    model = ScriptedModel(code_agent(SUM, "```python\ndef add(a, b):\n    return a + b\n```"))
    out = answer(AgentInstructAnswer("answer"), model, CODING)[0]
    assert out["code_run"]["status"] == "passed" and out["code_run"]["check"] == "self_tests" and out["code_run"]["code"] == SUM
    assert "assert statements" in model.requests[0].messages[0]["content"]
    tool_reply = model.requests[1].messages[-1]
    assert tool_reply["role"] == "tool" and '"status": "passed"' in tool_reply["content"]
    assert [(e["step"], e.get("tool")) for e in out["_lineage"]] == [("answer", "run_python"), ("answer", None)]


@pytest.mark.parametrize("code, reason", [
    (None, "made no run_python call with code"),
    ("   ", "made no run_python call with code"),
    ("def add(a, b):\n    return a - b\n\nassert add(2, 2) == 4\n", "did not run cleanly in the sandbox (failed: AssertionError"),
    ("def add(a, b):\n    return a + b\n\nprint(add(2, 2))\n", "has no assert testing its solution"),
    ("while True:\n    pass\n", "did not run cleanly in the sandbox (timeout"),
    ("blob = bytearray(8 * 1024 ** 3)\nassert blob\n", "did not run cleanly in the sandbox (memory"),
    ("import socket\nsocket.create_connection(('example.com', 80), timeout=1)\nassert True\n", "did not run cleanly in the sandbox"),
    ("open('/etc/escape', 'w').write('x')\nassert True\n", "did not run cleanly in the sandbox"),
])
def test_a_coding_answer_is_rejected_when_the_run_does_not_back_it(code, reason):
    verdict = answer(AgentInstructAnswer("answer", timeout=2.0), ScriptedModel(code_agent(code, "Done.")), CODING)
    assert isinstance(verdict, Rejected) and reason in verdict.reason, verdict


FERMI = {"id": "f", "skill": "fermi", "passage": "Chicago has about 2.7 million people.",
         "instruction": "How many piano tuners work in Chicago?"}


def test_a_computed_answer_must_state_the_printed_result():
    program = "people = 2_700_000\nprint(round(people / 2 / 20 * 0.1 / 1000))\n"
    model = ScriptedModel(code_agent(program, "Roughly 7 piano tuners... more precisely, about 7."))
    out = answer(AgentInstructAnswer("answer"), model, FERMI)[0]
    assert out["code_run"]["stdout"].strip() == "7" and out["code_run"]["check"] == "computed_answer"
    system = model.requests[0].messages[0]["content"]
    assert "Chicago has about 2.7 million people." in system and "prints it as the last line" in system
    wrong = answer(AgentInstructAnswer("answer"), ScriptedModel(code_agent(program, "About 70 tuners.")), FERMI)
    assert isinstance(wrong, Rejected) and wrong.reason == "the final answer does not state the computed result '7'"
    silent = answer(AgentInstructAnswer("answer"), ScriptedModel(code_agent("x = 7\n", "About 7.")), FERMI)
    assert isinstance(silent, Rejected) and silent.reason == "the agent's program printed no result"


def test_the_result_and_assert_checks():
    assert states_result("3.14159", "It is about 3.14.") and states_result("1234567.0", "about 1,234,567 people")
    assert states_result("Answer: 12", "twelve, that is 12") and not states_result("12", "13 or 120")
    assert states_result("Alice", "ALICE sits first") and not states_result("Alice", "Bob sits first")
    assert has_assert("assert f(1) == 2") and not has_assert("print(1)") and not has_assert("assert (")


def test_options_are_checked_and_code_skills_can_be_chosen():
    assert AgentInstructAnswer("a").code_skills == ["analytical_reasoning", "fermi", "coding"]
    only = AgentInstructAnswer("a", code_skills=["coding"])
    model = ScriptedModel(lambda req: "7.")
    answer(only, model, {**FERMI})
    assert model.requests[0].tools is None
    with pytest.raises(ValueError, match="code_skills: unknown skill"):
        AgentInstructAnswer("a", code_skills=["juggling"])
