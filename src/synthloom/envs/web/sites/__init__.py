"""The web sites bundled with the web environment: ``shop`` (Loom Shop) and ``forum`` (Loom Forum). Each module has
``NAME``, ``SCHEMA``, ``KEYS`` (primary keys), ``seed_rows(seed)`` and ``app(db_path)`` (a WSGI application)."""

from __future__ import annotations

from types import ModuleType

from . import forum, shop

SITES: dict[str, ModuleType] = {"shop": shop, "forum": forum}


def site_module(name: str) -> ModuleType:
    """The bundled site called ``name``."""
    try:
        return SITES[name]
    except KeyError:
        raise ValueError(f"unknown web site {name!r}: the bundled sites are {', '.join(sorted(SITES))}") from None
