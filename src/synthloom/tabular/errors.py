"""Errors of the tabular package, and the one-line message for a missing ``tabular`` extra."""

from __future__ import annotations

import importlib
from types import ModuleType


class TableError(ValueError):
    """A table, schema or column spec cannot be used as given; the message names the place and the fix."""


class SchemaError(TableError):
    """A schema YAML file is wrong at ``file:line``."""

    def __init__(self, message: str, *, file: str, line: int | None = None, hint: str = "") -> None:
        self.file, self.line, self.hint = file, line, hint
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}" + (f"; fix: {hint}" if hint else ""))


class TabularExtraMissing(ImportError, TableError):
    """A module of the ``tabular`` extra is not installed (an ImportError, and a user error: one line)."""


def need(module: str) -> ModuleType:
    """Import ``module`` (pandas, sklearn, copulas, faker, causallearn), or raise one clear line."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TabularExtraMissing(
            f"tabular data needs {module.split('.')[0]!r}, which is not installed; fix: pip install 'synthloom[tabular]'"
        ) from None
