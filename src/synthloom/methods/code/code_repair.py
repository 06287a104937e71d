"""Execution-feedback repair loop (Self-Debugging): run the code, feed the failure back, revise.

Chen et al. 2023, "Teaching Large Language Models to Self-Debug", ICLR 2024, arXiv:2304.05128
(Self-Debugging): the model's code is executed against the unit tests it was shown and the result
is fed back, and the model revises its code, for several turns, until those tests pass. The
feedback comes in the paper's variants: "simple" ("The code above is wrong. Please fix it."),
"unit test" (the failing tests and their execution results), "unit test + explanation" (the model
first explains its code line by line — rubber-duck debugging — then gets the test results) and
"unit test + trace" (the model traces the execution of a failing test line by line, then fixes
the code). As in the paper's MBPP setting, the tests are split: the **visible** ones are shown in
the prompt and drive the feedback; the **hidden** ones are never shown and decide acceptance — a
solution that passes the visible tests but not the hidden ones is not a solved problem. Zheng et
al. 2024, "OpenCodeInterpreter: Integrating Code Generation with Execution and Refinement",
arXiv:2402.14658, turns such multi-turn execution-feedback trajectories into training data.

Step ``code_repair`` keeps the whole trajectory (every attempt, its verdict on the visible tests,
the analysis and feedback it got) and emits one row per problem (``emit: final``), (wrong → fixed)
repair pairs (``repair_pairs``), or preference pairs (``preference_pairs``: chosen = the accepted
code, rejected = a failing attempt).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.model_step import chat
from ...pipeline.step import Rejected
from ...verify.code import KINDS, CodeVerdict
from .base import CodeMethodStep
from .execution import failure_reason, feedback_text
from .extract import extract_code

CITATIONS = ("Chen et al. 2023, Teaching Large Language Models to Self-Debug, ICLR 2024, arXiv:2304.05128",
             ("Zheng et al. 2024, OpenCodeInterpreter: Integrating Code Generation with Execution and Refinement, "
              "arXiv:2402.14658"))
EMITS = ("final", "repair_pairs", "preference_pairs")
FEEDBACK = ("unit_test", "simple", "explanation", "trace")
#: the feedback modes in which the model first writes an analysis turn (explanation or trace)
ANALYSIS = ("explanation", "trace")


class CodeRepair(CodeMethodStep):
    """Solve → execute → feedback → revise, up to ``max_rounds`` repair rounds per problem.

    Reads ``question_column`` (the problem) and ``tests_column`` (``kind`` ``assert``, ``call`` or
    ``stdio`` tests, as :func:`~synthloom.verify.code.verify_code` takes them; ``entry_point`` or
    ``entry_point_column`` for ``call``); with ``solution_column`` the first attempt is that
    column's code instead of a model sample. Tests: the first ``visible_tests`` of a list are
    shown and used for feedback, the rest are hidden and only decide acceptance (``None``: all
    visible, none hidden); with ``hidden_tests_column`` all of ``tests_column`` is visible and the
    hidden tests come from that column. ``feedback``: ``unit_test`` (failing visible tests,
    expected and actual results, error tail), ``simple``, ``explanation`` (the model explains its
    code line by line, then gets the unit-test feedback) or ``trace`` (the model traces a failing
    test's execution line by line, then fixes the code). ``history``: ``last`` sends the problem,
    the last attempt and its feedback (bounded context), ``full`` the whole conversation.

    ``emit: final`` writes ``trajectory`` (a list of ``{round, code, status, passed, pass_rate,
    analysis, feedback}`` on the visible tests), ``final_code``, ``passed`` (visible and hidden
    tests pass), ``passed_hidden`` (``None`` without hidden tests), ``hidden_status``,
    ``final_status``, ``rounds`` and ``fixed`` (accepted after at least one repair); with
    ``require_pass`` (default) problems not accepted are rejected with the failure as the reason.
    ``repair_pairs`` writes ``wrong_code``, ``feedback``,
    ``fixed_code``; ``preference_pairs`` writes ``chosen``/``rejected``."""

    type_name = "code_repair"
    view_names = frozenset({"problem", "entry_point", "code_found", "mode", "status", "n_passed", "n_tests",
                            "feedback", "visible_tests", "failing_test"})

    def __init__(self, name: str, *, question_column: str = "question", tests_column: str = "tests",
                 kind: str = "assert", entry_point: str | None = None, entry_point_column: str | None = "entry_point",
                 solution_column: str | None = None, visible_tests: int | None = 1,
                 hidden_tests_column: str | None = None, max_rounds: int = 3, feedback: str = "unit_test",
                 history: str = "last", emit: str = "final", require_pass: bool = True,
                 solve_template: str | None = None, feedback_template: str | None = None,
                 analysis_template: str | None = None, system: str | None = None,
                 temperature: float = 0.0, max_tokens: int = 512, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"code_repair {name!r}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if int(max_rounds) < 0:
            raise ValueError(f"code_repair {name!r}: max_rounds must be >= 0 (repair rounds after the first "
                             f"attempt), not {max_rounds}")
        if feedback not in FEEDBACK:
            raise ValueError(f"code_repair {name!r}: feedback must be one of {', '.join(FEEDBACK)}, not {feedback!r}")
        if visible_tests is not None and int(visible_tests) < 1:
            raise ValueError(f"code_repair {name!r}: visible_tests must be >= 1 (tests shown to the model), or null "
                             f"for all of them, not {visible_tests}")
        if history not in ("last", "full"):
            raise ValueError(f"code_repair {name!r}: history must be 'last' or 'full', not {history!r}")
        if emit not in EMITS:
            raise ValueError(f"code_repair {name!r}: emit must be one of {', '.join(EMITS)}, not {emit!r}")
        writes = {"final": ["trajectory", "final_code", "passed", "passed_hidden", "hidden_status", "final_status",
                            "rounds", "fixed"],
                  "repair_pairs": ["wrong_code", "wrong_status", "feedback", "fixed_code", "round"],
                  "preference_pairs": ["chosen", "rejected", "rejected_status"]}[emit]
        reads = [question_column, tests_column] + [c for c in (solution_column, hidden_tests_column) if c]
        if entry_point_column and not entry_point:
            reads.append(entry_point_column)
        super().__init__(name, reads=reads, writes=writes, temperature=temperature, max_tokens=max_tokens,
                         citations=[*CITATIONS, *citations], **kwargs)
        self.solve_template = self.template(solve_template or None, "code_repair_solve.jinja")
        self.feedback_template = self.template(feedback_template or None, "code_repair_feedback.jinja")
        self.analysis_template = self.template(analysis_template or None, "code_repair_analysis.jinja")
        self.system_template = system or ""
        self.read_columns(self.system_template, not_columns=self.view_names)
        self.question_column, self.tests_column, self.tests_kind = question_column, tests_column, kind
        self.entry_point = entry_point
        self.entry_point_column = None if entry_point else entry_point_column
        self.solution_column, self.max_rounds = solution_column, int(max_rounds)
        self.visible_tests = None if visible_tests is None else int(visible_tests)
        self.hidden_tests_column = hidden_tests_column
        self.feedback, self.history, self.emit, self.require_pass = feedback, history, emit, bool(require_pass)

    def split_tests(self, record: dict[str, Any]) -> tuple[Any, Any]:
        """``(visible, hidden)`` tests of ``record`` (``hidden`` is ``None`` when there are none)."""
        tests = record.get(self.tests_column)
        if tests is None or tests == [] or tests == "":
            raise ValueError(f"code_repair {self.name!r}: column {self.tests_column!r} has no tests")
        if self.hidden_tests_column:
            hidden = record.get(self.hidden_tests_column)
            return tests, (None if hidden is None or hidden == [] or hidden == "" else hidden)
        if self.visible_tests is None or not isinstance(tests, list) or len(tests) <= self.visible_tests:
            return tests, None
        return tests[: self.visible_tests], tests[self.visible_tests:]

    async def check(self, code: str, tests: Any, entry: str | None, column: str) -> CodeVerdict:
        """``code`` run against ``tests`` in the sandbox; tests that cannot run are an error row naming ``column``."""
        verdict = await self.sandbox.averify(code, tests, kind=self.tests_kind, entry_point=entry)
        if verdict.status == "error":
            raise ValueError(f"code_repair {self.name!r}: the tests in {column!r} are unusable: {verdict.detail}")
        return verdict

    async def run(self, record: dict[str, Any]):
        problem = record.get(self.question_column)
        if not isinstance(problem, str) or not problem.strip():
            raise ValueError(f"code_repair {self.name!r}: column {self.question_column!r} is empty or not text")
        visible, hidden = self.split_tests(record)
        entry = self.entry_point or (record.get(self.entry_point_column) if self.entry_point_column else None)
        split = self.visible_tests is not None or self.hidden_tests_column is not None
        shown = visible if split and self.tests_kind == "assert" and isinstance(visible, list) else None
        view = {**self.base_columns(record), "problem": problem, "entry_point": entry, "visible_tests": shown}
        system = self.render(self.system_template, view).strip() or None
        opening = chat(self.render(self.solve_template, view), system)
        lineage: list[dict[str, Any]] = []
        given = record.get(self.solution_column) if self.solution_column else None
        if isinstance(given, str) and given.strip():
            reply, code = f"```python\n{given.strip()}\n```", given
        else:
            [reply], call_entry = await self.texts(record, opening, salt="round0")
            lineage.append(call_entry)
            code = extract_code(reply, entry_point=entry)
        trajectory: list[dict[str, Any]] = []
        messages = list(opening)
        for round_no in range(self.max_rounds + 1):
            attempt: dict[str, Any] = {"round": round_no, "code": code, "reply": reply}
            verdict = None
            if code:
                verdict = await self.check(code, visible, entry, self.tests_column)
                attempt.update(status=verdict.status, passed=verdict.passed, pass_rate=verdict.pass_rate,
                               reason=None if verdict.passed else failure_reason(verdict))
            else:
                attempt.update(status="no_code", passed=False, pass_rate=0.0, reason="no Python code in the reply")
            trajectory.append(attempt)
            attempt["analysis"] = None
            if attempt["passed"] or round_no == self.max_rounds:
                attempt["feedback"] = None
                break
            failing = next((r for r in verdict.results if not r.get("passed")), None) if verdict else None
            fb_view = {**view, "code_found": bool(code), "mode": self.feedback,
                       "status": attempt["status"], "feedback": feedback_text(verdict) if verdict else "",
                       "n_passed": sum(r["passed"] for r in verdict.results) if verdict else 0,
                       "n_tests": len(verdict.results) if verdict else 0,
                       "failing_test": failing.get("test") if failing else None}
            turn = [{"role": "assistant", "content": reply}]
            if self.feedback in ANALYSIS and code:
                ask = {"role": "user", "content": self.render(self.analysis_template, fb_view)}
                base = [*messages, *turn] if self.history == "full" else [*opening, *turn]
                [analysis], call_entry = await self.texts(record, [*base, ask], salt=f"analysis{round_no + 1}")
                lineage.append({**call_entry, "turn": self.feedback})
                attempt["analysis"] = analysis.strip()
                turn += [ask, {"role": "assistant", "content": attempt["analysis"]}]
            attempt["feedback"] = self.render(self.feedback_template, fb_view)
            turn.append({"role": "user", "content": attempt["feedback"]})
            messages = [*messages, *turn] if self.history == "full" else [*opening, *turn]
            [reply], call_entry = await self.texts(record, messages, salt=f"round{round_no + 1}")
            lineage.append(call_entry)
            code = extract_code(reply, entry_point=entry)
        last = trajectory[-1]
        last["hidden_status"], last["hidden_reason"], last["hidden_pass_rate"] = None, None, None
        if last["passed"] and hidden is not None:
            column = self.hidden_tests_column or self.tests_column
            hidden_verdict = await self.check(last["code"], hidden, entry, column)
            last["hidden_status"] = hidden_verdict.status
            last["hidden_reason"] = None if hidden_verdict.passed else failure_reason(hidden_verdict)
            last["hidden_pass_rate"] = hidden_verdict.pass_rate
        return self.emit_rows(record, problem, trajectory, hidden is not None), lineage

    def emit_rows(self, record: dict[str, Any], problem: str, trajectory: list[dict[str, Any]], has_hidden: bool):
        base = self.base_columns(record)
        last = trajectory[-1]
        rounds = len(trajectory) - 1
        accepted = bool(last["passed"] and (not has_hidden or last["hidden_status"] == "passed"))
        why, score = last["reason"], last["pass_rate"]
        if last["passed"] and not accepted:
            why = f"passes the visible tests but not the hidden ones: {last['hidden_reason']}"
            score = last["hidden_pass_rate"]
        if self.emit == "final":
            if self.require_pass and not accepted:
                return Rejected(f"not solved after {rounds} repair round(s): {why}", score)
            return {**base, "trajectory": trajectory, "final_code": last["code"], "passed": accepted,
                    "passed_hidden": (last["hidden_status"] == "passed") if has_hidden and last["passed"] else None,
                    "hidden_status": last["hidden_status"], "final_status": last["status"], "rounds": rounds,
                    "fixed": bool(accepted and rounds > 0)}
        if not accepted:
            return Rejected(f"no pair: not solved after {rounds} repair round(s): {why}", score)
        wrong = [a for a in trajectory[:-1] if a["code"] and a["code"] != last["code"]]
        if not wrong:
            return Rejected("no pair: solved on the first attempt (no failing attempt with code)", 1.0)
        if self.emit == "repair_pairs":
            return [{**base, "wrong_code": a["code"], "wrong_status": a["status"], "feedback": a["feedback"],
                     "fixed_code": last["code"], "round": a["round"]} for a in wrong]
        return [{**base, "chosen": last["code"], "rejected": a["code"], "rejected_status": a["status"]} for a in wrong]
