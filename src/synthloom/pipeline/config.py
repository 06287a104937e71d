"""A step's declared options: captured once from its constructor, used everywhere.

A step type declares its options as the keyword arguments of its constructor (walking up the class
hierarchy while a constructor forwards ``**kwargs``). :meth:`Step.__new__` binds the arguments of
every construction to that declaration, defaults filled in, so the one declaration gives:

* the recipe schema (:func:`step_options`, checked with ``file:line`` errors by ``recipes/build``),
* the run fingerprint (:func:`canonical` of every option: no option can be left out),
* ``recipe.lock.yaml`` (every option of every step, defaults included),
* the option table of each method's docs page (:func:`options_markdown`).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import math
import types
import typing
from pathlib import PurePath
from typing import Any

#: constructor parameters that are not options of the step (its identity and wiring)
NOT_OPTIONS = ("self", "name")
#: parameters a base class takes from its subclasses (columns, models), not from a recipe: an option only of a
#: class whose own constructor declares them
WIRING = ("reads", "writes", "models")
#: sampling options every model-calling step accepts (forwarded through ``**sampling``)
SAMPLING_KEYS = ("n", "temperature", "top_p", "max_tokens", "stop", "seed", "logprobs", "top_logprobs")
_SAMPLING_TYPES = {"n": "int | None", "temperature": "float | None", "top_p": "float | None",
                   "max_tokens": "int | None", "stop": "list[str] | str | None", "seed": "int | None",
                   "logprobs": "bool | None", "top_logprobs": "int | None"}


def step_options(cls: type) -> dict[str, inspect.Parameter]:
    """The keyword options step class ``cls`` accepts (excluding ``name``), nearest class first.
    A constructor's ``**kwargs`` forwards to its parent's; ``**sampling`` takes :data:`SAMPLING_KEYS`."""
    options: dict[str, inspect.Parameter] = {}
    first = True
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        for p in params.values():
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in NOT_OPTIONS \
                    and (first or p.name not in WIRING):
                options.setdefault(p.name, p)
        first = False
        if not any(p.kind is p.VAR_KEYWORD and p.name != "sampling" for p in params.values()):
            break  # ``**sampling`` takes the sampling options, it forwards nothing to the parent
    if getattr(cls, "takes_sampling", False):
        for key in SAMPLING_KEYS:
            options.setdefault(key, inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None,
                                                      annotation=_SAMPLING_TYPES[key]))
    for key in getattr(cls, "dropped_options", ()):
        options.pop(key, None)
    return options


def bind_config(cls: type, args: tuple, kwargs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """``(name, options)`` of one construction ``cls(*args, **kwargs)``: every declared option with
    the value given, or its default. Positional arguments after ``name`` are bound by position."""
    sig = inspect.signature(cls.__init__)
    try:
        bound = sig.bind(None, *args, **kwargs)
    except TypeError:
        return None, {}  # the constructor itself raises the precise error
    given: dict[str, Any] = {}
    for pname, value in bound.arguments.items():
        param = sig.parameters[pname]
        if param.kind is param.VAR_KEYWORD:
            given.update(value)
        elif param.kind is not param.VAR_POSITIONAL and pname != "self":
            given[pname] = value
    name = given.pop("name", None)
    config: dict[str, Any] = {}
    for opt, param in step_options(cls).items():
        if opt in given:
            config[opt] = given.pop(opt)
        elif param.default is not inspect.Parameter.empty:
            config[opt] = param.default
    config.update(given)  # accepted by a constructor outside the declaration walk: still identity
    return name, config


def canonical(value: Any, depth: int = 0) -> Any:
    """A JSON-able, order-stable form of an option value for fingerprints and lock files: steps as
    their descriptions, functions as hashes of their code, paths as strings, sets sorted."""
    from .fingerprint import code_fingerprint

    if depth > 20:
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, enum.Enum):
        return canonical(value.value, depth + 1)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        return {str(k): canonical(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v, depth + 1) for v in value), key=repr)
    describe = getattr(value, "describe", None)
    if callable(describe) and not isinstance(value, type):
        return describe()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"dataclass": type(value).__qualname__, **canonical(dataclasses.asdict(value), depth + 1)}
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)) or callable(value):
        return {"code": code_fingerprint(value)}
    return repr(value)


# -- documentation --------------------------------------------------------------------------
def _type_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def option_rows(cls: type) -> list[tuple[str, str, str]]:
    """``(option, type, default)`` for each option of ``cls``; the default is ``required`` when
    there is none. Options a recipe cannot express (Python callables) are left out."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - a forward reference the docs cannot resolve: show the text
        hints = {}
    rows = []
    for opt, p in step_options(cls).items():
        if opt in getattr(cls, "python_only_options", ()) or opt == "inputs":
            continue  # inputs: every step takes it (wiring, documented once)
        kind = _type_text(hints.get(opt, p.annotation))
        default = "required" if p.default is inspect.Parameter.empty else f"`{p.default!r}`"
        rows.append((opt, kind, default))
    return rows


def options_markdown(cls: type) -> str:
    """The option table of a step type, for its docs page (generated, never written by hand)."""
    lines = ["| option | type | default |", "|---|---|---|"]
    for opt, kind, default in option_rows(cls):
        lines.append(f"| `{opt}` | {kind.replace('|', '&#124;')} | {default} |")
    return "\n".join(lines)


# -- recipe values ------------------------------------------------------------------------------
_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),),
    "list": (list,), "tuple": (list,), "Iterable": (list,), "Sequence": (list,), "set": (list,),
    "frozenset": (list,), "dict": (dict,), "Mapping": (dict,),
}
_NAMES = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false", "None": "null",
          "list": "a list", "tuple": "a list", "Iterable": "a list", "Sequence": "a list", "set": "a list",
          "frozenset": "a list", "dict": "a mapping", "Mapping": "a mapping"}


def _union_parts(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return [p.split("[", 1)[0].strip().removeprefix("typing.").removeprefix("collections.abc.") for p in parts]


def option_type_problem(param: inspect.Parameter, value: Any) -> str | None:
    """Why ``value`` from a recipe does not fit the option's annotation (``None`` when it fits or
    when the annotation is not one of the plain types a recipe can express)."""
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        return None
    text = annotation if isinstance(annotation, str) else _type_text(annotation)
    parts = _union_parts(text)
    if not parts or any(p not in _KINDS for p in parts):
        return None  # Any, a class, a callable: the constructor checks it
    if param.default is None and "None" not in parts:
        parts.append("None")
    for p in parts:
        kinds = _KINDS[p]
        if isinstance(value, bool) and bool not in kinds:
            continue
        if isinstance(value, kinds):
            return None
    wanted = " or ".join(dict.fromkeys(_NAMES[p] for p in parts if p != "None"))
    return f"must be {wanted}, not {value!r}"
