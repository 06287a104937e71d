"""One run per directory, and never into a folder that is not this run's.

Before a run writes anything, :func:`claim_run_dir` checks that ``OUT`` is (or can be made) a
writable folder, that it is empty, new, or a run of the same recipe (``--fresh`` replaces a run
of another recipe; a folder that holds something else is never written into), and then takes an
exclusive advisory lock (``fcntl.flock``) on ``OUT/.state/run.lock`` for as long as the run lasts.
A second process on the same ``OUT`` is refused instead of mixing its rows into the first one's.
The lock is released by the kernel when the process ends, however it ends, so a crash never
leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

LOCK_NAME = "run.lock"
OWNER_NAME = "owner.json"
#: what a run directory holds (see :mod:`synthloom.io.rundir`) plus ``report/`` from `synthloom report`
RUN_ENTRIES = frozenset({"data", "rejected", "errors", "card.md", "recipe.lock.yaml", "run.json", ".state", "report"})


class RunDirError(ValueError):
    """The output folder cannot take this run; the message names the folder and the fix."""


@dataclass
class RunDirClaim:
    """A held lock on a run directory; :meth:`release` (or leaving the ``with`` block) lets it go."""

    root: Path
    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> RunDirClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_writable_folder(path: Path, flag: str) -> None:
    """``path`` must be a folder, or not exist under a folder this process may write into.

    Raises :class:`RunDirError` naming ``flag`` (``-o``, ``--cache-dir``) and the fix; writes nothing.
    """
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{flag} {path}: is a file, not a folder; fix: give {flag} a folder path (it is created if missing)")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise RunDirError(f"{flag} {path}: {existing} is a file, so no folder can be made there; fix: choose another {flag}")
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "is on a read-only file system" if _read_only_fs(existing) else "is not writable by this user"
        raise RunDirError(f"{flag} {path}: {existing} {why}; fix: choose a writable {flag} folder")


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def run_owner(root: Path) -> str | None:
    """The recipe (pipeline name) a run directory belongs to, or None when it says none."""
    for path, key in ((root / ".state" / OWNER_NAME, "pipeline"), (root / "run.json", "pipeline")):
        try:
            value = orjson.loads(path.read_bytes()).get(key)
        except (OSError, orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(value, str) and value:
            return value
    return None


def is_run_dir(root: Path) -> bool:
    """Whether ``root`` was written by a synthloom run (its state folder or its run.json)."""
    state = root / ".state"
    return any((state / name).is_file() for name in ("journal.jsonl", OWNER_NAME, LOCK_NAME)) \
        or run_owner(root) is not None


def check_ownership(root: Path, pipeline: str, fresh: bool) -> None:
    """Refuse (``RunDirError``) to write into ``root`` unless it is new, empty, or a run of
    ``pipeline`` (or of another recipe with ``fresh``: the user asked to replace it)."""
    if not root.is_dir():
        return
    try:
        entries = sorted(os.listdir(root))
    except OSError as e:
        raise RunDirError(f"-o {root}: cannot list it ({e.strerror}); fix: choose another -o") from None
    if not entries:
        return
    if is_run_dir(root):
        owner = run_owner(root)
        if owner is None or owner == pipeline or fresh:
            return
        raise RunDirError(
            f"-o {root}: holds a run of recipe {owner!r}, not {pipeline!r}; fix: add --fresh to replace that run's "
            f"outputs, or choose a new -o"
        )
    clashes = [e for e in entries if e in RUN_ENTRIES]
    if clashes:
        raise RunDirError(
            f"-o {root}: is not a synthloom run directory and already has {', '.join(clashes)}, which a run would "
            f"overwrite; fix: choose a new (or empty) -o folder"
        )
    if not fresh:
        raise RunDirError(
            f"-o {root}: is not empty and not a synthloom run directory ({len(entries)} entries, e.g. {entries[0]!r}); "
            f"fix: choose a new -o, or add --fresh to write the run beside them (nothing there is deleted)"
        )


def claim_run_dir(root: Path, pipeline: str, *, fresh: bool = False) -> RunDirClaim:
    """Check ``root`` (writable folder, ours to write) and lock it for this process.

    Nothing is created when a check fails before the lock; the lock file and ``.state/`` are the
    only things made before the second (locked) ownership check, and only in a folder that passed
    the first one.
    """
    root = Path(root)
    check_writable_folder(root, "-o")
    check_ownership(root, pipeline, fresh)
    state = root / ".state"
    try:
        state.mkdir(parents=True, exist_ok=True)
        fd = os.open(state / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise RunDirError(f"-o {root}: cannot create {state} ({e.strerror}); fix: choose a writable -o folder") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = _read_holder(fd)
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirError(
                f"-o {root}: another synthloom run{holder} is writing into this folder; fix: wait for it to finish "
                f"(rerun then resumes), or choose another -o"
            ) from None
        raise RunDirError(f"-o {root}: cannot lock {state / LOCK_NAME} ({e.strerror}); fix: choose another -o") from None
    claim = RunDirClaim(root, fd)
    try:
        check_ownership(root, pipeline, fresh)  # again, under the lock: a run may have just finished there
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _write_owner(state / OWNER_NAME, pipeline)
    except OSError as e:
        claim.release()
        raise RunDirError(f"-o {root}: cannot write into {state} ({e.strerror}); fix: free space or choose a writable -o") from None
    except BaseException:
        claim.release()
        raise
    return claim


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def _write_owner(path: Path, pipeline: str) -> None:
    if run_owner(path.parent.parent) == pipeline and path.is_file():
        return
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(orjson.dumps({"pipeline": pipeline}))
    os.replace(tmp, path)
