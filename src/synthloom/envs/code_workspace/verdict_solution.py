"""The solution side of a verdict run (standard library only; runs in the sandbox's untrusted solution process).

Loads the workspace's modules from their source text (a finder on ``sys.meta_path`` serves every module of the
workspace, so the package imports itself as it would from files), imports the exposed ones, and leaves two plain
globals for the trusted harness: ``repo`` (``{module: {public name: value}}``: functions, classes and instances
cross as proxies, constants by value) and ``repo_meta`` (the modules that failed to import, with why, and the
exception classes, by name and bases, so the harness can catch the package's own exceptions). Nothing here is
trusted: the harness judges only what the tests observe through the proxies. The program that
:func:`~synthloom.envs.code_workspace.verdict.solution_program` writes runs this source as a module of its own and
calls :func:`load_workspace`, so ``repo`` and ``repo_meta`` are the solution's only names.
"""

import builtins
import importlib
import importlib.util
import linecache
import os
import sys
import traceback
import types

FRAMES_SHOWN = 3


class _WorkspaceFinder:
    """Serves ``{module name: (path, source, is_package)}`` to the import system."""

    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        entry = self.sources.get(name)
        if entry is None:
            return None
        return importlib.util.spec_from_loader(name, self, origin=entry[0], is_package=entry[2])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        path, source, _ = self.sources[module.__name__]
        module.__file__ = os.path.join(os.getcwd(), path)
        exec(compile(source, path, "exec"), module.__dict__)


def _why(exc, paths):
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in paths][-FRAMES_SHOWN:]
    return head + "".join(f"\n  at {f.filename}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in frames)


def _builtin_base(cls):
    for klass in cls.__mro__:
        if getattr(builtins, klass.__name__, None) is klass:
            return klass.__name__
    return "Exception"


def _describe_exception(cls, module_names, classes):
    """The id of exception class ``cls``, recorded with its bases in ``classes`` (package bases recursively)."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key in classes:
        return key
    classes[key] = {"name": cls.__name__, "bases": []}
    bases = []
    for base in cls.__bases__:
        if getattr(builtins, base.__name__, None) is base:
            bases.append(["builtin", base.__name__])
        elif base.__module__ in module_names and issubclass(base, BaseException):
            bases.append(["class", _describe_exception(base, module_names, classes)])
        else:
            bases.append(["builtin", _builtin_base(base)])
    classes[key]["bases"] = bases
    return key


def load_workspace(sources, exposed):
    """Import ``exposed`` (module names) from ``sources`` and return ``(repo, repo_meta)``."""
    paths = {entry[0] for entry in sources.values()}
    for path, source, _ in sources.values():
        linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    sys.meta_path.insert(0, _WorkspaceFinder(sources))
    errors = {}
    for name in exposed:
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - a module that fails to import fails the tests that need it
            errors[name] = _why(exc, paths)[:2000]
    repo, classes, exception_names = {}, {}, {}
    for name in exposed:
        module = sys.modules.get(name)
        if name in errors or module is None:
            continue
        attrs = {}
        for key, value in list(vars(module).items()):
            if key.startswith("_") or isinstance(value, types.ModuleType):
                continue
            attrs[key] = value
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ in sources:
                exception_names.setdefault(name, {})[key] = _describe_exception(value, sources, classes)
        repo[name] = attrs
    return repo, {"errors": errors, "exceptions": classes, "exception_names": exception_names}
