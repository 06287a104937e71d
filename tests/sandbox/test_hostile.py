"""Hostile programs: each must be contained, end with the right status, and leave the host (and
this test process, and the pool) alive and unpolluted. Runs on the one-shot runner and on the
fork-server pool. CI runs as root: the sandbox must hold there too (see sandbox/bwrap.py)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from synthloom.sandbox import SandboxPool, run_python

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, timeout=2.0, require_isolation=True) as p:
        yield p


@pytest.fixture(params=["oneshot", "pool"])
def run(request, pool):
    def _run(code, **kw):
        kw.setdefault("timeout", 2.0)
        if request.param == "pool":
            return pool.run(code, **kw)
        return run_python(code, require_isolation=True, **kw)

    return _run


def no_process_with(marker: str) -> bool:
    for _ in range(50):  # the kernel may take a moment to finish reaping
        alive = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_fork_bomb_is_contained(run):
    r = run("import os\nwhile True:\n    os.fork()", timeout=3.0)
    assert r.status in ("forbidden", "timeout")
    assert r.isolation == "bwrap"


def test_fork_bomb_hits_process_limit_even_as_root(run):
    r = run("import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; time.sleep(30)\n"
            "        n += 1\nexcept OSError as e:\n    print('stopped', n, e.errno)\n", timeout=3.0)
    assert r.status == "passed", r
    assert r.stdout.startswith("stopped")
    assert int(r.stdout.split()[1]) < 100  # RLIMIT_NPROC (64) applied: the sandbox never runs as host root


def test_memory_bomb(run):
    r = run("x = []\nwhile True:\n    x.append(bytearray(50 * 1024 * 1024))", memory_mb=256)
    assert r.status == "memory", r


def test_cpu_spin(run):
    r = run("while True:\n    pass", timeout=1.0)
    assert r.status == "timeout"


def test_sleep_forever(run):
    r = run("import time\ntime.sleep(10**6)", timeout=1.0)
    assert r.status == "timeout"


def test_sigterm_ignored_and_spin(run):
    r = run("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "while True:\n    pass", timeout=1.0)
    assert r.status == "timeout"


def test_huge_output_is_capped(run):
    r = run("import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 100000)\nprint('done', file=sys.stderr)")
    assert r.status == "passed"
    assert r.stdout_truncated and len(r.stdout) <= 256 * 1024
    assert "done" in r.stderr


def test_endless_output_times_out(run):
    r = run("while True:\n    print('y' * 1000)", timeout=1.0)
    assert r.status == "timeout" and r.stdout_truncated


def test_write_outside_work_dir(run, tmp_path):
    target = tmp_path / f"escape-{uuid.uuid4().hex}"
    repo_target = Path(__file__).resolve().parent / f"escape-{uuid.uuid4().hex}"
    home_target = Path.home() / f"escape-{uuid.uuid4().hex}"
    code = ("import os\nres = []\n"
            f"for p in {[str(target), str(repo_target), str(home_target), '/usr/evil']!r}:\n"
            "    try:\n        open(p, 'w').write('pwned')\n        res.append('wrote')\n"
            "    except OSError as e:\n        res.append(type(e).__name__)\nprint(res)")
    r = run(code)
    assert not target.exists() and not repo_target.exists() and not home_target.exists()
    assert not Path("/usr/evil").exists()
    assert r.status == "passed"  # writing inside the jail's own tmpfs is allowed; nothing reached the host


def test_host_environment_is_not_visible(run, monkeypatch):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("SYNTHLOOM_TEST_SECRET", secret)
    r = run("import os\nprint(dict(os.environ))\nprint(open('/proc/1/environ','rb').read())")
    assert secret not in r.stdout and secret not in r.stderr
    assert "SYNTHLOOM_TEST_SECRET" not in r.stdout


def test_host_files_home_and_cache_are_not_readable(run, tmp_path):
    secret = f"cache-secret-{uuid.uuid4().hex}"
    (tmp_path / "cache.sqlite").write_text(secret)
    code = (f"import os\nfor p in [{str(tmp_path / 'cache.sqlite')!r}, {str(Path.home())!r} + '/.bashrc', "
            "'/etc/shadow', '/etc/passwd', '/work']:\n"
            "    try:\n        print(p, open(p).read()[:100] if not os.path.isdir(p) else os.listdir(p))\n"
            "    except OSError as e:\n        print(p, 'blocked', type(e).__name__)")
    r = run(code)
    assert r.status == "passed"
    assert secret not in r.stdout
    assert r.stdout.count("blocked") == 5


def test_loopback_service_is_unreachable(run):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    seen: list = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                seen.append(server.accept())
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        r = run(f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'hi')")
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
        server.close()
    assert seen == []
    assert r.status == "forbidden", r


def test_internet_and_dns_are_unreachable(run):
    r = run("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)")
    assert r.status == "forbidden"
    r = run("import socket\nsocket.getaddrinfo('example.com', 80)")
    assert r.status == "forbidden"


def test_kill_parent(run):
    r = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time; time.sleep(0.5)\nprint('still here')")
    assert r.status in ("killed", "passed")
    assert run("print('alive')").stdout == "alive\n"


def test_kill_everything(run):
    r = run("import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError:\n"
            "    print('nothing else to kill')\nimport time; time.sleep(0.5)")
    assert (r.status, r.stdout) == ("passed", "nothing else to kill\n")  # alone in its PID namespace with its init
    assert os.getpid() == psutil.Process().pid  # we are alive
    assert run("print('alive')").stdout == "alive\n"


def test_setsid_escape_leaves_no_process(run):
    marker = f"synthloom-escape-{uuid.uuid4().hex}"
    code = ("import os\nif os.fork() == 0:\n    os.setsid()\n"
            f"    os.execv('/bin/sh', ['sh', '-c', 'sleep 1000 # {marker}'])\n"
            "import time\ntime.sleep(100)")
    r = run(code, timeout=1.0)
    assert r.status == "timeout"
    assert no_process_with(marker)


def test_double_fork_daemon_leaves_no_process(run):
    marker = f"synthloom-daemon-{uuid.uuid4().hex}"
    code = ("import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execv('/bin/sh', ['sh', '-c', 'sleep 1000 # {marker}'])\n    os._exit(0)\nprint('parent done')")
    r = run(code)
    assert r.status == "passed"
    assert no_process_with(marker)


def test_ctypes_privileged_syscalls_fail(run):
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
res = {}
res['unshare_user'] = libc.unshare(0x10000000)
res['unshare_net'] = libc.unshare(0x40000000)
res['mount'] = libc.mount(b'none', b'/usr', b'tmpfs', 0, None)
res['ptrace_parent'] = libc.ptrace(16, os.getppid(), None, None)  # PTRACE_ATTACH
res['setuid0'] = libc.setuid(0)
res['chroot'] = libc.chroot(b'/tmp')
print(res)
assert all(v == -1 for v in res.values()), res
"""
    r = run(code)
    assert r.status == "passed", (r.stdout, r.stderr)


def test_fill_the_disk(run):
    r = run("with open('big', 'wb') as f:\n    while True:\n        f.write(b'0' * (1 << 20))", timeout=3.0)
    assert r.status == "forbidden", r


def test_fill_the_tmpfs_with_many_files(run):
    r = run("i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'0' * (8 << 20)); i += 1", timeout=4.0)
    assert r.status == "forbidden", r


def test_symlink_tricks(run):
    code = """
import os
os.symlink('/etc/shadow', 'shadow')
os.symlink('/proc/1/root', 'root1')
out = []
for p in ['shadow', 'root1/etc/shadow', '/proc/self/root/etc/shadow', '/proc/self/root/work']:
    try:
        out.append((p, open(p).read()[:50] if not os.path.isdir(p) else os.listdir(p)))
    except OSError as e:
        out.append((p, 'blocked'))
print(out)
assert all(v == 'blocked' for _, v in out), out
"""
    r = run(code)
    assert r.status == "passed", (r.stdout, r.stderr)


def test_host_processes_are_invisible(run):
    r = run("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    pids = eval(r.stdout)
    assert os.getpid() not in pids or max(pids) < 10
    assert len(pids) <= 4  # the jail's init, the worker and the snippet


def test_infinite_recursion(run):
    r = run("def f(n):\n    return f(n + 1)\nf(0)")
    assert r.status == "failed" and "RecursionError" in r.stderr


def test_c_stack_overflow_crashes_contained(run):
    r = run("import sys, json\nsys.setrecursionlimit(10**9)\nl = []\nfor _ in range(10**6):\n    l = [l]\njson.dumps(l)", timeout=10.0)
    assert r.status == "crashed" and r.signal == 11, r


def test_thread_bomb(run):
    r = run("import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()")
    assert r.status in ("forbidden", "memory"), r


def test_many_open_files(run):
    r = run("fs = []\nwhile True:\n    fs.append(open('/dev/null'))")
    assert r.status == "forbidden" and "Too many open files" in r.stderr


def test_stdin_flood_and_eof(run):
    data = "1\n" * 500_000
    r = run("import sys\nprint(sum(int(x) for x in sys.stdin))", stdin=data)
    assert r.status == "passed" and r.stdout.strip() == "500000"
    r = run("import sys\nprint(repr(sys.stdin.read()))")
    assert r.stdout.strip() == "''"


def test_devices(run):
    code = """
import os, stat
devices = sorted(n for n in os.listdir('/dev') if stat.S_ISBLK(os.lstat('/dev/' + n).st_mode))
print('block devices:', devices)
for p in ['/dev/sda', '/dev/mem', '/dev/kmsg', '/dev/port']:
    try:
        open(p, 'wb').write(b'x')  # creates a plain file in the jail's /dev tmpfs at most
        mode = os.stat(p).st_mode
        print(p, 'device' if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else 'plain file')
    except OSError:
        print(p, 'blocked')
open('/dev/null', 'w').write('ok')
"""
    r = run(code)
    assert r.status == "passed"
    assert "block devices: []" in r.stdout
    assert all(line.endswith(("plain file", "blocked")) for line in r.stdout.splitlines()[1:])


def test_exit_codes(run):
    assert run("import sys\nsys.exit(0)").status == "passed"
    r = run("import sys\nsys.exit(3)")
    assert (r.status, r.returncode) == ("failed", 3)
    r = run("import sys\nsys.exit('bad thing')")
    assert (r.status, r.returncode) == ("failed", 1) and "bad thing" in r.stderr
    r = run("import os\nos._exit(7)")
    assert (r.status, r.returncode) == ("failed", 7)
    r = run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert r.status == "killed" and r.signal == 9


def test_segfault_is_crashed(run):
    r = run("import ctypes\nctypes.string_at(0)")
    assert r.status == "crashed" and r.detail.startswith("crashed with SIG")


def test_unicode_garbage_output(run):
    r = run("import sys\nsys.stdout.buffer.write(bytes(range(256)) * 10)\nprint('\\udcff\\u2603', flush=True)")
    assert r.status == "passed"
    assert isinstance(r.stdout, str) and "\ufffd" in r.stdout


def test_huge_argv_and_env(run):
    r = run("import os\ntry:\n    os.execve('/bin/true', ['true'] + ['a' * 100000] * 100, {'X': 'y' * 10**6})\n"
            "except OSError as e:\n    print('refused', e.errno)")
    assert r.status in ("passed", "failed", "forbidden")


def test_cannot_modify_the_interpreter(run):
    import sys
    target = os.path.join(os.path.realpath(sys.base_prefix), "lib")
    r = run(f"open({target!r} + '/evil.py', 'w').write('x')")
    assert r.status == "forbidden"
    assert not os.path.exists(os.path.join(target, "evil.py"))


def test_subprocess_runs_inside_the_jail(run):
    r = run("import subprocess\nprint(subprocess.run(['/bin/sh', '-c', 'id -u; echo $HOME'], capture_output=True, text=True).stdout)")
    assert r.status == "passed"
    assert r.stdout.split()[:2] == ["65534", "/tmp"]


def test_runs_do_not_see_each_other(pool):
    pool.run("open('/tmp/left-behind', 'w').write('x')\nopen('note', 'w').write('x')")
    r = pool.run("import os\nprint(os.path.exists('/tmp/left-behind'), os.listdir('.'))")
    assert r.stdout.strip() == "False ['main.py']"


def test_pool_survives_the_whole_suite(pool):
    rs = pool.run_many([{"code": f"print({i} * 2)"} for i in range(20)])
    assert [r.stdout for r in rs] == [f"{i * 2}\n" for i in range(20)]


# ================================================================ issue 11: reaching the jail's init and
# the fork-server, forging verdicts, outliving the run, state carried between rows, blocking the host

HOSTILE_INIT = r"""
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}
for pid in out['pids']:
    if pid == os.getpid():
        continue
    out[f'ptrace_attach_{pid}'] = libc.ptrace(16, pid, None, None)        # PTRACE_ATTACH
    out[f'ptrace_seize_{pid}'] = libc.ptrace(0x4206, pid, None, None)    # PTRACE_SEIZE
    try:
        pidfd = os.pidfd_open(pid)
        out[f'pidfd_getfd_{pid}'] = [libc.syscall(438, pidfd, fd, 0) for fd in range(8)]  # pidfd_getfd
    except OSError as e:
        out[f'pidfd_open_{pid}'] = e.errno
    for what in ('mem', 'fd', 'environ', 'root/tmp', 'maps'):
        try:
            p = f'/proc/{pid}/{what}'
            out[f'{what}_{pid}'] = os.listdir(p) if what in ('fd', 'root/tmp') else open(p, 'rb').read(64)
        except OSError as e:
            out[f'{what}_{pid}'] = type(e).__name__
print(out)
"""


def test_jail_init_and_server_cannot_be_traced_or_robbed(run):
    """Class 1: the only other process a program sees is its row's init, which it can neither trace
    (ptrace), nor take file descriptors from (pidfd_getfd), nor read (/proc/PID/mem, fd, environ)."""
    r = run(HOSTILE_INIT)
    assert r.status == "passed", r
    out = eval(r.stdout)
    assert out["pids"] == [1, 2]  # the program is PID 2 of its own PID namespace; the server is not visible
    assert out["ptrace_attach_1"] == -1 and out["ptrace_seize_1"] == -1
    assert out["pidfd_getfd_1"] == [-1] * 8
    for what in ("mem", "fd", "environ", "root/tmp", "maps"):
        assert out[f"{what}_1"] == "PermissionError", (what, out[f"{what}_1"])


def test_program_holds_no_capability_and_cannot_gain_one(run):
    r = run("import os\nprint([l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')])\n"
            "print(open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0])")
    caps, nnp = r.stdout.splitlines()
    assert eval(caps) == ["0000000000000000"] * 5 and nnp == "1"


def test_rows_cannot_read_other_rows_tests_or_their_own_expected_values(pool):
    """Class 1/3: the solution's process is forked from a template that never held any test, so
    scanning its whole memory finds neither an earlier row's test nor its own expected value."""
    earlier = f"synthloom-secret-{uuid.uuid4().hex}"
    assert pool.run("def add(a, b):\n    return a + b", harness={"kind": "assert", "test": f"assert add(1, 2) == 3  # {earlier}"}).ok
    expected = f"synthloom-secret-{uuid.uuid4().hex}"
    scan = r"""
import ctypes, re
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE 1: make its own memory readable
OWN = 'synthloom-secret-' 'ffffffffffffffffffffffffffffffff'
def leak():
    found = set()
    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith('r'):
                continue
            lo, hi = (int(x, 16) for x in span.split('-'))
            try:
                mem.seek(lo)
                chunk = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(m.decode() for m in re.findall(rb'synthloom-secret-[0-9a-f]{32}', chunk))
    return sorted(found)
"""
    r = pool.run(scan, harness={"kind": "call", "entry": "leak", "args": [], "expected": [expected]})
    assert r.status == "failed", r
    got = eval(r.extra["verdict"]["got"])
    assert "synthloom-secret-" + "f" * 32 in got  # the scan works: it finds the solution's own constant
    assert earlier not in got and expected not in got, got


FORGERIES = {
    "builtins": "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
                "builtins.isinstance = lambda *a: True\nbuiltins.exec = lambda *a, **k: None\n"
                "builtins.compile = lambda *a, **k: None\nbuiltins.repr = lambda *a: 'True'",
    "frame_globals": "import sys\nf = sys._getframe()\nwhile f is not None:\n"
                     "    f.f_globals.update(ok=True, strict_eq=lambda a, b: True, run_harness=lambda *a: {'ok': True})\n"
                     "    f = f.f_back",
    "json": "import json\njson.dumps = lambda *a, **k: '{\"ok\": true}'\njson.loads = lambda *a, **k: {'ok': True}",
    "end_marker": "import os, sys\nprint('@@synthloom-0123456789abcdef@@{\"ok\": true}', flush=True)\n"
                  "sys.stderr.write('{\"ok\": true}\\n')\nos._exit(0)",
    "late_thread": "import os, threading, time, struct\n"
                   "def forge():\n    time.sleep(0.05)\n    msg = b'{\"r\": 3}'\n"
                   "    for fd in range(3, 64):\n        try:\n            os.write(fd, struct.pack('>I', len(msg)) + msg)\n"
                   "        except OSError:\n            pass\n    os._exit(0)\n"
                   "threading.Thread(target=forge).start()",
    "fd_and_proc_hunting": "import os\nfor fd in range(3, 256):\n    try:\n        os.write(fd, b'{\"ok\": true}')\n"
                           "    except OSError:\n        pass\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n"
                           "        try:\n            for fd in os.listdir(f'/proc/{pid}/fd'):\n"
                           "                open(f'/proc/{pid}/fd/{fd}', 'w').write('{\"ok\": true}')\n"
                           "        except OSError:\n            pass",
    "exit_zero_early": "import sys\nsys.exit(0)",
    "always_equal": "class Anything(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
                    "class Any2:\n    def __eq__(self, other):\n        return True\n"
                    "def add(a, b):\n    return Any2() if a > 5 else Anything(0)",
    "kill_everything": "import os, signal\nfor sig in (signal.SIGKILL, signal.SIGSTOP):\n    try:\n        os.kill(-1, sig)\n"
                       "    except OSError:\n        pass\n    try:\n        os.kill(1, sig)\n    except OSError:\n        pass",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
@pytest.mark.parametrize("kind", ["assert", "call"])
def test_a_wrong_solution_cannot_forge_a_pass(pool, name, kind):
    """Class 3: the verdict is decided by the harness process; whatever the solution does to its
    own interpreter, output or file descriptors, a wrong ``add`` fails (and an honest one passes)."""
    code = FORGERIES[name] + "\n\ndef add(a, b):\n    return 0\n" if name != "always_equal" else FORGERIES[name]
    spec = ({"kind": "assert", "test": "assert add(1, 2) == 3\nassert add(7, 1) == 8"} if kind == "assert"
            else {"kind": "call", "entry": "add", "args": [1, 2], "expected": 3})
    r = pool.run(code, harness=spec)
    assert r.status != "passed" and not r.ok, r
    honest = pool.run("def add(a, b):\n    return a + b", harness=spec)
    assert honest.status == "passed", honest


def test_forged_rpc_messages_do_not_pass(pool):
    """Class 3: the harness decodes the solution's messages strictly (nesting, size, tags)."""
    frames = {
        "deep": "'[' * 100000 + ']' * 100000",
        "huge_length": "None",
        "unknown_tag": "json.dumps({'globals': [['add', {'$': 'pickle', 'v': 'x'}]]})",
        "foreign_ref": "json.dumps({'globals': [['add', {'$': 'yours', 'v': 1}]]})",
    }
    for name, payload in frames.items():
        code = ("import json, os, struct\n"
                f"data = {payload}\n"
                "frame = struct.pack('>I', 2**31) if data is None else struct.pack('>I', len(data)) + data.encode()\n"
                "os.write(4, frame)\nimport time\ntime.sleep(30)\n")
        r = pool.run(code, harness={"kind": "assert", "test": "assert add(1, 2) == 3"}, timeout=5.0)
        assert r.status == "failed", (name, r)


def test_harness_reports_solution_errors_with_their_kind(pool):
    spec = {"kind": "assert", "test": "assert f(1) == 1"}
    r = pool.run("def f(x):\n    return bytearray(1 << 34)", harness=spec, memory_mb=256)
    assert r.status == "memory", r
    r = pool.run("import ctypes\ndef f(x):\n    return ctypes.string_at(0)", harness=spec)
    assert r.status == "crashed" and r.signal == 11, r
    r = pool.run("def f(x):\n    raise KeyError('nope')", harness=spec)
    assert r.status == "failed" and "KeyError: 'nope'" in r.stderr and "The solution raised" in r.stderr


def test_harness_keeps_python_semantics_for_honest_tests(pool):
    """Proxies: classes, methods, generators, in-place mutation, callbacks, exceptions, modules."""
    code = ("import math\nLIMIT = 10\nclass Stack:\n    def __init__(self):\n        self.items = []\n"
            "    def push(self, x):\n        self.items.append(x)\n        return self\n    def __len__(self):\n"
            "        return len(self.items)\ndef gen(n):\n    yield from range(n)\ndef sort_in_place(xs):\n    xs.sort()\n"
            "def apply(f, x):\n    return f(x)\ndef check_positive(x):\n    if x < 0:\n        raise ValueError('negative')\n"
            "    return math.sqrt(x)\n")
    test = ("s = Stack().push(1).push(2)\nassert len(s) == 2 and s.items == [1, 2]\n"
            "assert list(gen(3)) == [0, 1, 2] and sum(gen(4)) == 6\n"
            "xs = [3, 1, 2]\nsort_in_place(xs)\nassert xs == [1, 2, 3]\n"
            "assert apply(lambda v: v * 10, 4) == 40\n"
            "try:\n    check_positive(-1)\n    raise AssertionError('no error')\nexcept ValueError as e:\n    assert 'negative' in str(e)\n"
            "assert math.isclose(check_positive(2), 2 ** 0.5) and LIMIT == 10\n"
            "from solution import gen as g\nassert next(iter(g(5))) == 0\n")
    r = pool.run(code, harness={"kind": "assert", "test": test})
    assert r.status == "passed", r.stderr


def test_no_process_of_a_row_survives_its_verdict(pool):
    """Class 1/4: the row's PID namespace is torn down before the result is written: checked at
    once, without waiting, for a plain run and a harness run."""
    for harness in (None, {"kind": "assert", "test": "assert add(1, 2) == 3"}):
        marker = f"synthloom-daemon-{uuid.uuid4().hex}"
        code = ("import os, subprocess\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                f"        os.execv('/bin/sh', ['sh', '-c', 'sleep 1000 # {marker}'])\n    os._exit(0)\n"
                f"subprocess.Popen(['/bin/sh', '-c', 'trap \"\" TERM HUP; sleep 1000 # {marker}'], start_new_session=True)\n"
                "def add(a, b):\n    return a + b\n")
        r = pool.run(code, harness=harness)
        assert r.status == "passed", r
        alive = [p.pid for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
        assert alive == []


def test_no_state_survives_to_the_next_row():
    """Class 4: a fresh /tmp, /dev/shm and SysV IPC namespace per row on a warm worker; rows
    cannot write the root file system or /dev; undeletable leftovers do not break later rows."""
    with SandboxPool(workers=1, timeout=5.0, tmpfs_mb=32, require_isolation=True) as pool:
        dirty = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for seq in range(1, 40):
    os.makedirs(f'/tmp/run{seq}/sub', exist_ok=True)
    os.chmod(f'/tmp/run{seq}/sub', 0)
    os.chmod(f'/tmp/run{seq}', 0)
open('/tmp/left', 'w').write('x')
open('/dev/shm/left', 'w').write('x')
shmid = libc.shmget(0x5EED, 16 << 20, 0o1000 | 0o666)   # IPC_CREAT
assert shmid >= 0, ctypes.get_errno()
blocked = []
for path in ('/evil', '/dev/evil', '/usr/evil'):
    try:
        open(path, 'w').write('x')
    except OSError as e:
        blocked.append(e.errno)
print(len(blocked))
"""
        r = pool.run(dirty)
        assert (r.status, r.stdout) == ("passed", "3\n"), r
        probe = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                 "print(sorted(os.listdir('/tmp')), os.listdir('/dev/shm'), libc.shmget(0x5EED, 0, 0), "
                 "open('/proc/sysvipc/shm').read().count('\\n'), os.path.exists('/evil'))")
        r = pool.run(probe)
        assert r.status == "passed", r
        assert r.stdout.split("] ", 1)[0].startswith("['run")  # only this row's work dir
        assert r.stdout.strip().endswith("[] -1 1 False"), r.stdout


def test_tmpfs_space_is_released_between_rows():
    """Class 4: a row may fill its own /tmp and /dev/shm up to the cap; the next rows get the
    space back (nothing held beyond a row's limit)."""
    with SandboxPool(workers=1, timeout=10.0, tmpfs_mb=32, require_isolation=True) as pool:
        fill = ("n = 0\nfor root in ('/tmp', '/dev/shm'):\n    try:\n        for i in range(100):\n"
                "            open(f'{root}/f{i}', 'wb').write(b'0' * (4 << 20))\n            n += 1\n"
                "    except OSError as e:\n        assert e.errno == 28, e\nprint(n)")
        counts = [pool.run(fill).stdout.strip() for _ in range(3)]
        assert counts[0] == counts[1] == counts[2] and 8 <= int(counts[0]) <= 16, counts


def test_host_write_to_a_stopped_worker_is_bounded(monkeypatch):
    """Class 2: a worker that stops reading its jobs costs a bounded wait, then a fresh worker."""
    from synthloom.sandbox import forkserver
    monkeypatch.setattr(forkserver, "_SEND_GRACE", 2.0)
    with SandboxPool(workers=1, timeout=5.0, require_isolation=True) as pool:
        assert pool.run("print(1)").ok
        (worker,) = pool._idle
        for child in psutil.Process(worker.proc.pid).children(recursive=True):
            child.suspend()  # the jail's server (PID 1 inside) stops reading
        big = "x" * (1 << 20)  # far beyond a pipe's buffer
        r = pool.run("import sys\nprint(len(sys.stdin.read()))", stdin=big)
        assert (r.status, r.stdout) == ("passed", f"{len(big)}\n")
        assert worker.dead


def test_close_interrupts_running_programs_at_once():
    """Class 2: closing the pool (what SIGINT/SIGTERM handlers do) kills busy workers: a caller
    blocked on a run gets PoolClosed instead of waiting out the program's time limit."""
    from synthloom.sandbox import PoolClosed
    pool = SandboxPool(workers=2, timeout=300.0, require_isolation=True)
    marker = f"synthloom-busy-{uuid.uuid4().hex}"
    outcome: list = []

    def call():
        try:
            outcome.append(pool.run_many([{"code": f"import time\n# {marker}\ntime.sleep(300)"}] * 2))
        except PoolClosed as e:
            outcome.append(e)

    t = threading.Thread(target=call)
    t.start()
    while len([p for p in psutil.process_iter(["cmdline"]) if "bwrap" in " ".join(p.info["cmdline"] or [])
               and p.info["cmdline"][-1].startswith("{")]) < 2 or len(pool._busy) < 2:
        time.sleep(0.01)
    pool.close()
    t.join(timeout=60)
    assert not t.is_alive() and len(outcome) == 1 and isinstance(outcome[0], PoolClosed)
    assert no_process_with(marker)


def test_sigterm_to_the_host_leaves_no_jail_behind(tmp_path):
    """Class 1/2: the host process dies on SIGTERM mid-run; every jail (and the program in it) dies
    with it (--die-with-parent on bwrap and on the jail's PID 1)."""
    import signal
    import subprocess
    import sys
    marker = f"synthloom-orphan-{uuid.uuid4().hex}"
    started = tmp_path / "started"
    script = (f"import pathlib\nfrom synthloom.sandbox import SandboxPool\npool = SandboxPool(1, require_isolation=True)\n"
              f"pool.run('pass')\npathlib.Path({str(started)!r}).write_text('x')\n"
              f"pool.run('import subprocess\\nsubprocess.run([\"/bin/sh\", \"-c\", \"sleep 1000 # {marker}\"])', timeout=300)\n")
    proc = subprocess.Popen([sys.executable, "-c", script])
    while not started.exists() or no_process_with_now(marker):
        assert proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    assert no_process_with(marker)


def no_process_with_now(marker: str) -> bool:
    return not [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]


def test_the_harness_never_takes_code_running_builtins_or_its_own_modules_from_the_solution(pool):
    """Class 3: a solution whose names decode to the harness's own ``exec``/``eval``/``open`` or modules (``os``,
    ``builtins``) would run solution-chosen code inside the trusted process; the harness refuses those names."""
    forge = ("import json, os, struct\\n"
             "verdict = json.dumps({'ok': True, 'got': None, 'error': '', 'kind': None, 'died': False})\\n"
             "for fd in range(3, 64):\\n    try:\\n        os.write(fd, verdict.encode())\\n    except OSError:\\n        pass\\n"
             "os._exit(0)\\n")
    spec = {"kind": "assert", "test": "assert run(program()) == 3"}
    for runner in ("exec", "eval"):
        code = f"run = {runner}\n\ndef program():\n    return {forge!r}\n"
        r = pool.run(code, harness=spec)
        assert r.status != "passed", (runner, r)
    r = pool.run("import os as helper\n\ndef run(x):\n    return helper.getpid()\n\ndef program():\n    return 1\n",
                 harness={"kind": "assert", "test": "import os\nassert helper is not os and helper.__name__ == 'os'"})
    assert r.status == "passed", r  # a stand-in module, not the harness's own os
    honest = pool.run("import math\n\ndef run(x):\n    return 3\n\ndef program():\n    return math.pi\n", harness=spec)
    assert honest.status == "passed", honest
