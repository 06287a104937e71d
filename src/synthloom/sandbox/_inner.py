"""The process that runs inside the sandbox (standard library only; passed to ``python -c`` after
``_harness.py``). Process tree of one jail (bwrap ``--as-pid-1``):

* **server** (PID 1 of the jail, non-dumpable, holds the jail's capabilities and the host pipes):
  reads jobs from fd 0 (4-byte length + JSON), writes one JSON result per job to fd 1. As the
  init of the jail it ignores every signal sent from inside.
* **template** (forked once at start, before any job): forks one row process per job. It never
  sees code or tests, so nothing a row can read in its own memory belongs to another row.
* per job, the **row init** (started by the template with one ``clone(2)``, straight into new
  PID and mount namespaces: PID 1 of the row): makes its mounts private, mounts a fresh
  size-capped tmpfs on ``/tmp`` and ``/dev/shm`` and a fresh ``/proc``, remounts ``/`` and ``/dev``
  read-only, hands the server a pidfd of itself, drops every capability and forks the **program**
  (PID 2 of the row, the untrusted code), which reads its job from a memfd and writes its work
  dir before running it. The init waits for it, then kills and reaps every process of the row
  before reporting the exit status. The server writes the row's result only after the init has
  exited (its pidfd) and is gone from the jail: the kernel has then torn down the row's
  namespaces, nothing of the row survives, and a fresh /tmp and /dev/shm await the next row. The
  server then removes every SysV IPC object left in the jail (a worker with anything it cannot
  remove is replaced); programs get no POSIX message queues (``RLIMIT_MSGQUEUE`` 0).
* for test runs, the **harness** (forked by the server, outside the row's PID namespace, no
  capabilities, non-dumpable): runs the tests and sends the verdict on a pipe only it holds.

Source: ``_harness.py`` (tests and RPC), ``_row.py`` (template, row init, program), then
this file (the server). Without bubblewrap (``isolated`` false) the same tree runs with no namespaces: teardown is by
process group and the work dir is a private host temp dir.
"""
# ruff: noqa: BLE001, S110, UP031, F821  (survives anything the snippet does; uses _harness.py and _row.py)

import gc
import json
import os
import select
import selectors
import shutil
import signal
import socket
import struct
import sys
import time

# ---------------------------------------------------------------- the server

def read_exact(fd, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def send(obj):
    data = json.dumps(obj).encode("utf-8", "surrogatepass")
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(1, data):]


class Capture:
    """Keeps the first ``cap`` bytes of a stream and counts the rest."""

    def __init__(self, cap):
        self.cap = cap
        self.data = bytearray()
        self.total = 0

    def feed(self, chunk):
        self.total += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self):
        return self.data.decode("utf-8", errors="replace")


def start_harness(job, rpc_fd, verdict_w):
    """Fork the harness process (trusted test runner, no capabilities). Returns its pid."""
    pid = os.fork()
    if pid == 0:
        verdict = {"ok": False, "error": "the harness failed to start", "kind": None, "died": False}
        try:
            fd = os.open(os.devnull, os.O_RDWR)
            move_fds([fd, fd, fd, rpc_fd, verdict_w])
            os.chdir("/")
            drop_privileges()
            set_limits(job)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(sig, signal.SIG_IGN)
            verdict = run_harness(job["harness"], 3)  # noqa: F821 - defined by _harness.py
        except BaseException as e:
            verdict["error"] = "%s: %s" % (type(e).__name__, e)
        try:
            data = json.dumps(verdict).encode("utf-8", "surrogatepass")
            while data:
                data = data[os.write(4, data):]
        except BaseException:
            pass
        os._exit(0)
    return pid


def reap_children():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        REAPED[pid] = status


def wait_child(pid):
    if pid in REAPED:
        return REAPED.pop(pid)
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def sweep(keep):
    """Kill every process of the jail but ``keep`` (the server and the template)."""
    if not ISOLATED:
        return
    for _ in range(10000):
        reap_children()
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in keep]
        if not others:
            return
        for p in others:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.0005)


def purge_sysv_ipc():
    """Remove every SysV shared memory segment, message queue and semaphore set of the jail (the
    server owns the jail's IPC namespace); returns how many could not be removed."""
    left = 0
    for kind, call in (("shm", lambda i: LIBC.shmctl(i, 0, None)), ("msg", lambda i: LIBC.msgctl(i, 0, None)),
                       ("sem", lambda i: LIBC.semctl(i, 0, 0, 0))):
        try:
            with open("/proc/sysvipc/" + kind) as f:
                ids = [int(line.split()[1]) for line in f.readlines()[1:] if line.strip()]
        except (OSError, ValueError, IndexError):
            continue
        left += sum(call(i) != 0 for i in ids)  # IPC_RMID
    return left


def clean_base():
    try:
        names = os.listdir(BASE)
    except OSError:
        return
    for name in names:
        path = os.path.join(BASE, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def kill_pidfd(pidfd):
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass


def run_job(template, job, seq):
    harness = job.get("harness")
    payload = {k: job[k] for k in ("code", "files", "stdin")}
    payload["mode"] = "solution" if harness else "main"
    payload["code_file"] = not (harness and harness.get("kind") == "invoke")  # tool calls: the work dir is the tools'.
    payload.update({k: job[k] for k in ("cpu_s", "memory_mb", "fsize_mb", "nofile", "nproc")})
    memfd = os.memfd_create("job")
    os.write(memfd, json.dumps(payload).encode("utf-8", "surrogatepass"))
    del payload
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    info_r, info_w = os.pipe()
    st, st_row = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fds = {"job": memfd, "out": out_w, "err": err_w, "info": info_w, "st": st_row.fileno()}
    rpc_h = rpc_row = None
    if harness:
        rpc_h, rpc_row = socket.socketpair()
        fds["rpc"] = rpc_row.fileno()
    start = time.monotonic()
    template.spawn({"seq": seq, "fds": list(fds)}, list(fds.values()))
    for fd in (memfd, out_w, err_w, info_w):
        os.close(fd)
    st_row.close()
    hpid = verdict_r = None
    if harness:
        rpc_row.close()
        verdict_r, verdict_w = os.pipe()
        hpid = start_harness(job, rpc_h.fileno(), verdict_w)
        os.close(verdict_w)
        rpc_h.close()
    out, err, info, verdict_buf = Capture(job["max_output"]), Capture(job["max_output"]), Capture(4096), Capture(1 << 20)
    sel = selectors.DefaultSelector()
    for fd, cap in ((out_r, out), (err_r, err), (info_r, info)):
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, cap)
    sel.register(st, selectors.EVENT_READ, "st")
    if verdict_r is not None:
        sel.register(verdict_r, selectors.EVENT_READ, "verdict")
    deadline = start + job["timeout"]
    timed_out = row_done = False
    harness_done = hpid is None
    init_pidfd, report, end, end_row = None, {}, None, False
    while not (row_done and harness_done):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in sel.select(remaining):
            if key.data == "st":
                msg, got_fds, _, _ = socket.recv_fds(st, 65536, 1)
                if got_fds:
                    init_pidfd = got_fds[0]
                    if end_row:
                        kill_pidfd(init_pidfd)
                elif msg:
                    report.update(json.loads(msg))
                    end = end or time.monotonic()
                else:
                    row_done = True
                    sel.unregister(st)
                if "error" in report:
                    row_done = harness_done = True
                continue
            chunk = os.read(key.fd, 65536)
            if chunk:
                (verdict_buf if key.data == "verdict" else key.data).feed(chunk)
                continue
            sel.unregister(key.fd)
            if key.data == "verdict":
                harness_done = True
                end = time.monotonic()
                end_row = b'"died": true' not in verdict_buf.data  # else await the dead solution's status
                if end_row and not row_done and init_pidfd is not None:
                    kill_pidfd(init_pidfd)  # the verdict is in: the row ends now
    duration = (end or time.monotonic()) - start
    if hpid is not None:
        try:
            os.kill(hpid, signal.SIGKILL)
        except OSError:
            pass
        wait_child(hpid)
    if not row_done:  # wait until the row init has exited: it killed and reaped every process of the row
        if init_pidfd is not None:
            kill_pidfd(init_pidfd)
        st.settimeout(10.0)
        try:
            while True:
                msg, got_fds, _, _ = socket.recv_fds(st, 65536, 1)
                if got_fds:
                    init_pidfd = got_fds[0]
                    kill_pidfd(init_pidfd)
                elif not msg:
                    break
                else:
                    report.update(json.loads(msg))
        except OSError:
            pass
    if init_pidfd is not None:  # readable once the row init has exited: the row's namespaces are gone
        select.select([init_pidfd], [], [], 10.0)
    sweep({1, os.getpid(), template.pid})
    for fd, cap in ((out_r, out), (err_r, err), (info_r, info)):  # whatever is buffered; the writers are gone
        for _ in range(64):
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            cap.feed(chunk)
    sel.close()
    for fd in (out_r, err_r, info_r, verdict_r, init_pidfd):
        if fd is not None:
            os.close(fd)
    st.close()
    clean_base()
    leftovers = purge_sysv_ipc() if ISOLATED else 0
    if "error" in report:
        return {"infra_error": report["error"], "recycle": leftovers > 0}
    try:
        exc_info = json.JSONDecoder().raw_decode(info.text())[0] if info.text() else {}
        exc_info = exc_info if isinstance(exc_info, dict) else {}
    except ValueError:
        exc_info = {}
    status = report.get("status")
    result = {
        "timed_out": timed_out,
        "returncode": os.waitstatus_to_exitcode(status) if isinstance(status, int) else None,
        "exception": exc_info.get("exception"), "kind": exc_info.get("kind"),
        "stdout": out.text(), "stderr": err.text(),
        "stdout_bytes": out.total, "stderr_bytes": err.total,
        "duration": duration,
    }
    if leftovers:  # state the next row could see: start a fresh worker
        result["recycle"] = True
    if harness:
        try:
            verdict = json.loads(verdict_buf.text()) if verdict_buf.total else None
        except ValueError:
            verdict = None
        result["harness"] = True
        result["verdict"] = verdict if isinstance(verdict, dict) else None
    return result


def main():
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # nothing in the jail may trace us or open our fds
    if ISOLATED and LIBC.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
        sys.exit("sandbox server: cannot make itself non-dumpable")
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.path.extend(CONFIG.get("sys_path", []))
    for name in CONFIG.get("preload", []):
        try:
            __import__(name)
        except Exception:
            pass
    os.makedirs(BASE, exist_ok=True)
    gc.collect()
    gc.freeze()  # keep the warm heap out of the children's GC: fewer copy-on-write faults
    template = Template()
    send({"ready": True, "pid": os.getpid()})
    seq = 0
    while True:
        head = read_exact(0, 4)
        if head is None:
            return
        job = json.loads(read_exact(0, struct.unpack(">I", head)[0]))
        seq += 1
        try:
            result = run_job(template, job, seq)
        except Exception as e:  # infrastructure failure, reported as such
            result = {"infra_error": "%s: %s" % (type(e).__name__, e)}
        del job
        if not template.alive():
            result["recycle"] = True
        send(result)
        if result.get("recycle"):
            return


main()
