"""The shell agent and shell task steps on scripted models in the real sandbox: trajectories that must be kept (the
right commands, then finish) and ones that must not (wrong output, touching nothing, claiming success in text only,
never finishing, replies that are not actions); written tasks kept only when validated (a checker that passes on the
untouched setup, or a solution that fails its checker, is rejected with the reason); the recipes end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom.envs.shell import seed_tasks
from synthloom.methods.agentic.shell_agent import ShellAgent
from synthloom.methods.agentic.shell_tasks import ShellSeedTasks, ShellTaskCheck, ShellTaskWriter
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import run_step

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

(COPY_CONF,) = [t for t in seed_tasks() if t["id"] == "copy-conf"]
RIGHT = "mkdir -p backup && cp etc/*.conf backup/"


def act(command: str = "", *, thought: str = "") -> str:
    return json.dumps({"thought": thought, "action": "run" if command else "finish", "command": command})


def script(*replies: str):
    """A model answering the episode's turns in order (then finishing)."""
    def reply(req):
        turn = sum(1 for m in req.messages if m["role"] == "assistant")
        return replies[turn] if turn < len(replies) else act()
    return reply


def episode(reply, task=COPY_CONF, **options):
    (out,) = run_step(ShellAgent("agent", timeout=30.0, **options), reply, [{"id": "r", "task": task}])
    return out


def test_the_right_commands_then_finish_are_kept_with_the_whole_trajectory():
    (row,) = episode(script(act("ls etc", thought="look first"), act(RIGHT), act(thought="copied")))
    assert row["ended"] == "finish" and row["verdict"]["passed"] and row["instruction"] == COPY_CONF["instruction"]
    assert [(s["command"], s["exit_code"]) for s in row["trajectory"]] == [("ls etc", 0), (RIGHT, 0)]
    assert row["trajectory"][0]["stdout"] == "app.conf\ndb.conf\nreadme.txt\n" and row["trajectory"][0]["thought"] == "look first"
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert row["messages"][3]["content"] == "exit code: 0\nstdout:\napp.conf\ndb.conf\nreadme.txt"
    assert {"path": "backup/app.conf", "type": "file", "mode": "0o644", "size": 10} in row["verdict"]["details"]["files"]
    assert row["attempts"] == [{"attempt": 0, "passed": True, "reason": "passed", "ended": "finish", "steps": 2}]


@pytest.mark.parametrize("reply, reason", [
    (script(act("mkdir backup && cp etc/* backup/")), "the checker failed (exit 1)"),  # wrong output: readme copied too
    (script(act()), "the checker failed (exit 1)"),  # touching nothing
    (script(act("echo 'I copied app.conf and db.conf into backup/'", thought="the files are copied"),
            act(thought="Done: backup/ holds both .conf files.")), "the checker failed (exit 1)"),  # success claimed in text only
    (script(act(RIGHT), act("ls backup")),  # right, but never finishes within max_steps
     "the checker passed but the agent never finished (stopped by max_steps reached)"),
    (lambda req: "I will copy the files now.", "the checker failed (exit 1) (stopped by a reply that is not a valid action)"),
])
def test_trajectories_that_must_not_be_kept(reply, reason):
    out = episode(reply, max_steps=2)
    assert isinstance(out, Rejected) and out.reason == reason


def test_attempts_keep_every_passing_one_and_summarise_all():
    rows = episode(script(act(RIGHT)), attempts=2)
    assert isinstance(rows, list) and [r["attempt"] for r in rows] == [0, 1]
    assert all(r["attempts"][1]["passed"] for r in rows) and rows[0]["id"] != rows[1]["id"]


def test_a_task_whose_setup_fails_is_rejected_and_a_missing_task_is_an_error():
    broken = {**COPY_CONF, "setup": {"files": {}, "script": "exit 4"}}
    out = episode(script(act()), task=broken)
    assert isinstance(out, Rejected) and out.reason == "the task's setup script failed (exit 4)"
    with pytest.raises(ValueError, match="column 'task' must hold a shell task"):
        run_step(ShellAgent("agent"), script(), [{"id": "r", "task": "copy files"}])


def test_the_seed_source_cycles_and_filters():
    rows = list(ShellSeedTasks("s", n=5, kinds=["processes"], column="seed").read())
    assert [r["task_id"] for r in rows] == ["timeout-status", "parallel-jobs", "failing-script", "timeout-status", "parallel-jobs"]
    assert rows[0]["seed"]["kind"] == "processes" and len(list(ShellSeedTasks("s").read())) == len(seed_tasks())
    with pytest.raises(ValueError, match="kinds must be some of files, text, archives, processes"):
        ShellSeedTasks("s", kinds=["network"])


WRITTEN = {"instruction": "Write the number of lines of words.txt to count.txt.",
           "setup_files": [{"path": "words.txt", "content": "a\nb\nc\n"}], "setup_script": "",
           "solution": "wc -l < words.txt > count.txt", "checker": "[ \"$(tr -d ' ' < count.txt)\" = 3 ]"}


def test_the_writer_shows_bundled_tasks_of_the_kind_and_asks_for_the_schema():
    replies = []
    (out,) = run_step(ShellTaskWriter("w"), lambda req: replies.append(req) or json.dumps(WRITTEN),
                      [{"id": "r", "kind": "text", "task_id": "count-errors"}])
    (row,) = out
    assert row["candidate"]["setup"] == {"files": {"words.txt": "a\nb\nc\n"}, "script": ""} and row["candidate"]["kind"] == "text"
    prompt = replies[0].messages[-1]["content"]
    assert 'Examples of "text" tasks' in prompt and "ips.txt" in prompt and "config.ini" in prompt and "error_count" not in prompt
    assert replies[0].json_schema["required"] == ["instruction", "setup_files", "setup_script", "solution", "checker"]


@pytest.mark.parametrize("change, reason", [
    ({"checker": "test -f words.txt"}, "the checker passes on the untouched setup: the task is trivial or its checker is broken"),
    ({"solution": "wc -w words.txt > count.txt"},
     "the reference solution does not make the checker pass (solution exit 0; checker exit 1)"),
    ({"setup_script": "cat missing.txt"},
     "the task's setup script failed (exit 1): cat: missing.txt: No such file or directory"),
])
def test_written_tasks_that_must_be_rejected(change, reason):
    (written,) = run_step(ShellTaskWriter("w"), lambda req: json.dumps({**WRITTEN, **change}), [{"id": "r", "kind": "text"}])
    (out,) = run_step(ShellTaskCheck("c", timeout=30.0), None, written)
    assert isinstance(out, Rejected) and out.reason == reason


def test_a_valid_written_task_is_kept_with_its_validation():
    (written,) = run_step(ShellTaskWriter("w"), lambda req: json.dumps(WRITTEN), [{"id": "r", "kind": "text"}])
    ((row,),) = run_step(ShellTaskCheck("c", timeout=30.0), None, written)
    assert row["task"]["id"].startswith("gen-") and row["task"]["solution"] == WRITTEN["solution"]
    assert row["validation"]["untouched"]["exit_code"] == 1 and row["validation"]["solved"]["exit_code"] == 0


# -- the recipes -----------------------------------------------------------------------------------------------------


def solving_reply(req):
    """Solves copy-conf and unique-ips (by their reference solutions), does nothing for the others."""
    if req.json_schema and "setup_files" in req.json_schema.get("properties", {}):
        return json.dumps(WRITTEN)
    instruction = req.messages[1]["content"]
    turn = sum(1 for m in req.messages if m["role"] == "assistant")
    solved = {t["instruction"]: t["solution"] for t in seed_tasks() if t["id"] in ("copy-conf", "unique-ips")}
    return act(solved[instruction]) if turn == 0 and instruction in solved else act()


def test_the_recipes_on_a_scripted_model(scripted_model, tmp_path):
    out = tmp_path / "agent"
    run = run_recipe("shell-agent", out, "n=3", "kinds=[files, text]", extra_cli_args=("--model", scripted_model(solving_reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and run["counts"]["agent"]["ok"] == 1 and run["counts"]["agent"]["rejected"] == 2
    assert [r["task"]["id"] for r in data] == ["copy-conf"] and len(rejected) == 2
    out = tmp_path / "tasks"
    run = run_recipe("shell-tasks", out, "n=2", extra_cli_args=("--model", scripted_model(solving_reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and run["counts"]["check"]["ok"] == 2 and all(r["task"]["checker"] == WRITTEN["checker"] for r in data)


@needs_embedded
@pytest.mark.slow
def test_the_shell_agent_on_the_embedded_model(tmp_path):
    """One episode end to end with the 135M model (grammar-constrained JSON actions run in the sandbox). It rarely
    solves the task: the test checks the machinery and the accounting."""
    out = tmp_path / "run"
    run = run_recipe("shell-agent", out, "n=1", "max_steps=1", "steps.agent.max_tokens=60")
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and run["counts"]["agent"]["in"] == 1 and len(data) + len(rejected) == 1
    for row in data:
        assert row["verdict"]["passed"] and row["ended"] == "finish"
    for row in rejected:
        assert row["_rejected_by"] == "agent" and row["_reason"].startswith(("the checker", "the task's setup"))
