"""Recipes and their step options as plain data, for scripts: ``synthloom recipes --json`` and
``synthloom show NAME --options``.

Each built-in recipe is listed with its name, title (the description's headline), first citation
and parameters with their defaults; a recipe's steps are listed with every option of their type
(as ``synthloom steps TYPE`` documents it: name, type, default) and the value the recipe resolves
it to, nested steps (``loop``) included.
"""

from __future__ import annotations

import inspect
from typing import Any

import yaml

from ..pipeline.config import canonical, option_rows, step_options
from .loader import BUILTIN_DIR, Recipe, parse_recipe, read_recipe_text, resolve_recipe_path, substitute
from .registry import STEP_TYPES, step_class


def headline(description: str) -> str:
    """The part of a description before its first " — " or sentence end."""
    head = description.split(" — ", 1)[0]
    return head.split(". ", 1)[0].strip().rstrip(".")


def recipe_catalogue() -> list[dict[str, Any]]:
    """Every built-in recipe: ``name``, ``title``, ``description``, ``citation`` (the first, or
    None), ``citations``, ``params`` (name → default) and ``rows`` (its rows target, or None)."""
    out = []
    for path in sorted(BUILTIN_DIR.glob("*.yaml"), key=lambda p: p.stem):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        description = " ".join(str(data.get("description") or "").split())
        citations = [str(c) for c in data.get("citations") or []]
        out.append({
            "name": path.stem,
            "title": headline(description),
            "description": description,
            "citation": citations[0] if citations else None,
            "citations": citations,
            "params": {str(k): canonical(v) for k, v in (data.get("params") or {}).items()},
            "rows": data.get("rows"),
        })
    return out


def recipe_options(name_or_path: str) -> dict[str, Any]:
    """A recipe's parameters and steps, each step with every option of its type and the value the
    recipe gives it (parameters substituted; the default where it gives none). Read from the
    recipe text, so a recipe whose input files are not there yet can still be listed."""
    path = resolve_recipe_path(name_or_path)
    recipe = parse_recipe(read_recipe_text(path), str(path))
    params = dict(recipe.data.get("params") or {})
    params.setdefault("recipe_dir", str(path.parent.resolve()))
    params = {k: substitute(v, params, recipe, ("params", k)) for k, v in params.items()}
    steps = [step_entry(recipe, raw, ("steps", i), params) for i, raw in enumerate(recipe.data["steps"])]
    return {"name": str(recipe.data.get("name") or path.stem), "source": str(path),
            "params": {k: canonical(v) for k, v in params.items() if k != "recipe_dir"}, "steps": steps}


def step_entry(recipe: Recipe, raw: Any, where: tuple, params: dict[str, Any]) -> dict[str, Any]:
    """``name``, ``type``, ``inputs`` and ``options`` (each: ``option``, ``type``, ``default``,
    ``required``, ``value``) of one recipe step; a ``loop``'s steps under ``steps``."""
    if not isinstance(raw, dict) or raw.get("type") not in STEP_TYPES:
        raise recipe.error(f"step {raw.get('name') if isinstance(raw, dict) else raw!r}: not a step of a known type", *where,
                           hint="`synthloom steps` lists the types")
    cls = step_class(raw["type"])
    declared = step_options(cls)
    options = []
    nested: list[dict[str, Any]] = []
    for opt, kind, _ in option_rows(cls):
        default = declared[opt].default
        required = default is inspect.Parameter.empty
        if opt == "steps" and raw["type"] == "loop" and isinstance(raw.get(opt), list):
            nested = [step_entry(recipe, sub, where + (opt, i), params) for i, sub in enumerate(raw[opt])]
            value: Any = [sub.get("name") for sub in raw[opt] if isinstance(sub, dict)]
        elif opt in raw:
            value = substitute(raw[opt], params, recipe, where + (opt,))
        else:
            value = None if required else default
        options.append({"option": opt, "type": kind, "default": None if required else canonical(default),
                        "required": required, "value": canonical(value)})
    inputs = raw.get("inputs")
    entry: dict[str, Any] = {"name": str(raw.get("name")), "type": raw["type"],
                             "inputs": [inputs] if isinstance(inputs, str) else list(inputs or []), "options": options}
    if nested:
        entry["steps"] = nested
    return entry
