"""How a sandbox worker is launched: the bubblewrap command line, or the weaker fallback.

Isolation (when ``bwrap`` works): new user, pid, network, ipc, uts and cgroup namespaces; a root
file system holding only read-only binds of ``/usr`` (plus the ``/lib*``/``/bin`` links), the
Python interpreter's prefix and, on request, site-packages; a size-capped tmpfs ``/tmp``; a fresh
``/proc`` and minimal ``/dev``; an empty environment; uid/gid 65534 inside; ``--die-with-parent``
and ``--new-session``. Nested user namespaces are disabled. The server is the jail's PID 1
(``--as-pid-1``: no bubblewrap init that code could trace or signal) and keeps the capabilities of
the jail's user namespace (``--cap-add ALL``, worth nothing outside it) only to give every row its
own PID, mount and IPC namespaces; every process that runs code or tests drops all of them (see
``_inner.py``).

**Host root.** ``RLIMIT_NPROC`` is ignored for processes whose real uid is host root (kuid 0),
and bubblewrap maps the sandbox uid onto the caller's uid — so a root caller would get a jail
whose fork bomb is *not* contained. When running as root we therefore drop to an unprivileged
host uid (``host_uid``, default 65534) before starting bwrap. Bind sources that uid cannot reach
(e.g. a pyenv interpreter under ``/root``) are first bind-mounted, in a private mount namespace
of the launcher only, onto a world-traversable staging directory.

**Fallback** (no ``bwrap`` or no user namespaces): a loud warning, ``isolation: "rlimits-only"``
in every result, and the strongest thing left: rlimits, a new session killed as a group, a
private temporary work dir, an empty environment, and the host-root uid drop. ``require_isolation``
turns the fallback into an error.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("synthloom.sandbox")

#: what the jailed server runs: the harness/RPC definitions, then the server
INNER_SOURCE = "\n".join(Path(__file__).with_name(name).read_text(encoding="utf-8")
                         for name in ("_harness.py", "_row.py", "_inner.py"))
SANDBOX_UID = 65534
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
_SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """Raised when ``require_isolation=True`` and bubblewrap cannot isolate on this machine."""


@dataclass(frozen=True)
class SandboxConfig:
    """How workers are started (shared by every run of a pool).

    * ``site_packages``  also bind the current environment's site-packages read-only and put them
      on ``sys.path`` (for tests that import numpy & co.); off by default
    * ``preload``        modules each worker imports once before forking snippets
    * ``tmpfs_mb``       size of the jail's ``/tmp`` (the work dir); caps what a run can write
    * ``host_uid``       the unprivileged host uid used when the caller is root
    * ``require_isolation``  raise :class:`SandboxUnavailable` instead of falling back
    * ``force_fallback``     use the rlimits-only launcher even where bwrap works (tests, debugging)
    """

    site_packages: bool = False
    preload: tuple[str, ...] = ()
    tmpfs_mb: int = 256
    host_uid: int = SANDBOX_UID
    require_isolation: bool = False
    force_fallback: bool = False
    extra_ro_binds: tuple[str, ...] = ()


@dataclass
class Launch:
    """A ready-to-spawn worker command."""

    argv: list[str]
    isolation: str  # "bwrap" | "rlimits-only"
    preexec: Callable[[], None] | None
    cwd: str | None
    env: dict[str, str]
    nproc_base: int = 0
    workdir: str | None = None  # host folder to delete after the worker ends (fallback only)
    popen_kwargs: dict = field(default_factory=dict)


def python_executable() -> str:
    """The base interpreter (not a venv's symlink) that runs inside the jail."""
    v = sys.version_info
    for cand in (Path(sys.base_prefix) / "bin" / f"python{v.major}.{v.minor}", Path(sys.base_prefix) / "bin" / "python3"):
        if cand.exists():
            return str(cand)
    return os.path.realpath(sys.executable)


def _site_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return sorted({p for p in (paths.get("purelib"), paths.get("platlib")) if p and os.path.isdir(p)})


def reachable_by_others(path: str) -> bool:
    """True when a non-owner, non-group uid can traverse to ``path`` and read it."""
    p = Path(os.path.realpath(path))
    try:
        for parent in [*reversed(p.parents)][1:]:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        mode = os.stat(p).st_mode
    except OSError:
        return False
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
    return mode & need == need


# ---------------------------------------------------------------- root: drop to an unprivileged uid

_libc = ctypes.CDLL(None, use_errno=True)
_unshare = _libc.unshare
_mount = _libc.mount
_CLONE_NEWNS, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x00020000, 4096, 0x4000, 1 << 18
_stage_lock = threading.Lock()
_stage_root: str | None = None


def _staging_dir(index: int) -> str:
    global _stage_root
    with _stage_lock:
        if _stage_root is None:
            _stage_root = tempfile.mkdtemp(prefix="synthloom-sandbox-stage-")
            os.chmod(_stage_root, 0o755)
            import atexit
            atexit.register(shutil.rmtree, _stage_root, True)
        d = os.path.join(_stage_root, str(index))
        if not os.path.isdir(d):
            os.mkdir(d)
            os.chmod(d, 0o755)
        return d


def _privilege_drop(uid: int, stage: list[tuple[str, str]]) -> Callable[[], None]:
    """A preexec function: bind unreachable sources onto staging dirs in a private mount
    namespace (when any), then become ``uid`` with no supplementary groups."""
    src_dst = [(s.encode(), d.encode()) for s, d in stage]

    def preexec() -> None:
        if src_dst:
            if _unshare(_CLONE_NEWNS) != 0 or _mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
                os._exit(125)
            for src, dst in src_dst:
                if _mount(src, dst, None, _MS_BIND | _MS_REC, None) != 0:
                    os._exit(125)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return preexec


def _count_processes(uid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"Uid:"):
                            n += int(line.split()[1]) == uid
                            break
            except OSError:
                pass
    return n


# ---------------------------------------------------------------- command lines

def _binds(config: SandboxConfig) -> tuple[list[str], list[str]]:
    """Read-only bind sources (host paths mounted at the same path) and the sys.path additions."""
    sources = ["/usr"]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/"):
        sources.append(prefix)
    sys_path: list[str] = []
    if config.site_packages:
        for d in _site_dirs():
            real = os.path.realpath(d)
            if not any(real == s or real.startswith(s + "/") for s in sources):
                sources.append(real)
            sys_path.append(real)
    return sources, sys_path


#: where the jail sees ``extra_ro_binds[i]`` (a fixed place outside /tmp, which each row replaces with its work dir)
EXTRA_BIND_ROOT = "/run/synthloom-data"


def jail_path(config: SandboxConfig, host_dir: str, isolation: str) -> str:
    """The path under which a jail of ``config`` sees the host folder ``host_dir`` (one of its
    ``extra_ro_binds``): a fixed mount point under bubblewrap, the host path itself in the fallback."""
    real = [os.path.realpath(d) for d in config.extra_ro_binds]
    wanted = os.path.realpath(host_dir)
    if wanted not in real:
        raise ValueError(f"sandbox: {host_dir} is not among the pool's read-only folders ({', '.join(real) or 'none'})")
    return f"{EXTRA_BIND_ROOT}/{real.index(wanted)}" if isolation == "bwrap" else wanted


def _inner_argv(exe: str, cfg: dict) -> list[str]:
    return [exe, "-I", "-S", "-B", "-X", "utf8", "-c", INNER_SOURCE, json.dumps(cfg)]


def bwrap_launch(config: SandboxConfig, *, disable_userns: bool = True) -> Launch:
    """The bubblewrap command line for one worker."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed (Debian/Ubuntu: apt-get install bubblewrap)")
    sources, sys_path = _binds(config)
    root = os.geteuid() == 0
    stage: list[tuple[str, str]] = []
    argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--clearenv",
            "--hostname", "sandbox", "--as-pid-1", "--cap-add", "ALL"]
    if disable_userns:
        argv.append("--disable-userns")
    for key, value in SANDBOX_ENV.items():
        argv += ["--setenv", key, value]
    for i, src in enumerate(sources):
        host_src = src
        if root and not reachable_by_others(src):
            host_src = _staging_dir(i)
            stage.append((src, host_src))
        argv += ["--ro-bind", host_src, src]
    for i, extra in enumerate(config.extra_ro_binds):
        real = os.path.realpath(extra)
        host_src = real
        if root and not reachable_by_others(real):
            host_src = _staging_dir(len(sources) + i)
            stage.append((real, host_src))
        argv += ["--ro-bind", host_src, f"{EXTRA_BIND_ROOT}/{i}"]
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
             "--size", str(config.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp",
             "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp",
             "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    cfg = {"isolated": True, "base": "/tmp", "preload": list(config.preload), "sys_path": sys_path,
           "tmpfs_bytes": config.tmpfs_mb * 1024 * 1024}
    argv += _inner_argv(python_executable(), cfg)
    preexec = _privilege_drop(config.host_uid, stage) if root else None
    return Launch(argv=argv, isolation="bwrap", preexec=preexec, cwd="/", env=dict(SANDBOX_ENV))


def fallback_launch(config: SandboxConfig) -> Launch:
    """rlimits-only: no namespaces. Runs in a private host temp dir as an unprivileged uid (when
    root, the interpreter is staged through a private mount namespace if that uid cannot reach it)."""
    root = os.geteuid() == 0
    workdir = tempfile.mkdtemp(prefix="synthloom-sandbox-")
    _, sys_path = _binds(config)
    exe = python_executable()
    preexec = None
    uid = os.getuid()
    if root:
        uid = config.host_uid
        os.chown(workdir, uid, uid)
        stage: list[tuple[str, str]] = []
        prefix = os.path.realpath(sys.base_prefix)
        if not reachable_by_others(exe):
            staged = _staging_dir(0)
            stage.append((prefix, staged))
            exe = staged + exe[len(prefix):] if exe.startswith(prefix + "/") else exe
        if sys_path and not all(reachable_by_others(p) for p in sys_path):
            sys_path = []  # site-packages unreachable for the unprivileged uid: stdlib only
        preexec = _privilege_drop(uid, stage)
    cfg = {"isolated": False, "base": workdir, "preload": list(config.preload), "sys_path": sys_path}
    return Launch(argv=_inner_argv(exe, cfg), isolation="rlimits-only", preexec=preexec, cwd=workdir,
                  env=dict(SANDBOX_ENV, HOME=workdir), nproc_base=_count_processes(uid) + 4, workdir=workdir)


# ---------------------------------------------------------------- detection

_probe_lock = threading.Lock()
_probe_result: dict[tuple, tuple[bool, str]] = {}
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key in _warned:
        return
    _warned.add(key)
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _probe(config: SandboxConfig, disable_userns: bool) -> tuple[bool, str]:
    try:
        launch = bwrap_launch(config, disable_userns=disable_userns)
    except SandboxUnavailable as e:
        return False, str(e)
    argv = launch.argv[: launch.argv.index("-c")] + ["-c", "import os; print(os.getuid())"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, preexec_fn=launch.preexec, check=False,
                              cwd=launch.cwd, env=launch.env, start_new_session=True)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"bwrap failed to start: {e}"
    if proc.returncode == 0 and proc.stdout.strip() == str(SANDBOX_UID):
        return True, ""
    return False, f"bwrap cannot create the jail here (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"


def plan_launch(config: SandboxConfig) -> Launch:
    """The strongest launcher this machine supports for ``config`` (probed once per config)."""
    key = (config.site_packages, config.tmpfs_mb, config.host_uid, config.extra_ro_binds)
    if not config.force_fallback:
        with _probe_lock:
            if key not in _probe_result:
                ok, why = _probe(config, True)
                if not ok:  # older kernels/bwrap: retry without --disable-userns
                    ok2, _ = _probe(config, False)
                    ok, why = (ok2, "") if ok2 else (False, why)
                    _probe_result[key] = (ok, "no-disable-userns" if ok2 else why)
                else:
                    _probe_result[key] = (True, "")
            ok, why = _probe_result[key]
        if ok:
            return bwrap_launch(config, disable_userns=why != "no-disable-userns")
        if config.require_isolation:
            raise SandboxUnavailable(f"sandbox isolation is required but unavailable: {why}")
        _warn_once("fallback", "SANDBOX NOT ISOLATED: " + why + " -- falling back to rlimits-only execution "
                   "(rlimits, new session killed as a group, private temp dir, empty environment; "
                   "no namespaces: the code can read host files and use the network). "
                   "Install bubblewrap and enable unprivileged user namespaces, or pass require_isolation=True.")
    elif config.require_isolation:
        raise SandboxUnavailable("force_fallback and require_isolation contradict each other")
    else:
        _warn_once("forced", "SANDBOX NOT ISOLATED: force_fallback=True -- rlimits-only execution")
    return fallback_launch(config)
