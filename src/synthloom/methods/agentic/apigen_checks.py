"""APIGen's three verification stages, each its own step so each stage's rejects land in ``rejected/STEP/``
with the reason, and the final answer written from the execution results.

Liu et al. 2024, "APIGen: Automated Pipeline for Generating Verifiable and Diverse Function-Calling Datasets",
arXiv:2406.18518, section 3.2 (multi-stage verification):

1. :class:`ApigenFormat` (``apigen_format``): the query is text, the calls parse, name an offered tool and
   validate against its JSON schema (:func:`synthloom.tools.validate.call_problem`: required arguments, types,
   enums, unknown arguments), and their number and tools match the query's form.
2. :class:`ApigenExecute` (``apigen_execute``): the calls run, in order, in one fresh sandbox jail
   (:class:`synthloom.tools.executor.ToolExecutor`); a call that raises, returns a non-JSON value, times out,
   exhausts memory or is forbidden rejects the row with the call and its status; the results are recorded.
3. :class:`ApigenSemantics` (``apigen_semantics``): an LLM checker sees the functions, the query, the calls and
   their results and says whether they answer the query (``{"thought", "passes"}``, schema-constrained).

:class:`ApigenAnswer` (``apigen_answer``) then writes the assistant's final reply from the results (the
paper's data stops at the calls; training an assistant end to end needs the reply too).
Each stage adds its verdict to the row's ``stage_results``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson
import xxhash

from ...llm.tools import stable_call_id
from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import MapStep, Rejected, StreamStep
from ...records import ID, adopt_rows
from .apigen import CITATION, FORMS, SINGLE_CALL

#: the checker's answer; the thought is capped so a rambling model still closes its JSON
CHECK_SCHEMA = {"type": "object", "properties": {"thought": {"type": "string", "maxLength": 400}, "passes": {"type": "boolean"}},
                "required": ["thought", "passes"], "additionalProperties": False}
#: the query the prompt's format example shows: a generator that copies it wrote no query
PLACEHOLDER_QUERY = "The generated query."


def _shown(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _stages(record: dict[str, Any], stage: str, verdict: dict[str, Any]) -> dict[str, Any]:
    return {**(record.get("stage_results") or {}), stage: verdict}


def offered_tools(tools: Any, where: str) -> dict[str, Any]:
    """Name -> :class:`~synthloom.tools.spec.Tool` for a row's ``tools`` column (OpenAI function tools): the
    schemas the generator was shown, which its calls are checked against."""
    from ...tools.spec import Tool

    if not isinstance(tools, list) or not all(isinstance(t, dict) and isinstance(t.get("function"), dict)
                                              and isinstance(t["function"].get("name"), str) for t in tools):
        raise ValueError(f"{where}: column 'tools' must be a list of OpenAI function tools "
                         "({'type': 'function', 'function': {'name', 'description', 'parameters'}}), not " + _shown(tools))
    out = {}
    for t in tools:
        fn = t["function"]
        out[fn["name"]] = Tool(fn["name"], fn.get("description") or "", fn.get("parameters") or {"type": "object"},
                               "", None, fn["name"])
    return out


def form_of(calls: list[dict[str, Any]], n_tools: int) -> str:
    """The form a list of calls has: one call is ``simple`` (one tool offered) or ``multiple``; several are
    ``parallel`` (all of one tool) or ``parallel_multiple``."""
    if len(calls) <= 1:
        return "simple" if n_tools <= 1 else "multiple"
    return "parallel" if len({c["name"] for c in calls}) == 1 else "parallel_multiple"


def form_problem(form: str, calls: list[dict[str, Any]]) -> str | None:
    """Why ``calls`` do not have the query's ``form``, or None."""
    names = [c["name"] for c in calls]
    if form in SINGLE_CALL and len(calls) != 1:
        return f"a {form} query is answered by exactly one call, not {len(calls)} ({', '.join(names)})"
    if form not in SINGLE_CALL and len(calls) < 2:
        return f"a {form} query is answered by two or more calls, not {len(calls)}"
    if form == "parallel" and len(set(names)) != 1:
        return f"the calls of a parallel query are all of one function, not of {', '.join(sorted(set(names)))}"
    if form == "parallel_multiple" and len(set(names)) < 2:
        return f"a parallel_multiple query calls two or more different functions, not only {names[0]!r}"
    return None


class ApigenFormat(MapStep):
    """APIGen stage 1, the format checker. Reads ``query``, ``tools`` and the calls in ``column`` (the paper's
    ``answers``: ``[{"name", "arguments"}]``, decoded or JSON text) and rejects, with the reason: an empty
    query, no calls, a call that is not ``{name, arguments}``, names no offered tool or does not validate
    against its schema (missing required argument, wrong type, value outside the enum, unknown argument), two
    identical calls, or (``check_form``) calls that do not fit the row's ``form``. Passing rows get ``calls``
    (``[{"id", "name", "arguments"}]``), ``form`` (inferred when the row has none), ``answer`` ("") and
    ``simulated`` (false)."""

    type_name = "apigen_format"

    def __init__(self, name: str, *, column: str = "answers", check_form: bool = True,
                 citations: Iterable[str] = ()) -> None:
        super().__init__(name, reads=["query", "tools", column],
                         writes=["calls", "form", "answer", "simulated", "stage_results"], citations=[CITATION, *citations])
        self.column, self.check_form = column, bool(check_form)

    def map(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:
        from ...tools.validate import call_problem

        tools = offered_tools(record.get("tools"), f"apigen_format {self.name!r}")
        query = record.get("query")
        if not isinstance(query, str):
            return Rejected(f"the query is not text: {_shown(query)}", 0.0)
        if not query.strip():
            return Rejected("the query is empty", 0.0)
        if query.strip() == PLACEHOLDER_QUERY:
            return Rejected(f"the query is the prompt's placeholder {PLACEHOLDER_QUERY!r}, copied from the format example", 0.0)
        answers = record.get(self.column)
        if isinstance(answers, str):
            try:
                answers = json.loads(answers)
            except json.JSONDecodeError as exc:
                return Rejected(f"the calls are not valid JSON ({exc.msg}): {answers[:120]!r}", 0.0)
        if isinstance(answers, dict):
            answers = [answers]
        if not isinstance(answers, list) or not answers:
            return Rejected(f"no calls: {self.column!r} is {_shown(answers)}, not a non-empty list of calls", 0.0)
        calls = []
        for i, call in enumerate(answers, 1):
            if not isinstance(call, dict) or "name" not in call:
                return Rejected(f"call {i} is not a {{name, arguments}} object: {_shown(call)}", 0.0)
            problem = call_problem(call, tools)
            if problem:
                return Rejected(f"call {i}: {problem}", 0.0)
            args = call.get("arguments")
            args = json.loads(args) if isinstance(args, str) and args.strip() else args or {}
            calls.append({"id": stable_call_id(str(record.get(ID, "")), 0, i - 1), "name": call["name"], "arguments": args})
        seen: dict[str, int] = {}
        for i, c in enumerate(calls, 1):
            key = json.dumps([c["name"], c["arguments"]], sort_keys=True)
            if key in seen:
                return Rejected(f"calls {seen[key]} and {i} are the same call: {c['name']}({_shown(c['arguments'])})", 0.0)
            seen[key] = i
        form = record.get("form")
        if form is None:
            form = form_of(calls, len(tools))
        elif form not in FORMS:
            raise ValueError(f"apigen_format {self.name!r}: column 'form' must be one of {', '.join(FORMS)}, not {form!r}")
        if self.check_form and (problem := form_problem(form, calls)):
            return Rejected(problem, 0.0)
        return {**record, "calls": calls, "form": form, "answer": record.get("answer") or "", "simulated": False,
                "stage_results": _stages(record, "format", {"passed": True, "calls": len(calls)})}


def implementations(tools_file: str | None) -> dict[str, Any]:
    """Name -> executable tool: the bundled catalogue's, then ``tools_file``'s (which win on a shared name)."""
    from ...tools import load_catalogue, load_tools

    found = {t.name: t for t in load_catalogue().tools() if t.executable}
    if tools_file:
        found.update({t.name: t for t in load_tools(tools_file) if t.executable})
    return found


def execution_reason(index: int, call: dict[str, Any], result: dict[str, Any]) -> str:
    """One line: ``STATUS: call I NAME(ARGS): ERROR`` (the status first, as the sandbox gave it)."""
    return f"{result['status']}: call {index} {call['name']}({_shown(call['arguments'], 100)}): {result.get('error') or ''}".rstrip(": ")


class ApigenExecute(StreamStep):
    """APIGen stage 2, the execution checker: runs the row's ``calls`` in order in one fresh sandbox jail
    (:class:`~synthloom.tools.executor.ToolExecutor`: ``timeout`` seconds and ``memory_mb`` for the run,
    ``workers`` warm jails) with the implementations of the bundled catalogue or ``tools_file``, and writes
    ``results`` (``[{"call_id", "name", "status", "value", "error"}]``, in call order). Rejected, with the
    call and its status (``error``, ``invalid``, ``timeout``, ``memory``, ``forbidden``, ``killed``,
    ``crashed``): the first call that did not return a JSON value; or a call of a tool with no implementation."""

    type_name = "apigen_execute"
    runtime_options = ("workers",)

    def __init__(self, name: str, *, tools_file: str | None = None, timeout: float = 5.0, memory_mb: int = 512,
                 workers: int | None = None, citations: Iterable[str] = ()) -> None:
        from ...tools.executor import ToolExecutor

        super().__init__(name, reads=["calls"], writes=["results", "simulated", "stage_results"],
                         citations=[CITATION, *citations])
        self.tools = implementations(tools_file)
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        calls = record.get("calls")
        if not isinstance(calls, list) or not calls:
            raise ValueError(f"apigen_execute {self.name!r}: column 'calls' must hold the format stage's calls, not {_shown(calls)}")
        missing = sorted({c["name"] for c in calls if c["name"] not in self.tools})
        if missing:
            return Rejected(f"not_run: no implementation of {', '.join(missing)} to execute (give the tools file "
                            "that implements it as tools_file)", 0.0)
        units = list({c["name"]: self.tools[c["name"]] for c in calls}.values())
        results = [r.to_dict() for r in await self.executor.arun(units, calls)]
        for i, (call, result) in enumerate(zip(calls, results), 1):
            if result["status"] != "ok":
                return Rejected(execution_reason(i, call, result), 0.0)
        return [{**record, "results": results, "simulated": False,
                 "stage_results": _stages(record, "execution", {"passed": True, "statuses": [r["status"] for r in results]})}]

    def describe(self) -> dict[str, Any]:
        d = super().describe()  # an edited implementation recomputes the results, not resumes stale ones
        d["implementations"] = xxhash.xxh3_64_hexdigest(orjson.dumps(sorted(
            (t.name, t.entry, t.module.name, t.module.source) for t in self.tools.values())))
        return d

    async def aclose(self) -> None:
        self.executor.close()


def results_text(results: list[dict[str, Any]], max_chars: int) -> str:
    """The execution results as the checker and the answer writer see them: one JSON line per call, each
    cut to ``max_chars`` (the paper: results "may be truncated due to length")."""
    lines = []
    for r in results or ():
        shown = {"name": r.get("name"), "status": r.get("status")}
        shown["result" if r.get("status") == "ok" else "error"] = r.get("value") if r.get("status") == "ok" else r.get("error")
        text = json.dumps(shown, ensure_ascii=False, default=str)
        lines.append(text if len(text) <= max_chars else text[: max_chars - 3] + "...")
    return "\n".join(lines)


class _ResultsPrompt(ModelStep):
    """A model step whose prompt shows a row's functions, query, calls and execution results."""

    max_result_chars: int

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        calls = [{"name": c["name"], "arguments": c["arguments"]} for c in record.get("calls") or ()]
        return {"query": record.get("query"), "calls_json": json.dumps(calls, ensure_ascii=False),
                "functions": "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in record.get("tools") or ()),
                "results_json": results_text(record.get("results") or [], self.max_result_chars)}


class ApigenSemantics(_ResultsPrompt):
    """APIGen stage 3, the semantic checker: an LLM is shown the available functions, the ``query``, the
    ``calls`` and their execution ``results`` and answers ``{"thought", "passes"}`` (JSON schema) on the
    paper's criteria (calls aligned with the query's intent, the right functions and arguments, as many calls
    as requests, relevant results without errors). Rejected when it says the row does not pass, with its
    thought as the reason."""

    type_name = "apigen_semantics"
    default_sampling = {"temperature": 0.0, "max_tokens": 384}

    def __init__(self, name: str, *, max_result_chars: int = 2000, template: str | None = None,
                 system_template: str | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(max_result_chars) < 20:
            raise ValueError(f"apigen_semantics {name!r}: max_result_chars must be >= 20, not {max_result_chars}")
        super().__init__(name, reads=["query", "tools", "calls", "results"], writes=["stage_results"],
                         citations=[CITATION, *citations], **kwargs)
        self.max_result_chars = int(max_result_chars)
        self.prompt = template if template is not None else self.load_template("apigen_semantic.jinja")
        self.system = system_template if system_template is not None else self.load_template("apigen_semantic_system.jinja")
        self.read_columns(self.prompt, self.system, not_columns={"calls_json", "results_json", "functions"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        view = {**record, **self.view(record)}
        messages = chat(self.render(self.prompt, view).strip(), system=self.render(self.system, view).strip() or None)
        response, lineage = await self.call(record, messages, json_schema=CHECK_SCHEMA, salt="semantics")
        verdict = response.parsed
        thought = " ".join(str(verdict.get("thought") or "").split())
        if not verdict.get("passes"):
            return Rejected(f"the semantic checker says the calls do not answer the query: {thought[:300] or '(no reason given)'}", 0.0)
        row = {**record, "stage_results": _stages(record, "semantics", {"passed": True, "thought": thought})}
        return adopt_rows(record, row, self.name, [lineage])


class ApigenAnswer(_ResultsPrompt):
    """The final answer (not in the paper, whose data ends at the calls): the model reads the ``query``, the
    ``calls`` and their ``results`` and writes the assistant's reply to the user into ``answer``. Rejected: a
    refusal, or a reply cut off at ``max_tokens``; an empty reply is an error row."""

    type_name = "apigen_answer"
    default_sampling = {"temperature": 0.3, "max_tokens": 384}

    def __init__(self, name: str, *, max_result_chars: int = 2000, template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(max_result_chars) < 20:
            raise ValueError(f"apigen_answer {name!r}: max_result_chars must be >= 20, not {max_result_chars}")
        super().__init__(name, reads=["query", "calls", "results"], writes=["answer"],
                         citations=[CITATION, *citations], **kwargs)
        self.max_result_chars = int(max_result_chars)
        self.prompt = template if template is not None else self.load_template("apigen_answer.jinja")
        self.read_columns(self.prompt, not_columns={"calls_json", "results_json", "functions"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        response, lineage = await self.call(record, chat(self.render(self.prompt, {**record, **self.view(record)}).strip()),
                                            salt="answer")
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the final answer hit max_tokens (finish_reason=length)", 0.0)
        answer = reply_text(response, "final answer")
        if isinstance(answer, Rejected):
            return answer
        return adopt_rows(record, {**record, "answer": answer}, self.name, [lineage])
