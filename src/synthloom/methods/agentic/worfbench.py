"""WorFBench workflow-generation data: a task and its graph-structured workflow (Qiao et al. 2024,
"Benchmarking Agentic Workflow Generation", arXiv:2410.07869).

A workflow's nodes are the task's subtasks and its edges their dependencies, a DAG between the
virtual ``START`` and ``END`` nodes (:mod:`.worfbench_graph`). WorFBench builds its training and test
data by having a strong model write the workflow of each task and keeping the workflows that pass
its checks; its WorFEval scores a generated workflow against the gold one (:mod:`.worfbench_eval`).

* :class:`WorfbenchGenerate` (``worfbench_generate``) asks the model for the workflow under a JSON
  schema: numbered subtask nodes (for a task with tools, each node a call of one of them: ``tool``
  and ``arguments``) and ``{"from", "to"}`` edges with ``START`` and ``END``.
* :class:`WorfbenchCheck` (``worfbench_check``) keeps the workflow only when the graph is valid —
  no dangling edge, acyclic, connected, every node reachable from ``START`` and leading to ``END``,
  every node a call of the task's tools — and, for a task with tools, when the calls, made in a
  topological order in the sandbox against the bundled tool implementations, all return a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import xxhash

from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import Rejected, StreamStep
from ...records import adopt_rows
from .apigen_checks import implementations
from .worfbench_eval import CITATION
from .worfbench_graph import WorkflowError, parse_workflow, topological_order, workflow_problems

_TEXT = {"type": "string"}
#: the longest subtask text the schema allows (a small model may otherwise never close the string)
MAX_SUBTASK_CHARS = 200


def task_tools(record: dict[str, Any], column: str, available: dict[str, Any], step: str) -> list[Any] | None:
    """The tools the row's task offers (``column``: a list of tool names), ``None`` when it has none."""
    names = record.get(column)
    if names is None or names == []:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"step {step!r}: column {column!r} must be a list of tool names, not {names!r}")
    missing = [n for n in names if n not in available]
    if missing:
        raise ValueError(f"step {step!r}: the task names tool(s) {', '.join(missing)} that have no implementation; "
                         "use names of the bundled catalogue (synthloom tools) or give tools_file")
    return [available[n] for n in names]


def workflow_schema(tool_names: list[str] | None, max_nodes: int) -> dict[str, Any]:
    """The generator's reply (no ``maxItems``: llama.cpp expands it into a grammar that makes decoding crawl; the
    step rejects workflows over ``max_nodes``): numbered nodes (with ``tool`` and ``arguments`` when the
    task has tools) and the dependency edges, ``START`` and ``END`` included."""
    node: dict[str, Any] = {"id": {"type": "integer", "minimum": 1, "maximum": max_nodes},
                            "subtask": {"type": "string", "maxLength": MAX_SUBTASK_CHARS}}
    if tool_names:
        node.update({"tool": {"type": "string", "enum": list(tool_names)}, "arguments": {"type": "object"}})
    edge = {"type": "object", "properties": {"from": _TEXT, "to": _TEXT}, "required": ["from", "to"]}
    return {"type": "object", "properties": {
        "nodes": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": node, "required": list(node)}},
        "edges": {"type": "array", "minItems": 1, "items": edge}},
        "required": ["nodes", "edges"]}


def _implementations_digest(tools: dict[str, Any]) -> str:
    return xxhash.xxh3_64_hexdigest(orjson.dumps(sorted((t.name, t.entry, t.module.name, t.module.source) for t in tools.values())))


class WorfbenchGenerate(ModelStep):
    """Writes the workflow of the task in ``task_column`` into ``workflow`` (normal form, see
    :mod:`.worfbench_graph`), under a JSON schema of at most ``max_nodes`` nodes. A task with tools
    (``tools_column``: names from the bundled catalogue or ``tools_file``) gets their descriptions
    and parameters in the prompt, and every node is a call of one of them."""

    type_name = "worfbench_generate"
    default_sampling = {"temperature": 0.7, "max_tokens": 1024}

    def __init__(self, name: str, *, task_column: str = "task", tools_column: str = "tools", max_nodes: int = 10,
                 tools_file: str | None = None, template: str | None = None, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if not 1 <= int(max_nodes) <= 50:
            raise ValueError(f"worfbench_generate {name!r}: max_nodes must be between 1 and 50, not {max_nodes}")
        super().__init__(name, reads=[task_column], writes=["workflow"], citations=[CITATION, *citations], **kwargs)
        self.task_column, self.tools_column, self.max_nodes = task_column, tools_column, int(max_nodes)
        self.available = implementations(tools_file)
        self.template = template if template is not None else self.load_template("worfbench_generate.jinja")
        self.read_columns(self.template, not_columns={"task", "tools", "max_nodes"})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "implementations": _implementations_digest(self.available)}

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        task = str(record.get(self.task_column) or "").strip()
        if not task:
            raise ValueError(f"step {self.name!r}: column {self.task_column!r} is empty; it must state the task")
        tools = task_tools(record, self.tools_column, self.available, self.name)
        shown = [{"name": t.name, "description": t.description, "parameters": orjson.dumps(t.parameters).decode()}
                 for t in tools or []]
        prompt = self.render(self.template, {**record, "task": task, "tools": shown, "max_nodes": self.max_nodes})
        schema = workflow_schema([t.name for t in tools] if tools else None, self.max_nodes)
        response, entry = await self.call(record, chat(prompt.strip()), json_schema=schema)
        try:
            workflow = parse_workflow(response.parsed)
        except WorkflowError as e:
            return Rejected(f"the generator wrote no workflow ({e})")
        if len(workflow["nodes"]) > self.max_nodes:
            return Rejected(f"the workflow has {len(workflow['nodes'])} nodes, more than max_nodes {self.max_nodes}")
        return adopt_rows(record, {**record, "workflow": workflow}, self.name, [entry])


class WorfbenchCheck(StreamStep):
    """Keeps a row's ``workflow`` only when its graph is valid (:func:`.worfbench_graph.workflow_problems`:
    dangling edges, cycles, connectivity, reachability from ``START`` and to ``END``; for a task with
    tools, every node a call of one of them, unless ``require_tools`` is off) and, for a task with tools
    and ``execute``, when its calls — arguments checked against the tools' schemas, then made in a
    topological order in one sandbox run (``timeout`` seconds, ``memory_mb``) — all return a value.
    Writes ``workflow`` (normal form), ``order`` (a topological order of the node ids) and
    ``execution`` (per call: node, tool, status, value or error; null without tools). Rejected rows
    say which check failed."""

    type_name = "worfbench_check"
    runtime_options = ("workers",)

    def __init__(self, name: str, *, tools_column: str = "tools", execute: bool = True, require_tools: bool = True,
                 tools_file: str | None = None, timeout: float = 5.0, memory_mb: int = 512, workers: int | None = None,
                 inputs: Iterable[str] = (), citations: Iterable[str] = ()) -> None:
        from ...tools.executor import ToolExecutor

        super().__init__(name, inputs=inputs, reads=["workflow"], writes=["workflow", "order", "execution"],
                         citations=[CITATION, *citations])
        self.tools_column, self.execute, self.require_tools = tools_column, bool(execute), bool(require_tools)
        self.available = implementations(tools_file)
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "implementations": _implementations_digest(self.available)}

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        try:
            workflow = parse_workflow(record.get("workflow"))
        except WorkflowError as e:
            return Rejected(f"not a workflow: {e}")
        tools = task_tools(record, self.tools_column, self.available, self.name)
        problems = workflow_problems(workflow, [t.name for t in tools] if tools else None, require_tools=self.require_tools)
        if problems:
            return Rejected("invalid workflow graph: " + "; ".join(problems))
        order = topological_order(workflow)
        execution = None
        if tools and self.execute:
            verdict = await self.run_calls(workflow, order, tools)
            if isinstance(verdict, Rejected):
                return verdict
            execution = verdict
        return adopt_rows(record, {**record, "workflow": workflow, "order": order, "execution": execution}, self.name,
                          [{"step": self.name}])

    async def run_calls(self, workflow: dict[str, Any], order: list[str], tools: list[Any]) -> list[dict[str, Any]] | Rejected:
        """The nodes' calls, checked then made in ``order``; a :class:`Rejected` naming the first that fails."""
        from ...tools.validate import call_problem

        by_id = {n["id"]: n for n in workflow["nodes"]}
        calls = [{"id": f"node-{i}", "name": by_id[i]["tool"], "arguments": by_id[i]["arguments"]} for i in order if by_id[i]["tool"]]
        for call in calls:
            problem = call_problem(call, tools)
            if problem:
                return Rejected(f"node {call['id'][5:]}: {problem}")
        if not calls:
            return []
        results = await self.executor.arun(tools, calls)
        out = []
        for call, result in zip(calls, results):
            if result.status != "ok":
                return Rejected(f"node {call['id'][5:]} ({call['name']}) failed when executed: {result.status}: "
                                f"{(result.error or '').strip()[:160]}")
            out.append({"node": call["id"][5:], "tool": call["name"], "status": result.status, "value": result.value})
        return out

    async def aclose(self) -> None:
        self.executor.close()
