"""CAMEL's role pools and the source of role-playing sessions (assistant role, user role, task idea).

Li et al. 2023, "CAMEL: Communicative Agents for 'Mind' Exploration of Large Language Model Society",
NeurIPS 2023, arXiv:2303.17760. The paper's AI-society data pairs 50 assistant roles with 50 user roles
and its code data 20 programming languages with 50 domains; the model then lists tasks per pair. Here the
pools are bundled JSON files beside this module, and each assistant role (society) or domain (code) carries
a few task ideas of its own, which the task specifier then makes specific to the sampled pair:

* ``camel_society_roles.json``: ``{"assistant_roles": [{"role", "tasks": [...]}], "user_roles": [...]}``;
* ``camel_code_roles.json``: ``{"assistant_role", "languages": [...], "domains": [{"domain", "tasks": [...]}]}``.

:class:`CamelRoles` (``camel_roles``) draws ``n`` sessions; each draw is a pure function of ``seed`` and
the index, so reruns and resumed runs give the same rows.
"""

from __future__ import annotations

import difflib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from ...pipeline.step import DrawnSource

CITATION = ("Li et al. 2023, CAMEL: Communicative Agents for \"Mind\" Exploration of Large Language Model Society, "
            "NeurIPS 2023, arXiv:2303.17760")
HERE = Path(__file__).parent
VARIANTS = ("society", "code")
POOL_FILES = {"society": HERE / "camel_society_roles.json", "code": HERE / "camel_code_roles.json"}
#: the columns a session row has, per variant
COLUMNS = {"society": ("variant", "assistant_role", "user_role", "task"),
           "code": ("variant", "assistant_role", "user_role", "task", "language", "domain")}


class RolePoolError(ValueError):
    """A role pool file is missing or not laid out like the bundled one."""


@dataclass(frozen=True)
class RolePool:
    """One variant's pool: ``leads`` are the assistant roles (society) or domains (code), each with its
    task ideas; ``others`` the user roles (society) or languages (code)."""

    variant: str
    leads: dict[str, tuple[str, ...]]
    others: tuple[str, ...]
    assistant_role: str = "Computer Programmer"
    source: str = ""


def _strings(value: Any, what: str, where: str, example: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise RolePoolError(f"{where}: {what} must be a non-empty list of strings, e.g. {example}")
    return tuple(v.strip() for v in value)


def load_pool(variant: str, path: str | Path | None = None) -> RolePool:
    """The pool of ``variant`` from ``path`` (default: the bundled file), checked."""
    if variant not in VARIANTS:
        raise RolePoolError(f"variant must be 'society' or 'code', not {variant!r}")
    p = Path(path) if path is not None else POOL_FILES[variant]
    if not p.is_file():
        raise RolePoolError(f"role pool {p} does not exist; give a JSON file laid out like {POOL_FILES[variant].name}")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise RolePoolError(f"{p}: not valid JSON ({e}); lay it out like {POOL_FILES[variant].name}") from None
    where = str(p)
    lead_key, name_key, other_key = ("assistant_roles", "role", "user_roles") if variant == "society" else \
        ("domains", "domain", "languages")
    if not isinstance(data, dict) or not isinstance(data.get(lead_key), list) or not data[lead_key]:
        raise RolePoolError(f"{where}: needs a non-empty list {lead_key!r} of {{{name_key!r}: ..., 'tasks': [...]}} "
                            f"for variant {variant!r}")
    leads: dict[str, tuple[str, ...]] = {}
    for i, entry in enumerate(data[lead_key]):
        name = entry.get(name_key) if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise RolePoolError(f"{where}: {lead_key}[{i}] has no {name_key!r} string")
        leads[name.strip()] = _strings(entry.get("tasks"), f"{lead_key}[{i}].tasks", where, '["plan a weekly budget"]')
    others = _strings(data.get(other_key), repr(other_key), where, '["Chef", "Nurse"]' if variant == "society" else
                      '["Python", "Rust"]')
    assistant = data.get("assistant_role", "Computer Programmer")
    if not isinstance(assistant, str) or not assistant.strip():
        raise RolePoolError(f"{where}: 'assistant_role' must be a non-empty string")
    return RolePool(variant, leads, others, assistant.strip(), xxhash.xxh3_64_hexdigest(text.encode()))


def _subset(chosen: list[str] | None, known: Iterable[str], what: str, where: str) -> list[str]:
    known = list(known)
    if chosen is None:
        return known
    if not chosen:
        raise ValueError(f"{where}: {what} is empty; leave it out to use every one of the pool")
    for c in chosen:
        if c not in known:
            close = difflib.get_close_matches(c, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; the pool has {', '.join(known[:8])}, ..."
            raise ValueError(f"{where}: {what} {c!r} is not in the role pool{hint}")
    return list(dict.fromkeys(chosen))


class CamelRoles(DrawnSource):
    """Source of ``n`` CAMEL role-playing sessions drawn from a role pool (Li et al. 2023). ``variant``
    ``society``: an assistant role and a different user role, and one of the assistant role's task ideas
    (columns ``variant``, ``assistant_role``, ``user_role``, ``task``); ``code``: a language and a domain,
    one of the domain's task ideas, the assistant a "Computer Programmer" and the user "person working in
    <domain>" (plus ``language``, ``domain``). ``pool`` replaces the bundled file; ``assistant_roles``,
    ``user_roles`` (society) and ``languages``, ``domains`` (code) restrict the draw. Deterministic in
    ``seed``."""

    type_name = "camel_roles"

    def __init__(self, name: str, *, variant: str = "society", n: int = 50, seed: int = 0, pool: str | None = None,
                 assistant_roles: list[str] | None = None, user_roles: list[str] | None = None,
                 languages: list[str] | None = None, domains: list[str] | None = None,
                 citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, *citations])
        where = f"camel_roles {name!r}"
        if int(n) < 0:
            raise ValueError(f"{where}: n must be >= 0, not {n}")
        if variant not in VARIANTS:
            raise ValueError(f"{where}: variant must be 'society' or 'code', not {variant!r}")
        wrong = [o for o, v in (("assistant_roles", assistant_roles), ("user_roles", user_roles)) if v is not None] \
            if variant == "code" else [o for o, v in (("languages", languages), ("domains", domains)) if v is not None]
        if wrong:
            other = "society" if variant == "code" else "code"
            raise ValueError(f"{where}: {wrong[0]} applies to variant {other!r}, not {variant!r}")
        self.variant, self.n, self.seed, self.pool_path = variant, int(n), int(seed), pool
        self.pool = load_pool(variant, pool)
        self.columns = COLUMNS[variant]
        if variant == "society":
            self.leads = _subset(assistant_roles, self.pool.leads, "assistant role", where)
            self.others = _subset(user_roles, self.pool.others, "user role", where)
            if all(o == lead for o in self.others for lead in self.leads):
                raise ValueError(f"{where}: the only user role is the only assistant role; a session needs two roles")
        else:
            self.leads = _subset(domains, self.pool.leads, "domain", where)
            self.others = _subset(languages, self.pool.others, "language", where)

    def draw(self, index: int) -> dict[str, Any]:
        """Session ``index`` (a pure function of the seed, the variant and the index)."""
        rng = random.Random(xxhash.xxh3_64_intdigest(f"{self.seed}\x1f{index}\x1fcamel-{self.variant}".encode()))
        lead = rng.choice(self.leads)
        task = rng.choice(self.pool.leads[lead])
        if self.variant == "society":
            user = rng.choice([u for u in self.others if u != lead])
            return {"variant": "society", "assistant_role": lead, "user_role": user, "task": task}
        language = rng.choice(self.others)
        return {"variant": "code", "assistant_role": self.pool.assistant_role, "user_role": f"person working in {lead}",
                "task": task, "language": language, "domain": lead}

    def fingerprint(self) -> str:
        return self.pool.source
