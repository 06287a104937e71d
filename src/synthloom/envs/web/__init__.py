"""The web environment: small web applications bundled with the project (``shop``, ``forum``), each on a fresh SQLite
database per episode and served on loopback (:mod:`.server`), an agent acting through a real headless Chromium fenced
to that site (:mod:`.browser`, :mod:`.episode`), tasks drawn from the site's content or written from tutorials and
checked by the site's database after the trajectory (:mod:`.tasks`). WebArena (Zhou et al. 2023, arXiv:2307.13854)
style sites and checks; AgentTrek (Xu et al. 2024, arXiv:2412.09605) style synthesis lives in
``methods/agentic/agenttrek.py``.
"""

from .browser import BrowserError, BrowserTab, Chromium, Observation, chromium_path
from .episode import ACTION_SCHEMA, ACTIONS, WebEpisode, action_problem, action_text
from .server import SiteServer, seed_state
from .tasks import KINDS, check_task, content_task, task_problem

__all__ = ["ACTIONS", "ACTION_SCHEMA", "KINDS", "BrowserError", "BrowserTab", "Chromium", "Observation", "SiteServer", "WebEpisode",
           "action_problem", "action_text", "check_task", "chromium_path", "content_task", "seed_state", "task_problem"]
