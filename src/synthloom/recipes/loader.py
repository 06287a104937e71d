"""YAML recipes → pipelines, with errors that name the file, the line and the fix.

A recipe has ``name``, ``description``, ``citations``, ``params`` (values a user can change with
``--set key=value``, used as ``${key}`` anywhere in ``models`` and ``steps``), ``models`` (name →
spec string, or a mapping with ``spec`` and per-model settings) and ``steps`` (each with ``name``,
``type`` and that type's options; ``inputs`` to branch or join). ``rows: N`` asks a run to keep
drawing from the sources until N rows are kept (like ``synthloom run --rows N``).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..llm.types import sampling_problem
from .yaml_load import compose_yaml, load_yaml

SAMPLING_KEYS = frozenset({"n", "temperature", "top_p", "max_tokens", "stop", "seed", "logprobs", "top_logprobs"})

BUILTIN_DIR = Path(__file__).parent / "builtin"
TOP_LEVEL = ("name", "description", "citations", "params", "models", "steps", "engine", "rows")
_PARAM = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RecipeError(ValueError):
    """A recipe cannot be used as written: ``where`` is ``file:line``, ``hint`` the fix."""

    def __init__(self, message: str, *, file: str, line: int | None = None, hint: str = ""):
        self.message, self.file, self.line, self.hint = message, file, line, hint
        where = f"{file}:{line}" if line else file
        text = f"{where}: {message}" + (f"; fix: {hint}" if hint else "")
        super().__init__(" ".join(part.strip() for part in text.splitlines() if part.strip()))


@dataclass
class Recipe:
    """A parsed recipe: its data, where each key sits in the file, and its parameters."""

    data: dict[str, Any]
    file: str
    lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, *path: Any) -> int | None:
        """Line of the deepest known prefix of ``path`` (e.g. ``("steps", 2, "prompt")``)."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None

    def error(self, message: str, *path: Any, hint: str = "") -> RecipeError:
        return RecipeError(message, file=self.file, line=self.line(*path), hint=hint)


# -- finding and parsing ------------------------------------------------------------------------
def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def resolve_recipe_path(name_or_path: str) -> Path:
    """The recipe file a name or path means; raises :class:`RecipeError` when there is none, or
    when it cannot be read as UTF-8 text."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise RecipeError("no such recipe file", file=str(p), hint="check the path")
        read_recipe_text(p)
        return p
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return builtin
    close = difflib.get_close_matches(name_or_path, builtin_names(), n=1)
    raise RecipeError(
        f"no built-in recipe named {name_or_path!r} and no such file", file=name_or_path,
        hint=(f"did you mean {close[0]!r}? " if close else "") + "`synthloom recipes` lists the built-in recipes",
    )


def read_recipe_text(path: Path) -> str:
    """The text of a recipe file, or a :class:`RecipeError` saying why it cannot be one."""
    if path.is_dir():
        raise RecipeError("is a folder, not a recipe file", file=str(path), hint="give the path of a .yaml file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RecipeError(f"cannot read it ({e.strerror})", file=str(path), hint="check the path and its permissions") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise RecipeError(f"is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})", file=str(path),
                          line=line, hint="save the recipe as UTF-8") from None


def parse_recipe(text: str, file: str) -> Recipe:
    try:
        node = compose_yaml(text)
        data = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise RecipeError(f"not valid YAML: {problem}", file=file, line=mark.line + 1 if mark else None,
                          hint="check indentation and quoting on that line (quote values that contain ': ' or '{{')") from None
    if not isinstance(data, dict):
        raise RecipeError("a recipe is a YAML mapping with `steps:` (and optionally name, params, models)", file=file, line=1)
    lines: dict[tuple, int] = {}
    _collect_lines(node, data, (), lines)
    recipe = Recipe(data, file, lines)
    for key in data:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
            raise recipe.error(f"unknown top-level key {key!r}", key,
                               hint=f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(TOP_LEVEL)}")
    if "engine" in data and data["engine"] not in ("local", "ray"):
        raise recipe.error(f"engine must be local or ray, not {data['engine']!r}", "engine",
                           hint="write `engine: ray` to run on a Ray cluster (pip install 'synthloom[ray]'), or leave it out")
    rows = data.get("rows")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise recipe.error(f"rows must be a whole number of at least 1, not {rows!r}", "rows",
                           hint="write e.g. `rows: 1000` (rows to keep; `synthloom run --rows N` overrides it)")
    if not isinstance(data.get("steps"), list) or not data["steps"]:
        raise recipe.error("the recipe has no `steps:` list", "steps", hint="add a list of steps, starting with a source (type: load)")
    return recipe


def _collect_lines(node: Any, value: Any, path: tuple, lines: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode) and isinstance(value, dict):
        for key_node, val_node in node.value:
            key = key_node.value
            if key in value:
                lines[path + (key,)] = key_node.start_mark.line + 1
                _collect_lines(val_node, value[key], path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode) and isinstance(value, list):
        for i, (item_node, item) in enumerate(zip(node.value, value)):
            lines[path + (i,)] = item_node.start_mark.line + 1
            _collect_lines(item_node, item, path + (i,), lines)


# -- parameters and overrides ---------------------------------------------------------------------
def apply_overrides(recipe: Recipe, sets: list[str], model: str | None) -> None:
    data = recipe.data
    params = data.setdefault("params", {}) or {}
    data["params"] = params
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RecipeError(f"--set {item!r} is not key=value", file=recipe.file, hint="write e.g. --set input=prompts.jsonl")
        value = parse_set_value(recipe, key, raw)
        if key in params:
            params[key] = value
        elif "." in key:
            _set_path(recipe, key, value)
        else:
            takers = _steps_taking(recipe, key)
            if takers:
                raise RecipeError(
                    f"--set {key}: the recipe has no parameter {key!r}", file=recipe.file, line=recipe.line("params"),
                    hint="set the step's option: " + " or ".join(f"--set {t}.{key}={raw.strip()}" for t in takers))
            close = difflib.get_close_matches(key, list(params), n=1)
            raise RecipeError(
                f"--set {key}: the recipe has no parameter {key!r}", file=recipe.file, line=recipe.line("params"),
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + (f"parameters: {', '.join(params)}; " if params else "")
                + "or set a step's option like STEP.OPTION=VALUE, or models.NAME.SETTING=VALUE",
            )
    if model:
        models = data.setdefault("models", {}) or {}
        data["models"] = models
        current = models.get("default")
        if isinstance(current, dict):
            current["spec"] = model
        else:
            models["default"] = model


_TEMPLATE_MARKS = ("{{", "{%", "{#")


def parse_set_value(recipe: Recipe, key: str, raw: str) -> Any:
    """The value of ``--set key=raw``: a YAML scalar or list. A Jinja template in it is refused:
    parameter values are data, and a template would run inside the recipe's prompts."""
    if any(mark in raw for mark in _TEMPLATE_MARKS):
        raise RecipeError(f"--set {key}: the value contains a template ({raw.strip()[:40]!r})", file=recipe.file,
                          hint="--set takes plain values; put templates in the recipe file")
    if not raw.strip():
        return ""
    try:
        value = load_yaml(raw)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "cannot be read"
        raise RecipeError(f"--set {key}: {raw.strip()[:40]!r} is not a valid value ({problem})", file=recipe.file,
                          hint=f"quote it: --set '{key}=\"...\"'") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise RecipeError(f"--set {key}: {raw.strip()!r} is not a finite number", file=recipe.file,
                          hint="give a finite number")
    problem = sampling_problem(key.rsplit(".", 1)[-1], value)
    if problem is not None:
        example = _SET_EXAMPLES.get(key.rsplit(".", 1)[-1], key + "=...")
        raise RecipeError(f"--set {key}: {problem}", file=recipe.file, hint=f"e.g. --set {example}")
    return value


_SET_EXAMPLES = {"temperature": "temperature=0.7", "top_p": "top_p=0.9", "max_tokens": "max_tokens=256", "n": "n=4",
                 "seed": "seed=1", "top_logprobs": "top_logprobs=5", "logprobs": "logprobs=true", "stop": "stop='###'"}


def _step_names(recipe: Recipe) -> list[str]:
    return [str(s.get("name")) for s in recipe.data.get("steps") or [] if isinstance(s, dict) and s.get("name")]


def _steps_taking(recipe: Recipe, option: str) -> list[str]:
    """The recipe's steps whose type takes ``option`` (to suggest ``steps.STEP.OPTION``)."""
    from .registry import STEP_TYPES, step_class, step_options

    names = []
    for raw in recipe.data.get("steps") or []:
        if isinstance(raw, dict) and raw.get("type") in STEP_TYPES and raw.get("name"):
            try:
                if option in step_options(step_class(raw["type"])):
                    names.append(str(raw["name"]))
            except ImportError:  # an optional extra is missing: no suggestion from that step
                continue
    return names


def _set_path(recipe: Recipe, dotted: str, value: Any) -> None:
    head, *rest = dotted.split(".")
    if head not in recipe.data and head in _step_names(recipe):
        head, rest = "steps", [head, *rest]  # STEP.OPTION is short for steps.STEP.OPTION
    target: Any = recipe.data.get(head)
    if head == "steps" and rest:
        names = [s.get("name") for s in recipe.data["steps"] if isinstance(s, dict)]
        if rest[0] not in names:
            close = difflib.get_close_matches(rest[0], [n for n in names if n], n=1)
            raise RecipeError(f"--set {dotted}: no step named {rest[0]!r}", file=recipe.file,
                              hint=f"did you mean {close[0]!r}?" if close else f"steps: {', '.join(map(str, names))}")
        target = recipe.data["steps"][names.index(rest[0])]
        rest = rest[1:]
    if target is None or not rest:
        raise RecipeError(f"--set {dotted}: nothing to set there", file=recipe.file,
                          hint="use params (--set NAME=VALUE), steps.STEP.OPTION=VALUE or models.NAME.SETTING=VALUE")
    for part in rest[:-1]:
        if isinstance(target.get(part), str) and head == "models":
            target[part] = {"spec": target[part]}
        target = target.setdefault(part, {})
    target[rest[-1]] = value


def substitute(value: Any, params: dict[str, Any], recipe: Recipe, path: tuple) -> Any:
    """Replace ``${name}`` with parameter values (a whole-string reference keeps the value's type)."""
    if isinstance(value, str):
        whole = _PARAM.fullmatch(value.strip())
        def lookup(name: str) -> Any:
            if name not in params:
                close = difflib.get_close_matches(name, list(params), n=1)
                raise recipe.error(f"${{{name}}} refers to no parameter", *path,
                                   hint=(f"did you mean ${{{close[0]}}}? " if close else "") + "define it under params:")
            return params[name]
        if whole:
            return _checked(lookup(whole.group(1)), recipe, path)
        return _checked(_PARAM.sub(lambda m: str(lookup(m.group(1))), value), recipe, path)
    if isinstance(value, list):
        return [substitute(v, params, recipe, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: substitute(v, params, recipe, path + (k,)) for k, v in value.items()}
    return _checked(value, recipe, path)


def _checked(value: Any, recipe: Recipe, path: tuple) -> Any:
    """A step's sampling option (``steps: - temperature: ...``) must be a value a server accepts:
    checked here, when the recipe is read, so ``temperature: abc`` never reaches a request."""
    if len(path) >= 3 and path[0] == "steps" and isinstance(path[-1], str) and path[-1] in SAMPLING_KEYS:
        problem = sampling_problem(path[-1], value)
        if problem is not None:
            example = _SET_EXAMPLES.get(path[-1], "")
            raise recipe.error(problem, *path, hint=f"set it in the recipe or with --set (e.g. --set {example})"
                               if example else "fix the value in the recipe")
    return value
