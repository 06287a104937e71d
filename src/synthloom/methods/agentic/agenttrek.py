"""AgentTrek: web agent trajectories synthesised by replaying tutorials in a browser.

Xu et al. 2024, "AgentTrek: Agent Trajectory Synthesis via Guiding Replay with Web Tutorials", arXiv:2412.09605.
The paper harvests web tutorials, has an LLM turn each into a structured task specification (platform, task
description, prerequisites, step-by-step instructions, expected result), has a VLM agent replay it in a real browser
guided by those steps (observations: the accessibility tree and screenshots; actions: playwright commands with an
inner monologue), and keeps a trajectory only when an evaluator says the task was accomplished.

Here: :class:`WebTutorials` (``web_tutorials``, a source) reads tutorials written for the bundled web sites (eight ship
in ``agenttrek_tutorials/``; a folder of your own works alike); :class:`AgenttrekTask` (``agenttrek_task``) asks the
model for the specification as JSON constrained by a schema of the site's task kinds, its products or posts and the
tutorial's steps, and keeps it only when the site can run and check it (:func:`~synthloom.envs.web.task_problem`);
:class:`~synthloom.methods.agentic.web_agent.WebAgent` (``web_agent`` with ``guide_column: guide``) replays it in
headless Chromium step by step. Departures: the sites are bundled and seeded (no live web), the agent reads a
simplified DOM (no screenshots), and the evaluator is the site's database checked against the specification rather
than a VLM judging the trajectory — a kept row is one whose effect is verified.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...envs.web import KINDS, seed_state, task_problem
from ...envs.web.sites import site_module
from ...envs.web.sites.common import money
from ...envs.web.sites.forum import BOARDS
from ...envs.web.tasks import intent_of
from ...pipeline.model_step import ModelStep
from ...pipeline.step import DrawnSource, Rejected
from ...records import adopt_rows, user_columns

CITATION = "Xu et al. 2024, AgentTrek: Agent Trajectory Synthesis via Guiding Replay with Web Tutorials, arXiv:2412.09605"
TUTORIALS_DIR = Path(__file__).parent / "agenttrek_tutorials"


def read_tutorial(path: Path) -> dict[str, Any]:
    """A tutorial file: ``---`` front matter with ``site:`` and ``title:`` lines, then the text."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, flags=re.S)
    if not match:
        raise ValueError(f"{path}: a tutorial starts with front matter: ---, site: shop|forum, title: ..., ---")
    head = dict(re.findall(r"^(\w+):\s*(.*?)\s*$", match.group(1), flags=re.M))
    if head.get("site") not in KINDS:
        raise ValueError(f"{path}: front matter must say site: {' or '.join(KINDS)} (not {head.get('site')!r})")
    return {"tutorial_id": path.stem, "site": head["site"], "title": head.get("title") or path.stem,
            "tutorial": match.group(2).strip()}


class WebTutorials(DrawnSource):
    """Source of ``n`` tutorial rows (``tutorial_id``, ``site``, ``title``, ``tutorial``, ``seed``): the ``*.md`` files of
    ``path`` (default: the bundled ones) taken in name order, over and over, each round on the next episode seed."""

    type_name = "web_tutorials"
    columns = ("tutorial_id", "site", "title", "tutorial", "seed")

    def __init__(self, name: str, *, n: int = 8, path: str | None = None, sites: list[str] | None = None, seed: int = 0,
                 citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, *citations])
        where = f"web_tutorials {name!r}"
        folder = Path(path) if path else TUTORIALS_DIR
        if not folder.is_dir():
            raise ValueError(f"{where}: path {folder} is not a folder of tutorial .md files")
        try:
            found = [read_tutorial(p) for p in sorted(folder.glob("*.md"))]
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.tutorials = [t for t in found if not sites or t["site"] in sites]
        if not self.tutorials:
            raise ValueError(f"{where}: no tutorial in {folder}" + (f" for sites {', '.join(sites)}" if sites else ""))
        if int(n) < 0:
            raise ValueError(f"{where}: n must be >= 0, not {n}")
        self.n, self.seed = int(n), int(seed)

    def draw(self, index: int) -> dict[str, Any]:
        rounds, i = divmod(index, len(self.tutorials))
        return {**self.tutorials[i], "seed": self.seed + rounds}

    def fingerprint(self) -> str:
        import xxhash

        return xxhash.xxh3_64_hexdigest(repr(self.tutorials).encode())


def spec_schema(site: str) -> dict[str, Any]:
    """The JSON schema of a task specification for ``site`` (every field required: a grammar can constrain a small model)."""
    state = seed_state(site)
    steps = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 8}
    if site == "shop":
        props: dict[str, Any] = {"intent": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS[site])},
                                 "product": {"type": "string", "enum": [p["name"] for p in state["products"]]},
                                 "quantity": {"type": "integer", "minimum": 1, "maximum": 9}, "price": {"type": "string"},
                                 "steps": steps}
    else:
        props = {"intent": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS[site])},
                 "post": {"type": "string", "enum": [p["title"] for p in state["posts"]]},
                 "board": {"type": "string", "enum": list(BOARDS)}, "title": {"type": "string"}, "text": {"type": "string"},
                 "steps": steps}
    return {"type": "object", "properties": props, "required": list(props)}


def spec_task(site: str, seed: int, spec: dict[str, Any]) -> dict[str, Any]:
    """The web task a specification describes (its goal from the fields its kind uses; intent in the site's words)."""
    kind = spec.get("kind")
    if site == "shop":
        goal: dict[str, Any] = {"buy": {"product": spec.get("product"), "quantity": spec.get("quantity")},
                                "set_price": {"product": spec.get("product"), "price": str(spec.get("price", "")).lstrip("$")},
                                "open_page": {"target": spec.get("product")}}.get(kind, {})
    else:
        goal = {"reply": {"post": spec.get("post"), "text": spec.get("text")},
                "create_post": {"board": spec.get("board"), "title": spec.get("title"), "text": spec.get("text")},
                "edit_post": {"post": spec.get("post"), "text": spec.get("text")},
                "open_page": {"target": spec.get("post")}}.get(kind, {})
    task = {"site": site, "seed": int(seed), "kind": kind, "goal": goal}
    return {**task, "intent": intent_of(kind, goal) if task_problem({**task, "intent": ""}) is None else str(spec.get("intent", ""))}


def catalogue(site: str, seed: int) -> str:
    """What the site holds, as the specification prompt lists it."""
    state = seed_state(site, seed)
    if site == "shop":
        return "\n".join(f"- {p['name']} ({p['category']}): {money(p['price_cents'])}, {p['stock']} in stock" for p in state["products"])
    return "\n".join(f"- [{p['board']}] {p['title']}" for p in state["posts"])


class AgenttrekTask(ModelStep):
    """Turns the tutorial in ``tutorial_column`` (for the site in ``site_column``) into a task specification (JSON constrained
    by :func:`spec_schema`): ``intent``, ``kind``, the product or post, the quantity, price or text, and the tutorial's
    ``steps`` for this task. Writes ``spec``, ``task`` (:mod:`synthloom.envs.web.tasks`) and ``guide`` (the steps); a
    specification the site cannot run or check (a quantity beyond the stock, the same price, an empty text, a new post
    under an existing title) is a rejected row saying why."""

    type_name = "agenttrek_task"
    default_sampling = {"temperature": 0.0, "max_tokens": 320}

    def __init__(self, name: str, *, tutorial_column: str = "tutorial", site_column: str = "site", seed_column: str = "seed",
                 structured_attempts: int = 2, system: str | None = None, prompt: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(structured_attempts) < 1:
            raise ValueError(f"agenttrek_task {name!r}: structured_attempts must be >= 1, not {structured_attempts}")
        super().__init__(name, reads=[tutorial_column, site_column, seed_column], writes=["spec", "task", "guide"],
                         citations=[CITATION, *citations], **kwargs)
        self.tutorial_column, self.site_column, self.seed_column = tutorial_column, site_column, seed_column
        self.structured_attempts = int(structured_attempts)
        self.system = system if system is not None else self.load_template("agenttrek_task_system.jinja")
        self.prompt = prompt if prompt is not None else self.load_template("agenttrek_task.jinja")
        self.read_columns(self.system, self.prompt, not_columns={"site_name", "catalogue", "kinds", "site", "tutorial"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        site, seed = record.get(self.site_column), int(record.get(self.seed_column) or 0)
        if site not in KINDS:
            raise ValueError(f"agenttrek_task {self.name!r}: column {self.site_column!r} must name a bundled site "
                             f"({', '.join(KINDS)}), not {site!r}")
        view = {**user_columns(record), "site": site, "site_name": site_module(site).NAME, "kinds": list(KINDS[site]),
                "catalogue": catalogue(site, seed), "tutorial": record.get(self.tutorial_column, "")}
        messages = [{"role": "system", "content": self.render(self.system, view).strip()},
                    {"role": "user", "content": self.render(self.prompt, view).strip()}]
        response, entry = await self.call(record, messages, json_schema=spec_schema(site), structured_attempts=self.structured_attempts)
        spec = response.parsed
        task = spec_task(site, seed, spec)
        problem = task_problem(task)
        if problem:
            return Rejected(f"the specification cannot be checked on the {site}: {problem}", 0.0)
        row = {**user_columns(record), "spec": spec, "task": task, "guide": [str(s) for s in spec.get("steps") or []]}
        return adopt_rows(record, row, self.name, [entry])
