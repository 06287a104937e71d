"""Tool calls executed in the real sandbox: statuses, shared work dir within a run, isolation between
runs, bundled data folders, hostile tool code contained, and results the tool code cannot forge."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from synthloom.sandbox import PoolClosed
from synthloom.tools.executor import CallResult, Invocation, ToolExecutor, program_source

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    data_dir: str | None = None


TOOLS = Module("statistics", '''
import os, statistics


def add(a: float, b: float) -> float:
    return a + b


def mean_of(xs: list) -> float:
    return statistics.mean(xs)  # the stdlib module, although this tool module is named "statistics"


def boom(x: int) -> int:
    raise ValueError("bad x %d" % x)


def a_set() -> list:
    return {1, 2}


def an_object():
    class A:
        pass
    return A()


def nan() -> float:
    return float("nan")


def huge() -> str:
    return "x" * 200000


def write(name: str, text: str) -> int:
    with open(name, "w") as f:
        f.write(text)
    return len(text)


def read(name: str) -> str:
    with open(name) as f:
        return f.read()


def _private() -> int:
    return 1
''')

HOSTILE = Module("hostile", '''
import os, socket


def spin() -> int:
    while True:
        pass


def eat_memory() -> int:
    return len(bytearray(1 << 34))


def exit_now() -> int:
    os._exit(3)


def network() -> int:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    return 1


def write_outside() -> int:
    with open("/usr/lib/evil", "w") as f:
        f.write("x")
    return 1


def fork_bomb() -> int:
    while True:
        os.fork()


def ok() -> int:
    return 1
''')


@pytest.fixture(scope="module")
def executor():
    with ToolExecutor(timeout=2.0, workers=2) as ex:
        yield ex


def call(tool: str, call_id: str = "c", /, **arguments) -> Invocation:
    return Invocation(call_id, tool, arguments)


def test_values_errors_and_invalid_results(executor):
    results = executor.run([TOOLS], [call("add", "1", a=1, b=2.5), call("mean_of", "2", xs=[1, 2, 3]), call("boom", "3", x=4),
                                     call("a_set", "4"), call("an_object", "5"), call("nan", "6"), call("huge", "7"),
                                     call("missing", "8"), call("_private", "9"), call("add", "10", a=1)])
    by_id = {r.call_id: r for r in results}
    assert [r.call_id for r in results] == [str(i) for i in range(1, 11)]
    assert by_id["1"].ok and by_id["1"].value == 3.5
    assert by_id["2"].ok and by_id["2"].value == 2
    assert (by_id["3"].status, by_id["3"].error) == ("error", "ValueError: bad x 4")
    assert by_id["4"].status == "invalid" and "set" in by_id["4"].error
    assert by_id["5"].status == "invalid" and "object of the solution" in by_id["5"].error
    assert by_id["6"].status == "invalid" and "non-finite" in by_id["6"].error
    assert by_id["7"].status == "invalid" and "limit" in by_id["7"].error
    assert by_id["8"].status == "error" and "'missing' is not a function" in by_id["8"].error
    assert by_id["9"].status == "error"  # private helpers are not tools
    assert by_id["10"].status == "error" and "TypeError" in by_id["10"].error
    assert CallResult.from_dict(by_id["1"].to_dict()) == by_id["1"]


def test_calls_of_one_run_share_the_work_dir_and_runs_share_nothing(executor):
    first = executor.run([TOOLS], [call("write", "w", name="notes.txt", text="hello"), call("read", "r", name="notes.txt")])
    assert [r.status for r in first] == ["ok", "ok"] and first[1].value == "hello"
    later = executor.run([TOOLS], [call("read", name="notes.txt")])
    assert later[0].status == "error" and "FileNotFoundError" in later[0].error
    seeded = executor.run([TOOLS], [call("read", name="in/data.txt")], files={"in/data.txt": "given"})
    assert seeded[0].value == "given"


def test_tools_expose_their_name_bound_to_the_entry(executor):
    tool = SimpleNamespace(name="sum_two", entry="add", module=TOOLS)
    assert executor.run([tool], [call("sum_two", a=2, b=2)])[0].value == 4
    assert executor.run([tool], [call("boom", x=1)])[0].status == "error"  # not offered, so not callable
    with pytest.raises(ValueError, match="no implementation"):
        program_source([SimpleNamespace(name="simulated_only", entry="x", module=None)])


@pytest.fixture
def data_dir():
    """A data folder under /tmp, which every jail row replaces with its own work dir: the jail sees it elsewhere."""
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    base.chmod(0o755)
    (base / "rates.csv").write_text("EUR,1.1\n")
    (base / "rates.csv").chmod(0o644)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_bundled_data_folders_are_readable_read_only(executor, data_dir):
    data = data_dir
    module = Module("lookup", '''
import os


def rate(code: str) -> float:
    with open(os.path.join(DATA_DIR, "rates.csv")) as f:
        return dict(line.strip().split(",") for line in f)[code]


def spoil() -> int:
    with open(os.path.join(DATA_DIR, "rates.csv"), "w") as f:
        f.write("EUR,0\\n")
    return 1
''', str(data))
    results = executor.run([module], [call("rate", "1", code="EUR"), call("spoil", "2"), call("rate", "3", code="EUR")])
    assert [r.status for r in results] == ["ok", "forbidden", "ok"]
    assert results[0].value == results[2].value == "1.1"
    assert (data / "rates.csv").read_text() == "EUR,1.1\n"
    with pytest.raises(ValueError, match="not among the pool's read-only folders"):
        executor.pool([str(data)]).jail_path("/usr")


@pytest.mark.parametrize("name, status", [("spin", "timeout"), ("eat_memory", "memory"), ("exit_now", "killed"),
                                          ("network", "forbidden"), ("write_outside", "forbidden"),
                                          ("fork_bomb", None)])
def test_hostile_tools_are_contained_and_end_with_a_status(executor, name, status):
    results = executor.run([HOSTILE], [call(name, "h"), call("ok", "after")])
    assert not results[0].ok and results[0].error
    if status is not None:
        assert results[0].status == status, results
    if results[0].status in ("timeout", "killed", "crashed"):
        assert results[1].status == "not_run"
    assert executor.run([HOSTILE], [call("ok")])[0].value == 1  # the pool survives
    assert not Path("/usr/lib/evil").exists()


FORGERIES = {
    "stdout": "print('{\"status\": \"ok\", \"value\": 42}')\nimport sys\nsys.stderr.write('{\"ok\": true}')",
    "fd_hunting": "import os, struct\nmsg = b'{\"r\": 42}'\nfor fd in range(3, 64):\n    try:\n"
                  "        os.write(fd, struct.pack('>I', len(msg)) + msg)\n    except OSError:\n        pass",
    "patch_json": "import json\njson.dumps = lambda *a, **k: '{\"ok\": true, \"results\": []}'",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_tool_code_cannot_forge_results(executor, name):
    module = Module("forger", FORGERIES[name] + "\n\ndef boom() -> int:\n    raise ValueError('no')\n\n"
                    "def answer() -> int:\n    return 41\n")
    results = executor.run([module], [call("boom", "1"), call("answer", "2")])
    assert results[0].status != "ok"
    assert results[1].status != "ok" or results[1].value == 41


def test_arun_from_the_event_loop(executor):
    async def main():
        return await asyncio.gather(*(executor.arun([TOOLS], [call("add", a=i, b=1)]) for i in range(6)))

    assert [r[0].value for r in asyncio.run(main())] == [1, 2, 3, 4, 5, 6]


def test_close_ends_a_run_in_flight_at_once():
    ex = ToolExecutor(timeout=30.0, workers=1)
    ex.run([HOSTILE], [call("ok")])  # warm
    outcome: list = []

    def slow():
        try:
            outcome.append(ex.run([HOSTILE], [call("spin")]))
        except PoolClosed as e:
            outcome.append(e)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    ex.close()
    t.join(10)
    assert not t.is_alive() and isinstance(outcome[0], PoolClosed)


def test_invocations_from_model_calls_and_dicts():
    from synthloom.llm.tools import ToolCall

    assert Invocation.of(ToolCall.parse("call_1", "add", '{"a": 1}')) == Invocation("call_1", "add", {"a": 1})
    assert Invocation.of({"id": "x", "name": "add", "arguments": {"b": 2}}) == Invocation("x", "add", {"b": 2})
    with pytest.raises(ValueError, match="positive"):
        ToolExecutor(timeout=0)


def test_invoke_specs_are_checked_before_a_run():
    from synthloom.sandbox import check_harness

    assert check_harness({"kind": "invoke", "calls": [{"entry": "f", "args": {"x": 1}, "extra": 1}]}) == \
        {"kind": "invoke", "calls": [{"entry": "f", "args": {"x": 1}}]}
    for bad in ({"kind": "invoke", "calls": "f"}, {"kind": "invoke", "calls": [{"entry": 3, "args": {}}]},
                {"kind": "invoke", "calls": [{"entry": "f", "args": 3}]}):
        with pytest.raises(ValueError, match="invoke"):
            check_harness(bad)


def test_the_work_dir_holds_only_what_the_tools_and_files_put_there(executor):
    module = Module("ls", "import os\n\n\ndef listing() -> list:\n    return sorted(os.listdir('.'))\n")
    assert executor.run([module], [call("listing")])[0].value == []
    assert executor.run([module], [call("listing")], files={"a.txt": "x"})[0].value == ["a.txt"]


PURE_SOURCE = ("def double(x: float) -> float:\n    return 2 * x\n\n\ndef fail(x: int) -> int:\n"
               "    raise ValueError('no %d' % x)\n\n\ndef spin() -> int:\n    while True:\n        pass\n")
STATELESS = SimpleNamespace(name="pure", source=PURE_SOURCE, data_dir=None, stateless=True)


def test_stateless_runs_are_packed_into_one_row_with_the_same_results():
    tools = [SimpleNamespace(name=n, entry=n, module=STATELESS) for n in ("double", "fail", "spin")]

    async def main(ex):
        return await asyncio.gather(*(ex.arun(tools[:2], [call("double", f"d{i}", x=i), call("fail", f"f{i}", x=i)])
                                      for i in range(10)))

    with ToolExecutor(timeout=2.0, workers=2, pack=4) as ex:
        packed = asyncio.run(main(ex))
        assert ex.packed_runs >= 2 and ex.runs < 10
    with ToolExecutor(timeout=2.0, workers=2, pack=1) as ex:
        alone = asyncio.run(main(ex))
        assert ex.packed_runs == 0 and ex.runs == 10
    assert packed == alone
    assert [r[0].value for r in packed] == [2 * i for i in range(10)] and all(r[1].status == "error" for r in packed)


def test_a_packed_row_ended_by_one_run_is_rerun_run_by_run():
    tools = [SimpleNamespace(name=n, entry=n, module=STATELESS) for n in ("double", "spin")]

    async def main(ex):
        return await asyncio.gather(ex.arun(tools, [call("double", "a", x=1)]), ex.arun(tools, [call("spin", "b")]),
                                    ex.arun(tools, [call("double", "c", x=3)]))

    with ToolExecutor(timeout=1.0, workers=2, pack=8) as ex:
        first, looping, third = asyncio.run(main(ex))
    assert first[0].value == 2 and third[0].value == 6 and looping[0].status == "timeout"


def test_runs_with_files_or_stateful_tools_are_never_packed(executor):
    tools = [SimpleNamespace(name="read", entry="read", module=TOOLS)]

    async def main():
        return await asyncio.gather(*(executor.arun(tools, [call("read", name="x")], files={"x": str(i)}) for i in range(4)))

    before = executor.packed_runs
    assert [r[0].value for r in asyncio.run(main())] == ["0", "1", "2", "3"] and executor.packed_runs == before
