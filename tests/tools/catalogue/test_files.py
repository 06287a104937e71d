"""Files in a workspace: every tool on a temporary work dir, and every way out of it refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synthloom.tools.catalogue import files
from synthloom.tools.catalogue_loader import load_catalogue
from synthloom.tools.executor import Invocation, ToolExecutor


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def outside(tmp_path_factory):
    """A folder outside the workspace holding a secret that no tool may read, change or delete."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.txt").write_text("top secret\n")
    return folder


def test_module_follows_the_catalogue_convention(catalogue_convention):
    catalogue_convention(files, min_tools=7)


def test_write_and_read_file(workspace):
    assert files.write_file("notes/todo.txt", "buy milk\ncall Ana\n") == {"path": "notes/todo.txt", "bytes": 18}
    assert (workspace / "notes" / "todo.txt").read_text() == "buy milk\ncall Ana\n"
    assert files.read_file("notes/todo.txt") == "buy milk\ncall Ana\n"
    assert files.read_file("./notes//todo.txt") == "buy milk\ncall Ana\n"
    files.write_file("notes/todo.txt", "é")
    assert files.read_file("notes/todo.txt") == "é" and (workspace / "notes" / "todo.txt").stat().st_size == 2
    with pytest.raises(ValueError, match="already exists; pass overwrite=true"):
        files.write_file("notes/todo.txt", "x", overwrite=False)
    with pytest.raises(ValueError, match="is a directory"):
        files.write_file("notes", "x")
    with pytest.raises(ValueError, match="no file 'missing.txt'"):
        files.read_file("missing.txt")
    with pytest.raises(ValueError, match="is a directory"):
        files.read_file("notes")


def test_size_caps(workspace):
    with pytest.raises(ValueError, match="limit is 1000000 bytes"):
        files.write_file("big.txt", "x" * 1_000_001)
    assert not (workspace / "big.txt").exists()
    files.write_file("big.txt", "x" * 999_990)
    with pytest.raises(ValueError, match="would make 'big.txt' 1000010 bytes"):
        files.append_to_file("big.txt", "y" * 20)
    assert (workspace / "big.txt").stat().st_size == 999_990
    with pytest.raises(ValueError, match="more than max_bytes=1000"):
        files.read_file("big.txt", max_bytes=1000)
    assert len(files.read_file("big.txt", max_bytes=1_000_000)) == 999_990
    for bad in (0, 1_000_001, True):
        with pytest.raises(ValueError, match="max_bytes must be an integer"):
            files.read_file("big.txt", max_bytes=bad)


def test_append_to_file(workspace):
    assert files.append_to_file("log.txt", "one\n") == {"path": "log.txt", "bytes": 4}
    assert files.append_to_file("log.txt", "two\n") == {"path": "log.txt", "bytes": 8}
    assert (workspace / "log.txt").read_text() == "one\ntwo\n"


def test_list_files(workspace):
    files.write_file("a.txt", "a")
    files.write_file("data/b.csv", "b")
    files.write_file("data/deep/c.csv", "c")
    (workspace / ".hidden").write_text("h")
    assert files.list_files() == ["a.txt", "data/", "data/b.csv", "data/deep/", "data/deep/c.csv"]
    assert files.list_files("**/*.csv") == ["data/b.csv", "data/deep/c.csv"]
    assert files.list_files("data/*") == ["data/b.csv", "data/deep/"]
    assert files.list_files("*.md") == []


def test_delete_file(workspace):
    files.write_file("tmp/x.txt", "x")
    assert files.delete_file("tmp/x.txt") == "tmp/x.txt"
    assert not (workspace / "tmp" / "x.txt").exists() and (workspace / "tmp").is_dir()
    with pytest.raises(ValueError, match="no file"):
        files.delete_file("tmp/x.txt")
    with pytest.raises(ValueError, match="is a directory, not a file"):
        files.delete_file("tmp")


def test_file_stats(workspace):
    files.write_file("poem.txt", "one two\nthree\n")
    assert files.file_stats("poem.txt") == {"path": "poem.txt", "bytes": 14, "characters": 14, "lines": 2, "words": 3}
    files.write_file("accents.txt", "café crème")
    stats = files.file_stats("accents.txt")
    assert (stats["bytes"], stats["characters"], stats["lines"], stats["words"]) == (12, 10, 1, 2)
    files.write_file("empty.txt", "")
    assert files.file_stats("empty.txt")["lines"] == 0


def test_search_in_files(workspace):
    files.write_file("src/app.py", "import os\ndef main():\n    return os.getcwd()\n")
    files.write_file("README.md", "Run main() to start.\nMAIN is the entry.\n")
    (workspace / "blob.bin").write_bytes(b"main\x00\x01")
    hits = files.search_in_files("main")
    assert hits == [{"path": "README.md", "line": 1, "text": "Run main() to start."},
                    {"path": "src/app.py", "line": 2, "text": "def main():"}]
    assert len(files.search_in_files("main", ignore_case=True)) == 3
    assert files.search_in_files("main", pattern="**/*.py") == [{"path": "src/app.py", "line": 2, "text": "def main():"}]
    assert files.search_in_files(r"^\s+return", regex=True)[0]["line"] == 3
    assert files.search_in_files("main(", regex=False)[0]["path"] == "README.md"  # plain text: '(' is not special
    assert len(files.search_in_files("o", max_results=2)) == 2
    files.write_file("long.txt", "z" * 500)
    assert len(files.search_in_files("zzz")[0]["text"]) == 200
    with pytest.raises(ValueError, match="not a valid regular expression"):
        files.search_in_files("main(", regex=True)
    with pytest.raises(ValueError, match="max_results"):
        files.search_in_files("x", max_results=501)
    with pytest.raises(ValueError, match="non-empty"):
        files.search_in_files("")


def test_copy_and_move_file(workspace):
    files.write_file("a.txt", "alpha")
    assert files.copy_file("a.txt", "backup/a_copy.txt") == {"source": "a.txt", "destination": "backup/a_copy.txt", "bytes": 5}
    assert (workspace / "backup" / "a_copy.txt").read_text() == "alpha"
    assert files.copy_file("a.txt", "backup")["destination"] == "backup/a.txt"
    with pytest.raises(ValueError, match="already exists; pass overwrite=true"):
        files.copy_file("a.txt", "backup/a.txt")
    files.write_file("a.txt", "beta")
    files.copy_file("a.txt", "backup/a.txt", overwrite=True)
    assert (workspace / "backup" / "a.txt").read_text() == "beta"
    with pytest.raises(ValueError, match="same file"):
        files.copy_file("a.txt", "./a.txt", overwrite=True)
    with pytest.raises(ValueError, match="no file 'nope.txt'"):
        files.copy_file("nope.txt", "x.txt")
    assert files.move_file("a.txt", "archive/a.txt") == {"source": "a.txt", "destination": "archive/a.txt"}
    assert not (workspace / "a.txt").exists() and (workspace / "archive" / "a.txt").read_text() == "beta"
    with pytest.raises(ValueError, match="already exists"):
        files.move_file("archive/a.txt", "backup/a_copy.txt")


def test_make_directory(workspace):
    assert files.make_directory("reports/2024") == "reports/2024/"
    assert (workspace / "reports" / "2024").is_dir()
    assert files.make_directory("reports/2024") == "reports/2024/"  # already there is fine
    files.write_file("taken", "x")
    with pytest.raises(ValueError, match="already exists as a file"):
        files.make_directory("taken")


CALLS = {
    "read_file": lambda p: files.read_file(p),
    "write_file": lambda p: files.write_file(p, "pwned"),
    "append_to_file": lambda p: files.append_to_file(p, "pwned"),
    "delete_file": lambda p: files.delete_file(p),
    "file_stats": lambda p: files.file_stats(p),
    "make_directory": lambda p: files.make_directory(p),
    "copy_from": lambda p: files.copy_file(p, "stolen.txt"),
    "copy_to": lambda p: files.copy_file("inside.txt", p, overwrite=True),
    "move_to": lambda p: files.move_file("inside.txt", p, overwrite=True),
}


@pytest.mark.parametrize("tool", sorted(CALLS))
def test_paths_outside_the_workspace_are_refused(workspace, outside, tool):
    files.write_file("inside.txt", "mine")
    os.symlink(outside, workspace / "escape")                       # a directory link leading out
    os.symlink(outside / "secret.txt", workspace / "secret_link")   # a file link leading out
    relative_out = os.path.relpath(outside / "secret.txt", workspace)
    for path, message in ((str(outside / "secret.txt"), "is absolute"), ("/etc/passwd", "is absolute"),
                          (relative_out, "contains '..'"), ("../secret.txt", "contains '..'"), ("a/../../x", "contains '..'"),
                          ("escape/secret.txt", "outside the workspace through a symbolic link"),
                          ("secret_link", "outside the workspace through a symbolic link"), ("", "non-empty relative path")):
        with pytest.raises(ValueError, match=message):
            CALLS[tool](path)
    assert (outside / "secret.txt").read_text() == "top secret\n"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not (workspace / "stolen.txt").exists() and (workspace / "inside.txt").read_text() == "mine"


def test_listing_and_search_never_leave_the_workspace(workspace, outside):
    files.write_file("inside.txt", "secret is not here")
    os.symlink(outside, workspace / "escape")
    assert files.list_files() == ["inside.txt"]
    assert files.list_files("escape/*") == []
    assert [h["path"] for h in files.search_in_files("secret")] == ["inside.txt"]
    for pattern, message in (("../*", "contains '..'"), (str(outside) + "/*", "is absolute")):
        with pytest.raises(ValueError, match=message):
            files.list_files(pattern)
        with pytest.raises(ValueError, match=message):
            files.search_in_files("secret", pattern=pattern)


def test_links_inside_the_workspace_are_followed(workspace):
    files.write_file("real/data.txt", "hello")
    os.symlink(workspace / "real", workspace / "alias")
    assert files.read_file("alias/data.txt") == "hello"
    os.symlink("real/data.txt", workspace / "shortcut")
    assert files.delete_file("shortcut") == "shortcut"  # the link goes, its target stays
    assert (workspace / "real" / "data.txt").read_text() == "hello" and not os.path.lexists(workspace / "shortcut")


@pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")
def test_tools_run_in_the_sandbox_work_dir():
    catalogue = load_catalogue()
    calls = [Invocation("1", "write_file", {"path": "out/report.txt", "content": "total: 3\n"}),
             Invocation("2", "file_stats", {"path": "out/report.txt"}),
             Invocation("3", "read_file", {"path": "given.txt"}),
             Invocation("4", "read_file", {"path": "/etc/hostname"})]
    with ToolExecutor(timeout=10.0, workers=1) as executor:
        results = executor.run([catalogue.get(c.name) for c in calls], calls, files={"given.txt": "seeded"})
    assert [r.status for r in results] == ["ok", "ok", "ok", "error"]
    assert results[1].value["words"] == 2 and results[2].value == "seeded"
    assert "is absolute" in results[3].error
