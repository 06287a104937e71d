"""Tool declarations: what a model is offered (name, description, JSON-schema parameters) and the source that
implements it.

A :class:`Tool` is declared from a Python function (:func:`tool_from_function`: signature, type hints and
Google-style docstring → schema), from every public function of a module's source (:func:`tools_from_module_source`),
from a JSON schema plus implementation source (:func:`tool_from_schema`) or from an OpenAPI document
(``tools/openapi.py``). Implementations are carried as *source text* in a :class:`ToolModule` and run only in the
sandbox (``tools/executor.py``); declaring a tool from source parses it with :mod:`ast` and never imports or runs
it on the host, so a user's or a model's module is as safe to load as the bundled catalogue.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import re
import typing
from dataclasses import dataclass
from typing import Any

import docstring_parser

from synthloom.llm.tools import tools_problem
from synthloom.tools.hints_schema import UnsupportedHint, hint_from_ast, hint_schema, module_aliases

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NO_DEFAULT = object()


@dataclass(frozen=True)
class ToolModule:
    """The source of one or more tools, executed in the sandbox as its own module named ``name``; ``data_dir`` is a
    host folder of data files it reads (mounted read-only, seen by the module as ``DATA_DIR``), or None."""

    name: str
    source: str
    data_dir: str | None = None
    #: the module keeps no state between calls and touches no files, so the executor may run calls of several
    #: rows in one jail (only trusted bundled modules say so, with a module-level ``STATELESS = True``)
    stateless: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise ValueError(f"tool module name {self.name!r} must be a Python identifier (it is imported by that name)")


@dataclass(frozen=True)
class Tool:
    """One function a model may call: ``name``, ``description`` and ``parameters`` (a JSON schema of type object) are
    what the model sees; ``module.entry`` is what runs. ``module`` None means no implementation (simulated only)."""

    name: str
    description: str
    parameters: dict[str, Any]
    category: str
    module: ToolModule | None
    entry: str
    returns: str = ""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")

    def __hash__(self) -> int:
        return hash((self.name, self.category, self.entry))

    def openai(self) -> dict[str, Any]:
        """The OpenAI function-tool form a request's ``tools`` carries."""
        return {"type": "function", "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    @property
    def executable(self) -> bool:
        return self.module is not None


def safe_module_name(text: str) -> str:
    """``text`` made into a Python identifier usable as a module name ("my-tools" → "my_tools")."""
    name = re.sub(r"\W", "_", text) or "tools"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "m_" + name
    return name


# -- from Python functions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    name: str
    hint: Any
    default: Any = _NO_DEFAULT    # _NO_DEFAULT: required; ...: has a default that is not a literal
    optional: bool = False


def tool_from_function(fn: Any, *, category: str, module: ToolModule | None = None) -> Tool:
    """The tool a live Python function declares: parameters from its signature and type hints, descriptions from its
    docstring (Google, reST or NumPy style). ``module``, when given, is the source that defines ``fn`` (checked)."""
    where = f"function {getattr(fn, '__name__', fn)!r}"
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ValueError(f"{where}: its type hints cannot be resolved ({exc})") from exc
    params = []
    for p in inspect.signature(fn).parameters.values():
        _check_kind(where, p.name, p.kind)
        if p.name not in hints:
            raise ValueError(f"{where}, parameter {p.name!r}: add a type hint (tools need one on every parameter)")
        has_default = p.default is not inspect.Parameter.empty
        params.append(_Param(p.name, hints[p.name], p.default if has_default else _NO_DEFAULT, has_default))
    if module is not None:
        check_entry(module.source, fn.__name__, None, where=where)
    return _build(where, fn.__name__, inspect.getdoc(fn), params, category=category, module=module)


def tools_from_module_source(name: str, source: str, *, category: str, data_dir: str | None = None,
                             stateless: bool = False) -> list[Tool]:
    """One tool per public top-level function of ``source`` (restricted to ``__all__`` when it lists names).

    The source is parsed, never imported: annotations are read from the syntax tree (only the supported hint names
    are accepted) and defaults with :func:`ast.literal_eval`, so this is safe on a user's or a model's module.
    """
    module = ToolModule(name, source, data_dir, stateless)
    tree = parse_source(source, f"{name}.py")
    exported = _all_names(tree)
    aliases = module_aliases(tree)
    tools = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
            continue
        if exported is not None and node.name not in exported:
            continue
        where = f"{name}.py, function {node.name!r}"
        if isinstance(node, ast.AsyncFunctionDef):
            raise ValueError(f"{where}: async functions cannot be tools; make it a plain def or prefix it with '_'")
        tools.append(_build(where, node.name, ast.get_docstring(node), _ast_params(where, node, aliases), category=category,
                            module=module))
    if not tools:
        raise ValueError(f"{name}.py defines no public function, so no tool (functions starting with '_' are private)")
    return tools


def module_category(source: str, filename: str) -> str | None:
    """The module-level ``CATEGORY = "..."`` string of ``source``, or None."""
    for node in parse_source(source, filename).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CATEGORY" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
            raise ValueError(f"{filename}: CATEGORY must be a plain string, e.g. CATEGORY = \"arithmetic\"")
    return None


def module_flag(source: str, filename: str, flag: str) -> bool:
    """Whether ``source`` sets the module-level ``FLAG = True`` (e.g. the catalogue's ``STATELESS``)."""
    for node in parse_source(source, filename).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == flag for t in node.targets):
            return isinstance(node.value, ast.Constant) and node.value.value is True
    return False


def parse_source(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise ValueError(f"{filename} line {exc.lineno}: {exc.msg}; fix the Python syntax") from exc


def _all_names(tree: ast.Module) -> set[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                return set(ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def _ast_params(where: str, node: ast.FunctionDef, aliases: dict[str, Any]) -> list[_Param]:
    args = node.args
    for extra, kind in ((args.vararg, inspect.Parameter.VAR_POSITIONAL), (args.kwarg, inspect.Parameter.VAR_KEYWORD)):
        if extra is not None:
            _check_kind(where, extra.arg, kind)
    if args.posonlyargs:
        _check_kind(where, args.posonlyargs[0].arg, inspect.Parameter.POSITIONAL_ONLY)
    defaults: list[ast.expr | None] = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(args.args, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    params = []
    for arg, default in pairs:
        if arg.annotation is None:
            raise ValueError(f"{where}, parameter {arg.arg!r}: add a type hint (tools need one on every parameter)")
        try:
            hint = hint_from_ast(arg.annotation, aliases)
        except UnsupportedHint as exc:
            raise ValueError(f"{where}, parameter {arg.arg!r}: {exc}") from exc
        if default is None:
            params.append(_Param(arg.arg, hint))
            continue
        try:
            value = ast.literal_eval(default)
        except ValueError:
            value = ...
        params.append(_Param(arg.arg, hint, value, True))
    return params


def _check_kind(where: str, name: str, kind: Any) -> None:
    if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        stars = "*" if kind is inspect.Parameter.VAR_POSITIONAL else "**"
        raise ValueError(f"{where}: {stars}{name} cannot be a tool parameter; name every argument")
    if kind is inspect.Parameter.POSITIONAL_ONLY:
        raise ValueError(f"{where}, parameter {name!r}: positional-only parameters cannot be passed by name; drop the '/'")


def _build(where: str, name: str, docstring: str | None, params: list[_Param], *, category: str,
           module: ToolModule | None) -> Tool:
    if not NAME_PATTERN.match(name):
        raise ValueError(f"{where}: the tool name must be 1-64 letters, digits, '_' or '-'")
    doc = docstring_parser.parse(docstring or "")
    documented = {p.arg_name: _unwrapped(p.description or "") for p in doc.params}
    unknown = [d for d in documented if d not in {p.name for p in params}]
    if unknown:
        raise ValueError(f"{where}: the docstring documents {unknown[0]!r}, which is not a parameter")
    properties: dict[str, Any] = {}
    required = []
    for p in params:
        try:
            schema, annotated = hint_schema(p.hint)
        except UnsupportedHint as exc:
            raise ValueError(f"{where}, parameter {p.name!r}: {exc}") from exc
        description = annotated or documented.get(p.name)
        if description:
            schema = {**schema, "description": description}
        if not p.optional:
            required.append(p.name)
        elif p.default is not None and p.default is not ... and _is_json(p.default):
            schema["default"] = list(p.default) if isinstance(p.default, tuple) else p.default
        properties[p.name] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    parameters["additionalProperties"] = False
    glue = "\n\n" if doc.blank_after_short_description else "\n"
    text = _unwrapped(glue.join(part for part in (doc.short_description, doc.long_description) if part and part.strip()))
    returns = _unwrapped(doc.returns.description or "") if doc.returns else ""
    return Tool(name, text, parameters, category, module, name, returns)


def _unwrapped(text: str) -> str:
    """Docstring text with its line wrapping undone (paragraphs, i.e. blank lines, are kept)."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs if p.strip())


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


# -- from a JSON schema + source ---------------------------------------------------------------------------


def tool_from_schema(schema: dict[str, Any], source: str | None, *, category: str, entry: str | None = None,
                     module_name: str | None = None, data_dir: str | None = None) -> Tool:
    """The tool a function schema declares — bare ``{"name", "description", "parameters"}`` or the OpenAI
    ``{"type": "function", "function": {...}}`` form — implemented by function ``entry`` (default: the tool's name)
    of ``source``, or not implemented (simulated only) when ``source`` is None. The schema is checked like a request's
    tools; the source must define ``entry`` with parameters matching the schema (it is parsed, not run)."""
    fn = schema.get("function") if isinstance(schema, dict) and schema.get("type") == "function" else schema
    if not isinstance(fn, dict):
        raise ValueError(f"a tool schema must be an object with name, description and parameters, not {type(schema).__name__}")
    fn = {"parameters": {"type": "object", "properties": {}}, **fn}
    problem = tools_problem([{"type": "function", "function": fn}])
    if problem:
        raise ValueError("tool schema" + problem.removeprefix("tools[0]"))
    name = fn["name"]
    module = None
    entry = entry or name
    if source is not None:
        check_entry(source, entry, fn["parameters"], where=f"tool {name!r}")
        module = ToolModule(module_name or safe_module_name(entry), source, data_dir)
    return Tool(name, fn.get("description") or "", fn["parameters"], category, module, entry)


def check_entry(source: str, entry: str, parameters: dict[str, Any] | None, *, where: str) -> None:
    """Raise unless ``source`` defines a top-level function ``entry`` that accepts the arguments ``parameters``
    declares (and declares every argument it requires)."""
    tree = parse_source(source, f"{where} source")
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    node = functions.get(entry)
    if node is None:
        shown = ", ".join(sorted(functions)) or "none"
        raise ValueError(f"{where}: the source defines no top-level function {entry!r} (functions: {shown})")
    if parameters is None:
        return
    args = node.args
    named = [a.arg for a in args.args + args.kwonlyargs]
    declared = set(parameters.get("properties") or {})
    if args.kwarg is None:
        extra = sorted(declared - set(named))
        if extra:
            raise ValueError(f"{where}: the schema declares {extra[0]!r}, which {entry}() does not accept")
    needed = [a.arg for a in args.args[: len(args.args) - len(args.defaults)]]
    needed += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    missing = [n for n in needed if n not in declared]
    if missing:
        raise ValueError(f"{where}: {entry}() requires {missing[0]!r}, which the schema does not declare")
