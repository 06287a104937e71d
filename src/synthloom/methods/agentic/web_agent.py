"""A browser agent on the bundled web sites, kept when the site's database says the task was done.

WebArena (Zhou et al. 2023, "WebArena: A Realistic Web Environment for Building Autonomous Agents",
arXiv:2307.13854): self-hosted web applications, tasks grounded in their content, success judged by the
application's state after the episode rather than by the actions taken. :class:`WebTasks` (``web_tasks``, a
source) draws such tasks from the rows the bundled sites start with; :class:`WebAgent` (``web_agent``) plays
each in real headless Chromium (:mod:`synthloom.envs.web`): at every step the model sees the task, its past
actions and the current page (a simplified DOM with numbered elements) and answers one action as JSON
constrained to the action space (:data:`~synthloom.envs.web.ACTION_SCHEMA`); the trajectory ends at ``stop``
or ``max_steps`` and is kept only when the task's checker passes on the site's database (or last page). With
``guide_column`` the prompt also carries a tutorial's steps (AgentTrek's guided replay, :mod:`.agenttrek`).

Rerun = resume: each step's request is a function of the record and the step (its seed is
``seed_for(record, salt=step)``), and the page it shows is a function of the seeded site and the actions so far.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable
from typing import Any

import xxhash

from ...envs.web import ACTION_SCHEMA, KINDS, Chromium, WebEpisode, action_text, content_task, task_problem
from ...envs.web.sites import site_module
from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import ModelStep
from ...pipeline.step import DrawnSource, Rejected
from ...records import adopt_rows, user_columns

CITATION = "Zhou et al. 2023, WebArena: A Realistic Web Environment for Building Autonomous Agents, arXiv:2307.13854"
ENDINGS = {"stop": "the stop action", "max_steps": "max_steps reached", "bad_action": "a reply that was not an action"}


class WebTasks(DrawnSource):
    """Source of ``n`` web tasks drawn from the content of the bundled ``sites`` (in turn) at episode seeds ``seed``,
    ``seed + 1``, ...: a product to buy or reprice, a post to reply to or edit, a post to publish, a page to open
    (``kinds`` limits them). Deterministic in ``seed``."""

    type_name = "web_tasks"
    columns = ("task",)

    def __init__(self, name: str, *, n: int = 20, sites: list[str] | None = None, kinds: list[str] | None = None,
                 seed: int = 0, citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, *citations])
        where = f"web_tasks {name!r}"
        if int(n) < 0:
            raise ValueError(f"{where}: n must be >= 0, not {n}")
        self.sites = list(sites or ["shop", "forum"])
        for site in self.sites:
            if site not in KINDS:
                raise ValueError(f"{where}: unknown site {site!r}; the bundled sites are {', '.join(KINDS)}")
        known = {k for s in self.sites for k in KINDS[s]}
        bad = [k for k in kinds or () if k not in known]
        if bad:
            raise ValueError(f"{where}: kind {bad[0]!r} is not a task of {', '.join(self.sites)} (kinds: {', '.join(sorted(known))})")
        self.kinds = list(kinds or [])
        self.n, self.seed = int(n), int(seed)

    def draw(self, index: int) -> dict[str, Any]:
        site = self.sites[index % len(self.sites)]
        rng = random.Random(xxhash.xxh3_64_intdigest(f"{self.seed}\x1f{index}\x1fweb".encode()))
        kinds = [k for k in KINDS[site] if k in self.kinds] if self.kinds else list(KINDS[site])
        return {"task": content_task(site, self.seed + index, rng, rng.choice(kinds) if kinds else None)}


class WebAgent(ModelStep):
    """Plays the web task in ``task_column`` in headless Chromium, one JSON action per step, at most ``max_steps``
    steps; keeps the trajectory when the site's checker passes after the agent stopped (see the module doc).

    Kept rows add ``steps`` (per step: the ``observation`` shown, the ``thought``, the ``action``, its ``result``),
    ``messages`` (the trajectory as a chat: the task and each page as user turns, each action's JSON as the assistant's),
    ``verdict``, ``ended`` and ``answer``; a failed check, a trajectory that never stopped, or a reply that was not an
    action (after ``structured_attempts`` tries) is a rejected row saying why. ``guide_column`` names a column of
    tutorial steps shown with the task (AgentTrek's guided replay)."""

    type_name = "web_agent"
    python_only_options = ("browser",)
    default_sampling = {"temperature": 0.0, "max_tokens": 160}

    def __init__(self, name: str, *, task_column: str = "task", guide_column: str | None = None, max_steps: int = 12,
                 structured_attempts: int = 2, system: str | None = None, user: str | None = None,
                 browser: Chromium | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"web_agent {name!r}"
        if int(max_steps) < 1 or int(structured_attempts) < 1:
            raise ValueError(f"{where}: max_steps and structured_attempts must be >= 1, not {max_steps} and {structured_attempts}")
        reads = [task_column, *([guide_column] if guide_column else [])]
        super().__init__(name, reads=reads, writes=["steps", "messages", "verdict", "ended", "answer"],
                         citations=[CITATION, *citations], **kwargs)
        self.task_column, self.guide_column = task_column, guide_column
        self.max_steps, self.structured_attempts = int(max_steps), int(structured_attempts)
        self.system = system if system is not None else self.load_template("web_agent_system.jinja")
        self.user = user if user is not None else self.load_template("web_agent_user.jinja")
        self.read_columns(self.system, self.user, not_columns={"site_name", "intent", "guide", "history", "observation", "task"})
        self._given_browser = browser
        self._browser: Chromium | None = browser

    @property
    def chromium(self) -> Chromium:
        if self._browser is None:
            self._browser = Chromium()
        return self._browser

    def guide_of(self, record: dict[str, Any]) -> list[str]:
        if not self.guide_column:
            return []
        value = record.get(self.guide_column)
        return [str(s) for s in value] if isinstance(value, list) else ([str(value)] if value else [])

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        task = record.get(self.task_column)
        problem = task_problem(task)
        if problem:
            raise ValueError(f"web_agent {self.name!r}: column {self.task_column!r}: {problem}")
        view = {**user_columns(record), "task": task, "intent": task["intent"], "guide": self.guide_of(record),
                "site_name": site_module(task["site"]).NAME}
        system = self.render(self.system, view).strip()
        episode = WebEpisode(self.chromium, task)
        observation = await episode.astart()
        steps: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
        lineage: list[dict[str, Any]] = []
        ended, raw = "max_steps", None
        try:
            for step in range(1, self.max_steps + 1):
                history = [f"{action_text(s['action'])} → {s['result']}" for s in steps]
                user = self.render(self.user, {**view, "history": history, "observation": observation.prompt()}).strip()
                try:
                    response, entry = await self.call(record, [{"role": "system", "content": system}, {"role": "user", "content": user}],
                                                      json_schema=ACTION_SCHEMA, structured_attempts=self.structured_attempts,
                                                      salt=str(step), lineage={"turn": step})
                except StructuredOutputError as exc:
                    ended, raw = "bad_action", exc.raw_text
                    break
                lineage.append(entry)
                reply = response.parsed
                action = {k: reply[k] for k in ("action", "element", "text")}
                turn = f"Task: {task['intent']}\n\n{observation.prompt()}" if step == 1 else observation.prompt()
                messages += [{"role": "user", "content": turn}, {"role": "assistant", "content": json.dumps(reply, ensure_ascii=False)}]
                shown = observation.to_dict()
                observation = await episode.aact(action)
                steps.append({"observation": shown, "thought": reply.get("thought", ""), "action": action, "result": observation.message})
                if episode.done:
                    ended = "stop"
                    break
            verdict = await episode.acheck()
        finally:
            await episode.aclose()
        if not verdict.passed:
            why = verdict.reason if ended == "stop" else f"{verdict.reason} (stopped by {ENDINGS[ended]})"
            if raw is not None:
                why += f"; last reply: {raw[:120]!r}"
            return Rejected(why, 0.0)
        if ended != "stop":
            return Rejected(f"the site's check passed but the agent never stopped ({ENDINGS[ended]})", 0.0)
        row = {**user_columns(record), "steps": steps, "messages": messages, "verdict": verdict.to_dict(), "ended": ended,
               "answer": episode.answer}
        return adopt_rows(record, row, self.name, lineage)

    async def aclose(self) -> None:
        if self._browser is not None and self._given_browser is None:
            await asyncio.to_thread(self._browser.close)
            self._browser = None
