"""The shell environment in the real sandbox: the work dir persists across commands (files, modes, archives), the
checker judges the final state, tasks are validated (trivial checkers and failing solutions rejected), and hostile
commands stay contained (a fork bomb, writes outside the work dir, the network, runaway and background processes, a
work dir too large to carry)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from synthloom.envs.agent_env import AgentSession, open_environment
from synthloom.envs.shell import (
    KINDS,
    ShellEnvironment,
    ShellSetupFailed,
    seed_tasks,
    task_from_written,
    task_problem,
    validate_task,
)
from synthloom.llm.tools import ToolCall

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

ENV = ShellEnvironment()
TASK = {"instruction": "Write hello into greeting.txt.", "setup": {"files": {"notes/a.txt": "alpha\n"}, "script": ""},
        "solution": "echo hello > greeting.txt", "checker": "grep -qx hello greeting.txt"}


@pytest.fixture(scope="module")
def executor():
    """A roomy wall-clock limit per sandbox run: the commands' own limits are the environment's ``command_timeout``."""
    from synthloom.tools.executor import ToolExecutor

    with ToolExecutor(workers=1, timeout=30.0) as ex:
        yield ex


def run(coro):
    return asyncio.run(coro)


def session_run(executor, commands, task=TASK):
    async def go():
        session = await ENV.open(dict(task), executor)
        results = [await session.run(c) for c in commands]
        return session, results, await session.check()
    return run(go())


def test_the_seed_tasks_are_well_formed_and_cover_every_kind():
    tasks = seed_tasks()
    assert len(tasks) >= 10 and {t["kind"] for t in tasks} == set(KINDS)
    assert len({t["id"] for t in tasks}) == len(tasks) and all(task_problem(t) is None for t in tasks)
    assert [t["kind"] for t in seed_tasks(["archives"])] == ["archives"] * 3


@pytest.mark.parametrize("task_id", ["permissions", "sum-by-region", "extract-report", "timeout-status"])
def test_seed_tasks_of_each_kind_pass_validation_in_the_sandbox(executor, task_id):
    (task,) = [t for t in seed_tasks() if t["id"] == task_id]
    check = run(validate_task(ENV, task, executor))
    assert check.ok, check.reason
    assert check.details["untouched"]["exit_code"] != 0 and check.details["solved"]["exit_code"] == 0


def test_the_work_dir_persists_across_commands_with_modes_links_and_archives(executor):
    commands = ["mkdir -p d && echo 1 > d/x && chmod 000 d/x && chmod 500 d", "ln -s notes/a.txt link && chmod 750 notes",
                "tar -czf pack.tgz notes && ls -l --time-style=+ d link | awk '{print $1}'",
                "stat -c '%a %n' d d/x notes && readlink link && tar -tzf pack.tgz && cat link"]
    session, results, verdict = session_run(executor, commands)
    assert [r["exit_code"] for r in results] == [0, 0, 0, 0]
    assert results[3]["stdout"].split("\n") == ["500 d", "0 d/x", "750 notes", "notes/a.txt", "notes/", "notes/a.txt", "alpha", ""]
    listing = {e["path"]: e for e in verdict.details["files"]}
    assert listing["d/x"]["mode"] == "0o0" and listing["link"]["type"] == "link" and listing["pack.tgz"]["type"] == "file"
    assert not verdict.passed and verdict.reason == "the checker failed (exit 2): grep: greeting.txt: No such file or directory"
    assert [h["command"] for h in session.history] == commands


def test_the_checker_judges_the_final_state_and_the_observation_shows_exit_code_and_output(executor):
    session, results, verdict = session_run(executor, ["echo hello > greeting.txt", "cat greeting.txt; ls nope"])
    assert verdict.passed and verdict.details["checker"]["exit_code"] == 0
    from synthloom.envs.shell import format_run
    assert format_run(results[1]) == ("exit code: 2\nstdout:\nhello\nstderr:\n"
                                      "ls: cannot access 'nope': No such file or directory")


def test_output_is_cut_and_a_runaway_command_is_killed_at_its_time_limit(executor):
    env = ShellEnvironment(command_timeout=1.0, output_limit=100)

    async def go():
        session = await env.open(dict(TASK), executor)
        return await session.run("seq 1 10000"), await session.run("echo start; sleep 30")
    long, slow = run(go())
    assert long["stdout_truncated"] and len(long["stdout"]) == 100 and long["exit_code"] == 0
    assert slow["timed_out"] and slow["exit_code"] == 124 and slow["stdout"] == "start\n"


def test_hostile_commands_stay_contained(executor, tmp_path):
    marker = tmp_path / f"escape-{uuid.uuid4().hex}"
    commands = [":(){ :|:& };:; sleep 1",  # a fork bomb: the process limit stops it, the step ends, nothing survives
                "echo still here; ps -e -o comm= | grep -vcE '^(python|bash|ps|grep)'",
                f"echo owned > {marker}; echo x > /etc/evil; echo x > ../outside.txt; echo x > /tmp/outside2.txt",
                "ls ../outside.txt /tmp/outside2.txt /etc/evil; cat /etc/shadow",
                "curl -sS -m 2 http://example.com; python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80), timeout=2)\"",
                "(sleep 60; echo late > late.txt) & echo started",
                "ps -e -o comm= | grep -c sleep; ls late.txt"]
    session, results, verdict = session_run(executor, commands)
    bomb, survived, escape, looked, net, background, after = results
    assert bomb["exit_code"] is not None and not bomb.get("lost")  # it ended (at the process limit, or killed with its step)
    assert survived["stdout"].startswith("still here\n") and survived["stdout"].split("\n")[1] == "0"  # no bomb left
    assert not marker.exists() and not Path("/etc/evil").exists()
    assert "Read-only file system" in escape["stderr"] or "No such file or directory" in escape["stderr"]
    assert looked["exit_code"] != 0 and "outside.txt" not in looked["stdout"] and "root:" not in looked["stdout"]
    assert net["exit_code"] != 0 and "Could not resolve host" in net["stderr"] and "Network is unreachable" in net["stderr"]
    assert background["stdout"] == "started\n"
    assert after["stdout"].split("\n")[0] == "0" and "No such file" in after["stderr"]  # the background job died with its step
    assert not verdict.passed


def test_a_crafted_state_cannot_write_outside_the_work_dir(executor):
    import base64
    import io
    import tarfile

    def state(*members):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, link in members:
                info = tarfile.TarInfo(name)
                if link:
                    info.type, info.linkname = tarfile.SYMTYPE, link
                    tar.addfile(info)
                else:
                    info.size = 2
                    tar.addfile(info, io.BytesIO(b"x\n"))
        return base64.b64encode(buffer.getvalue()).decode()

    async def go(crafted):
        session = await ENV.open(dict(TASK), executor)
        session.state = crafted
        return await session.run("ls -a ..")
    for crafted in (state(("../.shell_bin/grep", None)), state(("out", ".."), ("out/.shell_bin/grep", None))):
        result = run(go(crafted))
        assert result["lost"] and "leads outside the work dir" in result["stderr"] and result["exit_code"] is None


def test_a_work_dir_too_large_to_carry_is_undone_and_the_episode_goes_on(executor):
    env = ShellEnvironment(state_limit=60_000)

    async def go():
        session = await env.open(dict(TASK), executor)
        big = await session.run("head -c 200000 /dev/urandom > big.bin && echo hello > greeting.txt")
        return big, await session.run("ls"), await session.check()
    big, listing, verdict = run(go())
    assert big["lost"] and "its changes were undone" in big["stderr"] and "limit" in big["stderr"]
    assert listing["stdout"] == "notes\n" and not verdict.passed


def test_setup_scripts_build_the_work_dir_and_a_failing_setup_is_refused(executor):
    task = {**TASK, "setup": {"files": {"a.txt": "x\n"}, "script": "tar -czf a.tgz a.txt && rm a.txt"}}
    _, (listing,), _ = session_run(executor, ["ls; tar -tzf a.tgz"], task)
    assert listing["stdout"] == "a.tgz\na.txt\n"
    with pytest.raises(ShellSetupFailed, match=r"the task's setup script failed \(exit 3\): broken"):
        session_run(executor, [], {**TASK, "setup": {"files": {}, "script": "echo broken >&2; exit 3"}})


def test_validation_rejects_trivial_checkers_and_failing_solutions(executor):
    trivial = run(validate_task(ENV, {**TASK, "checker": "test -d notes"}, executor))
    assert not trivial.ok and trivial.reason == ("the checker passes on the untouched setup: the task is trivial or its "
                                                 "checker is broken")
    wrong = run(validate_task(ENV, {**TASK, "solution": "echo hallo > greeting.txt"}, executor))
    assert not wrong.ok and wrong.reason.startswith("the reference solution does not make the checker pass (solution exit 0; "
                                                    "checker exit 1")
    broken = run(validate_task(ENV, {**TASK, "setup": {"files": {"../x": "no"}}}, executor))
    assert not broken.ok and broken.reason == ("not a shell task: setup file '../x' must be a relative path inside the work dir, "
                                               "without '..'")
    assert run(validate_task(ENV, TASK, executor)).ok


def test_tasks_from_a_writer_and_malformed_tasks():
    written = {"instruction": " Do it. ", "setup_files": [{"path": "./a/b.txt", "content": "1"}], "setup_script": "",
               "solution": "true", "checker": "false"}
    assert task_from_written(written, kind="files") == {"instruction": "Do it.", "setup": {"files": {"a/b.txt": "1"}, "script": ""},
                                                        "solution": "true", "checker": "false", "kind": "files"}
    assert task_problem({"instruction": "x"}) == "a shell task needs a non-empty 'checker' (text)"
    assert task_problem({**TASK, "kind": "network"}).startswith("a shell task's kind must be one of files, text")
    with pytest.raises(ValueError, match="shell environment: command_timeout must be a positive"):
        ShellEnvironment(command_timeout=0)


def test_the_agent_loop_contract(executor):
    env = open_environment("shell", command_timeout=2.0)
    call = ToolCall("c1", "run_command", {"command": "echo hello > greeting.txt; echo ok"}, json.dumps({}))
    bad = ToolCall("c2", "run_command", {}, "{}")

    async def go():
        session = await env.open(dict(TASK), executor)
        assert isinstance(session, AgentSession) and [t.name for t in session.tools] == ["run_command"]
        results = await session.act([call, bad])
        return session, results, await session.check()
    session, (ok, invalid), verdict = run(go())
    assert ok.ok and session.observation(ok) == "exit code: 0\nstdout:\nok"
    assert invalid.status == "error" and "command" in invalid.error
    assert verdict.passed
