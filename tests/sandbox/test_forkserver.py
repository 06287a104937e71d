"""The warm pool: concurrency, order, recycling, replacement of killed workers, closing."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthloom.sandbox import SandboxPool

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")


def test_run_many_keeps_order_and_recycles_workers():
    with SandboxPool(workers=2, recycle_after=3, require_isolation=True) as pool:
        rs = pool.run_many([{"code": f"import os\nprint({i}, os.getppid())"} for i in range(12)])
        assert [int(r.stdout.split()[0]) for r in rs] == list(range(12))
        assert all(r.status == "passed" and r.isolation == "bwrap" for r in rs)


def test_each_run_gets_a_fresh_process_namespace_and_work_dir():
    with SandboxPool(workers=1, require_isolation=True) as pool:
        code = ("import os\nprint(os.getpid(), open('/proc/self/stat').read().split()[21], os.getcwd(), "
                "sorted(p for p in os.listdir('/proc') if p.isdigit()), os.listdir('.'), sep='|')\nopen('x', 'w')")
        a, b = pool.run(code).stdout.strip().split("|"), pool.run(code).stdout.strip().split("|")
        assert a[0] == b[0] == "2"  # the program is PID 2 of its own PID namespace (the row's init is 1)
        assert a[3] == b[3] == "['1', '2']"
        assert a[1:3] != b[1:3]  # another process (start time) in another work dir
        assert b[4] == "['main.py']"


def test_program_cannot_kill_its_row_init():
    with SandboxPool(workers=1, require_isolation=True) as pool:
        r = pool.run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGTERM)\nprint('alive')")
        assert (r.status, r.stdout) == ("passed", "alive\n")  # PID 1 of the row ignores signals from inside


def test_killed_worker_is_replaced():
    with SandboxPool(workers=1, require_isolation=True) as pool:
        assert pool.run("print(1)").stdout == "1\n"
        (worker,) = pool._idle
        worker.interrupt()  # as if the jail had died between two runs
        assert pool.run("print(2)").stdout == "2\n"
        assert pool._idle and pool._idle[0] is not worker


def test_per_call_overrides_and_closed_pool():
    pool = SandboxPool(workers=1, timeout=0.5, require_isolation=True)
    assert pool.run("import time\ntime.sleep(1)\nprint('late')", timeout=3).stdout == "late\n"
    assert pool.run("import time\ntime.sleep(2)").status == "timeout"
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.run("pass")
    with pytest.raises(ValueError, match="workers"):
        SandboxPool(workers=0)


def test_workers_outlive_the_caller_thread_that_started_them():
    """bwrap's --die-with-parent is tied to the thread that forked it: a worker first used from a
    short-lived thread must not die with that thread (the pool spawns from its own threads)."""
    import threading

    with SandboxPool(workers=1, require_isolation=True) as pool:
        first: list = []
        t = threading.Thread(target=lambda: first.append(pool.run("print(1)")))
        t.start()
        t.join()
        assert first[0].status == "passed"
        for _ in range(3):
            r = pool.run("import os\nprint(os.getppid())")
            assert r.status == "passed", r
