"""BenchAgents: a benchmark and its checkers built by interacting LLM agents (Butt et al. 2024,
"BenchAgents: Automated Benchmark Creation with Agent Interaction", arXiv:2410.22584).

Four agents turn a task description into an evaluation benchmark:

1. **Planning** (:class:`BenchagentsPlan`, ``benchagents_plan``) — from the task description, a plan:
   the parameters that vary between items (each with the values to sample), the constraints every
   correct answer must satisfy, the answer format and how answers are checked (``code``: one Python
   function per constraint; ``answer_key``: one right answer per item). The plan is exported for
   human review after the run (``OUT/benchagents_plan.md`` and ``.json``); an edited plan comes
   back through ``plan_file`` (the paper's developer in the loop), and ``feedback`` reaches the
   planner as a note.
2. **Generation** — :class:`BenchagentsItems` (``benchagents_items``) samples the parameter values of
   each item from the plan (host code, deterministic per task), and :class:`BenchagentsGenerate`
   (``benchagents_generate``) writes the item for them: the prompt, a reference answer, a wrong
   answer and the checker (the constraint functions, or the answer key).
3. **Verification** and 4. **Evaluation** live in :mod:`.benchagents_checks` (the checkers run in
   the sandbox, through the trusted harness).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ...io.rundir import atomic_write_text
from ...io.shards import read_shards
from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import ExpandStep, Rejected
from ...records import ID, adopt_rows
from ..fanout import bounded, check_max_fanout
from ..instructions.samplers import stable_int

CITATION = ("Butt et al. 2024, BenchAgents: Automated Benchmark Creation with Agent Interaction, "
            "arXiv:2410.22584")
CHECK_KINDS = ("code", "answer_key")
_TEXT = {"type": "string"}
PLAN_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "name": _TEXT, "summary": _TEXT,
    "parameters": {"type": "array", "minItems": 1, "maxItems": 8, "items": {"type": "object", "properties": {
        "name": _TEXT, "description": _TEXT, "values": {"type": "array", "minItems": 1, "maxItems": 8, "items": _TEXT}},
        "required": ["name", "description", "values"]}},
    "constraints": {"type": "array", "minItems": 1, "maxItems": 8, "items": {"type": "object", "properties": {
        "name": _TEXT, "description": _TEXT}, "required": ["name", "description"]}},
    "answer_format": _TEXT, "check": {"type": "string", "enum": list(CHECK_KINDS)}, "verification": _TEXT},
    "required": ["name", "summary", "parameters", "constraints", "answer_format", "check", "verification"]}
ITEM_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "prompt": _TEXT, "reference_answer": _TEXT, "wrong_answer": _TEXT, "checker": _TEXT, "answer_key": _TEXT},
    "required": ["prompt", "reference_answer", "wrong_answer", "checker", "answer_key"]}


def slug(name: Any) -> str:
    """A name as a Python identifier fragment: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")[:40]


def normalise_plan(raw: Any) -> dict[str, Any] | str:
    """The plan with slugged, distinct parameter and constraint names and each constraint's checker
    function name (``check_<name>``); a sentence saying what is wrong when it cannot be used."""
    if not isinstance(raw, dict):
        return "the plan is not a JSON object"
    params, constraints = {}, {}
    for p in raw.get("parameters") or []:
        values = [str(v).strip() for v in (p.get("values") or []) if str(v).strip()] if isinstance(p, dict) else []
        name = slug(p.get("name")) if isinstance(p, dict) else ""
        if name and values and name not in params:
            params[name] = {"name": name, "description": str(p.get("description") or "").strip(), "values": list(dict.fromkeys(values))}
    for c in raw.get("constraints") or []:
        name = slug(c.get("name")) if isinstance(c, dict) else ""
        if name and name not in constraints and str(c.get("description") or "").strip():
            constraints[name] = {"name": name, "description": str(c["description"]).strip(), "function": f"check_{name}"}
    check = raw.get("check") if raw.get("check") in CHECK_KINDS else "code"
    if not params:
        return "the plan has no parameter with values to vary"
    if not constraints:
        return "the plan has no constraint with a description"
    if not str(raw.get("answer_format") or "").strip():
        return "the plan gives no answer format"
    return {"name": str(raw.get("name") or "").strip(), "summary": str(raw.get("summary") or "").strip(),
            "parameters": list(params.values()), "constraints": list(constraints.values()),
            "answer_format": str(raw["answer_format"]).strip(), "check": check,
            "verification": str(raw.get("verification") or "").strip()}


def read_plan_file(path: str) -> dict[str, Any]:
    """``{task_id: plan}`` from ``path``: an exported ``benchagents_plan.json`` (edited), or one plan
    object (key ``*``: every task)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"plan_file {path!r}: cannot read it ({e.strerror or e})") from None
    except ValueError as e:
        raise ValueError(f"plan_file {path!r}: not JSON ({e})") from None
    entries = data.get("plans") if isinstance(data, dict) and "plans" in data else [{"task_id": "*", "plan": data}]
    plans = {}
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        plan = normalise_plan(entry.get("plan") if isinstance(entry, dict) else None)
        if isinstance(plan, str):
            raise ValueError(f"plan_file {path!r}: plan {i + 1}: {plan}; fix it as in the exported benchagents_plan.json")
        plans[str(entry.get("task_id", "*"))] = plan
    if not plans:
        raise ValueError(f"plan_file {path!r}: no plan in it; give one plan object or {{\"plans\": [{{\"task_id\", \"plan\"}}]}}")
    return plans


def plan_markdown(entries: list[dict[str, Any]]) -> str:
    """The human-review page of the plans."""
    out = ["# BenchAgents plans for review", "",
           "Edit `benchagents_plan.json` beside this file and rerun with `--set plan_file=PATH` to build the "
           "benchmark from the edited plan.", ""]
    for e in entries:
        plan = e["plan"]
        out += [f"## {e['task_id']}: {plan.get('name') or '(unnamed)'}", "", plan.get("summary") or "", "",
                "**Task description.** " + " ".join(str(e.get("task") or "").split()), "", "### Parameters", "",
                "| parameter | values | description |", "|---|---|---|"]
        out += [f"| `{p['name']}` | {', '.join(p['values'])} | {p['description']} |" for p in plan["parameters"]]
        out += ["", "### Constraints", "", "| constraint | checked by | description |", "|---|---|---|"]
        by = (lambda c: f"`{c['function']}(answer)`") if plan["check"] == "code" else (lambda c: "the answer key")
        out += [f"| `{c['name']}` | {by(c)} | {c['description']} |" for c in plan["constraints"]]
        out += ["", f"**Answer format.** {plan['answer_format']}", "", f"**Verification.** {plan.get('verification') or '-'}", ""]
    return "\n".join(out) + "\n"


class BenchagentsPlan(ModelStep):
    """The planning agent: reads the task description (``task_column``) and writes ``plan`` (name,
    summary, parameters with values, constraints with their checker functions, answer format,
    ``check``: code or answer_key). A plan without parameters, constraints or answer format is
    rejected. ``plan_file`` (an edited export, or one plan) replaces the model for the tasks it
    names; ``feedback`` is a developer's note to the planner. After the run the plans are written
    for review to ``OUT/<export>.md`` and ``OUT/<export>.json`` (from the rows that kept ``plan``)."""

    type_name = "benchagents_plan"
    default_sampling = {"temperature": 0.7, "max_tokens": 1024}

    def __init__(self, name: str, *, task_column: str = "task", task_id_column: str = "task_id", plan_file: str | None = None,
                 feedback: str | None = None, template: str | None = None, export: str = "benchagents_plan",
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", export or "") or export.startswith("."):
            raise ValueError(f"benchagents_plan {name!r}: export must be a plain file name stem, not {export!r}")
        super().__init__(name, reads=[task_column], writes=["plan"], citations=[CITATION, *citations], **kwargs)
        self.task_column, self.task_id_column, self.plan_file, self.feedback, self.export = \
            task_column, task_id_column, plan_file, feedback, export
        self.plans = read_plan_file(plan_file) if plan_file else {}
        self.template = template if template is not None else self.load_template("benchagents_plan.jinja")
        self.read_columns(self.template, not_columns={"task", "feedback"})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "plans": self.plans}  # an edited plan_file recomputes

    def task_id(self, record: dict[str, Any]) -> str:
        return str(record.get(self.task_id_column) or record.get(ID) or "")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        given = self.plans.get(self.task_id(record), self.plans.get("*"))
        if given is not None:
            return adopt_rows(record, {**record, "plan": given}, self.name, [{"step": self.name, "plan_file": self.plan_file}])
        task = str(record.get(self.task_column) or "").strip()
        if not task:
            raise ValueError(f"benchagents_plan {self.name!r}: column {self.task_column!r} is empty; it must describe the task")
        prompt = self.render(self.template, {**record, "task": task, "feedback": self.feedback})
        response, entry = await self.call(record, chat(prompt.strip()), json_schema=PLAN_SCHEMA)
        plan = normalise_plan(response.parsed)
        if isinstance(plan, str):
            return Rejected(plan)
        return adopt_rows(record, {**record, "plan": plan}, self.name, [entry])

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        out = Path(out)
        entries: dict[str, dict[str, Any]] = {}
        folders = [out / "data"] + sorted(p for kind in ("rejected", "errors") for p in (out / kind).glob("*") if p.is_dir())
        for folder in folders:
            if not folder.is_dir():
                continue
            for row in read_shards(folder):
                if isinstance(row.get("plan"), dict) and row["plan"].get("constraints"):
                    key = str(row.get(self.task_id_column) or "")
                    entries.setdefault(key, {"task_id": key, "task": row.get(self.task_column), "plan": row["plan"]})
        if not entries:
            log(f"benchagents_plan {self.name!r}: no row kept column 'plan', so no plan was exported for review "
                "(keep 'plan' in the output's select step)")
            return
        ordered = [entries[k] for k in sorted(entries)]
        atomic_write_text(out / f"{self.export}.json", json.dumps({"plans": ordered}, indent=1, ensure_ascii=False) + "\n")
        atomic_write_text(out / f"{self.export}.md", plan_markdown(ordered))
        log(f"benchagents plans for review: {out / (self.export + '.md')} (edit {self.export}.json, rerun with plan_file)")


def row_plan(record: dict[str, Any], step: str) -> dict[str, Any]:
    """The row's ``plan`` column, checked to be a plan."""
    plan = record.get("plan")
    if not (isinstance(plan, dict) and plan.get("parameters") and plan.get("constraints")):
        raise ValueError(f"step {step!r}: column 'plan' must be a plan (benchagents_plan writes it)")
    return plan


class BenchagentsItems(ExpandStep):
    """Samples the parameter values of ``n_items`` items from the row's ``plan`` (distinct
    combinations while there are enough, deterministic per task); one row per item with
    ``item_index`` and ``parameters`` (name → value). ``max_fanout`` bounds ``n_items`` (the recipe
    passes ``-n``)."""

    type_name = "benchagents_items"

    def __init__(self, name: str, *, n_items: int = 8, max_fanout: int | None = None, inputs: Iterable[str] = ()) -> None:
        if not 1 <= int(n_items) <= 10_000:
            raise ValueError(f"benchagents_items {name!r}: n_items must be between 1 and 10000, not {n_items}")
        super().__init__(name, inputs=inputs, reads=["plan"], writes=["item_index", "parameters"], citations=[CITATION])
        self.n_items = bounded(n_items, check_max_fanout(max_fanout))

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        params = row_plan(record, self.name)["parameters"]
        rng = random.Random(stable_int(record.get(ID, ""), self.name))
        space = 1
        for p in params:
            space *= len(p["values"])
        if space <= 100_000:
            combos = list(itertools.product(*(p["values"] for p in params)))
            rng.shuffle(combos)
            picked = [combos[i % len(combos)] for i in range(self.n_items)]
        else:
            picked = [tuple(rng.choice(p["values"]) for p in params) for _ in range(self.n_items)]
        return [{**record, "item_index": i, "parameters": {p["name"]: v for p, v in zip(params, combo)}}
                for i, combo in enumerate(picked)]


class BenchagentsGenerate(ModelStep):
    """The generation agent: writes one item for the row's ``parameters`` under its ``plan`` —
    ``prompt``, ``reference_answer``, ``wrong_answer`` (breaks a constraint; verification uses it
    to test the checker) and ``checker`` (Python source with one ``check_<constraint>(answer) ->
    bool`` per constraint) or ``answer_key`` (plans with ``check: answer_key``). An empty prompt
    or reference answer is rejected."""

    type_name = "benchagents_generate"
    default_sampling = {"temperature": 0.7, "max_tokens": 1536}

    def __init__(self, name: str, *, task_column: str = "task", template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(name, reads=[task_column, "plan", "parameters"], writes=list(ITEM_SCHEMA["properties"]),
                         citations=[CITATION, *citations], **kwargs)
        self.task_column = task_column
        self.template = template if template is not None else self.load_template("benchagents_generate.jinja")
        self.read_columns(self.template, not_columns={"task"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        plan = row_plan(record, self.name)
        prompt = self.render(self.template, {**record, "task": str(record.get(self.task_column) or ""), "plan": plan})
        response, entry = await self.call(record, chat(prompt.strip()), json_schema=ITEM_SCHEMA)
        item = {k: str((response.parsed or {}).get(k) or "").strip() for k in ITEM_SCHEMA["properties"]}
        if not item["prompt"] or not item["reference_answer"]:
            return Rejected("the generation agent wrote no prompt or no reference answer")
        if plan["check"] == "code" and not item["checker"]:
            return Rejected("the generation agent wrote no checker code")
        return adopt_rows(record, {**record, **item}, self.name, [entry])
