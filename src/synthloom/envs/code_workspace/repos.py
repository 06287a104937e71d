"""The small Python repositories a code workspace starts from.

A repository is a folder with a package of a few modules, a ``README.md`` and a ``tests/`` folder of plain
``test_*`` functions in ``tests/test_*.py`` (run by the workspace's own runner, no pytest). Five are bundled
in ``repos/`` (written for this purpose, standard library only): ``inifile`` (an INI parser and writer),
``textstats`` (text statistics and readability), ``dateranges`` (inclusive date ranges), ``minicalc`` (an
expression evaluator) and ``ledger`` (an inventory and bookkeeping model). A repository is read as text
only; its code runs in the sandbox, never on the host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPOS_DIR = Path(__file__).parent / "repos"
TESTS_DIR = "tests"
TEXT_SUFFIXES = (".py", ".md", ".txt", ".rst", ".ini", ".cfg", ".toml", ".json", ".csv")
MAX_FILE_CHARS = 32_000
MAX_TOTAL_CHARS = 48_000


def is_test_file(path: str) -> bool:
    """Whether ``path`` is one of the test files (``tests/...``), which the final check restores."""
    return path.startswith(f"{TESTS_DIR}/")


@dataclass(frozen=True)
class Repo:
    """A repository's ``name`` and its text ``files`` (path relative to its root → text)."""

    name: str
    files: dict[str, str] = field(hash=False)

    @property
    def source_files(self) -> list[str]:
        """The Python modules outside ``tests/`` (where bugs are injected), sorted."""
        return sorted(p for p in self.files if p.endswith(".py") and not is_test_file(p))

    @property
    def test_files(self) -> list[str]:
        """The test modules ``tests/test_*.py``, sorted."""
        return sorted(p for p in self.files if re.fullmatch(rf"{TESTS_DIR}/test_\w+\.py", p))


def bundled_repos() -> list[str]:
    """The names of the bundled repositories."""
    return sorted(p.name for p in REPOS_DIR.iterdir() if p.is_dir() and (p / TESTS_DIR).is_dir())


def load_repo(name: str) -> Repo:
    """A bundled repository by name, or a folder laid out like one (a package and ``tests/test_*.py``)."""
    folder = REPOS_DIR / name if re.fullmatch(r"[a-z0-9_]+", name) and (REPOS_DIR / name).is_dir() else Path(name)
    if not folder.is_dir():
        raise ValueError(f"unknown repository {name!r}: bundled ones are {', '.join(bundled_repos())}, "
                         "or give a folder with a package and tests/test_*.py")
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in rel.split("/")):
            continue
        if path.is_symlink() or not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8")
        if len(text) > MAX_FILE_CHARS:
            raise ValueError(f"repository {name!r}: {rel} has {len(text)} characters; a workspace file may have "
                             f"at most {MAX_FILE_CHARS}")
        files[rel] = text
    repo = Repo(folder.name, files)
    if not repo.test_files:
        raise ValueError(f"repository {name!r} ({folder}) has no tests/test_*.py: the workspace needs its tests")
    if not repo.source_files:
        raise ValueError(f"repository {name!r} ({folder}) has no Python module outside tests/")
    total = sum(len(t) for t in files.values())
    if total > MAX_TOTAL_CHARS:
        raise ValueError(f"repository {name!r} has {total} characters of text files; a workspace may have at most "
                         f"{MAX_TOTAL_CHARS}")
    return repo
