"""Agent environments (issue "Agentic data II"): environment steps per second and agent trajectories per minute.

* **Environment steps/s** — one step is what the agent loop does per action: ``session.act([call])`` (one sandbox
  run: the call executed for real, in a fresh jail) and ``session.observation(result)``. ``--sessions`` sessions step
  concurrently, each ``--steps`` times in a row, through one ``ToolExecutor`` with ``--workers`` warm jails.
  ``text_to_sql``: a mix of list_tables, describe_table, sample_rows and run_query (joins and aggregates over the
  university database, built in memory per run); ``store``: a mix of lookups and a cancellation (the τ-bench-style
  store, whose whole state travels into each jail as JSON and back out through the hidden dump calls).
* **Trajectories/min** — the ``agent_loop`` step over ``text_to_sql`` on a scripted model (no model cost): per task
  list_tables, run_query, finish, then the check (both queries in one more sandbox run), ``--concurrency`` tasks at
  once; every trajectory passes and is kept.

    .venv/bin/python benchmarks/bench_agent_env.py [--steps 40] [--sessions 4] [--trajectories 40] [--repeats 3]

Writes benchmarks/results/bench_agent_env.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthloom.envs.agent_env import open_environment
from synthloom.llm.tools import ToolCall
from synthloom.methods.agentic.agent_loop import AgentLoop
from synthloom.testing.scripted import ScriptedModel, scripted_context, tool_calls
from synthloom.tools.executor import ToolExecutor

SQL_CALLS = [
    ("list_tables", {}),
    ("describe_table", {"table": "enrollments"}),
    ("sample_rows", {"table": "courses", "limit": 5}),
    ("run_query", {"sql": "SELECT d.name, COUNT(*) FROM students s JOIN departments d ON s.major_dept_id = d.dept_id "
                          "GROUP BY d.name ORDER BY 2 DESC"}),
    ("run_query", {"sql": "SELECT c.title, AVG(e.grade_points) FROM enrollments e JOIN sections x ON e.section_id = x.section_id "
                          "JOIN courses c ON x.course_id = c.course_id GROUP BY c.title"}),
]
STORE_CALLS = [
    ("get_user_details", {"user_id": "mia_garcia_1991"}),
    ("list_user_orders", {"user_id": "mia_garcia_1991"}),
    ("get_order_details", {"order_id": "#W4456498"}),
    ("list_products", {}),
    ("cancel_pending_order", {"order_id": "#W4456498", "reason": "no longer needed"}),
]
SQL_TASK = {"database": "university", "question": "How many students come from Kenya?",
            "reference_sql": "SELECT COUNT(*) FROM students WHERE country = 'Kenya'"}
STORE_TASK = {"intent": "Cancel order #W4456498.", "outputs": [],
              "actions": [{"name": "cancel_pending_order", "arguments": {"order_id": "#W4456498", "reason": "no longer needed"}}]}


async def env_steps(env_name: str, executor: ToolExecutor, sessions: int, steps: int) -> dict:
    env = open_environment(env_name)
    calls, task = (SQL_CALLS, SQL_TASK) if env_name == "text_to_sql" else (STORE_CALLS, STORE_TASK)
    statuses: dict[str, int] = {}

    async def one(s: int) -> None:
        session = await env.open(task, executor)
        for i in range(steps):
            name, args = calls[(s + i) % len(calls)]
            (result,) = await session.act([ToolCall.parse(f"c{s}_{i}", name, args)])
            session.observation(result)
            statuses[result.status] = statuses.get(result.status, 0) + 1

    t = time.perf_counter()
    await asyncio.gather(*(one(s) for s in range(sessions)))
    elapsed = time.perf_counter() - t
    return {"env": env_name, "steps": sessions * steps, "elapsed_s": elapsed, "steps_per_s": sessions * steps / elapsed,
            "statuses": statuses}


def solver(req):
    turns = sum(1 for m in req.messages if m["role"] == "assistant")
    if turns == 0:
        return tool_calls(("list_tables", {}))
    if turns == 1:
        return tool_calls(("run_query", {"sql": "SELECT country, COUNT(*) FROM students GROUP BY country"}))
    return tool_calls(("finish", {"answer": "SELECT count(student_id) FROM students WHERE country = 'Kenya'"}))


async def trajectories(n: int, concurrency: int, workers: int) -> dict:
    step = AgentLoop("agent", environment="text_to_sql", workers=workers)
    step.setup(scripted_context(ScriptedModel(solver), "agent"))
    gate = asyncio.Semaphore(concurrency)
    kept = 0

    async def one(i: int) -> None:
        nonlocal kept
        async with gate:
            out = await step.process({"id": f"row{i}", "task": SQL_TASK})
            kept += isinstance(out, list)

    try:
        t = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - t
    finally:
        await step.aclose()
    return {"trajectories": n, "kept": kept, "elapsed_s": elapsed, "per_min": n / elapsed * 60}


async def warm(executor: ToolExecutor) -> None:
    await env_steps("text_to_sql", executor, 2, 2)
    await env_steps("store", executor, 2, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=40, help="steps per session")
    ap.add_argument("--sessions", type=int, default=4, help="sessions stepping concurrently")
    ap.add_argument("--trajectories", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=8, help="trajectories in flight")
    ap.add_argument("--workers", type=int, default=4, help="warm sandbox jails")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    load_before = os.getloadavg()
    runs: list[dict] = []
    with ToolExecutor(workers=args.workers, timeout=10.0) as executor:
        asyncio.run(warm(executor))
        for r in range(args.repeats):
            for env_name in ("text_to_sql", "store"):
                res = asyncio.run(env_steps(env_name, executor, args.sessions, args.steps))
                runs.append({"kind": "steps", "repeat": r, **res})
                print(f"{env_name}: {res['steps_per_s']:.1f} steps/s ({res['steps']} steps, {res['statuses']})", flush=True)
    for r in range(args.repeats):
        res = asyncio.run(trajectories(args.trajectories, args.concurrency, args.workers))
        runs.append({"kind": "trajectories", "repeat": r, **res})
        print(f"agent_loop text_to_sql: {res['per_min']:.0f} trajectories/min ({res['kept']}/{res['trajectories']} kept)", flush=True)
    medians = {
        "text_to_sql_steps_per_s": statistics.median(x["steps_per_s"] for x in runs if x.get("env") == "text_to_sql"),
        "store_steps_per_s": statistics.median(x["steps_per_s"] for x in runs if x.get("env") == "store"),
        "trajectories_per_min": statistics.median(x["per_min"] for x in runs if x["kind"] == "trajectories"),
    }
    report = {"args": vars(args), "runs": runs, "medians": medians, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before, "load_after": os.getloadavg()}}
    out = Path(__file__).parent / "results" / "bench_agent_env.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(medians, indent=1))
    print(f"load average before {load_before}, after {report['machine']['load_after']}; wrote {out}")


if __name__ == "__main__":
    main()
