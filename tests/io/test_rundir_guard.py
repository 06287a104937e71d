"""One run per directory: the lock, and never writing into (or deleting) a folder that is not this run's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from synthloom.io.rundir_guard import RunDirError, check_ownership, check_writable_folder, claim_run_dir


def test_second_claim_in_the_same_process_is_refused_until_the_first_is_released(tmp_path):
    out = tmp_path / "run"
    with claim_run_dir(out, "generate"):
        with pytest.raises(RunDirError) as info:
            claim_run_dir(out, "generate")
        assert f"(pid {os.getpid()})" in str(info.value) and "another synthloom run" in str(info.value)
        assert "fix: wait for it to finish" in str(info.value)
    with claim_run_dir(out, "generate"):  # released: the next run takes it
        pass


def test_claim_held_by_another_process_is_refused(tmp_path):
    out = tmp_path / "run"
    code = ("import sys, time; from pathlib import Path; from synthloom.io.rundir_guard import claim_run_dir\n"
            f"c = claim_run_dir(Path({str(out)!r}), 'generate'); print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=rf"pid {holder.pid}\)"):
            claim_run_dir(out, "generate")
    finally:
        holder.stdin.close()
        holder.wait(30)
    with claim_run_dir(out, "generate"):  # the kernel dropped the lock with the process
        pass


def test_run_of_another_recipe_is_refused_without_fresh(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_bytes(orjson.dumps({"status": "completed", "pipeline": "magpie"}))
    (out / "data").mkdir()
    with pytest.raises(RunDirError) as info:
        claim_run_dir(out, "generate")
    assert "holds a run of recipe 'magpie', not 'generate'" in str(info.value)
    assert "--fresh" in str(info.value) and "new -o" in str(info.value)
    assert not (out / ".state").exists()  # refused before anything was written
    with claim_run_dir(out, "generate", fresh=True):  # the user asked to replace it
        owner = orjson.loads((out / ".state" / "owner.json").read_bytes())
    assert owner == {"pipeline": "generate"}


def test_same_recipe_and_legacy_run_dirs_are_accepted(tmp_path):
    out = tmp_path / "run"
    (out / ".state").mkdir(parents=True)
    (out / ".state" / "journal.jsonl").write_text('{"fingerprint": "x"}\n')  # a run from before owner.json
    check_ownership(out, "anything", fresh=False)
    (out / "run.json").write_bytes(orjson.dumps({"pipeline": "generate"}))
    check_ownership(out, "generate", fresh=False)


def test_folder_with_run_like_entries_is_never_written_into_even_with_fresh(tmp_path):
    out = tmp_path / "mine"
    (out / "data").mkdir(parents=True)
    (out / "data" / "precious.csv").write_text("a,b\n")
    (out / "card.md").write_text("my notes")
    for fresh in (False, True):
        with pytest.raises(RunDirError) as info:
            claim_run_dir(out, "generate", fresh=fresh)
        assert "is not a synthloom run directory and already has card.md, data" in str(info.value)
    assert (out / "data" / "precious.csv").read_text() == "a,b\n" and not (out / ".state").exists()


def test_unrelated_non_empty_folder_needs_fresh_and_keeps_its_files(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("x")
    with pytest.raises(RunDirError, match="is not empty and not a synthloom run directory"):
        claim_run_dir(out, "generate")
    with claim_run_dir(out, "generate", fresh=True):
        pass
    assert (out / "todo.txt").read_text() == "x"


def test_output_that_is_a_file_or_under_a_file(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(RunDirError, match="is a file, not a folder"):
        check_writable_folder(f, "-o")
    with pytest.raises(RunDirError, match="is a file, so no folder can be made there"):
        check_writable_folder(f / "sub", "--cache-dir")
    assert f.read_text() == "x"


def _read_only_dir(tmp_path: Path) -> Path:
    """A read-only folder: a read-only tmpfs as root (where permissions do not stop root), chmod otherwise."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
        return ro
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {proc.stderr.strip()}")
    return ro


@pytest.fixture
def read_only_dir(tmp_path):
    ro = _read_only_dir(tmp_path)
    yield ro
    if os.geteuid() == 0:
        subprocess.run(["umount", str(ro)], check=False)
    else:
        ro.chmod(0o755)


def test_read_only_output_is_refused_with_the_fix(read_only_dir):
    with pytest.raises(RunDirError) as info:
        check_writable_folder(read_only_dir / "run", "-o")
    message = str(info.value)
    assert message.startswith(f"-o {read_only_dir / 'run'}: {read_only_dir} ")
    assert ("read-only file system" in message or "not writable" in message) and "fix: choose a writable -o" in message
