"""ALMITA's procedures as flow graphs, the paths through them, and the cases (facts) each path is grounded in.

Arcadinho et al. 2024, "Automated test generation to evaluate tool-augmented LLMs as conversational AI agents",
arXiv:2409.15934 (ALMITA). The paper turns a customer-service *procedure* into a flow graph of agent actions
(messages and API calls) whose edges are the customer's answers and the APIs' outcomes, samples paths through
it, and has an LLM write a conversation along each path. Here the procedures are bundled, written for the
``store`` environment (``agent_tests_procedures.json``, laid out as its ``about`` says), so that every call
on a path can be executed against the environment's real tools.

A path is a list of steps (``say``: an agent message and the customer's reply, if any; ``call``: a tool call
with its expected arguments and the outcome the path takes). A path is grounded in a *case*: the facts of one
row of the environment's seed data (an order and its customer, say) that make the environment answer as the
path expects — a pending order for the "cancel" branch, a made-up email for the "no account" branch.
:class:`AgentTestPaths` (``agent_test_paths``) emits one row per (path, case).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import xxhash

from ...envs.environment import load_environment
from ...pipeline.step import SourceStep

CITATION = ("Arcadinho et al. 2024, Automated test generation to evaluate tool-augmented LLMs as conversational AI "
            "agents, arXiv:2409.15934")
PROCEDURES_FILE = Path(__file__).parent / "agent_tests_procedures.json"
UNKNOWN = "unknown"
MAX_STEPS = 40


class ProcedureError(ValueError):
    """A procedure file is missing, malformed, or names nodes, tools or facts that do not exist."""


def load_procedures(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The procedures of ``path`` (default: the bundled file), checked: every edge names a node, every call
    a tool of its environment, every path reaches an end."""
    p = Path(path) if path is not None else PROCEDURES_FILE
    if not p.is_file():
        raise ProcedureError(f"procedure file {p} does not exist; lay one out like {PROCEDURES_FILE.name}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ProcedureError(f"{p} line {e.lineno}: not valid JSON ({e.msg})") from None
    procedures = data.get("procedures") if isinstance(data, dict) else None
    if not isinstance(procedures, list) or not procedures:
        raise ProcedureError(f"{p}: needs a non-empty list 'procedures' (see {PROCEDURES_FILE.name})")
    for i, proc in enumerate(procedures):
        _check(proc, f"{p}: procedures[{i}]")
    return procedures


def _check(proc: Any, where: str) -> None:
    if not isinstance(proc, dict):
        raise ProcedureError(f"{where} must be an object")
    for key in ("name", "environment", "title", "text", "start"):
        if not isinstance(proc.get(key), str) or not proc[key].strip():
            raise ProcedureError(f"{where} needs a {key!r} string")
    nodes = proc.get("nodes")
    if not isinstance(nodes, dict) or proc["start"] not in nodes:
        raise ProcedureError(f"{where} ({proc['name']}): 'nodes' must be an object holding the start node {proc['start']!r}")
    try:
        env = load_environment(proc["environment"])
    except ValueError as e:
        raise ProcedureError(f"{where} ({proc['name']}): {e}") from None
    for node_id, node in nodes.items():
        at = f"{where} ({proc['name']}) node {node_id!r}"
        if "call" in node:
            if node["call"] not in env.tool_names:
                raise ProcedureError(f"{at}: {node['call']!r} is not a tool of {proc['environment']!r}")
            targets = [node.get("ok"), node.get("error"), *(node.get("branch") or {}).get("cases", {}).values(),
                       (node.get("branch") or {}).get("else")]
        elif "say" in node:
            targets = [] if node.get("end") else [node.get("next")]
        else:
            raise ProcedureError(f"{at}: a node needs 'say' (a message) or 'call' (a tool)")
        missing = [t for t in targets if t is not None and t not in nodes]
        if missing or not any(t is not None for t in targets) and not node.get("end"):
            raise ProcedureError(f"{at}: leads to {missing[0]!r}, not a node" if missing else f"{at}: leads nowhere; "
                                 "give 'next' (say), 'ok'/'error'/'branch' (call) or 'end': true")


def _edges(node: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """A call node's outcomes: (outcome, target, requirements on the facts)."""
    out = []
    branch = node.get("branch")
    if branch:
        field, cases = branch["field"], branch.get("cases") or {}
        out += [(f"{field}={prefix}", target, [(field, prefix)]) for prefix, target in cases.items()]
        if branch.get("else"):
            out.append((f"{field}=other", branch["else"], [(field, "!" + p) for p in cases]))
        return out
    error_needs = [(k, v) for k, v in (node.get("requires_error") or {}).items()]
    if node.get("ok"):
        out.append(("ok", node["ok"], [(k, "!" + v) if v != UNKNOWN else (k, "known") for k, v in error_needs]))
    if node.get("error"):
        out.append(("error", node["error"], error_needs))
    return out


def procedure_paths(proc: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every path from the start to an end node (no node visited twice), as steps: ``{"node", "say", "user"}``
    or ``{"node", "call", "args", "outcome", "requires"}`` (facts not yet filled in)."""
    nodes, paths = proc["nodes"], []

    def walk(node_id: str, steps: list[dict[str, Any]], seen: frozenset[str]) -> None:
        node = nodes[node_id]
        if len(steps) >= MAX_STEPS:
            raise ProcedureError(f"procedure {proc['name']!r}: a path is longer than {MAX_STEPS} steps")
        if "say" in node:
            step = {"node": node_id, "say": node["say"], "user": node.get("user")}
            if node.get("end") or node.get("next") in seen:
                paths.append([*steps, step])
            else:
                walk(node["next"], [*steps, step], seen | {node["next"]})
            return
        for outcome, target, requires in _edges(node):
            if target in seen:
                continue
            step = {"node": node_id, "call": node["call"], "args": dict(node.get("args") or {}), "outcome": outcome,
                    "requires": requires}
            walk(target, [*steps, step], seen | {target})

    walk(proc["start"], [], frozenset({proc["start"]}))
    return paths


def meets(value: Any, requirement: str) -> bool:
    """Whether ``value`` meets a requirement: a prefix, ``!prefix`` (not), ``known`` or ``unknown`` (anything)."""
    text = str(value)
    if requirement == "known":
        return True
    if requirement.startswith("!"):
        return not text.startswith(requirement[1:])
    return requirement == UNKNOWN or text.startswith(requirement)


def case_candidates(proc: dict[str, Any], requires: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The rows of the environment's seed (joined as the procedure's ``facts`` say) that meet ``requires``."""
    spec = proc.get("facts") or {}
    seed = load_environment(proc["environment"]).seed
    rows = seed.get(spec.get("rows", ""))
    if not rows:
        raise ProcedureError(f"procedure {proc['name']!r}: facts.rows must name a table of {proc['environment']!r}")
    if spec.get("join"):
        index = {r[spec["on"]]: r for r in seed[spec["join"]]}
        rows = [{**index[r[spec["on"]]], **r} for r in rows if r.get(spec["on"]) in index]
    return [r for r in rows if all(meets(r.get(k), v) for k, v in requires if v != UNKNOWN)]


def ground(proc: dict[str, Any], path: list[dict[str, Any]], rng: random.Random) -> dict[str, Any] | None:
    """The facts of one case for ``path`` (None when the seed has no row meeting its requirements): a row of
    the seed, the procedure's ``choices`` drawn, and made-up values for the facts the path needs ``unknown``."""
    requires = [r for step in path for r in step.get("requires", [])]
    rows = case_candidates(proc, requires)
    if not rows:
        return None
    facts = dict(rng.choice(rows))
    for name, options in ((proc.get("facts") or {}).get("choices") or {}).items():
        facts[name] = rng.choice(options)
    for name, requirement in requires:
        if requirement == UNKNOWN:
            facts[name] = {"email": f"{facts.get('first_name', 'someone').lower()}.{rng.randint(100, 999)}@nowhere.example",
                           "zip": "00000"}.get(name, f"no-such-{name}")
    return facts


def grounded(path: list[dict[str, Any]], facts: dict[str, Any]) -> list[dict[str, Any]]:
    """``path`` with the facts filled in: texts formatted, each call's ``arguments`` the facts its ``args`` name."""
    out = []
    for step in path:
        requires = step.get("requires") or []
        step = {k: v for k, v in step.items() if k != "requires"}
        if "=" in step.get("outcome", ""):  # a branch on a field of the result: what that field must be
            step["expect"] = [[name, requirement] for name, requirement in requires]
        for key in ("say", "user"):
            if step.get(key):
                step[key] = step[key].format_map(facts)
        if "call" in step:
            step["arguments"] = {arg: facts[fact] for arg, fact in step.pop("args").items()}
        out.append(step)
    return out


class AgentTestPaths(SourceStep):
    """Source of ALMITA paths (Arcadinho et al. 2024): every path through each procedure's flow graph
    (``procedures``: a file laid out like the bundled one; ``names`` restricts them), grounded in a case of
    the environment's seed data. Rows: ``procedure``, ``environment``, ``title``, ``procedure_text``,
    ``path_id``, ``path`` (steps with expected call arguments and outcomes), ``facts``. ``n`` rows in all,
    going round the paths (``null``: each path once); deterministic in ``seed``."""

    type_name = "agent_test_paths"
    columns = ("procedure", "environment", "title", "procedure_text", "path_id", "path", "facts")

    def __init__(self, name: str, *, n: int | None = None, procedures: str | None = None, names: list[str] | None = None,
                 seed: int = 0, citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, *citations])
        where = f"agent_test_paths {name!r}"
        if n is not None and int(n) < 0:
            raise ValueError(f"{where}: n must be >= 0 or null (each path once), not {n}")
        try:
            procs = load_procedures(procedures)
        except ProcedureError as e:
            raise ValueError(f"{where}: {e}") from None
        known = [p["name"] for p in procs]
        unknown = [x for x in names or () if x not in known]
        if unknown:
            raise ValueError(f"{where}: no procedure {unknown[0]!r}; the file has {', '.join(known)}")
        self.procs = [p for p in procs if not names or p["name"] in names]
        self.paths = [(p, i, path) for p in self.procs for i, path in enumerate(procedure_paths(p))]
        self.n, self.seed, self.source = None if n is None else int(n), int(seed), procedures
        self.digest = xxhash.xxh3_64_hexdigest(json.dumps(self.procs, sort_keys=True).encode())

    def draw(self, index: int) -> dict[str, Any]:
        proc, path_no, path = self.paths[index % len(self.paths)]
        rng = random.Random(xxhash.xxh3_64_intdigest(f"{self.seed}\x1f{index}\x1falmita".encode()))
        facts = ground(proc, path, rng)
        if facts is None:
            raise ValueError(f"agent_test_paths {self.name!r}: no row of {proc['environment']!r} fits path {path_no} of "
                             f"procedure {proc['name']!r}; change the procedure's facts or requirements")
        return {"procedure": proc["name"], "environment": proc["environment"], "title": proc["title"],
                "procedure_text": proc["text"], "path_id": f"{proc['name']}/{path_no}",
                "path": grounded(path, facts), "facts": facts}

    def count(self, limit: int | None = None) -> int | None:
        total = len(self.paths) if self.n is None else self.n
        return total if limit is None else min(total, limit)

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        for i in range(self.count(limit) or 0):
            yield self.draw(i)

    def fingerprint(self) -> str:
        return self.digest
