"""Case2Code: inputs written by a model, executed on a real function, turned into
"infer the function from its input/output cases" training examples.

Shao et al. 2024, "Case2Code: Scalable Synthetic Data for Code Generation", arXiv:2407.12504
(choosewhatulike/case2code). From functions in code corpora: an LLM (T=0.2) writes test inputs; a
sandbox executes them and captures the return values or exceptions; a record is kept if execution
succeeded, the number of outputs equals the number of inputs, and not all outputs are exceptions.
The training task is to infer the code from the I/O cases.

Steps: ``case2code_inputs`` (LLM: function → calls), ``case2code_execute`` (sandbox: calls →
cases, the paper's keep rules, the ``prompt``/``response`` example) and, optionally,
``case2code_solve`` (a model writes the function from the cases; it is run on the inputs and must
reproduce every output).

The inputs are model-written, so they never run as code: a call is executed only when it is a
call of the entry point with Python-literal arguments, and then as a *harness run* (see
``docs/verification/sandbox.md``): the function runs alone in the sandbox's program process, while
the call, with its literal arguments, is made from the trusted harness process, which also takes
the ``repr`` of the value (or the exception) and reports it on the harness's own channel. Nothing
an input contains can print, patch or exit its way into the recorded outputs.
"""

from __future__ import annotations

import ast
import json
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...pipeline.model_step import read_template
from ...pipeline.step import MapStep, Rejected
from ...pipeline.templates import render, template_columns
from ...verify.code_harness import harness_report
from .base import CodeMethodStep
from .execution import SandboxClient, failure_reason
from .extract import code_blocks, defined_functions, extract_code

TASK_TEMPLATE = Path(__file__).with_name("case2code_task.jinja")
CITATION = "Shao et al. 2024, Case2Code: Scalable Synthetic Data for Code Generation, arXiv:2407.12504"


def parse_calls(text: str | None, entry_point: str, *, literal_only: bool = True, limit: int | None = None) -> list[str]:
    """Calls of ``entry_point`` in a reply, as source text (``f(1, [2])``), in order, without
    duplicates. A call is taken from a bare line, ``print(f(...))``, ``x = f(...)`` or ``assert
    f(...) == ...``; with ``literal_only`` every argument must be a Python literal."""
    if not text:
        return []
    blocks = [b.code for b in code_blocks(text) if b.is_python] or [text]
    out: list[str] = []
    seen: set[str] = set()
    for block in blocks:
        for line in block.splitlines():
            call = _call_in(line.strip(), entry_point, literal_only)
            if call and call not in seen:
                seen.add(call)
                out.append(call)
                if limit is not None and len(out) >= limit:
                    return out
    return out


def _call_in(line: str, entry_point: str, literal_only: bool) -> str | None:
    if not line or line.startswith("#"):
        return None
    try:
        tree = ast.parse(line)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point:
            if literal_only and not _literal_arguments(node):
                return None
            return ast.unparse(node)
    return None


def _literal_arguments(node: ast.Call) -> bool:
    """Every argument of ``node`` is a Python literal (no ``*args``/``**kwargs``)."""
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return False
    try:
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def literal_call(call: Any, entry_point: str | None = None) -> ast.Call | None:
    """``call`` (source text) parsed as exactly one call of a plain name (``entry_point`` when
    given) whose arguments are all Python literals, else None. Only such calls are executed or
    turned into tests: evaluating them runs no code of the text's author."""
    if not isinstance(call, str):
        return None
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if entry_point is not None and node.func.id != entry_point:
        return None
    return node if _literal_arguments(node) else None


class Case2CodeInputs(CodeMethodStep):
    """Asks the model (paper: T=0.2) for ``n_inputs`` calls of the function in ``code_column``
    (entry point from ``entry_point_column``, else the first function the code defines) and writes
    them to ``example_inputs`` (call source texts). Where the row has the function's call sites in the
    corpus (``call_sites_column``, from ``case2code_functions``), the prompt shows them. Replies with
    no usable call are rejected."""

    type_name = "case2code_inputs"
    view_names = frozenset({"code", "entry_point", "n_inputs", "call_sites"})

    def __init__(self, name: str, *, code_column: str = "code", entry_point_column: str | None = "entry_point",
                 call_sites_column: str | None = "call_sites",
                 n_inputs: int = 8, literal_only: bool = True, template: str | None = None,
                 temperature: float = 0.2, max_tokens: int = 512, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(n_inputs) < 1:
            raise ValueError(f"case2code_inputs {name!r}: n_inputs must be >= 1, not {n_inputs}")
        reads = [code_column] + ([entry_point_column] if entry_point_column else [])
        super().__init__(name, reads=reads, writes=["example_inputs", "entry_point"], temperature=temperature,
                         max_tokens=max_tokens, citations=[CITATION, *citations], **kwargs)
        self.inputs_template = self.template(template or None, "case2code_inputs.jinja")
        self.code_column, self.entry_point_column = code_column, entry_point_column
        self.call_sites_column = call_sites_column
        self.n_inputs, self.literal_only = int(n_inputs), bool(literal_only)

    async def run(self, record: dict[str, Any]):
        code = record.get(self.code_column)
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"case2code_inputs {self.name!r}: column {self.code_column!r} is empty or not text")
        entry = entry_point_of(record, code, self.entry_point_column)
        sites = record.get(self.call_sites_column) if self.call_sites_column else None
        view = {**self.base_columns(record), "code": code, "entry_point": entry, "n_inputs": self.n_inputs,
                "call_sites": [s for s in sites or [] if isinstance(s, dict) and s.get("call")]}
        [reply], call_entry = await self.texts(record, self.render(self.inputs_template, view))
        calls = parse_calls(reply, entry, literal_only=self.literal_only, limit=self.n_inputs * 2)
        if not calls:
            what = "literal-argument " if self.literal_only else ""
            return Rejected(f"no {what}call of `{entry}` in the reply"), [call_entry]
        return {**self.base_columns(record), "example_inputs": calls, "entry_point": entry}, [call_entry]


def entry_point_of(record: dict[str, Any], code: str, column: str | None) -> str:
    entry = record.get(column) if column else None
    if entry:
        return str(entry)
    names = defined_functions(code)
    if not names:
        raise ValueError(f"no function defined in {code[:60]!r}...: give an entry_point column")
    return names[0]


#: the harness test for one call: ``fn`` is the function in the program process (a proxy); the
#: call's literal arguments are built here, and the value's repr (or the exception) is reported by
#: raising the marker line, which the host reads from the harness's verdict (never from the program)
_PROBE_BODY = '''\
import json
if type(fn).__name__ != "Remote":
    raise NameError("the code does not define a function `%(entry)s`")
try:
    text = repr(%(call)s)
    report = {"output": text if len(text) <= %(limit)d else None, "chars": len(text)}
except StopIteration:  # the channel carries a StopIteration of the function without its message
    report = {"error": "StopIteration", "exc": "StopIteration"}
except Exception as e:
    if not hasattr(e, "sl_remote_traceback") or getattr(e, "sl_kind", None):
        raise  # not an exception of the function: the program died, or a sandbox limit or block stopped it
    message = str(e.args[0]) if e.args else ""
    text = message if type(e).__name__ == "RemoteError" else type(e).__name__ + ": " + message
    if text.partition(":")[0] in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        raise  # the function tried to end the process: not a case
    report = {"error": text[:300], "exc": text.partition(":")[0]}
line = json.dumps(report, ensure_ascii=False)
if len(line) > %(budget)d:
    line = json.dumps({"output": None, "chars": report.get("chars", 0)})
raise AssertionError(%(marker)r + line)
'''
#: the harness's verdict keeps the last 8000 characters of the error: the report line must fit
_REPORT_BUDGET = 7000
MAX_OUTPUT_CHARS = 3000


def case_test(call: ast.Call, marker: str, max_output_chars: int) -> str:
    """The harness test (``{"kind": "assert"}``) that makes the literal ``call`` on the function in
    the program process and reports its ``repr`` (``None`` past ``max_output_chars``) or its
    exception after ``marker``. Its names live in a fresh namespace with the real builtins, so
    globals of the function's code (a ``repr`` of its own) cannot reach it."""
    probe = ast.unparse(ast.Call(func=ast.Name("fn", ast.Load()), args=call.args, keywords=call.keywords))
    body = _PROBE_BODY % {"entry": call.func.id, "call": probe, "limit": max_output_chars, "marker": marker,
                          "budget": _REPORT_BUDGET}
    return (f"import builtins as _c2c_builtins\n_c2c_builtins.exec({body!r}, {{'__builtins__': _c2c_builtins, "
            f"'fn': _c2c_builtins.globals().get({call.func.id!r})}})\n")


def read_report(result: Any, marker: str) -> dict[str, Any] | None:
    """The probe's report in a harness run's verdict (written by the trusted harness process, not by
    the program), or None when there is none: the function did not load, the program died,
    timed out or was stopped by a limit."""
    if getattr(result, "status", None) != "failed":
        return None
    error = (harness_report(result) or {}).get("error")
    at = error.rfind(marker) if isinstance(error, str) else -1
    if at < 0:
        return None
    try:
        report, end = json.JSONDecoder().raw_decode(error, at + len(marker))
    except ValueError:
        return None
    if error[end:].strip() or not isinstance(report, dict):
        return None
    if isinstance(report.get("error"), str) and isinstance(report.get("exc"), str):
        return report
    if isinstance(report.get("chars"), int) and isinstance(report.get("output"), (str, type(None))):
        return report
    return None


async def execute_cases(sandbox: SandboxClient, code: str, calls: list[ast.Call], texts: list[str] | None = None,
                        *, max_output_chars: int = 500) -> list[dict[str, Any]]:
    """Make each literal call (see :func:`literal_call`) on ``code`` in its own harness run. Per
    call: ``{"input", "output", "error", "exc", "status", "detail"}``: ``output`` is the ``repr``
    of the value (None when longer than ``max_output_chars``), ``error`` ``"ExcType: message"``;
    ``status`` is ``passed`` when the function returned or raised, else the sandbox's
    (``failed`` when it did not load or ended the process, ``timeout``, ``memory``…)."""
    texts = texts if texts is not None else [ast.unparse(c) for c in calls]
    markers = [f"@@case2code-{secrets.token_hex(16)}@@" for _ in calls]
    jobs = [{"code": code, "harness": {"kind": "assert", "test": case_test(c, m, max_output_chars)}}
            for c, m in zip(calls, markers)]
    results = await sandbox.arun_many(jobs)
    cases = []
    for text, marker, r in zip(texts, markers, results):
        report = read_report(r, marker)
        if report is None:
            status = r.status if r.status != "passed" else "failed"
            cases.append({"input": text, "output": None, "error": None, "exc": None, "status": status,
                          "detail": (r.detail or status)[:300]})
        elif "error" in report:
            cases.append({"input": text, "output": None, "error": report["error"], "exc": report["exc"],
                          "status": "passed", "detail": None})
        else:
            cases.append({"input": text, "output": report["output"], "error": None, "exc": None, "status": "passed",
                          "detail": None if report["output"] is not None else f"{report['chars']} characters"})
    return cases


class Case2CodeExecute(MapStep):
    """Executes every call in ``example_inputs`` on the function in ``code_column`` in the sandbox and
    applies Case2Code's rules: every call must execute (return or raise; a timeout, crash or a
    function that does not load rejects the row), the outputs must match the inputs one to one,
    and not all may be exceptions. Cases whose output repr is longer than ``max_output_chars`` (at
    most 3000) are dropped first. Writes ``cases`` (``{input, output, error}``), ``prompt`` (the
    "infer the code" task, template ``case2code_task.jinja``) and ``response`` (the function, fenced).

    Only calls of the entry point with literal arguments are executed (any other input rejects
    the row); each runs as a harness run (see :func:`case_test`), so the recorded output is what
    the function returned or raised, whatever the input's text contains."""

    type_name = "case2code_execute"
    runtime_options = ("workers",)

    def __init__(self, name: str, *, code_column: str = "code", min_cases: int = 1, max_output_chars: int = 500,
                 template: str | None = None, timeout: float = 2.0, memory_mb: int = 512, workers: int | None = None,
                 inputs: Iterable[str] = ()) -> None:
        if int(min_cases) < 1:
            raise ValueError(f"case2code_execute {name!r}: min_cases must be >= 1, not {min_cases}")
        if not 1 <= int(max_output_chars) <= MAX_OUTPUT_CHARS:
            raise ValueError(f"case2code_execute {name!r}: max_output_chars must be between 1 and {MAX_OUTPUT_CHARS} "
                             f"(outputs travel in the harness's report), not {max_output_chars}")
        self.template = template or read_template(str(TASK_TEMPLATE))
        reads = {code_column, "example_inputs", "entry_point"} | (template_columns(self.template) - {"cases", "entry_point"})
        super().__init__(name, reads=reads, writes=["cases", "prompt", "response"], inputs=inputs,
                         citations=[CITATION])
        self.code_column, self.min_cases, self.max_output_chars = code_column, int(min_cases), int(max_output_chars)
        self.sandbox = SandboxClient(timeout=timeout, memory_mb=memory_mb, workers=workers)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"]["template"] = self.template  # the packaged one too: editing it recomputes
        return d

    async def amap(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:
        code, calls = record.get(self.code_column), record.get("example_inputs") or []
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"case2code_execute {self.name!r}: column {self.code_column!r} is empty or not text")
        if not calls:
            return Rejected("no inputs to execute")
        entry = record.get("entry_point") or None
        parsed = [literal_call(c, entry) for c in calls]
        odd = next((c for c, p in zip(calls, parsed) if p is None), None)
        if odd is not None:
            what = f"`{entry}`" if entry else "a function"
            return Rejected(f"input `{str(odd)[:200]}` is not a call of {what} with literal arguments "
                            "(only such calls are executed; case2code_inputs keeps them with literal_only: true)")
        cases = await execute_cases(self.sandbox, code, parsed, [str(c) for c in calls],
                                    max_output_chars=self.max_output_chars)
        bad = next((c for c in cases if c["status"] != "passed"), None)
        if bad is not None:
            return Rejected(f"execution failed ({bad['status']}) on `{bad['input']}`: {bad['detail']}")
        kept = [{"input": c["input"], "output": c["output"], "error": c["error"]} for c in cases
                if c["error"] is not None or c["output"] is not None]
        if len(kept) != len(calls) and len(kept) < self.min_cases:
            return Rejected(f"{len(calls) - len(kept)} of {len(calls)} outputs longer than {self.max_output_chars} "
                            f"characters")
        if all(c["error"] is not None for c in kept):
            return Rejected(f"all {len(kept)} executions raised exceptions (first: {kept[0]['error']})")
        if len(kept) < self.min_cases:
            return Rejected(f"only {len(kept)} cases, fewer than min_cases={self.min_cases}")
        params = self.ctx.params if self.ctx else {}
        prompt = render(self.template, {**record, "cases": kept, "entry_point": record.get("entry_point")}, params)
        return {**record, "cases": kept, "prompt": prompt, "response": f"```python\n{code.strip()}\n```"}

    async def aclose(self) -> None:
        self.sandbox.close()


class Case2CodeSolve(CodeMethodStep):
    """Optional check of the task: the model answers the Case2Code ``prompt``; its function is run
    on every input and must reproduce every output (or raise the same exception type). Writes
    ``solved_code``, ``reproduces``, ``solve_status``, ``solve_reason``; with ``require_reproduce``
    rows whose answer does not reproduce the cases are rejected with that reason."""

    type_name = "case2code_solve"
    view_names = frozenset({"prompt"})

    def __init__(self, name: str, *, require_reproduce: bool = False, temperature: float = 0.0,
                 max_tokens: int = 512, citations: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(name, reads=["prompt", "cases", "entry_point"],
                         writes=["solved_code", "reproduces", "solve_status", "solve_reason"],
                         temperature=temperature, max_tokens=max_tokens, citations=[CITATION, *citations], **kwargs)
        self.require_reproduce = bool(require_reproduce)

    async def run(self, record: dict[str, Any]):
        entry = record.get("entry_point")
        cases = record.get("cases") or []
        odd = next((c for c in cases if not isinstance(c, dict) or literal_call(c.get("input"), entry or None) is None), None)
        if odd is not None:  # the cases become test code in the trusted harness: literal calls only
            shown = str(odd.get("input") if isinstance(odd, dict) else odd)[:200]
            return Rejected(f"case input `{shown}` is not a call of `{entry}` with literal arguments"), []
        [reply], call_entry = await self.texts(record, str(record.get("prompt")))
        code = extract_code(reply, entry_point=entry)
        if not code:
            status, reason = "no_code", "no Python code in the reply"
        else:
            tests = cases_to_asserts(cases)
            verdict = await self.sandbox.averify(code, tests)
            status = verdict.status
            reason = None if verdict.passed else failure_reason(verdict)
        ok = status == "passed"
        if self.require_reproduce and not ok:
            return Rejected(f"the model's function does not reproduce the cases: {reason}"), [call_entry]
        return {**self.base_columns(record), "solved_code": code, "reproduces": ok, "solve_status": status,
                "solve_reason": reason}, [call_entry]


def cases_to_asserts(cases: list[dict[str, Any]]) -> list[str]:
    """One assert test per case: equal to the output (as a literal when its repr is one, else by
    repr), or raising an exception of the same type (a type the harness does not know arrives as
    ``RemoteError("Type: message")``; an exception of the harness itself never matches). The
    tests run in the trusted harness: give only cases whose inputs pass :func:`literal_call`."""
    tests = []
    for c in cases:
        call = c["input"]
        if c.get("error"):
            exc = str(c["error"]).split(":", 1)[0].strip()
            tests.append(f"try:\n    {call}\nexcept Exception as _e:\n    _b = __import__('builtins')\n"
                         f"    _n = _b.type(_e).__name__\n"
                         f"    if _n == 'RemoteError':\n        _n = _b.str(_e.args[0] if _e.args else '').partition(':')[0]\n"
                         f"    assert (_b.hasattr(_e, 'sl_remote_traceback') or _n == 'StopIteration') and _n == {exc!r}, _n\n"
                         f"else:\n    raise AssertionError({'expected ' + exc!r})")
            continue
        out = c.get("output")
        try:
            ast.literal_eval(out)
            tests.append(f"assert {call} == {out}")
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            tests.append(f"assert repr({call}) == {out!r}")
    return tests
