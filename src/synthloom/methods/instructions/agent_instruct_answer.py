"""AgentInstruct's answering agents (Mitra et al. 2024, "AgentInstruct: Toward Generative Teaching with
Agentic Flows", arXiv:2407.03502: GPT-4 agents with a code interpreter write the responses).

:class:`AgentInstructAnswer` answers each instruction. For the skills whose taxonomy names the
``run_python`` tool (coding, analytical reasoning, Fermi estimation) the agent must first call
``run_python``; the program runs in the sandbox (:class:`~synthloom.verify.sandbox_client.SandboxClient`:
bubblewrap, no network, rlimits), its exit status and output come back as the tool's reply, and
the agent then writes its final answer. The run also checks the answer (the skill's ``check``):

* ``self_tests`` — the program must contain ``assert`` statements and exit cleanly (its own tests pass);
* ``computed_answer`` — the program must print a result and the final answer must state it;
* ``runs`` — the program must exit cleanly.

A row that fails its check is rejected with the reason; ``code_run`` keeps the program, its status
and output. Skills whose instructions carry no passage (open-domain QA, Fermi) get the passage as
background notes in a system message, so their answers stay grounded.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ...llm.tools import assistant_message, tool_message
from ...pipeline.model_step import reply_text
from ...pipeline.step import Rejected
from ..code.base import CodeMethodStep
from .agent_instruct import CITATION, load_skills, strip_preamble

RUN_PYTHON = "run_python"
RUN_PYTHON_TOOL: dict[str, Any] = {"type": "function", "function": {
    "name": RUN_PYTHON,
    "description": "Run a Python 3 program in a sandbox (standard library only, no network, a few seconds) and "
                   "return its exit status, standard output and error output.",
    "parameters": {"type": "object", "properties": {"code": {"type": "string", "description": "the complete program"}},
                   "required": ["code"], "additionalProperties": False}}}
CHECKS = ("self_tests", "computed_answer", "runs")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
_OUTPUT_CHARS = 2000


def has_assert(code: str) -> bool:
    """Whether ``code`` parses and contains an ``assert`` statement (read on the host, never run)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def states_result(result: str, answer: str) -> bool:
    """Whether ``answer`` states the printed ``result`` (a line of output): its last number, equal
    to a number in the answer once rounded to the decimals the answer gives (``3.14`` states
    ``3.14159``); a result without a number must appear in the answer (case-insensitive)."""
    numbers = _NUMBER.findall(result)
    if not numbers:
        return " ".join(result.split()).lower() in " ".join(answer.split()).lower()
    target = _number(numbers[-1])
    if target is None:
        return False
    for stated in _NUMBER.findall(answer):
        value = _number(stated)
        if value is None:
            continue
        decimals = len(stated.split(".", 1)[1]) if "." in stated and "e" not in stated.lower() else 0
        if abs(value - target) <= 1e-9 * max(1.0, abs(target)) or round(target, decimals) == value:
            return True
    return False


class AgentInstructAnswer(CodeMethodStep):
    """Answers ``instruction_column`` into ``output``; for ``code_skills`` (default: the skills whose
    taxonomy names ``answer_tool: run_python`` — coding, analytical reasoning, Fermi) the agent
    must call ``run_python`` (run in the sandbox) before answering, and the row is kept only when
    the run passes the skill's ``check`` (``self_tests``, ``computed_answer``, ``runs``). Writes
    ``output`` and ``code_run`` (program, status, stdout, stderr, check; None without the tool).
    Skills that show no passage in the instruction get ``passage_column`` as background notes."""

    type_name = "agent_instruct_answer"
    view_names = frozenset({"reference", "tool", "check"})
    default_sampling = {"temperature": 0.0, "max_tokens": 1024}

    def __init__(self, name: str, *, instruction_column: str = "instruction", passage_column: str | None = "passage",
                 output: str = "response", code_skills: Sequence[str] | None = None, skills_file: str | None = None,
                 system: str | None = None, timeout: float = 10.0, memory_mb: int = 512, workers: int | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        reads = [instruction_column, "skill"] + ([passage_column] if passage_column else [])
        super().__init__(name, reads=reads, writes=[output, "code_run"], timeout=timeout, memory_mb=memory_mb,
                         workers=workers, citations=list(citations) or [CITATION], **kwargs)
        self.skills = load_skills(skills_file)
        if code_skills is None:
            code_skills = [s for s, t in self.skills.items() if t.get("answer_tool") == RUN_PYTHON]
        unknown = [s for s in code_skills if s not in self.skills]
        if unknown:
            raise ValueError(f"code_skills: unknown skill(s) {unknown}; known: {', '.join(self.skills)}")
        for s in code_skills:
            if self.skills[s].get("check", "runs") not in CHECKS:
                raise ValueError(f"skill {s!r}: check must be one of {', '.join(CHECKS)}, not {self.skills[s].get('check')!r}")
        self.code_skills = list(code_skills)
        self.instruction_column, self.passage_column, self.output = instruction_column, passage_column, output
        self.system_template = self.template(system, "agent_instruct_answer_system.jinja")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "checks": {s: self.skills[s].get("check", "runs") for s in self.code_skills}}

    def system_message(self, record: dict[str, Any], check: str | None) -> str:
        taxonomy = self.skills.get(str(record.get("skill")), {})
        passage = str(record.get(self.passage_column) or "") if self.passage_column else ""
        reference = passage if passage.strip() and taxonomy.get("include_passage", True) is False else ""
        view = {**self.base_columns(record), "reference": reference, "tool": check is not None, "check": check}
        return self.render(self.system_template, view).strip()

    async def run(self, record: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
        skill = str(record.get("skill") or "")
        check = self.skills[skill].get("check", "runs") if skill in self.code_skills else None
        system = self.system_message(record, check)
        messages: list[dict[str, Any]] = ([{"role": "system", "content": system}] if system else []) + \
            [{"role": "user", "content": str(record.get(self.instruction_column) or "")}]
        if check is None:
            response, entry = await self.call(record, messages)
            text = reply_text(response, "answer")
            return (text if isinstance(text, Rejected) else {**self.base_columns(record), self.output: text, "code_run": None}), [entry]
        response, first = await self.call(record, messages, tools=[RUN_PYTHON_TOOL], tool_choice="required",
                                          salt="code", lineage={"tool": RUN_PYTHON})
        calls = list(response.tool_calls)
        call = next((c for c in calls if c.name == RUN_PYTHON and c.ok and isinstance(c.arguments.get("code"), str)
                     and c.arguments["code"].strip()), None)
        if call is None:
            return Rejected(f"the answering agent made no {RUN_PYTHON} call with code"), [first]
        code = call.arguments["code"]
        result = await self.sandbox.call(self.sandbox.pool.run, code)
        run = {"code": code, "status": result.status, "stdout": result.stdout[-_OUTPUT_CHARS:],
               "stderr": result.stderr[-_OUTPUT_CHARS:], "check": check}
        replies = [tool_message(c.id, json.dumps({k: run[k] for k in ("status", "stdout", "stderr")}, ensure_ascii=False)
                                if c is call else "not run: one program per turn")
                   for c in calls]
        messages += [assistant_message(calls), *replies]
        response, second = await self.call(record, messages, tools=[RUN_PYTHON_TOOL], tool_choice="none", salt="final")
        lineage = [first, second]
        text = reply_text(response, "answer")
        if isinstance(text, Rejected):
            return text, lineage
        text = strip_preamble(text) or text
        problem = self.check_problem(check, run, text)
        if problem:
            return Rejected(problem), lineage
        return {**self.base_columns(record), self.output: text, "code_run": run}, lineage

    @staticmethod
    def check_problem(check: str, run: dict[str, Any], answer: str) -> str | None:
        """Why the run does not back the answer (``None``: it does)."""
        if run["status"] != "passed":
            lines = [ln for ln in run["stderr"].splitlines() if ln.strip()]
            return f"the agent's program did not run cleanly in the sandbox ({run['status']}" + \
                (f": {lines[-1].strip()[:160]})" if lines else ")")
        if check == "self_tests" and not has_assert(run["code"]):
            return "the agent's program has no assert testing its solution"
        if check == "computed_answer":
            printed = [ln.strip() for ln in run["stdout"].splitlines() if ln.strip()]
            if not printed:
                return "the agent's program printed no result"
            if not states_result(printed[-1], answer):
                return f"the final answer does not state the computed result {printed[-1][:80]!r}"
        return None
