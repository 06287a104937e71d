"""One row of the sandbox (standard library only; part of the jailed server's source, between
``_harness.py`` and ``_inner.py``): the template process, the row's init (born in the
row's namespaces) and the program. See ``_inner.py`` for the whole process tree."""
# ruff: noqa: BLE001, S110, S102, UP031  (these processes must survive anything the snippet does)

import ctypes
import fcntl
import io
import json
import os
import resource
import signal
import socket
import sys
import threading
import traceback

CONFIG = json.loads(sys.argv[1])
ISOLATED = CONFIG["isolated"]
BASE = CONFIG["base"]
ROW_TMPFS = "size=%d,mode=1777" % int(CONFIG.get("tmpfs_bytes", 256 << 20))
LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 3, 4, 24, 38, 47
REAPED = {}  # pid -> wait status of children the server reaped while looking for others


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def drop_privileges():
    """No capabilities (bounding, ambient, effective, permitted), no new privileges, no ptrace by
    same-uid processes. Fails closed in the jail."""
    for cap in range(64):
        LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    LIBC.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    rc = LIBC.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)())
    if ISOLATED:
        _check(rc, "capset")
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def set_limits(job, nproc=True):
    mb = 1024 * 1024
    cpu = int(job["cpu_s"])
    limits = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (job["memory_mb"] * mb, job["memory_mb"] * mb)),
        (resource.RLIMIT_DATA, (job["memory_mb"] * mb, job["memory_mb"] * mb)),
        (resource.RLIMIT_FSIZE, (job["fsize_mb"] * mb, job["fsize_mb"] * mb)),
        (resource.RLIMIT_NOFILE, (job["nofile"], job["nofile"])),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MSGQUEUE, (0, 0)),  # no POSIX message queue can outlive the row
    ]
    if job["nproc"] and nproc:
        limits.append((resource.RLIMIT_NPROC, (job["nproc"], job["nproc"])))
    for what, value in limits:
        resource.setrlimit(what, value)


def move_fds(sources):
    """Make ``sources[i]`` fd ``i`` and close every other fd (sources may overlap the targets)."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in sources]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    os.closerange(len(sources), 1 << 16)


def exit_code_of(e):
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    try:
        sys.stderr.write(str(e.code) + "\n")
    except BaseException:
        pass
    return 1


# ---------------------------------------------------------------- the program (untrusted)

def write_run_dir(meta, fds):
    """In the program process, before anything untrusted runs: read the job from its memfd and
    write the work dir (the row's own fresh /tmp). Reports a failure as the row's, then exits."""
    try:
        size = os.fstat(fds["job"]).st_size
        job = json.loads(os.pread(fds["job"], size, 0))
        os.close(fds["job"])
        run_dir = os.path.join(BASE, "run%d" % meta["seq"])
        os.mkdir(run_dir, 0o700)
        files = dict(job.get("files") or {})
        if job.get("code_file", True):
            files["solution.py" if job["mode"] == "solution" else "main.py"] = job["code"]
        if job["stdin"] is not None:
            files[".stdin"] = job["stdin"]
        for rel, content in files.items():
            path = os.path.join(run_dir, rel)
            if "/" in rel:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            data = content.encode("utf-8")
            while data:
                data = data[os.write(fd, data):]
            os.close(fd)
        return job, run_dir
    except BaseException as e:
        report_failure(fds["st"], "row init failed: %s: %s" % (type(e).__name__, e))
        os._exit(1)


def program(meta, fds):
    """In the row's program process: become the snippet (``main``) or the solution behind the
    harness's channel (``solution``). Never returns."""
    job, run_dir = write_run_dir(meta, fds)
    code = 1
    me = os.getpid()
    try:
        os.close(fds["st"])
        os.setpgid(0, 0)
        os.chdir(run_dir)
        stdin_path = os.path.join(run_dir, ".stdin") if job["stdin"] is not None else os.devnull
        stdin_fd = os.open(stdin_path, os.O_RDONLY)
        targets = [stdin_fd, fds["out"], fds["err"], fds["info"]] + ([fds["rpc"]] if fds.get("rpc", -1) >= 0 else [])
        move_fds(targets)
        if job["stdin"] is not None:
            os.unlink(stdin_path)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="replace")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        sys.argv = ["main.py"]
        sys.path.insert(0, run_dir)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        set_limits(job)
        if job["mode"] == "solution":
            serve_solution(job["code"], 4)  # noqa: F821 - defined by _harness.py
        main = os.path.join(run_dir, "main.py")
        exec(compile(job["code"], main, "exec"), {"__name__": "__main__", "__file__": main, "__builtins__": __builtins__})
        code = 0
    except SystemExit as e:
        code = exit_code_of(e)
    except BaseException as e:  # the snippet's uncaught exception: report it like python does
        if os.getpid() == me:  # not in a process the snippet forked
            try:
                os.write(3, json.dumps({"kind": classify_exception(e), "exception": type(e).__name__}).encode())  # noqa: F821
            except BaseException:
                pass
        try:
            traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        except BaseException:
            try:
                os.write(2, (type(e).__name__ + "\n").encode())
            except BaseException:
                pass
        code = 1
    try:
        threading._shutdown()  # like interpreter exit: wait for non-daemon threads
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


# ---------------------------------------------------------------- one row (template -> init -> program)

#: raw clone(2) syscall numbers where its first three arguments are (flags, stack, parent_tid)
SYS_CLONE = {"x86_64": 56, "aarch64": 220, "riscv64": 220, "ppc64le": 120, "ppc64": 120}.get(os.uname().machine)
SYSCALL = ctypes.PyDLL(None, use_errno=True).syscall  # keeps the GIL: a clone child resumes holding it
SYSCALL.restype = ctypes.c_long


def start_row(fds):
    """In the template: start the row's init. With isolation it is born in new PID and mount
    namespaces (one clone(2); it is PID 1 of the row); without, a plain fork. Returns 0 in the
    init, its pid in the template. Never raises in the init."""
    if not ISOLATED:
        return os.fork()
    if SYS_CLONE is not None:
        flags = CLONE_NEWNS | CLONE_NEWPID | signal.SIGCHLD
        pid = SYSCALL(ctypes.c_long(SYS_CLONE), ctypes.c_long(flags), ctypes.c_long(0), ctypes.c_long(0),
                      ctypes.c_long(0), ctypes.c_long(0))
        if pid < 0:
            err = ctypes.get_errno()
            raise OSError(err, "clone: %s" % os.strerror(err))
        return pid
    # other architectures: a short-lived middle process unshares, forks the init and waits for it
    pid = os.fork()
    if pid:
        return pid
    try:
        _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare")
        init = os.fork()
    except BaseException as e:
        report_failure(fds["st"], "row setup failed: %s: %s" % (type(e).__name__, e))
        os._exit(1)
    if init == 0:
        return 0
    for fd in fds.values():
        if fd >= 0:
            os.close(fd)
    os.waitpid(init, 0)
    os._exit(0)


def report_failure(st_fd, message):
    try:
        os.write(st_fd, json.dumps({"error": message}).encode())
    except BaseException:
        pass


def enter_row_mounts():
    """In the row's init, PID 1 of its new PID and mount namespaces: private mounts, a fresh
    size-capped tmpfs on /tmp and /dev/shm, / and /dev read-only, a fresh /proc of the row."""
    _check(LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(LIBC.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, ROW_TMPFS.encode()), "mount /tmp")
    if os.path.isdir("/dev/shm"):
        _check(LIBC.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, ROW_TMPFS.encode()), "mount /dev/shm")
    ro = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    _check(LIBC.mount(b"none", b"/", None, ro, None), "remount / read-only")
    _check(LIBC.mount(b"none", b"/dev", None, ro, None), "remount /dev read-only")
    _check(LIBC.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")


def row_init(meta, fds):
    """PID 1 of the row (in the jail; plain child of the template without bwrap). Never returns."""
    st = None
    try:
        st = socket.socket(fileno=fds["st"])
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        if ISOLATED:
            enter_row_mounts()
        pidfd = os.pidfd_open(os.getpid())  # the server's handle on the row: killing PID 1 ends it
        socket.send_fds(st, [b"init"], [pidfd])
        os.close(pidfd)
        drop_privileges()
        pid = os.fork()
    except BaseException as e:
        report_failure(fds["st"], "row init failed: %s: %s" % (type(e).__name__, e))
        os._exit(1)
    if pid == 0:
        program(meta, fds)
    for name in ("job", "out", "err", "info", "rpc"):
        if fds.get(name, -1) >= 0:
            os.close(fds[name])
    status = None
    while status is None:
        try:
            wpid, wstatus = os.waitpid(-1 if ISOLATED else pid, 0)
        except ChildProcessError:
            break
        if wpid == pid:
            status = wstatus
    if ISOLATED:  # as the row's init: kill(-1) reaches every other process of the row, orphans come to us
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    st.send(json.dumps({"status": status}).encode())
    os._exit(0)


def template_loop(sock):
    """The template: starts a row init per request. Never returns."""
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # row inits are reaped by the kernel
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 4096, 8)
        except OSError:
            os._exit(1)
        if not msg:
            os._exit(0)
        meta = json.loads(msg)
        named = dict(zip(meta["fds"], fds))
        try:
            pid = start_row(named)
        except BaseException as e:
            report_failure(named["st"], "row start failed: %s: %s" % (type(e).__name__, e))
            pid = -1
        if pid == 0:
            sock.close()
            row_init(meta, named)
        for fd in fds:
            os.close(fd)


class Template:
    """The server's handle on the template process."""

    def __init__(self):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            self.sock.close()
            template_loop(theirs)
        theirs.close()

    def spawn(self, meta, fds):
        socket.send_fds(self.sock, [json.dumps(meta).encode()], fds)

    def alive(self):
        if self.pid in REAPED:
            return False
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False


