"""Shared check for the bundled catalogue modules' convention (see ``synthloom/tools/catalogue/__init__.py``)."""

from __future__ import annotations

import ast
import inspect
import sys
import typing
from pathlib import Path
from types import ModuleType

import docstring_parser
import pytest

from synthloom.llm.tools import tools_problem
from synthloom.tools.spec import tools_from_module_source


def check_catalogue_module(module: ModuleType, min_tools: int) -> list:
    """Assert ``module`` follows the bundled-module convention and return the tools its source declares."""
    assert module.__doc__ and module.__doc__.strip(), "the module needs a docstring saying what the category is"
    assert isinstance(module.CATEGORY, str) and module.CATEGORY
    path = Path(module.__file__)
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            roots = [(node.module or "").split(".")[0]]
        else:
            continue
        assert all(r in sys.stdlib_module_names for r in roots), f"{path.name} imports {roots}: stdlib only"
    public = {name: fn for name, fn in vars(module).items()
              if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_")}
    assert len(public) >= min_tools
    for name, fn in public.items():
        params = list(inspect.signature(fn).parameters)
        hints = typing.get_type_hints(fn)
        assert set(hints) == {*params, "return"}, f"{name}: every parameter and the return need a type hint"
        doc = docstring_parser.parse(inspect.getdoc(fn) or "")
        assert doc.short_description, f"{name}: the docstring needs a one-line summary"
        assert [p.arg_name for p in doc.params] == params, f"{name}: Args must document every parameter, in order"
        assert all(p.description for p in doc.params), f"{name}: every Args entry needs a description"
        assert doc.returns is not None and doc.returns.description, f"{name}: the docstring needs a Returns: section"
    tools = tools_from_module_source(path.stem, source, category=module.CATEGORY)
    assert {t.name for t in tools} == set(public)
    assert tools_problem([t.openai() for t in tools]) is None
    for tool in tools:
        assert tool.category == module.CATEGORY and tool.description and tool.returns
        documented = tool.parameters["properties"]
        assert all(p.get("description") for p in documented.values()), f"{tool.name}: a parameter lacks a description"
    return tools


@pytest.fixture
def catalogue_convention():
    return check_catalogue_module
