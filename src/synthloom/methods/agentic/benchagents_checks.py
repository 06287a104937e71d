"""BenchAgents' verification and evaluation agents (Butt et al. 2024, "BenchAgents: Automated Benchmark
Creation with Agent Interaction", arXiv:2410.22584).

An item's checker is model-written code, so it runs only in the sandbox: each ``check_<constraint>``
function is one call of a :class:`~synthloom.tools.executor.ToolExecutor` run, made by the trusted
harness process, which returns the function's value as JSON. A constraint counts as satisfied only
when that value is exactly ``true``: a checker cannot forge a pass by printing, by returning ``1``
or ``"True"``, or by exiting the process (the calls after it are ``not_run``, which is a fail).

* :class:`BenchagentsVerify` (``benchagents_verify``) keeps an item only when its checker is usable —
  every plan constraint has its function, the reference answer passes them all, and the wrong answer
  and the empty answer each fail at least one (or, for ``answer_key`` plans, the reference answer
  is the key and the wrong one is not) — and the verification agent (an LLM, ``llm_checks``)
  judges it clear, consistent and solvable.
* :class:`BenchagentsEvaluate` (``benchagents_evaluate``) has a target model answer each kept item
  and scores the answer with the item's checker; after the run ``OUT/<summary>`` holds the scores
  per task and per constraint.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ...io.rundir import atomic_write_text
from ...io.shards import read_shards
from ...pipeline.model_step import ModelStep, chat, is_refusal
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ...tools.executor import CallResult, Invocation, ToolExecutor
from ...tools.spec import ToolModule
from .benchagents import CITATION, row_plan

QUALITY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "clear": {"type": "boolean"}, "consistent": {"type": "boolean"}, "solvable": {"type": "boolean"},
    "explanation": {"type": "string"}}, "required": ["clear", "consistent", "solvable", "explanation"]}
_ANSWER = re.compile(r"answer\s*:\s*(.+)", re.IGNORECASE)


def final_answer(text: str) -> str:
    """The answer a reply gives: what follows its last ``Answer:``, else the whole reply (stripped)."""
    found = _ANSWER.findall(text or "")
    return found[-1].strip() if found else (text or "").strip()


def normalise(text: str) -> str:
    """An answer compared with a key: lower case, single spaces, no surrounding quotes or final period."""
    return " ".join(str(text).lower().split()).strip("\"'`").rstrip(".").strip()


def checker_problem(source: str, functions: list[str]) -> str | None:
    """Why ``source`` cannot be a checker for ``functions`` (read with ``ast`` on the host, never run)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as e:
        return f"the checker does not parse ({type(e).__name__}: {getattr(e, 'msg', e)})"
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    missing = [f for f in functions if f not in defined]
    return f"the checker lacks {', '.join(missing)} (one function per constraint)" if missing else None


def verdict_of(result: CallResult) -> tuple[bool, str]:
    """Whether a check call passed (its JSON value is exactly ``true``) and, when not, why."""
    if result.ok and result.value is True:
        return True, "passed"
    if result.ok:
        return False, "returned false" if result.value is False else f"returned {json.dumps(result.value)[:40]}, not true"
    return False, f"{result.status}: {(result.error or '').splitlines()[-1][:120] if result.error else result.status}"


async def run_checks(executor: ToolExecutor, source: str, functions: list[str], answers: list[str]) -> list[list[tuple[bool, str]]]:
    """``[answer][function] -> (passed, why)``: every function on every answer, in one sandbox run."""
    calls = [Invocation(f"a{i}:{fn}", fn, {"answer": a}) for i, a in enumerate(answers) for fn in functions]
    results = await executor.arun([ToolModule("checker", source, None)], calls)
    flat = [verdict_of(r) for r in results]
    return [flat[i * len(functions):(i + 1) * len(functions)] for i in range(len(answers))]


class _CheckerStep(ModelStep):
    """A BenchAgents step that runs item checkers in the sandbox (its own :class:`ToolExecutor`)."""

    runtime_options = ("workers",)

    def __init__(self, name: str, *, reads: Iterable[str], writes: Iterable[str], timeout: float, memory_mb: int,
                 workers: int | None, citations: Iterable[str], **kwargs: Any) -> None:
        super().__init__(name, reads=reads, writes=writes, citations=[CITATION, *citations], **kwargs)
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def aclose(self) -> None:
        self.executor.close()


class BenchagentsVerify(_CheckerStep):
    """The verification agent. Code checks (sandboxed): the checker defines every plan constraint's
    function; the reference answer passes all; the wrong answer fails one; the empty answer fails
    one. Answer-key plans: the reference answer is the key, the wrong one is not. Then, with
    ``llm_checks``, the LLM judges the item clear, consistent and solvable. Any failure rejects
    the item with the reason. Writes ``verification`` (per function and answer, and the judgement)."""

    type_name = "benchagents_verify"
    default_sampling = {"temperature": 0.0, "max_tokens": 256}

    def __init__(self, name: str, *, llm_checks: bool = True, template: str | None = None, timeout: float = 5.0,
                 memory_mb: int = 512, workers: int | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(name, reads=["plan", "prompt", "reference_answer", "wrong_answer", "checker", "answer_key"],
                         writes=["verification"], timeout=timeout, memory_mb=memory_mb, workers=workers,
                         citations=citations, **kwargs)
        self.llm_checks = bool(llm_checks)
        self.template = template if template is not None else self.load_template("benchagents_verify.jinja")
        self.read_columns(self.template, not_columns={"plan"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        plan = row_plan(record, self.name)
        reference, wrong = final_answer(record.get("reference_answer") or ""), final_answer(record.get("wrong_answer") or "")
        verification: dict[str, Any] = {}
        if plan["check"] == "answer_key":
            key = normalise(record.get("answer_key") or "")
            if not key:
                return Rejected("the item has no answer key")
            if normalise(reference) != key:
                return Rejected("the reference answer differs from the answer key")
            if normalise(wrong) == key:
                return Rejected("the wrong answer equals the answer key")
            verification["answer_key"] = {"reference": True, "wrong": False}
        else:
            problem = await self.code_checks(record, plan, reference, wrong, verification)
            if problem:
                return Rejected(problem)
        lineage = []
        if self.llm_checks:
            prompt = self.render(self.template, {**record, "plan": plan}).strip()
            response, entry = await self.call(record, chat(prompt), json_schema=QUALITY_SCHEMA)
            lineage.append(entry)
            judged = response.parsed or {}
            verification["quality"] = {k: judged.get(k) for k in QUALITY_SCHEMA["properties"]}
            failed = [k for k in ("clear", "consistent", "solvable") if judged.get(k) is not True]
            if failed:
                why = " ".join(str(judged.get("explanation") or "").split())[:200] or "(no explanation)"
                return Rejected(f"the verification agent judged the item not {', not '.join(failed)}: {why}")
        return adopt_rows(record, {**record, "verification": verification}, self.name, lineage)

    async def code_checks(self, record: dict[str, Any], plan: dict[str, Any], reference: str, wrong: str,
                          verification: dict[str, Any]) -> str | None:
        functions = [c["function"] for c in plan["constraints"]]
        source = str(record.get("checker") or "")
        problem = checker_problem(source, functions)
        if problem:
            return problem
        ref, bad, empty = await run_checks(self.executor, source, functions, [reference, wrong, ""])
        verification["checks"] = {fn: {"reference": ref[i][0], "wrong": bad[i][0], "empty": empty[i][0]}
                                  for i, fn in enumerate(functions)}
        failing = [(fn, why) for fn, (ok, why) in zip(functions, ref) if not ok]
        if failing:
            return "the reference answer fails " + "; ".join(f"{fn} ({why})" for fn, why in failing[:3])
        if all(ok for ok, _ in bad):
            return "the checker accepts the wrong answer, so it cannot tell right from wrong"
        if all(ok for ok, _ in empty):
            return "the checker accepts an empty answer"
        return None


class BenchagentsEvaluate(_CheckerStep):
    """The evaluation agent: the step's model (the target: name it with ``model``) answers the
    item's ``prompt`` (with the plan's answer format); its final answer (after ``Answer:``) is
    scored with the item's checker in the sandbox, or against the answer key. Writes
    ``target_answer``, ``constraint_results`` (function → passed), ``score`` (the share passed) and
    ``solved`` (all passed). Items are never rejected here: a wrong or empty answer scores 0.
    After the run, ``OUT/<summary>`` has the scores per task and per constraint."""

    type_name = "benchagents_evaluate"
    default_sampling = {"temperature": 0.0, "max_tokens": 512}

    def __init__(self, name: str, *, template: str | None = None, summary: str = "benchagents_scores.json",
                 timeout: float = 5.0, memory_mb: int = 512, workers: int | None = None, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+\.json", summary or "") or summary.startswith("."):
            raise ValueError(f"benchagents_evaluate {name!r}: summary must be a plain .json file name, not {summary!r}")
        super().__init__(name, reads=["plan", "prompt", "checker", "answer_key"],
                         writes=["target_answer", "constraint_results", "score", "solved"], timeout=timeout,
                         memory_mb=memory_mb, workers=workers, citations=citations, **kwargs)
        self.summary = summary
        self.template = template if template is not None else self.load_template("benchagents_answer.jinja")
        self.read_columns(self.template, not_columns={"plan"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        plan = row_plan(record, self.name)
        prompt = self.render(self.template, {**record, "plan": plan}).strip()
        response, entry = await self.call(record, chat(prompt))
        text = (response.text or "").strip()
        answer = "" if is_refusal(text) else final_answer(text)
        if plan["check"] == "answer_key":
            results = {"answer_key": bool(answer) and normalise(answer) == normalise(record.get("answer_key") or "")}
        else:
            functions = [c["function"] for c in plan["constraints"]]
            (verdicts,) = await run_checks(self.executor, str(record.get("checker") or ""), functions, [answer])
            results = {fn: ok for fn, (ok, _) in zip(functions, verdicts)}
        score = sum(results.values()) / len(results)
        row = {**record, "target_answer": text, "constraint_results": results, "score": score, "solved": score == 1.0}
        return adopt_rows(record, row, self.name, [{**entry, "role": "target"}])

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        folder = Path(out) / "data"
        per_task: dict[str, dict[str, Any]] = defaultdict(lambda: {"items": 0, "score": 0.0, "solved": 0, "constraints": defaultdict(list)})
        for row in read_shards(folder) if folder.is_dir() else []:
            if not isinstance(row.get("constraint_results"), dict):
                continue
            task = per_task[str(row.get("task_id") or "")]
            task["items"] += 1
            task["score"] += float(row.get("score") or 0.0)
            task["solved"] += bool(row.get("solved"))
            for fn, ok in row["constraint_results"].items():
                task["constraints"][fn].append(bool(ok))
        table = {k: {"items": t["items"], "mean_score": round(t["score"] / t["items"], 4),
                     "solved_rate": round(t["solved"] / t["items"], 4),
                     "constraint_pass_rate": {fn: round(sum(v) / len(v), 4) for fn, v in sorted(t["constraints"].items())}}
                 for k, t in sorted(per_task.items())}
        atomic_write_text(Path(out) / self.summary, json.dumps({"tasks": table}, indent=1) + "\n")
        for k, t in table.items():
            log(f"benchagents {k or '(task)'}: {t['items']} item(s), mean score {t['mean_score']:.3f}, solved {t['solved_rate']:.3f}")
        log(f"benchagents scores: {Path(out) / self.summary}")
