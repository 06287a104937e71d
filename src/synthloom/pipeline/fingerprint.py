"""Fingerprints of user code, so that editing a ``prompt``/``parse`` function or a custom step's
method makes a rerun recompute (from cached responses) instead of resuming stale output."""

from __future__ import annotations

import types
from typing import Any

import xxhash


def code_fingerprint(obj: Any) -> str:
    """Hash of a function's bytecode, constants, names and closure values (or of a callable's class)."""
    h = xxhash.xxh3_64()
    _feed(h, obj, depth=0)
    return h.hexdigest()


def _feed(h: xxhash.xxh3_64, obj: Any, depth: int) -> None:
    if depth > 4:
        return
    fn = getattr(obj, "__func__", obj)
    code = getattr(fn, "__code__", None)
    if code is None:
        if callable(obj) and not isinstance(obj, type):
            h.update(type(obj).__qualname__.encode())
            call = next((vars(k)["__call__"] for k in type(obj).__mro__ if "__call__" in vars(k)), None)
            if call is not None and getattr(call, "__code__", None) is not None:
                _feed(h, call, depth + 1)
        else:
            h.update(repr(obj).encode(errors="replace"))
        return
    _feed_code(h, code)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, (types.FunctionType, types.MethodType)):
            _feed(h, value, depth + 1)
        elif isinstance(value, (str, int, float, bool, bytes, type(None), tuple)):
            h.update(repr(value).encode(errors="replace"))


def _feed_code(h: xxhash.xxh3_64, code: types.CodeType) -> None:
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(h, const)
        else:
            h.update(repr(const).encode(errors="replace"))


def class_code_fingerprint(cls: type, stop_module_prefix: str = "synthloom.") -> str:
    """Hash of the methods a user's step subclass defines (synthloom's own classes are skipped)."""
    h = xxhash.xxh3_64()
    for klass in cls.__mro__:
        if klass.__module__.startswith(stop_module_prefix) or klass is object:
            continue
        for name, value in sorted(vars(klass).items()):
            if isinstance(value, (types.FunctionType, staticmethod, classmethod)):
                h.update(name.encode())
                _feed(h, getattr(value, "__func__", value), depth=0)
    return h.hexdigest()
