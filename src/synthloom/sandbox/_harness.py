"""Tests judged out of the solution's reach (standard library only; runs inside the jail, prepended
to ``_inner.py``'s source).

A harness run has two processes: the *solution* process (untrusted: it runs the model's code in
its own PID, mount and IPC namespace, forked from a template that never saw any test) and the
*harness* process (trusted: it holds the tests and the expected values, runs the test code and
decides pass/fail). They talk over one socket with length-prefixed JSON messages. Values cross
by value (None, bool, int, float, complex, str, bytes, list, tuple, dict, set); anything else
(functions, classes, instances, generators of the solution) crosses as a *reference*: the harness
gets a :class:`Remote` proxy whose calls, attributes, iteration, ``len``, indexing and ``repr``
are requests to the solution. Equality and hashing of a proxy are identity only, so an object
whose ``__eq__`` always says True compares unequal to everything. The harness decodes strictly
(known tags only, bounded size and depth) and serves the solution only calls of callables the
tests passed to it (a test's ``lambda``), never attribute access to its own objects.
"""
# ruff: noqa: BLE001, S102, UP031  (the harness survives anything the solution sends; it runs test code)

import builtins
import json
import math
import os
import struct
import sys
import traceback
import types

RPC_MAX_MESSAGE = 64 * 1024 * 1024
RPC_MAX_DEPTH = 400
_SHOW = 500
_NO_IMPORT = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo"}
_OPS = {"iter": iter, "next": next, "len": len, "str": str, "repr": repr, "bool": bool, "int": int,
        "float": float, "index": lambda o: o.__index__(), "getitem": lambda o, k: o[k],
        "contains": lambda o, k: k in o, "setitem": lambda o, k, v: o.__setitem__(k, v),
        "delitem": lambda o, k: o.__delitem__(k), "setattr": setattr}


#: builtins the trusted side decodes from the solution's messages: values and pure functions, never one that runs
#: code, reads files or reaches into namespaces (exec, eval, compile, open, __import__, getattr, globals, vars, ...)
SAFE_BUILTINS = frozenset((
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr", "complex", "dict", "divmod",
    "enumerate", "filter", "float", "format", "frozenset", "hash", "hex", "id", "int", "isinstance", "issubclass",
    "iter", "len", "list", "map", "max", "min", "next", "object", "oct", "ord", "pow", "range", "repr", "reversed",
    "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip", "None", "Ellipsis", "NotImplemented"))
#: standard modules whose objects the trusted side may hand test code when a solution's namespace holds them
SAFE_MODULES = frozenset((
    "math", "cmath", "re", "string", "itertools", "functools", "collections", "heapq", "bisect", "fractions",
    "decimal", "statistics", "operator", "copy", "json", "datetime", "enum", "numbers", "textwrap", "unicodedata",
    "typing", "dataclasses", "random", "array", "struct"))


def _is_exception_class(obj):
    return isinstance(obj, type) and issubclass(obj, BaseException)


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed message."""


class SolutionDied(Exception):
    """The solution process ended (or closed its channel) before answering."""


class RemoteError(Exception):
    """An exception of a type that is not a builtin exception, raised in the solution."""


def classify_exception(exc):
    """'memory' / 'forbidden' for errors a sandbox limit or block causes, else None."""
    import errno
    if isinstance(exc, MemoryError):
        return "memory"
    if type(exc).__name__ in ("gaierror", "herror") or isinstance(exc, PermissionError):
        return "forbidden"
    blocked = {errno.EPERM, errno.EACCES, errno.EROFS, errno.EFBIG, errno.ENOSPC, errno.EMFILE, errno.ENFILE,
               errno.EAGAIN, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.EAFNOSUPPORT}
    if isinstance(exc, OSError) and exc.errno in blocked:
        return "forbidden"
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return "forbidden"
    return None


class Remote:
    """A value that lives in the peer process (see the module docstring)."""

    __slots__ = ("_sl_ch", "_sl_id", "__weakref__")

    def __init__(self, ch, ref):
        object.__setattr__(self, "_sl_ch", ch)
        object.__setattr__(self, "_sl_id", ref)

    def _sl(self, op, *args):
        return self._sl_ch.request(op, self, *args)

    def __call__(self, *args, **kwargs):
        return self._sl_ch.request("call", self, list(args), kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name not in ("__name__", "__qualname__"):
            raise AttributeError(name)
        return self._sl("getattr", name)

    def __setattr__(self, name, value):
        self._sl("setattr", name, value)

    def __iter__(self):
        return self._sl("iter")

    def __next__(self):
        return self._sl("next")

    def __len__(self):
        return self._sl("len")

    def __getitem__(self, key):
        return self._sl("getitem", key)

    def __setitem__(self, key, value):
        self._sl("setitem", key, value)

    def __delitem__(self, key):
        self._sl("delitem", key)

    def __contains__(self, key):
        return self._sl("contains", key)

    def __bool__(self):
        return self._sl("bool") is True

    def __int__(self):
        return _exact(self._sl("int"), int)

    def __float__(self):
        return _exact(self._sl("float"), float)

    def __index__(self):
        return _exact(self._sl("index"), int)

    def __str__(self):
        return _exact(self._sl("str"), str)

    def __repr__(self):
        return _exact(self._sl("repr"), str)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __hash__(self):
        return id(self)


def _exact(value, kind):
    if type(value) is not kind:
        raise TypeError("the solution answered a %s conversion with %s" % (kind.__name__, type(value).__name__))
    return value


class Channel:
    """One end of the harness <-> solution socket: framing, value codec, request/serve loop.
    ``trusted`` is the harness end: it serves only calls of callables it passed itself."""

    def __init__(self, fd, trusted):
        self.fd = fd
        self.trusted = trusted
        self.objects = {}  # id -> our object lent to the peer
        self.remotes = {}  # peer id -> Remote proxy (one per id, so identity means the same object)
        self.last_kind = None

    # -- framing
    def send(self, obj):
        data = json.dumps(obj, allow_nan=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
        data = struct.pack(">I", len(data)) + data
        while data:
            data = data[os.write(self.fd, data):]

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(self.fd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise SolutionDied("the solution process ended before answering")
            buf += chunk
        return bytes(buf)

    def recv(self):
        (n,) = struct.unpack(">I", self._read(4))
        if n > RPC_MAX_MESSAGE:
            raise ProtocolError("message of %d bytes is over the limit" % n)
        try:
            msg = json.loads(self._read(n).decode("utf-8", "surrogatepass"))
        except (ValueError, RecursionError) as e:
            raise ProtocolError("unreadable message: %s" % type(e).__name__) from None
        if type(msg) is not dict:
            raise ProtocolError("message is not an object")
        return msg

    # -- values
    def enc(self, x, depth=0):
        t = type(x)
        if x is None or t is bool or t is int or t is str:
            return x
        if t is float:
            return x if math.isfinite(x) else {"$": "float", "v": repr(x)}
        if depth > RPC_MAX_DEPTH:
            return self._ref(x)
        if t is list:
            return [self.enc(v, depth + 1) for v in x]
        if t in (tuple, set, frozenset):
            return {"$": t.__name__, "v": [self.enc(v, depth + 1) for v in x]}
        if t is dict:
            return {"$": "dict", "v": [[self.enc(k, depth + 1), self.enc(v, depth + 1)] for k, v in x.items()]}
        if t in (bytes, bytearray):
            return {"$": t.__name__, "v": bytes(x).hex()}
        if t is complex:
            return {"$": "complex", "v": [self.enc(x.real), self.enc(x.imag)]}
        if t is Remote and x._sl_ch is self:
            return {"$": "yours", "v": x._sl_id}
        name = getattr(x, "__name__", None)
        if isinstance(name, str) and getattr(builtins, name, None) is x:
            return {"$": "builtin", "v": name}
        if t is types.ModuleType and isinstance(name, str):
            return {"$": "module", "v": name}
        return self._ref(x)

    def _ref(self, x):
        if self.trusted and not callable(x):
            raise TypeError("cannot pass a %s to the solution (values, builtins and callables only)" % type(x).__name__)
        ref = len(self.objects) + 1
        self.objects[ref] = x
        return {"$": "ref", "v": ref}

    def dec(self, v, depth=0):
        t = type(v)
        if v is None or t in (bool, int, float, str):
            return v
        if depth > RPC_MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if t is list:
            return [self.dec(x, depth + 1) for x in v]
        if t is not dict or type(v.get("$")) is not str:
            raise ProtocolError("unknown value encoding")
        tag, body = v["$"], v.get("v")
        if tag in ("tuple", "set", "frozenset") and type(body) is list:
            items = [self.dec(x, depth + 1) for x in body]
            return tuple(items) if tag == "tuple" else set(items) if tag == "set" else frozenset(items)
        if tag == "dict" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("bad dict item")
                out[self.dec(pair[0], depth + 1)] = self.dec(pair[1], depth + 1)
            return out
        if tag in ("bytes", "bytearray") and type(body) is str:
            return bytes.fromhex(body) if tag == "bytes" else bytearray.fromhex(body)
        if tag == "float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "complex" and type(body) is list and len(body) == 2 and all(type(p) in (int, float) for p in body):
            return complex(body[0], body[1])
        if tag == "builtin" and type(body) is str and hasattr(builtins, body):
            if self.trusted and body not in SAFE_BUILTINS and not _is_exception_class(getattr(builtins, body)):
                raise ProtocolError("the solution sent the builtin %r, which the harness does not take" % body[:40])
            return getattr(builtins, body)
        if tag == "module" and type(body) is str:
            return self._module(body)
        if tag == "yours" and type(body) is int and body in self.objects:
            return self.objects[body]
        if tag == "ref" and type(body) is int:
            if body not in self.remotes:
                self.remotes[body] = Remote(self, body)
            return self.remotes[body]
        raise ProtocolError("unknown value tag %r" % tag[:40])

    def _module(self, name):
        if self.trusted and name not in SAFE_MODULES:
            # the harness never hands test code one of its own modules the solution chose (os, builtins, the
            # harness itself): a stand-in keeps the solution's namespace decodable
            return types.ModuleType(str(name)[:80])
        if name in sys.modules:
            return sys.modules[name]
        if self.trusted and (name.split(".")[0] in _NO_IMPORT or not name.replace(".", "").replace("_", "").isalnum()):
            raise ProtocolError("module %r is not imported in the harness" % name[:80])
        return __import__(name, fromlist=["_"])

    # -- requests
    def request(self, op, target, *args):
        self.send({"q": op, "t": target._sl_id, "a": [self.enc(a) for a in args]})
        while True:
            msg = self.recv()
            if "q" in msg:
                self.serve(msg)
                continue
            return self._answer(msg, op, args)

    def _answer(self, msg, op, args):
        if "stop" in msg:
            raise StopIteration
        if "exc" in msg:
            raise self._exception(msg["exc"])
        if "r" not in msg:
            raise ProtocolError("reply without a result")
        if op == "call" and type(msg.get("mut")) is list:  # in-place changes the solution made to its arguments
            self._apply_mutations(args[0], msg["mut"])
        return self.dec(msg["r"])

    def _apply_mutations(self, call_args, mutations):
        for item in mutations:
            if type(item) is not list or len(item) != 2 or type(item[0]) is not int or not 0 <= item[0] < len(call_args):
                raise ProtocolError("bad argument update")
            orig, new = call_args[item[0]], self.dec(item[1])
            if type(orig) is not type(new):
                raise ProtocolError("argument update changes the type")
            if type(orig) in (list, bytearray):
                orig[:] = new
            elif type(orig) in (dict, set):
                orig.clear()
                orig.update(new)

    def _exception(self, info):
        if type(info) is not dict:
            return ProtocolError("bad exception report")
        name, msg = str(info.get("type", "Exception"))[:100], str(info.get("msg", ""))[:2000]
        self.last_kind = info.get("kind") if info.get("kind") in ("memory", "forbidden") else None
        cls = getattr(builtins, name, None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)) or cls is StopIteration:
            cls, msg = RemoteError, "%s: %s" % (name, msg)
        try:
            exc = cls(msg)
        except Exception:
            exc = RemoteError("%s: %s" % (name, msg))
        exc.sl_remote_traceback = str(info.get("tb", ""))[-8000:]
        exc.sl_kind = self.last_kind
        return exc

    def serve(self, msg):
        """Answer one request of the peer."""
        try:
            op, obj = msg.get("q"), self.objects.get(msg.get("t"))
            if obj is None or op not in _OPS and op not in ("call", "getattr") or type(msg.get("a")) is not list:
                raise ProtocolError("bad request")
            if self.trusted and op != "call":
                raise PermissionError("the harness only serves calls of the callables it passed")
            args = [self.dec(a) for a in msg["a"]]
            if op == "call":
                pos, kw = args
                result = obj(*pos, **{str(k): v for k, v in kw.items()})
                mut = [[i, self.enc(a)] for i, a in enumerate(pos) if type(a) in (list, dict, set, bytearray)]
                self.send({"r": self.enc(result), "mut": mut})
                return
            result = getattr(obj, *args) if op == "getattr" else _OPS[op](obj, *args)
            self.send({"r": self.enc(result)})
        except StopIteration:
            self.send({"stop": True})
        except BaseException as e:
            if isinstance(e, (SolutionDied, ProtocolError)) and self.trusted:
                raise
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            self.send({"exc": {"type": type(e).__name__, "msg": _safe_str(e), "tb": tb[-8000:],
                               "kind": classify_exception(e)}})


def _safe_str(e):
    try:
        return str(e)[:2000]
    except BaseException:
        return "<unprintable>"


def show(value):
    """A bounded ``repr`` for reports."""
    try:
        text = repr(value)
    except BaseException as e:
        text = "<unrepresentable %s>" % type(e).__name__
    return text if len(text) <= _SHOW else text[:_SHOW] + "..."


def strict_eq(got, exp):
    """Equality against a JSON value: exact types (a proxy never equals a value), tuples equal
    lists, integers exactly (an integral float equals an int only when it is exactly that int),
    floats with a relative tolerance of 1e-6 (absolute 1e-9 near zero), NaN equals NaN."""
    t = type(exp)
    if t is bool or exp is None:
        return got is exp
    if t is int:
        return (type(got) is int and got == exp) or (type(got) is float and math.isfinite(got) and got.is_integer()
                                                      and int(got) == exp)
    if t is float:
        if type(got) not in (int, float):
            return False
        if math.isnan(exp):
            return type(got) is float and math.isnan(got)
        return math.isclose(got, exp, rel_tol=1e-6, abs_tol=1e-9)
    if t is str:
        return type(got) is str and got == exp
    if t is list:
        return type(got) in (list, tuple) and len(got) == len(exp) and all(strict_eq(a, b) for a, b in zip(got, exp))
    if t is dict:
        if type(got) is not dict or len(got) != len(exp):
            return False
        keys = {str(k): v for k, v in got.items()}
        return len(keys) == len(exp) and all(k in keys and strict_eq(keys[k], v) for k, v in exp.items())
    return False


# ---------------------------------------------------------------- the two processes

def serve_solution(source, fd):
    """In the solution process: run ``source`` as module ``solution``, send its globals, then
    answer the harness's requests until it hangs up. Never returns."""
    ch = Channel(fd, trusted=False)
    ns = {"__name__": "solution", "__file__": "solution.py", "__builtins__": builtins}
    mod = types.ModuleType("solution")
    mod.__dict__.update(ns)
    sys.modules["solution"] = mod
    try:
        exec(compile(source, "solution.py", "exec"), mod.__dict__)
        names = [[k, ch.enc(v)] for k, v in mod.__dict__.items() if not k.startswith("__")]
        ch.send({"globals": names})
    except BaseException as e:
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        ch.send({"exc": {"type": type(e).__name__, "msg": _safe_str(e), "tb": tb[-8000:],
                         "kind": classify_exception(e)}})
    while True:
        try:
            msg = ch.recv()
        except (SolutionDied, ProtocolError):
            os._exit(0)
        ch.serve(msg)


def _failure(e, ch):
    parts = []
    remote_tb = getattr(e, "sl_remote_traceback", "")
    if remote_tb:
        parts.append("The solution raised:\n" + remote_tb)
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "test_program.py":
        tb = tb.tb_next
    parts.append("".join(traceback.format_exception(type(e), e, tb)))
    kind = getattr(e, "sl_kind", None) or (ch.last_kind if isinstance(e, RemoteError) else None)
    if isinstance(e, MemoryError) and not remote_tb:
        kind = "memory"
    return {"ok": False, "error": "\n".join(parts)[-8000:], "kind": kind, "died": isinstance(e, SolutionDied)}


INVOKE_VALUE_MAX = 64 * 1024
INVOKE_TOTAL_MAX = 768 * 1024


def json_value(value, depth=0):
    """``value`` (decoded by value from the solution) as a JSON value: tuples become lists; anything
    that is not None, bool, int, finite float, str, list or a dict with str keys raises TypeError."""
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        if not math.isfinite(value):
            raise TypeError("a non-finite float (%r)" % value)
        return value
    if depth > 100:
        raise TypeError("a value nested more than 100 levels deep")
    if t in (list, tuple):
        return [json_value(v, depth + 1) for v in value]
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError("a dict with a %s key" % type(k).__name__)
            out[k] = json_value(v, depth + 1)
        return out
    return_type = "an object of the solution" if t is Remote else "a %s" % t.__name__
    raise TypeError(return_type)


def invoke_calls(ch, ns, calls):
    """Run tool calls ``[{"entry", "args"}]`` in order against the solution's functions; each
    result is ``{"status": "ok", "value": JSON}`` or ``{"status": error/invalid/memory/forbidden/
    died/not_run, "error": text}``. Values are checked and serialised here, in the trusted process."""
    results, total, died = [], 0, False
    for call in calls:
        if died:
            results.append({"status": "not_run", "error": "an earlier call ended the run"})
            continue
        entry, args = call.get("entry"), call.get("args")
        fn = ns.get(entry) if type(entry) is str and not entry.startswith("__") else None
        if not callable(fn):
            results.append({"status": "error", "error": "NameError: %r is not a function of the tool code" % entry})
            continue
        try:
            got = fn(**args) if type(args) is dict else fn(*args)
        except SolutionDied:
            died = True
            results.append({"status": "died", "error": "the tool process died during the call"})
            continue
        except ProtocolError:
            raise
        except BaseException as e:
            kind = getattr(e, "sl_kind", None)
            name = str(e)[:2000] if isinstance(e, RemoteError) else "%s: %s" % (type(e).__name__, _safe_str(e))
            results.append({"status": kind if kind in ("memory", "forbidden") else "error",
                            "error": name.rstrip(": ")})
            continue
        try:
            value = json_value(got)
            size = len(json.dumps(value, ensure_ascii=False))
        except (TypeError, ValueError) as e:
            results.append({"status": "invalid", "error": "the tool returned %s, not a JSON value" % e})
            continue
        except RecursionError:
            results.append({"status": "invalid", "error": "the tool returned a value nested too deeply"})
            continue
        if size > INVOKE_VALUE_MAX or total + size > INVOKE_TOTAL_MAX:
            results.append({"status": "invalid", "error": "the tool returned %d characters of JSON, over the "
                                                           "%d-character limit of one result" % (size, INVOKE_VALUE_MAX)})
            continue
        total += size
        results.append({"status": "ok", "value": value})
    return {"ok": not died, "got": None, "error": "", "kind": None, "died": died, "results": results}


def run_harness(spec, fd):
    """In the harness process: judge the solution behind ``fd`` against ``spec`` and return the
    verdict ``{"ok": bool, "got": repr | None, "error": text, "kind": memory/forbidden/None,
    "died": bool}``. ``spec`` is ``{"kind": "assert", "test": source}`` or ``{"kind": "call",
    "entry": name, "args": list | dict, "expected": JSON value}``."""
    ch = Channel(fd, trusted=True)
    got = None
    try:
        hello = ch.recv()
        if "exc" in hello:
            raise ch._exception(hello["exc"])
        if type(hello.get("globals")) is not list:
            raise ProtocolError("the solution did not report its names")
        ns = {"__builtins__": builtins, "__name__": "__main__"}
        for item in hello["globals"]:
            if type(item) is list and len(item) == 2 and type(item[0]) is str and not item[0].startswith("__"):
                ns[item[0]] = ch.dec(item[1])  # never __builtins__ & co: the solution writes its own hello
        module = types.ModuleType("solution")
        module.__dict__.update({k: v for k, v in ns.items() if not k.startswith("__")})
        sys.modules["solution"] = module
        if spec["kind"] == "invoke":
            return invoke_calls(ch, ns, spec["calls"])
        if spec["kind"] == "call":
            fn = ns.get(spec["entry"])
            if not callable(fn) or spec["entry"].startswith("__"):
                raise NameError("entry point %r is not defined by the solution" % spec["entry"])
            args = spec["args"]
            got = fn(**args) if type(args) is dict else fn(*args)
            ok = strict_eq(got, spec["expected"])
            return {"ok": ok is True, "got": show(got), "error": "", "kind": None, "died": False}
        exec(compile(spec["test"], "test_program.py", "exec"), ns)
        return {"ok": True, "got": None, "error": "", "kind": None, "died": False}
    except BaseException as e:
        verdict = _failure(e, ch)
        verdict["got"] = show(got) if got is not None else None
        return verdict
