"""A tiny test runner for the code workspaces (standard library only; no pytest).

It discovers the plain ``test_*`` functions defined at the top level of ``tests/test_*.py`` (read with
:mod:`ast`, so a file that fails to import still lists its tests), imports each file with the workspace
root on ``sys.path``, calls every test and reports it as ``passed``, ``failed`` (an ``AssertionError``:
the failing assert and, for a comparison, both sides' values), ``error`` (any other exception) or
``timeout`` (``--test-timeout`` seconds, 2 by default).

Run it from a workspace root: ``python runner.py [SELECTION ...]`` prints one JSON document
``{"results": [{"test", "outcome", "message"}, ...], "counts": {...}}``. A selection is a test file
(``tests/test_parser.py``), a test name (``test_parse_empty``) or both (``tests/test_parser.py::test_parse_empty``).

With ``--protocol`` (how the workspace's ``run_tests`` tool runs it, in the sandbox) it reads
``{"nonce", "select", "test_timeout"}`` from stdin and streams one line per event, each prefixed by the
nonce: the plan (``{"plan": [test ids]}``), then one result per test, then ``{"done": true}``.
"""

import ast
import importlib.util
import io
import json
import os
import signal
import sys
import traceback

TESTS_DIR = "tests"
MESSAGE_LIMIT = 1200
OUTPUT_LIMIT = 2000


class TestTimeout(BaseException):
    """Raised in a test that ran past its time limit (a BaseException, so ``except Exception`` does not catch it)."""


class _CappedText(io.TextIOBase):
    def __init__(self, limit):
        self.limit, self.parts, self.size = limit, [], 0

    def writable(self):
        return True

    def write(self, text):
        if self.size < self.limit:
            self.parts.append(text[: self.limit - self.size])
        self.size += len(text)
        return len(text)

    def text(self):
        joined = "".join(self.parts)
        return joined + (f"... [{self.size - self.limit} more characters]" if self.size > self.limit else "")


def discover(root):
    """``[(file, [test names], problem)]`` for every ``tests/test_*.py`` (problem: why its tests cannot be listed)."""
    folder = os.path.join(root, TESTS_DIR)
    found = []
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    for name in names:
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        rel = f"{TESTS_DIR}/{name}"
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), rel)
        except (SyntaxError, ValueError, UnicodeDecodeError, OSError) as exc:
            found.append((rel, [], f"{type(exc).__name__}: {exc}"))
            continue
        tests = [node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")]
        found.append((rel, tests, None))
    return found


def select(found, selection):
    """The ``(file, test)`` pairs a selection names (all when it is empty), and the selection items that named nothing."""
    pairs = [(rel, test) for rel, tests, _ in found for test in tests]
    if not selection:
        return pairs, []
    chosen, unknown = [], []
    for item in selection:
        item = item.strip()
        file_part, _, test_part = item.partition("::")
        if not test_part and not file_part.endswith(".py"):
            file_part, test_part = "", file_part
        if file_part and "/" not in file_part:
            file_part = f"{TESTS_DIR}/{file_part}"
        hits = [(rel, test) for rel, test in pairs
                if (not file_part or rel == file_part) and (not test_part or test == test_part)]
        if not hits:
            unknown.append(item)
        chosen += [hit for hit in hits if hit not in chosen]
    return [pair for pair in pairs if pair in chosen], unknown


def _on_alarm(signum, frame):
    raise TestTimeout()


def _workspace_frames(tb, root):
    frames = []
    for frame in traceback.extract_tb(tb):
        path = os.path.abspath(frame.filename)
        if path.startswith(root + os.sep) and path != os.path.abspath(__file__):
            frames.append((os.path.relpath(path, root), frame.lineno, frame.name, (frame.line or "").strip()))
    return frames


def _explain_assert(tb, root):
    """The failing assert statement, and the values of both sides when it is a comparison."""
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame, lineno = tb.tb_frame, tb.tb_lineno
    try:
        with open(frame.f_code.co_filename, encoding="utf-8") as handle:
            source = handle.read()
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.lineno <= lineno <= (node.end_lineno or node.lineno):
            text = "assert " + (ast.get_source_segment(source, node.test) or ast.unparse(node.test))
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1:
                try:
                    signal.setitimer(signal.ITIMER_REAL, 1.0)
                    left = eval(compile(ast.Expression(test.left), "<assert>", "eval"), frame.f_globals, dict(frame.f_locals))
                    right = eval(compile(ast.Expression(test.comparators[0]), "<assert>", "eval"), frame.f_globals,
                                 dict(frame.f_locals))
                    text += f"\n  left:  {_short_repr(left)}\n  right: {_short_repr(right)}"
                except BaseException:  # noqa: BLE001 - re-evaluating a side is best effort
                    pass
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            return text
    return ""


def _short_repr(value):
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001 - a broken __repr__ must not break the report
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 300 else text[:297] + "..."


def _message(exc, root):
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, AssertionError):
        explained = _explain_assert(exc.__traceback__, root)
        if explained:
            head = explained if head == "AssertionError" else f"{head}\n{explained}"
    frames = _workspace_frames(exc.__traceback__, root)[-3:]
    where = "".join(f"\n  at {path}:{line} in {name}: {code}" for path, line, name, code in frames)
    return head + where


def run_test(module, test, root, timeout):
    """``(outcome, message)`` of calling ``module.test()``."""
    function = getattr(module, test, None)
    if not callable(function):
        return "error", f"{test} is not a function of the module"
    captured = _CappedText(OUTPUT_LIMIT)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = captured
    outcome, message = "passed", ""
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        function()
    except TestTimeout:
        outcome, message = "timeout", f"the test ran longer than {timeout:g} s"
    except AssertionError as exc:
        outcome, message = "failed", _message(exc, root)
    except BaseException as exc:  # noqa: BLE001 - any exception of a test is its error
        outcome, message = "error", _message(exc, root)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    output = captured.text()
    if outcome != "passed" and output.strip():
        message += "\n  output: " + output.strip()
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 20] + "... [message cut]"
    return outcome, message


def load(rel, root):
    name = "workspace_" + os.path.splitext(os.path.basename(rel))[0]
    spec = importlib.util.spec_from_file_location(name, os.path.join(root, rel))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run(root, selection, timeout, emit):
    """Run the selected tests; ``emit(event)`` receives the plan, each result and the end."""
    main_pid = os.getpid()
    found = discover(root)
    pairs, unknown = select(found, selection)
    problems = {rel: problem for rel, _, problem in found if problem}
    plan = [f"{rel}::{test}" for rel, test in pairs] + [rel for rel in problems if not selection]
    emit({"plan": plan, "unknown": unknown})
    signal.signal(signal.SIGALRM, _on_alarm)
    for rel in problems:
        if not selection:
            emit({"test": rel, "outcome": "error", "message": f"cannot read the tests of {rel}: {problems[rel]}"})
    modules = {}
    for rel, test in pairs:
        if rel not in modules:
            try:
                signal.setitimer(signal.ITIMER_REAL, timeout)
                modules[rel] = load(rel, root)
            except BaseException as exc:  # noqa: BLE001 - an import failure is every test's error
                modules[rel] = f"importing {rel} failed: " + (f"the import ran longer than {timeout:g} s"
                                                               if isinstance(exc, TestTimeout) else _message(exc, root))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if os.getpid() != main_pid:
                os._exit(0)
        module = modules[rel]
        if isinstance(module, str):
            outcome, message = "error", module[:MESSAGE_LIMIT]
        else:
            outcome, message = run_test(module, test, root, timeout)
        if os.getpid() != main_pid:  # a forked copy of the runner (a test forked): it must not report
            os._exit(0)
        emit({"test": f"{rel}::{test}", "outcome": outcome, "message": message})
    emit({"done": True})


def main(argv):
    root = os.path.abspath(os.getcwd())
    sys.path.insert(0, root)
    sys.dont_write_bytecode = True
    if "--protocol" in argv:
        request = json.loads(sys.stdin.read())
        nonce = str(request["nonce"])
        report = os.fdopen(os.dup(1), "w", encoding="utf-8")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)

        def emit(event):
            report.write(nonce + json.dumps(event) + "\n")
            report.flush()

        run(root, list(request.get("select") or []), float(request.get("test_timeout") or 2.0), emit)
        return 0
    timeout = 2.0
    if "--test-timeout" in argv:
        position = argv.index("--test-timeout")
        timeout = float(argv[position + 1])
        argv = argv[:position] + argv[position + 2:]
    results = []
    run(root, [a for a in argv if not a.startswith("--")], timeout,
        lambda event: results.append(event) if "outcome" in event else None)
    counts = {}
    for result in results:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    print(json.dumps({"results": results, "counts": counts}, indent=1))
    return 0 if all(r["outcome"] == "passed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
