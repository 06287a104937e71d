"""The shell environment's side inside the sandbox (runs only in the jail; standard library only).

The host ships this module, the work dir's previous state (``shell_state.b64``: a gzip'd tar, base64) and a
configuration (``shell_config.json``) into one fresh jail row per step. The first call unpacks the state into
``work/`` (modes, links and archives kept), ``run_command`` runs one bash command there, ``dump_chunk`` packs the
work dir back (the host reads it in chunks, the last hidden calls of the run). ``run_setup`` builds a task's
initial work dir; ``run_check`` runs a task's checker on it. Every process a command started is killed before the
command's result is returned, so nothing runs on between two steps.
"""

import base64
import io
import json
import os
import signal
import stat
import subprocess
import tarfile
import time

STATE_FILE = "shell_state.b64"
CONFIG_FILE = "shell_config.json"
BASE = os.path.realpath(os.getcwd())
WORK = os.path.join(BASE, "work")
IO_DIR = os.path.join(BASE, ".shell_io")
BIN_DIR = os.path.join(BASE, ".shell_bin")
CHUNK = 60_000
_DEFAULTS = {"command_timeout": 3.0, "output_limit": 4000, "state_limit": 400_000, "isolated": False, "commands": {}}
_state = {"ready": False, "archive": None}


def _config():
    try:
        with open(os.path.join(BASE, CONFIG_FILE), encoding="utf-8") as handle:
            loaded = json.load(handle)
    except (OSError, ValueError):
        loaded = {}
    return {key: loaded.get(key, default) for key, default in _DEFAULTS.items()}


def _within_work(member, dest):
    """A tar filter keeping modes as they were (unlike the "tar" and "data" filters), refusing only an entry that
    would land outside the work dir (an absolute or ``..`` path, or one through a link that leads out)."""
    for name in (member.name, member.linkname if member.islnk() else ""):
        if name and (name.startswith("/") or ".." in name.split("/")):
            raise tarfile.FilterError(f"archive entry {name!r} leads outside the work dir")
    parent = os.path.realpath(os.path.join(dest, os.path.dirname(member.name)))
    if parent != WORK and not parent.startswith(WORK + os.sep):
        raise tarfile.FilterError(f"archive entry {member.name!r} leads outside the work dir")
    return member


def _restore():
    if _state["ready"]:
        return
    if _state.get("error"):  # a refused state stays refused for every later call of the run (nothing is dumped)
        raise ValueError(_state["error"])
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(IO_DIR, exist_ok=True)
    os.makedirs(BIN_DIR, exist_ok=True)
    for name, target in _config()["commands"].items():  # commands the jail's missing /etc/alternatives would hide (awk)
        if "/" not in name and os.path.exists(target) and not os.path.lexists(os.path.join(BIN_DIR, name)):
            os.symlink(target, os.path.join(BIN_DIR, name))
    path = os.path.join(BASE, STATE_FILE)
    if os.path.exists(path):
        with open(path, encoding="ascii") as handle:
            data = base64.b64decode(handle.read())
        os.remove(path)
        if data:
            try:
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                    if hasattr(tarfile, "fully_trusted_filter"):
                        tar.extractall(WORK, filter=_within_work)
                    else:
                        tar.extractall(WORK, members=[m for m in tar.getmembers() if _within_work(m, WORK)])
            except (OSError, tarfile.TarError, ValueError) as exc:
                _state["error"] = f"the work dir could not be restored: {type(exc).__name__}: {exc}"
                raise ValueError(_state["error"]) from None
    _state["ready"] = True


def _pids():
    return {int(p) for p in os.listdir("/proc") if p.isdigit()}


def _kill_new(before, own):
    """Kill every process that appeared since ``before`` (the jail's own PID namespace: only this row's)."""
    for _ in range(50):
        strays = _pids() - before - own
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def _read(path, limit):
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    size = os.path.getsize(path)
    return data[:limit].decode("utf-8", "replace"), size > limit


def _bash(script, timeout, limit):
    """Run ``script`` with bash in the work dir; every process it started is dead when this returns."""
    cfg = _config()
    env = {"PATH": BIN_DIR + ":/usr/local/bin:/usr/bin:/bin", "HOME": WORK, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PWD": WORK,
           "TERM": "dumb"}
    out_path, err_path = os.path.join(IO_DIR, "stdout"), os.path.join(IO_DIR, "stderr")
    before = _pids()
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(["/bin/bash", "-c", script], cwd=WORK, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, start_new_session=True)
        timed_out = False
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            code = 124
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
    if cfg["isolated"]:
        _kill_new(before, {os.getpid()})
    seconds = time.monotonic() - started
    stdout, stdout_cut = _read(out_path, limit)
    stderr, stderr_cut = _read(err_path, limit)
    if code < 0:
        code = 128 - code  # killed by a signal: the shell's convention
    return {"exit_code": code, "stdout": stdout, "stderr": stderr, "timed_out": timed_out,
            "stdout_truncated": stdout_cut, "stderr_truncated": stderr_cut, "seconds": round(seconds, 4)}


def run_command(command: str) -> dict:
    """Run one bash command in the task's work dir and return its exit code, stdout and stderr.

    Args:
        command: the shell command line, e.g. "grep -c error logs/app.log"
    """
    _restore()
    cfg = _config()
    if not isinstance(command, str) or not command.strip():
        raise ValueError("give a non-empty shell command")
    return _bash(command, float(cfg["command_timeout"]), int(cfg["output_limit"]))


def _inside(rel):
    parts = rel.replace("\\", "/").split("/")
    if not rel or rel.startswith("/") or ".." in parts or "" in parts:
        raise ValueError(f"setup file {rel!r} must be a relative path inside the work dir, without '..'")
    return os.path.join(WORK, *parts)


def run_setup(files: dict, script: str = "") -> dict:
    """Build a task's initial work dir: write ``files`` (relative path -> text), then run ``script`` with bash."""
    _restore()
    cfg = _config()
    for rel, text in sorted(files.items()):
        path = _inside(str(rel))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(str(text))
    if not script.strip():
        return {"exit_code": 0, "stdout": "", "stderr": "", "timed_out": False}
    return _bash(script, float(cfg["command_timeout"]), int(cfg["output_limit"]))


def run_check(script: str) -> dict:
    """Run a task's checker script in the work dir (exit code 0 means the task is done)."""
    _restore()
    cfg = _config()
    return _bash(script, float(cfg["command_timeout"]), int(cfg["output_limit"]))


def _readable(top):
    """Make every entry under ``top`` readable by its owner (a task may chmod 000 a file), returning the
    original modes, so that the archive records them as they were."""
    modes = {}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            modes[path] = stat.S_IMODE(st.st_mode)
            need = stat.S_IRWXU if stat.S_ISDIR(st.st_mode) else stat.S_IRUSR
            if st.st_mode & need != need:
                os.chmod(path, stat.S_IMODE(st.st_mode) | need)
    return modes


def _pack(limit):
    buffer = io.BytesIO()
    os.chmod(WORK, 0o755)
    modes = _readable(WORK)
    total = sum(os.lstat(p).st_size for p in modes if stat.S_ISREG(os.lstat(p).st_mode))
    if total > 8 * limit:  # cannot pack under the limit: say so without compressing it all
        raise ValueError(f"the work dir holds {total} bytes of files, too many to carry between steps (limit: {limit} "
                         "characters packed)")
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for root, dirs, files in os.walk(WORK):
            dirs.sort()
            for name in sorted(dirs + files):
                path = os.path.join(root, name)
                st = os.lstat(path)
                if stat.S_ISSOCK(st.st_mode):
                    continue
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, WORK))
                info.uname = info.gname = ""
                if path in modes:
                    info.mode = modes[path]
                if info.isreg():
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def dump_chunk(index: int) -> str:
    """Chunk ``index`` of the work dir's archive (base64 of a gzip'd tar; "" past its end)."""
    _restore()
    if _state["archive"] is None:
        limit = int(_config()["state_limit"])
        archive = _pack(limit)
        if len(archive) > limit:
            raise ValueError(f"the work dir packs to {len(archive)} characters, over the {limit}-character limit "
                             "carried between steps")
        _state["archive"] = archive
    return _state["archive"][index * CHUNK: (index + 1) * CHUNK]
