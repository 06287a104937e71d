"""Workflow graphs as WorFBench writes them (Qiao et al. 2024, "Benchmarking Agentic Workflow
Generation", arXiv:2410.07869): reading, validating and ordering them.

A workflow is a DAG whose nodes are the subtasks of a task and whose edges are their dependencies,
with the paper's two virtual nodes: ``START`` precedes the nodes that depend on nothing, ``END``
follows the ones nothing depends on. The normal form used everywhere in synthloom::

    {"nodes": [{"id": "1", "subtask": "Convert 5 miles to km", "tool": "convert_length",
                "arguments": {"value": 5, "from_unit": "mi", "to_unit": "km"}}, ...],
     "edges": [["START", "1"], ["1", "2"], ["2", "END"]]}

``tool`` and ``arguments`` are there for tasks that come with tools (WorFBench's function-call
tasks, where each node is one call); ``tool`` is ``None`` elsewhere. :func:`parse_workflow` also
reads the compact form used for gold workflows (``"nodes": ["subtask", ...]``, ids 1..n, and edges
as ``[from, to]`` pairs or ``{"from", "to"}`` objects).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from typing import Any

START, END = "START", "END"
VIRTUAL = (START, END)


class WorkflowError(ValueError):
    """A workflow that cannot even be read (not an object, no node list)."""


def _node_id(value: Any) -> str:
    text = str(value).strip()
    if text.upper() in VIRTUAL:
        return text.upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text


def parse_workflow(raw: Any) -> dict[str, Any]:
    """The normal form of a workflow (see the module doc); :class:`WorkflowError` when ``raw`` has no
    node list. Nothing is validated here beyond the shape: :func:`workflow_problems` says what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list):
        raise WorkflowError("a workflow is an object with a 'nodes' list and an 'edges' list")
    nodes = []
    for i, node in enumerate(raw["nodes"], start=1):
        if isinstance(node, dict):
            args = node.get("arguments")
            tool = node.get("tool")
            nodes.append({"id": _node_id(node.get("id", i)), "subtask": str(node.get("subtask") or node.get("task") or "").strip(),
                          "tool": str(tool).strip() or None if tool is not None else None,
                          "arguments": args if isinstance(args, dict) else {}})
        else:
            nodes.append({"id": str(i), "subtask": str(node).strip(), "tool": None, "arguments": {}})
    edges = []
    for edge in raw.get("edges") or []:
        if isinstance(edge, dict):
            edges.append([_node_id(edge.get("from", "")), _node_id(edge.get("to", ""))])
        elif isinstance(edge, (list, tuple)) and len(edge) == 2:
            edges.append([_node_id(edge[0]), _node_id(edge[1])])
        else:
            edges.append([_node_id(edge), ""])  # reported as a dangling edge
    return {"nodes": nodes, "edges": edges}


def _adjacency(ids: Iterable[str], edges: list[list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        out.setdefault(a, []).append(b)
    return out


def _reached(adjacency: dict[str, list[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in adjacency.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def find_cycle(ids: list[str], edges: list[list[str]]) -> list[str] | None:
    """A cycle among the nodes (as a closed path of ids), or ``None`` for a DAG."""
    adjacency = _adjacency(ids, [e for e in edges if e[0] in ids and e[1] in ids])
    colour = dict.fromkeys(ids, 0)
    for root in ids:
        if colour[root]:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(adjacency[root]))]
        path, colour[root] = [root], 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour[child] == 1:
                return path[path.index(child):] + [child]
            elif colour[child] == 0:
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(adjacency[child])))
    return None


def workflow_problems(workflow: dict[str, Any], tools: Iterable[str] | None = None, *,
                      require_tools: bool = True) -> list[str]:
    """What makes ``workflow`` (normal form) invalid, in order — an empty list for a valid one:
    no nodes, duplicate ids or empty subtasks; dangling edges (an end that is no node, ``START`` as a
    target, ``END`` as a source); self-loops and cycles; a graph that is not connected; nodes that
    ``START`` does not reach or that do not reach ``END``; and, when the task has ``tools``, nodes
    naming a tool it does not offer (or none, with ``require_tools``)."""
    nodes, edges = workflow["nodes"], workflow["edges"]
    if not nodes:
        return ["the workflow has no nodes"]
    ids = [n["id"] for n in nodes]
    problems = []
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"node ids are not unique: {', '.join(dupes)}")
    if any(i in VIRTUAL or not i for i in ids):
        problems.append("a node is named START, END or nothing; number the subtasks 1..n")
    empty = [n["id"] for n in nodes if not n["subtask"]]
    if empty:
        problems.append(f"node(s) {', '.join(empty)} have no subtask text")
    known = set(ids)
    dangling = [f"{a}->{b}" for a, b in edges if (a not in known and a != START) or (b not in known and b != END)]
    if dangling:
        problems.append(f"dangling edge(s) {', '.join(dangling[:5])}: an end is not a node (or START is a target, END a source)")
    if problems:
        return problems
    loops = [a for a, b in edges if a == b]
    if loops:
        return [f"node {loops[0]} depends on itself"]
    cycle = find_cycle(ids, edges)
    if cycle:
        return [f"the workflow has a cycle: {' -> '.join(cycle)}"]
    undirected: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        undirected[a].add(b)
        undirected[b].add(a)
    component = _reached({k: list(v) for k, v in undirected.items()}, ids[0])
    apart = [i for i in ids if i not in component]
    if apart:
        return [f"the workflow is not connected: node(s) {', '.join(apart)} share no edge, even through START/END, with node {ids[0]}"]
    forward = _adjacency([START, *ids], edges)
    unreachable = [i for i in ids if i not in _reached(forward, START)]
    if unreachable:
        return [f"node(s) {', '.join(unreachable)} cannot be reached from START"]
    backward = _adjacency([END, *ids], [[b, a] for a, b in edges])
    dead = [i for i in ids if i not in _reached(backward, END)]
    if dead:
        return [f"node(s) {', '.join(dead)} never lead to END"]
    if tools is not None:
        offered = set(tools)
        for n in nodes:
            if n["tool"] is None and require_tools:
                problems.append(f"node {n['id']} names no tool; this task's tools: {', '.join(sorted(offered))}")
            elif n["tool"] is not None and n["tool"] not in offered:
                problems.append(f"node {n['id']} uses {n['tool']!r}, not one of this task's tools ({', '.join(sorted(offered))})")
    return problems


def topological_order(workflow: dict[str, Any]) -> list[str]:
    """The node ids in dependency order (Kahn's algorithm; ties in the order the nodes are listed).
    The workflow must be a DAG (see :func:`workflow_problems`)."""
    ids = [n["id"] for n in workflow["nodes"]]
    inner = [e for e in workflow["edges"] if e[0] in ids and e[1] in ids]
    indegree = dict.fromkeys(ids, 0)
    for _, b in inner:
        indegree[b] += 1
    adjacency = _adjacency(ids, inner)
    rank = {i: k for k, i in enumerate(ids)}
    ready = deque(sorted((i for i in ids if indegree[i] == 0), key=rank.__getitem__))
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for nxt in adjacency[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
        ready = deque(sorted(ready, key=rank.__getitem__))
    return order


def topological_sorts(workflow: dict[str, Any], limit: int = 20, max_nodes: int = 10) -> list[list[str]]:
    """Up to ``limit`` topological orders of the nodes (WorFEval scores a predicted chain against each
    gold order); a workflow of ``max_nodes`` or more nodes gets only :func:`topological_order`."""
    ids = [n["id"] for n in workflow["nodes"]]
    if len(ids) >= max_nodes:
        return [topological_order(workflow)]
    inner = [e for e in workflow["edges"] if e[0] in ids and e[1] in ids]
    preds = {i: {a for a, b in inner if b == i} for i in ids}
    out: list[list[str]] = []

    def extend(prefix: list[str], placed: set[str]) -> None:
        if len(out) >= limit:
            return
        if len(prefix) == len(ids):
            out.append(list(prefix))
            return
        for i in ids:
            if i not in placed and preds[i] <= placed:
                prefix.append(i)
                placed.add(i)
                extend(prefix, placed)
                placed.discard(i)
                prefix.pop()

    extend([], set())
    return out or [topological_order(workflow)]
