"""One web episode: a bundled site on a fresh database, a fenced browser tab on it, the agent's actions, the check.

Actions (one per step, what the model's JSON names): ``click`` an ``element`` number, ``type`` ``text`` into an
``element`` (an option's label for a select), ``navigate`` to the path in ``text`` (on the site only), go ``back``,
``stop`` (``text``: the final answer) — :data:`ACTION_SCHEMA`. Every browser and server call runs on the browser's
thread (:class:`~synthloom.envs.web.browser.Chromium`), so :meth:`WebEpisode.aact` never blocks an event loop.
"""

from __future__ import annotations

from typing import Any

from ..agent_env import Verdict
from .browser import BrowserTab, Chromium, Observation
from .server import SiteServer
from .tasks import check_task, task_problem

ACTIONS = ("click", "type", "navigate", "back", "stop")
#: the JSON a model answers with at each step (every field required, so a grammar can constrain a small model)
ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thought": {"type": "string", "description": "what you see and why you take this action (one sentence)"},
        "action": {"type": "string", "enum": list(ACTIONS)},
        "element": {"type": "integer", "description": "the [number] of the element to click or type into; 0 otherwise"},
        "text": {"type": "string", "description": "what to type, the path to navigate to, or the final answer; '' otherwise"},
    },
    "required": ["thought", "action", "element", "text"],
}


def action_problem(action: Any) -> str | None:
    """What is wrong with an action object (None when it can be taken)."""
    if not isinstance(action, dict):
        return f"an action must be an object, not {type(action).__name__}"
    name = action.get("action")
    if name not in ACTIONS:
        return f"action must be one of {', '.join(ACTIONS)}, not {name!r}"
    if name in ("click", "type") and not isinstance(action.get("element"), int):
        return f"{name} needs the element's number"
    if name in ("type", "navigate") and not isinstance(action.get("text"), str):
        return f"{name} needs text"
    return None


def action_text(action: dict[str, Any]) -> str:
    """An action as one short line (``click [3]``, ``type [5] "2"``)."""
    name = action.get("action")
    if name == "click":
        return f"click [{action.get('element')}]"
    if name == "type":
        return f"type [{action.get('element')}] {action.get('text')!r}"
    if name in ("navigate", "stop"):
        return f"{name} {action.get('text', '')!r}"
    return str(name)


class WebEpisode:
    """``task`` (see :mod:`synthloom.envs.web.tasks`) on its site, in ``chromium``: open with :meth:`start` (or ``with``),
    then :meth:`act` until it returns ``done``, then :meth:`check`; :meth:`close` stops the site and the tab. The async
    twins (:meth:`astart`, :meth:`aact`, :meth:`acheck`, :meth:`aclose`) do the same from a coroutine."""

    def __init__(self, chromium: Chromium, task: dict[str, Any], *, start_path: str = "/"):
        problem = task_problem(task)
        if problem:
            raise ValueError(f"web task: {problem}")
        self.chromium, self.task, self.start_path = chromium, task, start_path
        self.server = SiteServer(task["site"], int(task.get("seed") or 0))
        self.tab: BrowserTab | None = None
        self.before: dict[str, list[dict[str, Any]]] = {}
        self.observation: Observation | None = None
        self.done = False
        self.answer: str | None = None

    # -- on the browser's thread ------------------------------------------------------------------------------------
    def _open(self) -> Observation:
        self.server.start()
        self.before = self.server.state()
        self.tab = BrowserTab(self.chromium.browser, self.server.url)
        self.observation = self.tab.observe(self.tab.goto(self.start_path))
        return self.observation

    def _act(self, action: dict[str, Any]) -> Observation:
        assert self.tab is not None, "WebEpisode.act before start"
        problem = action_problem(action)
        name = action.get("action") if isinstance(action, dict) else None
        if problem:
            message = f"invalid action: {problem}"
        elif name == "stop":
            self.done, self.answer = True, str(action.get("text") or "")
            message = "stopped"
        elif name == "click":
            message = self.tab.click(action["element"])
        elif name == "type":
            message = self.tab.type(action["element"], action["text"])
        elif name == "navigate":
            message = self.tab.goto(action["text"])
        else:
            message = self.tab.back()
        self.observation = self.tab.observe(message)
        return self.observation

    def _check(self) -> Verdict:
        title = self.observation.title if self.observation else None
        verdict = check_task(self.task, self.before, self.server.state(), title)
        if self.tab is not None and self.tab.blocked:
            verdict.details["blocked_requests"] = list(self.tab.blocked)
        return verdict

    def _close(self) -> None:
        if self.tab is not None:
            self.tab.close()
            self.tab = None
        self.server.stop()

    # -- from plain code ---------------------------------------------------------------------------------------------
    def start(self) -> Observation:
        """Start the site, open the tab on ``start_path``; the first observation."""
        return self.chromium.call(self._open)

    def act(self, action: dict[str, Any]) -> Observation:
        """Take ``action``; the page after it (``message`` says what happened). ``stop`` sets ``done``."""
        return self.chromium.call(self._act, action)

    def check(self) -> Verdict:
        """The task's checker on the site's state now (and the last page's title)."""
        return self.chromium.call(self._check)

    def close(self) -> None:
        self.chromium.call(self._close)

    def __enter__(self) -> WebEpisode:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- from a coroutine --------------------------------------------------------------------------------------------
    async def astart(self) -> Observation:
        return await self.chromium.acall(self._open)

    async def aact(self, action: dict[str, Any]) -> Observation:
        return await self.chromium.acall(self._act, action)

    async def acheck(self) -> Verdict:
        return await self.chromium.acall(self._check)

    async def aclose(self) -> None:
        await self.chromium.acall(self._close)
