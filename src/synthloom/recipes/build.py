"""Building a :class:`Pipeline` from a parsed recipe, mapping every error to its line."""

from __future__ import annotations

import copy
import difflib
import inspect
from dataclasses import dataclass
from typing import Any

import yaml

from ..llm.client import check_model
from ..llm.spec import SETTABLE, ModelConfig, ModelSpecError, parse_model_spec
from ..pipeline.config import canonical, option_type_problem
from ..pipeline.pipeline import Pipeline, PipelineError
from ..pipeline.step import Step
from ..pipeline.templates import TemplateError
from .loader import Recipe, RecipeError, apply_overrides, parse_recipe, resolve_recipe_path, substitute
from .registry import STEP_TYPES, step_class, step_options

#: keys every step takes, whatever its type
STEP_KEYS = ("name", "type", "inputs")


@dataclass
class LoadedRecipe:
    """A validated pipeline plus the resolved recipe text (for ``recipe.lock.yaml``)."""

    pipeline: Pipeline
    resolved: dict[str, Any]
    source: str

    @property
    def engine(self) -> str:
        """The recipe's ``engine:`` (local unless it says ray)."""
        return str(self.resolved.get("engine") or "local")

    @property
    def rows(self) -> int | None:
        """The recipe's ``rows:`` target (rows to keep, like ``--rows``), or None."""
        return self.resolved.get("rows")

    @property
    def resolved_text(self) -> str:
        return yaml.safe_dump(self.resolved, sort_keys=False, allow_unicode=True, width=100)


def load_pipeline(name_or_path: str, sets: list[str] | None = None, model: str | None = None,
                  check_models: bool = True) -> LoadedRecipe:
    """Find, parse, parameterise, build and validate a recipe. Raises :class:`RecipeError`."""
    path = resolve_recipe_path(name_or_path)
    recipe = parse_recipe(path.read_text(encoding="utf-8"), str(path))
    apply_overrides(recipe, list(sets or []), model)
    data = recipe.data
    params = dict(data.get("params") or {})
    params.setdefault("recipe_dir", str(path.parent.resolve()))
    params = {k: substitute(v, params, recipe, ("params", k)) for k, v in params.items()}
    configs = _build_models(recipe, params)
    steps = [_build_step(recipe, raw, ("steps", i), params) for i, raw in enumerate(data["steps"])]
    try:
        pipeline = Pipeline(
            steps=steps, models=configs, name=str(data.get("name") or path.stem),
            description=str(data.get("description") or ""), citations=list(data.get("citations") or []), params=params,
        )
        pipeline.validate()
    except PipelineError as e:
        raise _pipeline_error(recipe, e) from None
    if check_models:
        used = {m for s in pipeline.steps for m in s.models} | {m for s in pipeline.steps for b in s.substeps() for m in b.models}
        for name in sorted(used):
            try:
                check_model(configs[name])
            except ModelSpecError as e:
                raise recipe.error(str(e), "models", name, hint=_MODEL_HINT) from None
    resolved = copy.deepcopy({k: v for k, v in data.items() if k != "params"})
    resolved["params"] = {k: v for k, v in params.items() if k != "recipe_dir"}
    resolved["models"] = {name: {"spec": cfg.spec, **{k: v for k, v in cfg.public_dict().items() if k in SETTABLE}}
                          for name, cfg in configs.items()}
    resolved["steps"] = [lock_entry(s) for s in pipeline.steps]
    return LoadedRecipe(pipeline, resolved, str(path))


def lock_entry(step: Step) -> dict[str, Any]:
    """A step as ``recipe.lock.yaml`` states it: name, type, inputs and every option, defaults
    included (so the lock says what ran even when a default changes in a later version)."""
    entry: dict[str, Any] = {"name": step.name, "type": step.type_name or type(step).__qualname__}
    if step.inputs:
        entry["inputs"] = list(step.inputs)
    for key, value in step.config.items():
        if key == "inputs" or key in step.python_only_options:
            continue
        if isinstance(value, list) and value and all(isinstance(v, Step) for v in value):
            entry[key] = [lock_entry(v) for v in value]
        else:
            entry[key] = canonical(value)
    return entry


_MODEL_HINT = "write e.g. `default: embedded`, `default: gguf:/path/model.gguf` or `default: openai:MODEL@http://host:port/v1`"


def _build_models(recipe: Recipe, params: dict[str, Any]) -> dict[str, ModelConfig]:
    raw_models = recipe.data.get("models") or {"default": "embedded"}
    if not isinstance(raw_models, dict):
        raise recipe.error("`models:` must map names to model specs", "models", hint=_MODEL_HINT)
    configs: dict[str, ModelConfig] = {}
    for name, raw in raw_models.items():
        raw = substitute(raw, params, recipe, ("models", name))
        settings: dict[str, Any] = {}
        if isinstance(raw, dict):
            settings = dict(raw)
            spec = settings.pop("spec", None)
            if spec is None:
                raise recipe.error(f"model {name!r} has no `spec`", "models", name, hint=_MODEL_HINT)
            for key in settings:
                if key not in SETTABLE:
                    close = difflib.get_close_matches(key, sorted(SETTABLE), n=1)
                    raise recipe.error(f"unknown model setting {key!r} for model {name!r}", "models", name, key,
                                       hint=f"did you mean {close[0]!r}?" if close else f"settings: {', '.join(sorted(SETTABLE))}")
        else:
            spec = raw
        try:
            configs[name] = parse_model_spec(str(spec), name=name, **settings)
        except ModelSpecError as e:
            raise recipe.error(str(e), "models", name, hint=_MODEL_HINT) from None
    return configs


def _build_step(recipe: Recipe, raw: Any, path: tuple, params: dict[str, Any]) -> Any:
    if not isinstance(raw, dict):
        raise recipe.error("a step is a mapping with `name:` and `type:`", *path)
    if "name" not in raw:
        raise recipe.error("this step has no `name:`", *path, hint="give every step a unique name")
    name = str(raw["name"])
    type_name = raw.get("type")
    if type_name is None:
        raise recipe.error(f"step {name!r} has no `type:`", *path, hint=f"types: {', '.join(sorted(STEP_TYPES))}")
    if type_name not in STEP_TYPES:
        close = difflib.get_close_matches(str(type_name), sorted(STEP_TYPES), n=1)
        raise recipe.error(f"step {name!r}: unknown step type {type_name!r}", *path, "type",
                           hint=(f"did you mean {close[0]!r}? " if close else "") + f"types: {', '.join(sorted(STEP_TYPES))}")
    cls = step_class(type_name)
    options = step_options(cls)
    kwargs: dict[str, Any] = {}
    inputs = raw.get("inputs")
    if inputs is not None:
        inputs = substitute(inputs, params, recipe, path + ("inputs",))
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) and i for i in inputs):
            raise recipe.error(f"step {name!r}: `inputs` names the steps it reads from", *path, "inputs",
                               hint="write `inputs: STEP` or `inputs: [STEP_A, STEP_B]`")
    for key, value in raw.items():
        if key in STEP_KEYS:
            continue
        if key not in options:
            close = difflib.get_close_matches(str(key), sorted(options), n=1)
            raise recipe.error(f"step {name!r} ({type_name}): unknown option {key!r}", *path, key,
                               hint=(f"did you mean {close[0]!r}? " if close else "") + f"options: {', '.join(sorted(options))}")
        if key == "steps" and type_name == "loop":
            if not isinstance(value, list) or not value:
                raise recipe.error(f"loop {name!r} needs a list of `steps`", *path, key)
            kwargs[key] = [_build_step(recipe, s, path + (key, i), params) for i, s in enumerate(value)]
        else:
            kwargs[key] = substitute(value, params, recipe, path + (key,))
    if inputs is not None and "inputs" in options:
        kwargs["inputs"] = inputs
    missing = [o for o, p in options.items() if p.default is inspect.Parameter.empty and o not in kwargs]
    if missing:
        raise recipe.error(f"step {name!r} ({type_name}) is missing option {missing[0]!r}", *path,
                           hint=f"add `{missing[0]}:` to the step")
    for key, value in kwargs.items():
        problem = option_type_problem(options[key], value)
        if problem:
            raise recipe.error(f"step {name!r} ({type_name}): option {key!r} {problem}", *path, key)
    try:
        step = cls(name, **kwargs)
    except (TypeError, ValueError, TemplateError) as e:
        raise recipe.error(f"step {name!r} ({type_name}): {e}", *path) from None
    if inputs is not None:
        step.inputs = list(inputs)
    step.type_name = type_name
    return step


def _pipeline_error(recipe: Recipe, e: PipelineError) -> RecipeError:
    path: tuple = ()
    if e.step is not None:
        for i, raw in enumerate(recipe.data["steps"]):
            if isinstance(raw, dict) and str(raw.get("name")) == e.step:
                path = ("steps", i)
                if e.field and e.field in raw:
                    path += (e.field,)
                elif e.field == "reads":
                    for key in ("prompt", "system", "keep", "columns", "values", "until"):
                        if key in raw:
                            path += (key,)
                            break
                break
    elif e.field:
        path = tuple(e.field.split("."))
    return RecipeError(super(PipelineError, e).__str__(), file=recipe.file, line=recipe.line(*path), hint=e.hint)


def builtin_catalogue() -> list[dict[str, str]]:
    """Name, one-line description and paper of every built-in recipe."""
    from .loader import BUILTIN_DIR

    out = []
    for p in sorted(BUILTIN_DIR.glob("*.yaml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        desc = str(data.get("description") or "").strip().splitlines()
        cites = data.get("citations") or []
        out.append({"name": p.stem, "description": desc[0] if desc else "", "paper": cites[0] if cites else ""})
    return out
