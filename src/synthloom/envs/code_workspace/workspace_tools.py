"""The tools an agent uses in a code workspace (runs only in the sandbox; standard library only).

The session ships this module's source, the workspace's files, the test runner (``.synthloom/runner.py``)
and a configuration (``.synthloom/config.json``: time limits, size limits) into one fresh jail per step;
paths are relative to the workspace root (the jail's work dir) and never leave it. ``dump_workspace`` is
the hidden last call of every step that reads the files back; it is never offered to a model.
"""

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time

CATEGORY = "code_workspace"
HIDDEN_DIR = ".synthloom"
RUNNER = HIDDEN_DIR + "/runner.py"
CONFIG = HIDDEN_DIR + "/config.json"
VIEW_LINES = 200
SEARCH_HITS = 50
LINE_CHARS = 300
REPORT_BYTES = 1_000_000
MESSAGE_BUDGET = 24_000
_START = time.monotonic()
_DEFAULTS = {"test_timeout": 2.0, "run_budget": 4.0, "max_file_chars": 32_000, "max_total_chars": 48_000}


def _config():
    try:
        with open(CONFIG, encoding="utf-8") as handle:
            loaded = json.load(handle)
    except (OSError, ValueError):
        loaded = {}
    return {key: loaded.get(key, default) for key, default in _DEFAULTS.items()}


def _root():
    return os.path.realpath(os.getcwd())


def _rel(path):
    if not isinstance(path, str) or not path.strip():
        raise ValueError("give a file path relative to the repository root, e.g. 'pkg/module.py'")
    rel = path.strip().replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    parts = rel.split("/")
    if rel.startswith("/") or ".." in parts or parts[0] == HIDDEN_DIR or "" in parts:
        raise ValueError(f"path {path!r} is outside the repository: give a path relative to its root, without '..'")
    return rel


def _file(path):
    rel = _rel(path)
    root = _root()
    full = os.path.join(root, rel)
    if os.path.islink(full) or not os.path.realpath(full).startswith(root + os.sep):
        raise ValueError(f"path {path!r} is outside the repository")
    if not os.path.isfile(full):
        raise ValueError(f"no file {rel!r} in the repository (list_files shows them)")
    return rel, full


def _read(full):
    with open(full, encoding="utf-8") as handle:
        return handle.read()


def _files():
    root = _root()
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            full = os.path.join(folder, name)
            if name.endswith(".pyc") or os.path.islink(full) or not os.path.isfile(full):
                continue
            found.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return found


def list_files() -> list[str]:
    """List the repository's files with their sizes.

    Returns:
        one 'path (N lines)' entry per file.
    """
    out = []
    for rel in _files():
        try:
            lines = len(_read(rel).splitlines())
        except (OSError, UnicodeDecodeError):
            out.append(f"{rel} (not text)")
            continue
        out.append(f"{rel} ({lines} lines)")
    return out


def view_file(path: str, start: int = 1, end: int | None = None) -> str:
    """Show numbered lines of a file.

    Args:
        path: the file, relative to the repository root (e.g. 'pkg/module.py').
        start: the first line to show (1-based).
        end: the last line to show (default: the end of the file; at most 200 lines are shown).

    Returns:
        the lines, each prefixed by its number.
    """
    rel, full = _file(path)
    lines = _read(full).splitlines()
    start = max(1, int(start))
    last = len(lines) if end is None else min(len(lines), int(end))
    if start > max(len(lines), 1):
        raise ValueError(f"{rel} has {len(lines)} lines; start must be at most {len(lines)}")
    if last < start and lines:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    last = min(last, start + VIEW_LINES - 1)
    width = len(str(last))
    shown = [f"{n:>{width}}| {lines[n - 1][:LINE_CHARS]}" for n in range(start, last + 1)]
    more = f"\n[lines {last + 1}-{len(lines)} not shown]" if last < len(lines) else ""
    return f"{rel} (lines {start}-{last} of {len(lines)}):\n" + "\n".join(shown) + more


def search(pattern: str) -> str:
    """Find a text in the repository's files (plain text, case-sensitive).

    Args:
        pattern: the text to look for.

    Returns:
        one 'path:line: text' entry per matching line (at most 50).
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("give a non-empty text to search for")
    hits, total = [], 0
    for rel in _files():
        try:
            lines = _read(rel).splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, start=1):
            if pattern in line:
                total += 1
                if len(hits) < SEARCH_HITS:
                    hits.append(f"{rel}:{number}: {line.strip()[:LINE_CHARS]}")
    if not hits:
        return f"no line contains {pattern!r}"
    more = f"\n[{total - len(hits)} more matches not shown]" if total > len(hits) else ""
    return "\n".join(hits) + more


def replace_in_file(path: str, old: str, new: str) -> str:
    """Replace one exact occurrence of a text in a file (include enough context to make it unique).

    Args:
        path: the file, relative to the repository root.
        old: the exact text to replace (whitespace and indentation included); it must occur exactly once.
        new: the text to put in its place.

    Returns:
        the edited lines, numbered.
    """
    rel, full = _file(path)
    text = _read(full)
    if not old:
        raise ValueError("old must not be empty: copy the exact text to replace from view_file")
    count = text.count(old)
    if count != 1:
        raise ValueError(f"old occurs {count} times in {rel}; it must occur exactly once "
                         + ("(copy it exactly from view_file, without the line numbers)" if count == 0 else "(include more lines)"))
    updated = text.replace(old, new, 1)
    limits = _config()
    total = sum(os.path.getsize(f) for f in _files() if f != rel) + len(updated)
    if len(updated) > limits["max_file_chars"] or total > limits["max_total_chars"]:
        raise ValueError(f"the edit would make {rel} or the repository too large "
                         f"(at most {limits['max_file_chars']} characters a file, {limits['max_total_chars']} in all)")
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(updated)
    first = text[: text.index(old)].count("\n") + 1
    last = first + new.count("\n")
    return view_file(rel, max(1, first - 2), last + 2)


def _budget_left():
    return _START + float(_config()["run_budget"]) - time.monotonic()


def _read_report(process, deadline, end_marker):
    """The runner's report, until its end marker, EOF or ``deadline`` (then also True: it timed out). Forked
    leftovers of a test may hold the pipe open after the runner is done, so the marker ends the read."""
    chunks, size = [], 0
    fd = process.stdout.fileno()
    while size < REPORT_BYTES and not (chunks and end_marker in b"".join(chunks[-2:])):
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), True
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def run_tests(selection: str = "") -> dict:
    """Run the repository's tests and report each one's outcome.

    Args:
        selection: which tests to run, separated by spaces: a file ('tests/test_parser.py'), a test name
            ('test_parse_empty') or both ('tests/test_parser.py::test_parse_empty'); empty runs them all.

    Returns:
        a summary line and, per test, its outcome (passed, failed, error, timeout, not_run) and message.
    """
    limits = _config()
    left = _budget_left()
    if left < 0.5:
        raise ValueError("no time is left in this step to run tests again; call run_tests in a step of its own")
    nonce = secrets.token_hex(16)
    request = {"nonce": nonce, "select": (selection or "").replace(",", " ").split(),
               "test_timeout": float(limits["test_timeout"])}
    process = subprocess.Popen([sys.executable, "-I", "-B", RUNNER, "--protocol"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
    except OSError:
        pass
    end_marker = (nonce + json.dumps({"done": True})).encode()
    raw, timed_out = _read_report(process, time.monotonic() + left - 0.3, end_marker)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    process.stdout.close()
    try:
        process.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        pass
    return _report(raw, nonce, timed_out)


def _report(raw, nonce, timed_out):
    plan, unknown, results, done = None, [], {}, False
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.startswith(nonce):
            continue
        try:
            event = json.loads(line[len(nonce):])
        except ValueError:
            continue
        if "plan" in event and plan is None:
            plan, unknown = [str(t) for t in event["plan"]], [str(u) for u in event.get("unknown") or []]
        elif "test" in event and str(event["test"]) not in results:
            results[str(event["test"])] = (str(event.get("outcome")), str(event.get("message") or ""))
        elif event.get("done"):
            done = True
    if plan is None:
        raise ValueError("the test runner did not start (was .synthloom/runner.py changed?)")
    if unknown and not plan:
        raise ValueError(f"no test matches {' '.join(unknown)!r}; list_files shows the test files")
    ordered, stalled, budget = [], False, MESSAGE_BUDGET
    for test in plan:
        if test in results:
            outcome, message = results[test]
        elif not stalled:
            stalled = True
            outcome = "timeout" if timed_out else "error"
            message = "the test run was stopped during this test" if timed_out else "the test run ended during this test"
        else:
            outcome, message = "not_run", "an earlier test stopped the run"
        entry = {"test": test, "outcome": outcome}
        if outcome != "passed":
            entry["message"] = message if budget > 0 else "[message not shown: too much output]"
            budget -= len(message)
        ordered.append(entry)
    counts = {}
    for entry in ordered:
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda item: item[0] != "passed")) or "no tests"
    if unknown:
        summary += f" (nothing matched {' '.join(unknown)!r})"
    if not done and not stalled:
        summary += " (the run did not finish)"
    return {"summary": summary, "results": ordered}


def dump_workspace(paths: list[str]) -> dict:
    """The text of each of ``paths`` that is still a regular file of the workspace (hidden: reads the state back).

    Args:
        paths: the workspace's files.

    Returns:
        {path: text}.
    """
    limits = _config()
    out, total = {}, 0
    root = _root()
    for path in paths:
        rel = _rel(path)
        full = os.path.join(root, rel)
        if os.path.islink(full) or not os.path.isfile(full) or not os.path.realpath(full).startswith(root + os.sep):
            continue
        text = _read(full)
        total += len(text)
        if len(text) > limits["max_file_chars"] or total > limits["max_total_chars"]:
            raise ValueError(f"the workspace grew past its size limit ({rel}); it cannot be read back")
        out[rel] = text
    return out
