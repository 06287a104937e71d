"""Jinja2 prompt templates: rendering, and the columns a template reads (checked before a run)."""

from __future__ import annotations

import functools
import re
from typing import Any

import jinja2
import jinja2.meta


class NullValue(ValueError):
    """A template printed a null value: the row has no value there (sending "None" would be wrong)."""


def _no_null(value: Any) -> Any:
    if value is None:
        raise NullValue("the template prints a value that is null in this row; give the row a value, "
                        "or write e.g. {{ column or '' }} in the template")
    return value


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False,
                          finalize=_no_null)
_ENV.filters["wordcount"] = lambda s: len(str(s).split())
#: names a template may use that are not columns
TEMPLATE_GLOBALS = {"params", "record", "loop", "range", "namespace", "lipsum", "dict", "cycler", "joiner"}


class TemplateError(ValueError):
    """A template does not parse or refers to something that does not exist."""


@functools.lru_cache(maxsize=512)
def compile_template(source: str) -> jinja2.Template:
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"template syntax error on its line {e.lineno}: {e.message}") from None


@functools.lru_cache(maxsize=512)
def compile_expression(source: str) -> Any:
    """A Jinja2 expression such as ``response | wordcount >= 3`` evaluated against a record."""
    try:
        return _ENV.compile_expression(source, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"expression {source!r} does not parse: {e.message}") from None


@functools.lru_cache(maxsize=512)
def template_columns(source: str, *, expression: bool = False) -> frozenset[str]:
    """Top-level names a template (or expression) reads, minus Jinja globals."""
    text = "{{ " + source + " }}" if expression else source
    try:
        ast = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"template syntax error on its line {e.lineno}: {e.message}") from None
    return frozenset(jinja2.meta.find_undeclared_variables(ast) - TEMPLATE_GLOBALS)


_BARE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@functools.lru_cache(maxsize=512)
def _bare_column(source: str) -> str | None:
    m = _BARE.fullmatch(source)
    return m.group(1) if m else None


def render(source: str, record: dict[str, Any], params: dict[str, Any] | None = None) -> str:
    """Render ``source`` with the record's columns (and ``params``, ``record``) in scope."""
    bare = _bare_column(source)
    if bare is not None and bare in record and isinstance(record[bare], str):
        return record[bare]  # ``{{ column }}`` of a string: what Jinja would render, without Jinja
    if bare is not None and bare in record and record[bare] is None:
        raise TemplateError(f"column {bare!r} is null in this row: there is nothing to send")
    try:
        return compile_template(source).render({**record, "record": record, "params": params or {}})
    except jinja2.UndefinedError as e:
        raise TemplateError(f"template refers to a missing value: {e.message}") from None
    except NullValue as e:
        raise TemplateError(str(e)) from None


def evaluate(source: str, record: dict[str, Any], params: dict[str, Any] | None = None) -> Any:
    try:
        return compile_expression(source)(**{**record, "record": record, "params": params or {}})
    except jinja2.UndefinedError as e:
        raise TemplateError(f"expression {source!r} refers to a missing value: {e.message}") from None
