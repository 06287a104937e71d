"""The harness side of a verdict run (standard library only; runs in the sandbox's trusted harness process).

:func:`run` rebuilds the workspace's modules in the harness's ``sys.modules`` from the ``repo`` the solution
reported (its functions and classes are proxies to the solution process; its exception classes are made here, by
name and bases, and the remote exceptions of those names are raised as them), runs the ORIGINAL test file (given
by the host, never read from the workspace) in a module of its own and calls one test function. A test that does
not pass raises :class:`WorkspaceTestFailed`, whose text is one JSON line ``{"outcome": "failed" | "error",
"message": ...}`` (a failed ``assert`` is explained as the workspace's runner does it: the statement and both sides
of a comparison); a test that returns is the harness's ``ok`` verdict, the only way to pass.

The test program (see ``verdict.harness_program``) runs this source in a namespace of its own with the real builtins:
the names the solution sends land in the program's globals, where they could shadow builtins, so nothing here is
looked up there. It relies on names of ``sandbox/_harness.py``: ``Remote`` (a proxy), ``RemoteError``,
``Channel.dec`` and ``Channel._exception`` (which it guards: see :func:`guard_channel`), ``SolutionDied`` and
``ProtocolError`` (which pass through untouched).
"""

import ast
import builtins
import io
import json
import keyword
import linecache
import re
import signal
import sys
import traceback
import types

MESSAGE_LIMIT = 1200
OUTPUT_LIMIT = 2000
SHOW = 300
EXPLAIN_SECONDS = 1.0
FRAMES_SHOWN = 3
#: the harness's builtins a value from the solution may be: classes (``int``, ``ValueError``, ...), no functions
SAFE_BUILTINS = [v for v in vars(builtins).values() if isinstance(v, type) and v not in (type, object, super, classmethod,
                                                                                         staticmethod, property)]
_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray)
_REMOTE_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ([^\n]+)\n(?: {4}(.*))?')


class WorkspaceTestFailed(Exception):
    """A test that did not pass: the text is ``{"outcome", "message"}`` as one JSON line."""


class _ExplainTimeout(BaseException):
    pass


class _CappedText(io.TextIOBase):
    def __init__(self, limit):
        self.limit, self.parts, self.size = limit, [], 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        if self.size < self.limit:
            self.parts.append(text[: self.limit - self.size])
        self.size += len(text)
        return len(text)

    def text(self):
        joined = "".join(self.parts)
        return joined + (f"... [{self.size - self.limit} more characters]" if self.size > self.limit else "")


def _module_name_ok(name, roots):
    return (type(name) is str and name.split(".")[0] in roots and name not in sys.modules
            and all(part.isidentifier() and not keyword.iskeyword(part) for part in name.split(".")))


def local_exceptions(described):
    """``{id: class}``: the package's exception classes made here from ``{id: {"name", "bases"}}``."""
    classes = {}
    if type(described) is not dict:
        return classes

    def make(ident, depth):
        if ident in classes:
            return classes[ident]
        entry = described.get(ident)
        if depth > 20 or type(entry) is not dict or type(entry.get("name")) is not str or not entry["name"].isidentifier():
            return None
        bases = []
        for base in entry.get("bases") if type(entry.get("bases")) is list else []:
            if type(base) is not list or len(base) != 2 or type(base[1]) is not str:
                continue
            if base[0] == "builtin":
                cls = getattr(builtins, base[1], None)
                cls = cls if isinstance(cls, type) and issubclass(cls, Exception) else None
            else:
                cls = make(base[1], depth + 1) if base[0] == "class" else None
            if cls is not None and cls not in bases:
                bases.append(cls)
        bases = bases or [Exception]
        body = {"__module__": ident.rpartition(".")[0] or "workspace", "__qualname__": entry["name"]}
        try:
            cls = type(entry["name"], tuple(bases), body)
        except TypeError:  # bases that cannot be combined here: keep the first
            cls = type(entry["name"], (bases[0],), body)
        classes[ident] = cls
        return cls

    for ident in list(described):
        if type(ident) is str:
            make(ident, 0)
    return classes


def plain(value, remote, depth=0):
    """Whether ``value`` (decoded from the solution) is data, proxies and safe builtin classes only."""
    kind = type(value)
    if kind in _PLAIN or kind is remote or (kind is type and value in SAFE_BUILTINS):
        return True
    if depth > 100:
        return False
    if kind in (list, tuple, set, frozenset):
        return all(plain(v, remote, depth + 1) for v in value)
    if kind is dict:
        return all(plain(k, remote, depth + 1) and plain(v, remote, depth + 1) for k, v in value.items())
    return False


def build_modules(repo, meta, roots, remote):
    """``{name: module}`` for the modules the solution reported under ``roots`` (attributes that are not
    :func:`plain` are left out), and the exception classes."""
    repo = repo if type(repo) is dict else {}
    meta = meta if type(meta) is dict else {}
    classes = local_exceptions(meta.get("exceptions"))
    named = meta.get("exception_names") if type(meta.get("exception_names")) is dict else {}
    modules = {}
    for name in sorted(n for n in repo if _module_name_ok(n, roots)):
        attrs = repo[name]
        if type(attrs) is not dict:
            continue
        module = types.ModuleType(name)
        for key, value in attrs.items():
            if type(key) is str and key.isidentifier() and not key.startswith("_") and plain(value, remote):
                module.__dict__[key] = value
        exceptions = named.get(name) if type(named.get(name)) is dict else {}
        for key, ident in exceptions.items():
            if type(key) is str and key in module.__dict__ and type(ident) is str and ident in classes:
                module.__dict__[key] = classes[ident]
        modules[name] = module
    errors = meta.get("errors") if type(meta.get("errors")) is dict else {}
    known = set(modules) | {n for n in errors if _module_name_ok(n, roots)}
    for name, module in modules.items():
        if any(other.startswith(name + ".") for other in known):
            module.__path__ = []
        parent, _, child = name.rpartition(".")
        if parent in modules and child not in modules[parent].__dict__:
            modules[parent].__dict__[child] = module
    return modules, classes


class _WorkspaceImports:
    """Answers imports of the workspace's modules that are not in ``sys.modules``: why they failed, or that
    there is no such module (the harness's own ``sys.path`` is never searched for them)."""

    def __init__(self, roots, errors):
        self.roots, self.errors = roots, errors

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in self.roots:
            return None
        why = self.errors.get(name)
        if type(why) is str:
            raise ImportError(f"importing {name} failed in the workspace: {why[:MESSAGE_LIMIT]}", name=name)
        raise ModuleNotFoundError(f"No module named {name!r} in the workspace", name=name)


def guard_channel(harness, classes):
    """Patch the harness's channel: values the solution sends may be data or proxies, never the harness's own
    functions or modules (a proxy's attribute could otherwise be the harness's ``exec``, called by a test with
    another value the solution chose); remote exceptions named like one of the package's classes are raised as it."""
    channel, remote_error, protocol_error = harness["Channel"], harness["RemoteError"], harness["ProtocolError"]
    decode, make_exception = channel.dec, channel._exception
    by_name = {}
    for cls in classes.values():
        by_name.setdefault(cls.__name__, []).append(cls)
    unique = {name: found[0] for name, found in by_name.items() if len(found) == 1 and not hasattr(builtins, name)}

    def guarded_dec(self, value, depth=0):
        if type(value) is dict and value.get("$") in ("builtin", "module"):
            body = value.get("v")
            if value["$"] == "module" or type(body) is not str or getattr(builtins, body, None) not in SAFE_BUILTINS:
                raise protocol_error(f"the solution sent the harness's own {value['$']} {str(body)[:80]!r}")
        return decode(self, value, depth)

    def translated(self, info):
        exc = make_exception(self, info)
        name = info.get("type") if type(info) is dict else None
        cls = unique.get(name) if type(name) is str else None
        if cls is None or type(exc) is not remote_error:
            return exc
        try:
            mapped = cls(str(info.get("msg", ""))[:2000])
        except Exception:  # noqa: BLE001 - a base class that wants other arguments: keep the RemoteError
            return exc
        mapped.sl_remote_traceback = getattr(exc, "sl_remote_traceback", "")
        mapped.sl_kind = getattr(exc, "sl_kind", None)
        return mapped

    channel.dec = guarded_dec
    channel._exception = translated


def _short_repr(value):
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001 - a broken proxy must not break the report
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= SHOW else text[: SHOW - 3] + "..."


def _on_alarm(signum, frame):
    raise _ExplainTimeout()


def explain_assert(exc, path, source):
    """The failing assert statement of the test file, and both sides' values for a comparison."""
    frames = [tb for tb in _walk(exc.__traceback__) if tb.tb_frame.f_code.co_filename == path]
    if not frames:
        return ""
    frame, lineno = frames[-1].tb_frame, frames[-1].tb_lineno
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.lineno <= lineno <= (node.end_lineno or node.lineno):
            text = "assert " + (ast.get_source_segment(source, node.test) or ast.unparse(node.test))
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1:
                previous = signal.signal(signal.SIGALRM, _on_alarm)
                try:
                    signal.setitimer(signal.ITIMER_REAL, EXPLAIN_SECONDS)
                    sides = []
                    for side in (test.left, test.comparators[0]):
                        value = eval(compile(ast.Expression(side), "<assert>", "eval"), frame.f_globals, dict(frame.f_locals))
                        sides.append(_short_repr(value))
                    text += f"\n  left:  {sides[0]}\n  right: {sides[1]}"
                except BaseException:  # noqa: BLE001 - re-evaluating a side is best effort
                    pass
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, previous)
            return text
    return ""


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _frames(exc, path, paths):
    """``at file:line in function: code`` for the test file's frames, then the workspace's frames of the solution."""
    shown = []
    for tb in _walk(exc.__traceback__):
        code = tb.tb_frame.f_code
        if code.co_filename == path:
            line = linecache.getline(path, tb.tb_lineno).strip()
            shown.append(f"\n  at {path}:{tb.tb_lineno} in {code.co_name}: {line}")
    remote = getattr(exc, "sl_remote_traceback", "")
    if type(remote) is str:
        for match in _REMOTE_FRAME.finditer(remote):
            if match.group(1) in paths:
                shown.append(f"\n  at {match.group(1)}:{match.group(2)} in {match.group(3)}: {(match.group(4) or '').strip()}")
    return "".join(shown[-FRAMES_SHOWN:])


def _remote_head(exc):
    """The exception's own last lines as the solution formatted them (``KeyError: 'x'``), for a remote exception."""
    remote = getattr(exc, "sl_remote_traceback", "")
    lines = remote.rstrip("\n").splitlines() if type(remote) is str else []
    last_frame = max([i for i, line in enumerate(lines) if line.startswith(" ")], default=-1)
    return "\n".join(lines[last_frame + 1:]).strip()


def describe(exc, path, source, paths, remote_error):
    """One test's failure message, as the workspace's runner writes it."""
    head = _remote_head(exc)
    if not head:
        head = str(exc) if type(exc) is remote_error else "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, AssertionError):
        explained = explain_assert(exc, path, source)
        if explained:
            head = explained if head == "AssertionError" else f"{head}\n{explained}"
    return head + _frames(exc, path, paths)


def _fail(outcome, message, output, kind=None):
    if output.strip():
        message += "\n  output: " + output.strip()
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 20] + "... [message cut]"
    error = WorkspaceTestFailed(json.dumps({"outcome": outcome, "message": message}))
    error.sl_kind = kind
    return error


def run(harness, repo, meta, spec):
    """Rebuild the workspace's modules, run ``spec["path"]``'s source and call ``spec["test"]``; raise
    :class:`WorkspaceTestFailed` (or the harness's own errors) unless the test passes."""
    roots = set(spec["roots"])
    passthrough = (harness["SolutionDied"], harness["ProtocolError"])
    modules, classes = build_modules(repo, meta, roots, harness["Remote"])
    errors = meta.get("errors") if type(meta) is dict and type(meta.get("errors")) is dict else {}
    sys.modules.update(modules)
    sys.meta_path.insert(0, _WorkspaceImports(roots, errors))
    guard_channel(harness, classes)
    path, source, test, paths = spec["path"], spec["source"], spec["test"], set(spec["paths"])
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    module = types.ModuleType("workspace_" + path.rpartition("/")[2].removesuffix(".py"))
    module.__file__ = path
    sys.modules[module.__name__] = module
    captured = _CappedText(OUTPUT_LIMIT)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = captured
    failure = None
    try:
        try:
            exec(compile(source, path, "exec"), module.__dict__)
        except passthrough:
            raise
        except BaseException as exc:  # noqa: BLE001 - an import failure is the test's error
            failure = ("error", f"importing {path} failed: " + describe(exc, path, source, paths, harness["RemoteError"]),
                       getattr(exc, "sl_kind", None))
        function = module.__dict__.get(test)
        if failure is None and not callable(function):
            failure = ("error", f"{test} is not a function of {path}", None)
        if failure is None:
            try:
                function()
            except passthrough:
                raise
            except BaseException as exc:  # noqa: BLE001 - any exception of a test is its failure or error
                outcome = "failed" if isinstance(exc, AssertionError) else "error"
                failure = (outcome, describe(exc, path, source, paths, harness["RemoteError"]), getattr(exc, "sl_kind", None))
    finally:
        sys.stdout, sys.stderr = saved
    if failure is not None:
        raise _fail(failure[0], failure[1], captured.text(), failure[2])
