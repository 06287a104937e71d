"""Seeds mined from source files, as the code papers take them from real code.

* OSS-Instruct (Wei et al. 2023, "Magicoder: Empowering Code Generation with OSS-Instruct",
  arXiv:2312.02120): the seed is 1–15 random consecutive lines of a source file.
  :class:`SourceWindows` (``type: oss_instruct_windows``) cuts ``count`` such windows from the files
  of a folder and records where each came from (``seed_file``, ``seed_lines``).
* Case2Code (Shao et al. 2024, "Case2Code: Scalable Synthetic Data for Code Generation",
  arXiv:2407.12504): the seeds are functions of a code corpus. :class:`FunctionsWithCallSites`
  (``type: case2code_functions``) parses the files with :mod:`ast`, keeps the functions that can run
  on their own (what they use is a builtin, an import, a literal constant or another function of the
  file, which is then shipped with them) and take arguments and return a value, and records the
  places in the corpus that call them (``call_sites``), which show a model what real arguments look like.

Without a ``path`` both read the bundled corpus, ``seed_corpus/``: small stdlib-only Python
modules written for synthloom (text, number, inventory, calendar and grid helpers that call each
other).
"""

from __future__ import annotations

import ast
import builtins
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash

from ...pipeline.step import SourceStep
from ..instructions.samplers import stable_int

CORPUS_DIR = Path(__file__).with_name("seed_corpus")
OSS_CITATION = ("Wei et al. 2023, Magicoder: Empowering Code Generation with OSS-Instruct, ICML 2024, "
                "arXiv:2312.02120")
CASE2CODE_CITATION = "Shao et al. 2024, Case2Code: Scalable Synthetic Data for Code Generation, arXiv:2407.12504"
_BUILTINS = frozenset(dir(builtins))


class CorpusError(ValueError):
    """A corpus folder or file that holds nothing to mine."""


def corpus_files(path: str | None = None, pattern: str = "*.py") -> tuple[Path, list[Path]]:
    """The corpus root and its files matching ``pattern`` (recursively, sorted): the bundled corpus
    without ``path``, the files under a folder, or one file."""
    root = Path(path) if path else CORPUS_DIR
    if root.is_file():
        return root.parent, [root]
    if not root.is_dir():
        raise CorpusError(f"code corpus {root} does not exist; give a folder of source files or one file")
    files = sorted(p for p in root.rglob(pattern) if p.is_file())
    if not files:
        raise CorpusError(f"code corpus {root} has no files matching {pattern!r}; set `pattern` or give another folder")
    return root, files


def corpus_fingerprint(files: list[Path]) -> str:
    """The identity of the files' contents: editing one recomputes the run."""
    h = xxhash.xxh3_64()
    for f in files:
        h.update(f"{f.name}\x1f".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def window_span(lines: list[str], key: Any, min_lines: int = 1, max_lines: int = 15) -> tuple[int, int] | None:
    """``(start, end)`` (0-based, end exclusive) of ``min_lines``–``max_lines`` consecutive lines
    chosen by ``key``, avoiding windows of blank lines only; ``None`` when the file has no text."""
    if not any(ln.strip() for ln in lines):
        return None
    rng = random.Random(stable_int(key))
    for _ in range(20):
        size = min(len(lines), rng.randint(min_lines, max_lines))
        start = rng.randint(0, len(lines) - size)
        if any(ln.strip() for ln in lines[start:start + size]):
            return start, start + size
    first = next(i for i, ln in enumerate(lines) if ln.strip())
    return first, first + 1


class SourceWindows(SourceStep):
    """OSS-Instruct's seeds: ``count`` windows of ``min_lines``–``max_lines`` (paper: 1–15)
    consecutive lines, each from a file of the corpus drawn at random (reproducibly from ``seed``
    and the window's index). Columns: ``seed`` (the lines), ``lang``, ``seed_file`` (relative to the
    corpus folder) and ``seed_lines`` (``[first, last]``, 1-based, inclusive)."""

    type_name = "oss_instruct_windows"
    columns = ("seed", "lang", "seed_file", "seed_lines")

    def __init__(self, name: str, *, path: str | None = None, pattern: str = "*.py", count: int = 32,
                 min_lines: int = 1, max_lines: int = 15, lang: str = "python", seed: int = 0) -> None:
        if not 1 <= int(min_lines) <= int(max_lines):
            raise ValueError(f"oss_instruct_windows {name!r}: need 1 <= min_lines <= max_lines, got {min_lines}, {max_lines}")
        if int(count) < 1:
            raise ValueError(f"oss_instruct_windows {name!r}: count must be >= 1, not {count}")
        super().__init__(name, citations=[OSS_CITATION])
        self.root, self.files = corpus_files(path, pattern)
        self.texts = [f.read_text(encoding="utf-8", errors="replace").splitlines() for f in self.files]
        if not any(any(ln.strip() for ln in t) for t in self.texts):
            raise CorpusError(f"code corpus {self.root}: every file is empty")
        self.count_, self.min_lines, self.max_lines = int(count), int(min_lines), int(max_lines)
        self.lang, self.seed = lang, int(seed)

    def window(self, index: int) -> dict[str, Any]:
        """The ``index``-th seed (a file with text drawn by index, then a window of it)."""
        for attempt in range(len(self.files) * 4):
            f = stable_int(self.seed, index, attempt, "file") % len(self.files)
            span = window_span(self.texts[f], (self.seed, index, attempt), self.min_lines, self.max_lines)
            if span is not None:
                start, end = span
                return {"seed": "\n".join(self.texts[f][start:end]), "lang": self.lang,
                        "seed_file": self.files[f].relative_to(self.root).as_posix(), "seed_lines": [start + 1, end]}
        raise CorpusError(f"code corpus {self.root}: no file with text")  # unreachable: checked in __init__

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        for i in range(self.count(limit) or 0):
            yield self.window(i)

    def count(self, limit: int | None = None) -> int | None:
        return self.count_ if limit is None else min(self.count_, limit)

    def fingerprint(self) -> str:
        return corpus_fingerprint(self.files)


# -- Case2Code: functions and their call sites -------------------------------------------------


def _bound_names(fn: ast.FunctionDef) -> set[str]:
    """Names the function binds itself: parameters, assignments, loop and comprehension targets,
    nested definitions, imports and ``except ... as`` names."""
    names = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}
    names |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not fn:
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _free_names(fn: ast.FunctionDef) -> set[str]:
    loaded = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - _bound_names(fn) - _BUILTINS


def _module_definitions(tree: ast.Module) -> dict[str, ast.stmt]:
    """What a module's top level defines by name: imports of the standard library, literal
    constants and functions (an import of another module of the corpus cannot be shipped)."""
    defs: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if (isinstance(node, ast.ImportFrom) and node.level) or \
                    any(m.split(".")[0] not in sys.stdlib_module_names for m in modules):
                continue
            for alias in node.names:
                defs[(alias.asname or alias.name).split(".")[0]] = node
        elif isinstance(node, ast.FunctionDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            defs[node.targets[0].id] = node
    return defs


def _closure(fn: ast.FunctionDef, defs: dict[str, ast.stmt]) -> list[ast.stmt] | None:
    """The top-level statements ``fn`` needs (itself included), or ``None`` when it uses a name
    the module does not define (a class, a global set at run time)."""
    needed: dict[int, ast.stmt] = {}
    todo: list[ast.stmt] = [fn]
    while todo:
        node = todo.pop()
        if id(node) in needed:
            continue
        needed[id(node)] = node
        free = _free_names(node) if isinstance(node, ast.FunctionDef) else set()
        for name in free:
            if name not in defs:
                return None
            todo.append(defs[name])
    return sorted(needed.values(), key=lambda n: n.lineno)


def _returns_value(fn: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn))


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def mine_functions(root: Path, files: list[Path], *, max_call_sites: int = 3,
                   require_call_sites: bool = False) -> list[dict[str, Any]]:
    """Case2Code seeds from ``files``: each public top-level function that takes arguments, returns
    a value and needs only builtins, standard-library imports, literal constants and other functions of its file
    (shipped with it in ``code``), with up to ``max_call_sites`` places of the corpus that call it
    (``{"file", "line", "call"}``, calls inside the function itself left out). Files that do not
    parse are skipped. Ordered round-robin over the files, so the first few come from different files."""
    parsed: list[tuple[str, str, ast.Module]] = []
    for f in files:
        source = f.read_text(encoding="utf-8", errors="replace")
        try:
            parsed.append((f.relative_to(root).as_posix(), source, ast.parse(source)))
        except (SyntaxError, ValueError):
            continue
    calls: dict[str, list[tuple[str, int, str, ast.Call]]] = {}
    owners: dict[int, str] = {}
    for rel, source, tree in parsed:
        for top in tree.body:
            for node in ast.walk(top):
                if isinstance(node, ast.Call) and (name := _call_name(node)):
                    calls.setdefault(name, []).append((rel, node.lineno, ast.get_source_segment(source, node) or "", node))
                    if isinstance(top, ast.FunctionDef):
                        owners[id(node)] = f"{rel}:{top.name}"
    per_file: list[list[dict[str, Any]]] = []
    for rel, source, tree in parsed:
        defs = _module_definitions(tree)
        found = []
        for fn in tree.body:
            if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_") or fn.decorator_list:
                continue
            if not (fn.args.args or fn.args.posonlyargs or fn.args.kwonlyargs) or not _returns_value(fn):
                continue
            needed = _closure(fn, defs)
            if needed is None:
                continue
            sites = [{"file": f, "line": line, "call": " ".join(text.split())}
                     for f, line, text, node in calls.get(fn.name, [])
                     if owners.get(id(node)) != f"{rel}:{fn.name}" and text][:max_call_sites]
            if require_call_sites and not sites:
                continue
            code = "\n\n\n".join(ast.get_source_segment(source, n) or ast.unparse(n) for n in needed)
            found.append({"code": code, "entry_point": fn.name, "source_file": rel,
                          "source_lines": [fn.lineno, fn.end_lineno or fn.lineno], "call_sites": sites})
        per_file.append(found)
    out = []
    for i in range(max((len(f) for f in per_file), default=0)):
        out.extend(f[i] for f in per_file if i < len(f))
    return out


class FunctionsWithCallSites(SourceStep):
    """Case2Code's seeds: the functions of a code corpus (see :func:`mine_functions`), each with the
    code it needs to run, ``entry_point``, ``source_file``, ``source_lines`` (``[first, last]``,
    1-based) and ``call_sites`` (where the corpus calls it; ``require_call_sites`` keeps only
    functions that are called somewhere)."""

    type_name = "case2code_functions"
    columns = ("code", "entry_point", "source_file", "source_lines", "call_sites")

    def __init__(self, name: str, *, path: str | None = None, pattern: str = "*.py", max_call_sites: int = 3,
                 require_call_sites: bool = False) -> None:
        if int(max_call_sites) < 0:
            raise ValueError(f"case2code_functions {name!r}: max_call_sites must be >= 0, not {max_call_sites}")
        super().__init__(name, citations=[CASE2CODE_CITATION])
        self.root, self.files = corpus_files(path, pattern)
        self.functions = mine_functions(self.root, self.files, max_call_sites=int(max_call_sites),
                                        require_call_sites=bool(require_call_sites))
        if not self.functions:
            raise CorpusError(f"code corpus {self.root}: no self-contained function that takes arguments and returns "
                              "a value")

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        yield from (dict(f) for f in self.functions[:limit])

    def count(self, limit: int | None = None) -> int | None:
        return len(self.functions[:limit])

    def fingerprint(self) -> str:
        return corpus_fingerprint(self.files)
