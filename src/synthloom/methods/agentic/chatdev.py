"""ChatDev: a virtual software company of role agents writes a small Python program through a chat chain.

Qian et al. 2023, "ChatDev: Communicative Agents for Software Development", ACL 2024, arXiv:2307.07924
(OpenBMB/ChatDev). The waterfall model is cut into phases, each phase into *atomic chats* between two role
agents — an instructor and an assistant, each held in role by its system prompt (ChatDev's ``RoleConfig``)
and the phase prompt (``PhaseConfig``) — that end by the paper's rules: a message holding ``<INFO>`` states
the chat's conclusion, or the chat reaches its turn limit. The chain here:

1. **demand analysis** — CEO (instructor) and CPO (assistant) discuss the program's design until one says
   ``<INFO> <design>`` (at most ``max_turns`` rounds); without a conclusion, ChatDev's *self-reflection* asks
   the CEO to state the design the conversation agreed on (``reflect``), else the project is rejected;
2. **coding** — the CTO asks the Programmer for ``main.py`` (one markdown code block);
3. **code review** — up to ``review_rounds`` cycles of *comment* (the Code Reviewer gives its comment of
   highest priority, or ``<INFO> Finished``: the phase ends) and *modification* (the Programmer returns the
   full revised code); the phase also ends after two modifications that leave the code unchanged;
4. **testing** — up to ``test_rounds`` cycles: the program runs in the sandbox against the task's visible
   ``examples``; when they fail, the Software Test Engineer hands the error messages to the Programmer, who
   locates and summarises the bugs (*error summary*), then returns the fixed code (*modification*);
5. the final program runs against the examples and the task's hidden ``tests`` in the sandbox; the row is
   kept only when they pass, with the whole conversation (phase, cycle, role, content of every message).

Departures from the paper (see ``docs/methods/chatdev.md``): one Python file instead of a multi-file GUI
project; the tests are a task-provided suite rather than "the program runs without crashing"; the
environment and manual documenting phases are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...pipeline.step import Rejected
from ...verify.code import CodeVerdict
from ..code.base import CodeMethodStep
from ..code.execution import failure_reason, feedback_text
from ..code.extract import extract_code
from ..fanout import bounded, check_max_fanout

CITATION = "Qian et al. 2023, ChatDev: Communicative Agents for Software Development, ACL 2024, arXiv:2307.07924"
INFO = "<INFO>"
CEO, CPO, CTO = "Chief Executive Officer", "Chief Product Officer", "Chief Technology Officer"
PROGRAMMER, REVIEWER, TESTER = "Programmer", "Code Reviewer", "Software Test Engineer"
_FINISHED = re.compile(r"<INFO>\s*Finished", re.IGNORECASE)


def conclusion(text: str) -> str | None:
    """What follows ``<INFO>`` in a message (the chat's conclusion), or None when there is no marker."""
    at = text.find(INFO)
    return None if at < 0 else " ".join(text[at + len(INFO):].split()).strip(" \"'")


@dataclass
class Project:
    """One software project as the chain unfolds: the conversation (every message with its phase, cycle,
    role and side), what each phase ended with, the design, the current code and the lineage of the calls."""

    conversation: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    design: str = ""
    code: str = ""
    lineage: list[dict[str, Any]] = field(default_factory=list)

    def say(self, phase: str, cycle: int, role: str, side: str, content: str) -> None:
        self.conversation.append({"phase": phase, "cycle": cycle, "role": role, "side": side, "content": content})

    def ended(self, phase: str, how: str, rounds: int, **details: Any) -> None:
        self.phases.append({"phase": phase, "ended": how, "rounds": rounds, **details})


class ChatDev(CodeMethodStep):
    """ChatDev's chat chain (Qian et al. 2023) for one task: demand analysis (CEO ↔ CPO, ``max_turns``
    rounds, ``<INFO>`` concludes; ``reflect`` asks the CEO for the agreed design when none was stated),
    coding (CTO → Programmer), code review (``review_rounds`` comment/modification cycles; the reviewer's
    ``<INFO> Finished`` or two unchanged modifications end it), testing (``test_rounds`` cycles: the program
    runs against the visible ``examples_column`` asserts in the sandbox, the errors go to the Programmer for
    an error summary and a fix). The final program must pass the examples and the hidden ``tests_column``
    asserts, else the row is rejected with the failing test. Reads ``task_column``, ``examples_column``,
    ``tests_column``; ``max_fanout`` N bounds the model calls of each phase at N: the three round counts
    at ⌊N/2⌋ (at least 1), as a round or cycle is two calls (the recipe passes ``-n``);
    ``talk_max_tokens`` caps the messages that carry no code (design talk, review comments, error
    summaries), ``max_tokens`` the Programmer's code. Writes
    ``design``, ``program``, ``conversation`` (``phase``, ``cycle``, ``role``, ``side`` instructor/assistant,
    ``content``), ``phases`` (how each phase ended), ``tests_passed``."""

    type_name = "chatdev"
    default_sampling = {"temperature": 0.2, "max_tokens": 1024}
    view_names = frozenset({"task", "examples", "design", "code", "comments", "test_reports", "error_summary",
                            "assistant_role", "role", "instructor", "conversation"})

    def __init__(self, name: str, *, task_column: str = "task", examples_column: str = "examples",
                 tests_column: str = "tests", max_turns: int = 10, review_rounds: int = 3, test_rounds: int = 3,
                 reflect: bool = True, max_fanout: int | None = None, talk_max_tokens: int | None = None,
                 timeout: float = 5.0, memory_mb: int = 512,
                 workers: int | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"chatdev {name!r}"
        if int(max_turns) < 1:
            raise ValueError(f"{where}: max_turns must be >= 1 (rounds of the demand-analysis chat), not {max_turns}")
        for opt, value in (("review_rounds", review_rounds), ("test_rounds", test_rounds)):
            if int(value) < 0:
                raise ValueError(f"{where}: {opt} must be >= 0 (0 skips the phase), not {value}")
        if talk_max_tokens is not None and int(talk_max_tokens) < 1:
            raise ValueError(f"{where}: talk_max_tokens must be >= 1 (tokens per message without code) or null "
                             f"(the step's max_tokens), not {talk_max_tokens}")
        super().__init__(name, reads=[task_column, examples_column, tests_column],
                         writes=["design", "program", "conversation", "phases", "tests_passed"], timeout=timeout,
                         memory_mb=memory_mb, workers=workers, citations=[CITATION, *citations], **kwargs)
        self.task_column, self.examples_column, self.tests_column = task_column, examples_column, tests_column
        bound = check_max_fanout(max_fanout)
        if bound is not None:  # each round or cycle is two model calls: at most max_fanout calls per phase
            bound = max(1, bound // 2)
        self.max_turns, self.review_rounds = bounded(max_turns, bound), bounded(review_rounds, bound)
        self.test_rounds = bounded(test_rounds, bound)
        self.reflect = bool(reflect)
        self.talk_max_tokens = None if talk_max_tokens is None else int(talk_max_tokens)
        self.prompts = {p: self.template(None, f"chatdev_{p}.jinja") for p in
                        ("role", "demand", "reflect", "coding", "review_comment", "review_modify", "test_summary",
                         "test_modify")}

    # -- one atomic chat ------------------------------------------------------------------------------
    async def chat(self, record: dict[str, Any], project: Project, phase: str, cycle: int, instructor: str,
                   assistant: str, opening: str, *, max_turns: int = 1, conclude: bool = False,
                   code: bool = False) -> tuple[str | None, str]:
        """A dual-agent chat: the instructor's ``opening`` (the phase prompt), then the assistant and the
        instructor in turn for at most ``max_turns`` rounds. Returns ``(text, how it ended)``: without
        ``conclude`` the assistant's first reply (``reply``); with it the ``<INFO>`` conclusion (``info``) or
        ``(None, "max_turns")``. Messages of a chat that asks for no ``code`` are capped at
        ``talk_max_tokens`` when it is set."""
        task = str(record[self.task_column]).strip()
        views = {side: [{"role": "system", "content": self.render(self.prompts["role"], {
            "role": role, "task": task, "instructor": side == "instructor"}).strip()}]
            for side, role in (("instructor", instructor), ("assistant", assistant))}
        views["assistant"].append({"role": "user", "content": opening})
        views["instructor"].append({"role": "assistant", "content": opening})
        project.say(phase, cycle, instructor, "instructor", opening)
        cap = None if code else self.talk_max_tokens
        for turn in range(1, max_turns + 1):
            for side, role in (("assistant", assistant), ("instructor", instructor)):
                if side == "instructor" and (not conclude or turn == max_turns):
                    break
                response, entry = await self.call(record, views[side], salt=f"{phase}{cycle}:{side}{turn}",
                                                  lineage={"phase": phase, "role": role, "turn": turn},
                                                  max_tokens=cap)
                project.lineage.append(entry)
                text = (response.text or "").strip()
                project.say(phase, cycle, role, side, text)
                views[side].append({"role": "assistant", "content": text})
                other = "instructor" if side == "assistant" else "assistant"
                views[other].append({"role": "user", "content": text})
                if not conclude:
                    return text, "reply"
                found = conclusion(text)
                if found is not None:
                    return found, "info"
        return None, "max_turns"

    # -- the chain ------------------------------------------------------------------------------------
    async def run(self, record: dict[str, Any]):
        task = record.get(self.task_column)
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"chatdev {self.name!r}: column {self.task_column!r} is empty or not text")
        examples, tests = self.asserts(record, self.examples_column), self.asserts(record, self.tests_column)
        project = Project()
        view = {**self.base_columns(record), "task": task.strip(), "examples": examples}
        outcome = await self.demand_analysis(record, project, view)
        if outcome is None:
            outcome = await self.coding(record, project, view)
        if outcome is None:
            await self.code_review(record, project, view)
            await self.testing(record, project, view, examples)
            verdict = await self.verify(project.code, examples + tests)
            project.ended("final_tests", verdict.status, 0, pass_rate=verdict.pass_rate)
            if verdict.passed:
                return {**self.base_columns(record), "design": project.design, "program": project.code,
                        "conversation": project.conversation, "phases": project.phases,
                        "tests_passed": True}, project.lineage
            outcome = Rejected(f"final tests: {failure_reason(verdict)}", verdict.pass_rate)
        return outcome, project.lineage

    def asserts(self, record: dict[str, Any], column: str) -> list[str]:
        value = record.get(column)
        if not isinstance(value, list) or not value or not all(isinstance(t, str) and t.strip() for t in value):
            raise ValueError(f"chatdev {self.name!r}: column {column!r} must be a non-empty list of assert statements "
                             f"(Python source), not {str(value)[:60]!r}")
        return value

    async def verify(self, code: str, tests: list[str]) -> CodeVerdict:
        verdict = await self.sandbox.averify(code, tests, kind="assert")
        if verdict.status == "error":
            raise ValueError(f"chatdev {self.name!r}: the task's tests are unusable: {verdict.detail}")
        return verdict

    async def demand_analysis(self, record: dict[str, Any], project: Project, view: dict[str, Any]) -> Rejected | None:
        opening = self.render(self.prompts["demand"], {**view, "assistant_role": CPO}).strip()
        design, how = await self.chat(record, project, "demand_analysis", 1, CEO, CPO, opening,
                                      max_turns=self.max_turns, conclude=True)
        if design is None and self.reflect:
            talk = [m for m in project.conversation if m["phase"] == "demand_analysis"]
            ask = self.render(self.prompts["reflect"], {**view, "conversation": talk}).strip()
            design, _ = await self.chat(record, project, "reflection", 1, "Counselor", CEO, ask)
            how = "reflection"
        said = [m for m in project.conversation if m["phase"] == "demand_analysis" and m["side"] == "assistant"]
        project.ended("demand_analysis", how, len(said))
        if not design:
            return Rejected(f"demand_analysis: no <INFO> design within {self.max_turns} turn(s)"
                            + (" and the reflection stated none" if self.reflect else ""))
        project.design = design
        return None

    async def coding(self, record: dict[str, Any], project: Project, view: dict[str, Any]) -> Rejected | None:
        opening = self.render(self.prompts["coding"], {**view, "design": project.design,
                                                       "assistant_role": PROGRAMMER}).strip()
        reply, _ = await self.chat(record, project, "coding", 1, CTO, PROGRAMMER, opening, code=True)
        code = extract_code(reply)
        project.ended("coding", "code" if code else "no_code", 1)
        if not code:
            return Rejected("coding: the Programmer's reply holds no Python code")
        project.code = code
        return None

    async def code_review(self, record: dict[str, Any], project: Project, view: dict[str, Any]) -> None:
        how, unchanged, cycle = "max_rounds", 0, 0
        for cycle in range(1, self.review_rounds + 1):
            state = {**view, "design": project.design, "code": project.code}
            ask = self.render(self.prompts["review_comment"], {**state, "assistant_role": REVIEWER}).strip()
            comments, _ = await self.chat(record, project, "code_review", cycle, PROGRAMMER, REVIEWER, ask)
            if _FINISHED.search(comments or ""):
                how = "finished"
                break
            ask = self.render(self.prompts["review_modify"], {**state, "comments": comments,
                                                              "assistant_role": PROGRAMMER}).strip()
            reply, _ = await self.chat(record, project, "code_review", cycle, REVIEWER, PROGRAMMER, ask, code=True)
            if not self.revise(project, reply):
                unchanged += 1
                if unchanged >= 2:
                    how = "unchanged"
                    break
            else:
                unchanged = 0
        project.ended("code_review", how if self.review_rounds else "skipped", cycle)

    async def testing(self, record: dict[str, Any], project: Project, view: dict[str, Any], examples: list[str]) -> None:
        how, cycle, reports = "max_rounds" if self.test_rounds else "skipped", 0, []
        for cycle in range(1, self.test_rounds + 1):
            verdict = await self.verify(project.code, examples)
            reports.append({"cycle": cycle, "status": verdict.status, "pass_rate": verdict.pass_rate})
            if verdict.passed:
                how = "passed"
                break
            state = {**view, "design": project.design, "code": project.code, "test_reports": feedback_text(verdict),
                     "assistant_role": PROGRAMMER}
            summary, _ = await self.chat(record, project, "testing", cycle, TESTER, PROGRAMMER,
                                         self.render(self.prompts["test_summary"], state).strip())
            reply, _ = await self.chat(record, project, "testing", cycle, TESTER, PROGRAMMER,
                                       self.render(self.prompts["test_modify"], {**state, "error_summary": summary}).strip(),
                                       code=True)
            self.revise(project, reply)
        project.ended("testing", how, cycle, runs=reports)

    @staticmethod
    def revise(project: Project, reply: str | None) -> bool:
        """Take the code of a modification ``reply``; False when it brings no code or the same code (ChatDev
        keeps the files a reply does not rewrite)."""
        code = extract_code(reply)
        if not code or code.strip() == project.code.strip():
            return False
        project.code = code
        return True
