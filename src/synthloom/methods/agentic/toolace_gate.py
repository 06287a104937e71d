"""The gate a ToolACE-synthesized tool passes before it enters a catalogue.

Liu et al. 2024, "ToolACE: Winning the Points of LLM Function Calling", arXiv:2409.00920. The paper checks its data
with a rule layer and a model layer; its synthesized APIs are simulated, never run. Here a tool must be real:

1. its spec validates (:func:`function_schema`: a Python-identifier name, typed parameters, a JSON schema that
   ``synthloom.llm.tools.tools_problem`` and ``jsonschema`` accept);
2. its implementation parses, imports only the standard library and defines the function with the spec's
   parameters (``synthloom.tools.spec.tool_from_schema``; the source is parsed on the host, never run there);
3. at least ``min_tests`` of the model's assert tests call the tool, and all of them pass in the sandbox, judged by
   the trusted harness (``synthloom.verify.code.verify_code``): the tool's code runs in its own jailed process and
   cannot forge a pass. Network access, writes outside the work dir, endless loops and memory bombs end as the
   sandbox's ``forbidden`` / ``timeout`` / ``memory`` status in the rejected row's reason.

:class:`ToolaceGate` is that gate: each failure is a rejected row with the reason. The kept tools go on to
:mod:`.toolace_catalogue`.
"""

from __future__ import annotations

import ast
import keyword
import sys
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ...llm.tools import tools_problem
from ...pipeline.step import MapStep, Rejected
from ...sandbox import PoolClosed
from ...tools.spec import safe_module_name, tool_from_schema
from ...verify.code import CodeVerdict, SandboxClient
from ..code.execution import failure_reason
from .toolace import CITATION, PARAM_TYPES

#: the columns the gate adds to a kept row
GATE_COLUMNS = ("tool", "gate")


def function_schema(spec: Any) -> tuple[dict[str, Any] | None, str | None]:
    """``({"name", "description", "parameters"}, None)`` for a valid spec, else ``(None, why)``. ``spec`` is the
    model's form (``parameters`` a list of ``{name, type, description, required, enum?}``) or a function schema
    whose ``parameters`` is already a JSON schema; ``returns``, when given, is appended to the description."""
    if not isinstance(spec, dict):
        return None, f"the spec must be a JSON object, not {type(spec).__name__}"
    name, description = spec.get("name"), spec.get("description")
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or len(name) > 64:
        return None, f"the tool name {name!r} is not a Python function name (letters, digits and '_', at most 64)"
    if not isinstance(description, str) or not description.strip():
        return None, f"tool {name!r} has no description"
    params = spec.get("parameters")
    if isinstance(params, list):
        parameters, problem = _schema_of(params)
        if problem:
            return None, f"tool {name!r}: {problem}"
    elif isinstance(params, dict):
        parameters = params
    else:
        return None, f"tool {name!r}: parameters must be a list of parameters or a JSON schema, not {type(params).__name__}"
    returns = spec.get("returns")
    text = description.strip() + (f" Returns: {returns.strip()}" if isinstance(returns, str) and returns.strip() else "")
    fn = {"name": name, "description": text, "parameters": parameters}
    problem = tools_problem([{"type": "function", "function": fn}])
    if problem:
        return None, problem.replace("tools[0]", "the spec", 1)
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        return None, f"tool {name!r}: the parameters are not a valid JSON schema ({exc.message})"
    return fn, None


def _schema_of(params: list[Any]) -> tuple[dict[str, Any], str | None]:
    properties: dict[str, Any] = {}
    required = []
    for i, p in enumerate(params):
        pname = p.get("name") if isinstance(p, dict) else None
        if not isinstance(pname, str) or not pname.isidentifier() or keyword.iskeyword(pname):
            return {}, f"parameter {i} name {pname!r} is not a Python identifier"
        if pname in properties:
            return {}, f"two parameters are named {pname!r}"
        kind = p.get("type")
        if kind not in PARAM_TYPES:
            return {}, f"parameter {pname!r} has type {kind!r}; use one of {', '.join(PARAM_TYPES)}"
        schema = dict(PARAM_TYPES[kind])
        if isinstance(p.get("description"), str) and p["description"].strip():
            schema["description"] = p["description"].strip()
        enum = p.get("enum")
        if enum:
            if kind != "string" or not isinstance(enum, list) or not all(isinstance(e, str) for e in enum):
                return {}, f"parameter {pname!r}: an enum is a list of strings on a string parameter"
            schema["enum"] = list(dict.fromkeys(enum))
        properties[pname] = schema
        if p.get("required", True):
            required.append(pname)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    return out, None


def implementation_problem(code: Any) -> str | None:
    """Why ``code`` cannot be a tool module (empty, does not parse, imports outside the standard library), or None.
    What the code does when it runs is the sandbox's to judge."""
    if not isinstance(code, str) or not code.strip():
        return "the implementation reply has no Python code"
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        return f"the implementation does not parse ({type(exc).__name__}: {exc})"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            return "the implementation uses a relative import; a tool module stands alone"
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for full in names:
            top = full.split(".")[0]
            if top not in sys.stdlib_module_names:
                return f"the implementation imports {top!r}, which is not in the Python standard library"
    return None


def calling_tests(tests: Any, name: str) -> list[str]:
    """The tests (assert source strings) that call function ``name``."""
    out = []
    for t in tests if isinstance(tests, list) else []:
        try:
            tree = ast.parse(t) if isinstance(t, str) else None
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            tree = None
        if tree is not None and any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
                                    for n in ast.walk(tree)):
            out.append(t)
    return out


class ToolaceGate(MapStep):
    """The ToolACE gate (see the module doc): spec, implementation and sandboxed tests of each synthesized tool.
    A passing row gets ``tool`` (the catalogue entry in ``load_tools`` JSON form: ``name``, ``description``,
    ``parameters``, ``category`` = the domain, ``source``) and ``gate`` (``status``, ``tests``, ``pass_rate``);
    every other row is rejected with the reason (``sandbox <status>: ...`` when its tests ran). Reads
    ``domain``, ``tool_spec``, ``implementation`` and ``tests``. ``timeout`` is seconds per test, ``memory_mb`` the
    address-space limit, ``workers`` the warm sandbox workers (speed only)."""

    type_name = "toolace_gate"
    runtime_options = ("workers",)

    def __init__(self, name: str, *, min_tests: int = 2, timeout: float = 2.0, memory_mb: int = 256,
                 workers: int | None = None, inputs: list[str] | None = None) -> None:
        if int(min_tests) < 1:
            raise ValueError(f"toolace_gate {name!r}: min_tests must be >= 1, not {min_tests}")
        super().__init__(name, inputs=inputs or (), reads=["domain", "tool_spec", "implementation", "tests"],
                         writes=GATE_COLUMNS, citations=[CITATION])
        self.min_tests, self.timeout, self.memory_mb = int(min_tests), float(timeout), int(memory_mb)
        self.sandbox = SandboxClient(timeout=self.timeout, memory_mb=self.memory_mb, workers=workers,
                                     thread_name=name)

    def check(self, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | Rejected:
        """The catalogue entry and the tests to run, or the rejection (no sandbox involved)."""
        fn, problem = function_schema(record.get("tool_spec"))
        if fn is None:
            return Rejected(f"invalid tool spec: {problem}", 0.0)
        code = record.get("implementation")
        problem = implementation_problem(code)
        if problem:
            return Rejected(f"tool {fn['name']!r}: {problem}", 0.0)
        domain = str(record.get("domain") or "synthesized")
        try:
            tool = tool_from_schema(fn, code, category=domain, module_name=safe_module_name(f"{fn['name']}_impl"))
        except ValueError as exc:
            return Rejected(f"the implementation does not match the spec: {exc}", 0.0)
        tests = calling_tests(record.get("tests"), tool.name)
        if len(tests) < self.min_tests:
            return Rejected(f"tool {tool.name!r}: {len(tests)} test(s) call it; at least {self.min_tests} are needed", 0.0)
        entry = {"name": tool.name, "description": tool.description, "parameters": tool.parameters,
                 "category": domain, "source": code}
        return entry, tests

    def verify(self, code: str, tests: list[str]) -> CodeVerdict:
        try:
            return self.sandbox.verify(code, tests, timeout=self.timeout, memory_mb=self.memory_mb)
        except PoolClosed:
            raise  # the run is stopping: no verdict; the row is redone on resume
        except Exception as exc:  # noqa: BLE001 - one tool's trouble on the host is that tool's verdict
            return CodeVerdict(False, "crashed", [], 0.0, f"the sandbox failed: {type(exc).__name__}: {exc}")

    async def amap(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:  # type: ignore[override]
        checked = self.check(record)
        if isinstance(checked, Rejected):
            return checked
        entry, tests = checked
        verdict = await self.sandbox.call(self.verify, entry["source"], tests)
        if not verdict.passed:
            return Rejected(f"sandbox {verdict.status}: tool {entry['name']!r}: {failure_reason(verdict)}",
                            verdict.pass_rate)
        gate = {"status": verdict.status, "tests": tests, "pass_rate": verdict.pass_rate}
        return {**record, "tool": entry, "gate": gate}

    async def aclose(self) -> None:
        self.sandbox.close()
