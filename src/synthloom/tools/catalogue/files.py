"""Files in a workspace: write, read, list, search, copy, move and delete text files in the current directory.

Every path is relative to the current directory (the sandbox's work dir). Absolute paths, ``..`` and symbolic
links that lead outside the directory are refused with a ValueError, as are writes over 1 MB (a file may not
grow past 1 MB either). Files are read and written as UTF-8 text.
"""

import glob
import os
import re
import shutil

CATEGORY = "files"

_MAX_FILE_BYTES = 1_000_000
_MAX_LIST = 1000
_MAX_MATCHES = 500
_MAX_LINE_CHARS = 200


def _root() -> str:
    return os.path.realpath(os.getcwd())


def _inside(full: str, root: str) -> bool:
    return full == root or full.startswith(root.rstrip(os.sep) + os.sep)


def _check_relative(path: str, what: str) -> None:
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"{what} must be a non-empty relative path such as 'notes/todo.txt'")
    if "\x00" in path:
        raise ValueError(f"{what} {path!r} contains a NUL character")
    if os.path.isabs(path) or path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"{what} {path!r} is absolute; give a path relative to the workspace, e.g. 'notes/todo.txt'")
    if ".." in re.split(r"[\\/]+", path):
        raise ValueError(f"{what} {path!r} contains '..'; paths must stay inside the workspace")


def _resolve(path: str, what: str = "path") -> tuple[str, str]:
    """(the path joined to the workspace, its display form); refuses paths that lead outside the workspace."""
    _check_relative(path, what)
    root = _root()
    joined = os.path.normpath(os.path.join(root, path))
    parent_escapes = joined != root and not _inside(os.path.realpath(os.path.dirname(joined)), root)
    if parent_escapes or not _inside(os.path.realpath(joined), root):
        raise ValueError(f"{what} {path!r} leads outside the workspace through a symbolic link")
    return joined, os.path.relpath(joined, root)


def _encoded(content: str, what: str) -> bytes:
    if not isinstance(content, str):
        raise ValueError(f"{what} must be text, not {type(content).__name__}")
    data = content.encode("utf-8")
    if len(data) > _MAX_FILE_BYTES:
        raise ValueError(f"{what} is {len(data)} bytes; the limit is {_MAX_FILE_BYTES} bytes per file")
    return data


def _existing_file(path: str, what: str = "path") -> tuple[str, str]:
    full, shown = _resolve(path, what)
    if not os.path.exists(full):
        raise ValueError(f"no file {shown!r} in the workspace; list_files shows what is there")
    if not os.path.isfile(full):
        raise ValueError(f"{shown!r} is a directory, not a file")
    return full, shown


def _read_text(full: str) -> str:
    with open(full, encoding="utf-8", errors="replace") as f:
        return f.read()


def write_file(path: str, content: str, overwrite: bool = True) -> dict:
    """Write text to a file in the workspace, creating parent directories as needed.

    Args:
        path: Relative path of the file, e.g. "reports/summary.txt".
        content: The text to write (UTF-8, at most 1 MB).
        overwrite: Whether to replace the file if it already exists.

    Returns:
        path (as written, relative to the workspace) and bytes (the file's size).
    """
    full, shown = _resolve(path)
    data = _encoded(content, "content")
    if os.path.isdir(full):
        raise ValueError(f"{shown!r} is a directory; choose a file name inside it")
    if os.path.exists(full) and not overwrite:
        raise ValueError(f"file {shown!r} already exists; pass overwrite=true to replace it")
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    return {"path": shown, "bytes": len(data)}


def append_to_file(path: str, content: str) -> dict:
    """Append text to the end of a file in the workspace (the file is created if missing).

    Args:
        path: Relative path of the file.
        content: The text to append (UTF-8); the file may not grow past 1 MB.

    Returns:
        path (relative to the workspace) and bytes (the file's new size).
    """
    full, shown = _resolve(path)
    data = _encoded(content, "content")
    if os.path.isdir(full):
        raise ValueError(f"{shown!r} is a directory, not a file")
    size = os.path.getsize(full) if os.path.exists(full) else 0
    if size + len(data) > _MAX_FILE_BYTES:
        raise ValueError(f"appending {len(data)} bytes would make {shown!r} {size + len(data)} bytes; the limit is {_MAX_FILE_BYTES}")
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "ab") as f:
        f.write(data)
    return {"path": shown, "bytes": size + len(data)}


def read_file(path: str, max_bytes: int = 100000) -> str:
    """Read a text file from the workspace.

    Args:
        path: Relative path of the file.
        max_bytes: Largest file size to read, 1 to 1000000 bytes; bigger files are refused.

    Returns:
        The file's text (undecodable bytes are shown as U+FFFD).
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or not 1 <= max_bytes <= _MAX_FILE_BYTES:
        raise ValueError(f"max_bytes must be an integer from 1 to {_MAX_FILE_BYTES}, not {max_bytes!r}")
    full, shown = _existing_file(path)
    size = os.path.getsize(full)
    if size > max_bytes:
        raise ValueError(f"{shown!r} is {size} bytes, more than max_bytes={max_bytes}; raise max_bytes (at most {_MAX_FILE_BYTES})")
    return _read_text(full)


def _listing(pattern: str) -> list[str]:
    _check_relative(pattern, "pattern")
    root = _root()
    found = []
    for name in glob.glob(pattern, root_dir=root, recursive=True):
        full = os.path.join(root, name)
        if _inside(os.path.realpath(full), root):
            found.append(os.path.normpath(name))
    return sorted(set(found))


def list_files(pattern: str = "**/*") -> list[str]:
    """List files and directories in the workspace that match a glob pattern.

    Args:
        pattern: Glob pattern relative to the workspace; "**" matches any depth (e.g. "**/*.csv", "data/*").

    Returns:
        Matching paths, sorted, directories ending in "/" (at most 1000; hidden names are skipped).
    """
    names = _listing(pattern)[:_MAX_LIST]
    root = _root()
    return [name + "/" if os.path.isdir(os.path.join(root, name)) else name for name in names]


def delete_file(path: str) -> str:
    """Delete one file from the workspace (directories are not deleted).

    Args:
        path: Relative path of the file to delete.

    Returns:
        The deleted file's path, relative to the workspace.
    """
    full, shown = _resolve(path)
    if os.path.islink(full):
        os.remove(full)
        return shown
    full, shown = _existing_file(path)
    os.remove(full)
    return shown


def file_stats(path: str) -> dict:
    """Count the lines, words, characters and bytes of a text file in the workspace.

    Args:
        path: Relative path of the file.

    Returns:
        path, bytes, characters, lines (as str.splitlines counts them) and words (whitespace-separated).
    """
    full, shown = _existing_file(path)
    size = os.path.getsize(full)
    if size > _MAX_FILE_BYTES:
        raise ValueError(f"{shown!r} is {size} bytes; file_stats reads files up to {_MAX_FILE_BYTES} bytes")
    text = _read_text(full)
    return {"path": shown, "bytes": size, "characters": len(text), "lines": len(text.splitlines()), "words": len(text.split())}


def search_in_files(query: str, pattern: str = "**/*", regex: bool = False, ignore_case: bool = False, max_results: int = 50) -> list[dict]:
    """Find the lines of workspace files that contain a text or match a regular expression.

    Args:
        query: The text to look for, or a Python regular expression when regex is true.
        pattern: Glob pattern choosing the files to search (e.g. "**/*.py"); files over 1 MB and binary files are skipped.
        regex: Whether query is a regular expression instead of plain text.
        ignore_case: Whether to ignore letter case.
        max_results: Most matching lines to return, 1 to 500.

    Returns:
        One record per matching line, in path then line order: path, line (1-based) and text (the line, cut at 200 characters).
    """
    if not isinstance(query, str) or not query:
        raise ValueError("query must be non-empty text")
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= _MAX_MATCHES:
        raise ValueError(f"max_results must be an integer from 1 to {_MAX_MATCHES}, not {max_results!r}")
    flags = re.IGNORECASE if ignore_case else 0
    try:
        matcher = re.compile(query if regex else re.escape(query), flags)
    except re.error as exc:
        raise ValueError(f"query is not a valid regular expression ({exc}); pass regex=false to search for plain text") from None
    root = _root()
    results: list[dict] = []
    for name in _listing(pattern):
        full = os.path.join(root, name)
        if not os.path.isfile(full) or os.path.getsize(full) > _MAX_FILE_BYTES:
            continue
        with open(full, "rb") as f:
            data = f.read()
        if b"\x00" in data:
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if matcher.search(line):
                results.append({"path": name, "line": number, "text": line[:_MAX_LINE_CHARS]})
                if len(results) >= max_results:
                    return results
    return results


def _transfer_target(source: str, destination: str, overwrite: bool) -> tuple[str, str, str, str]:
    src, src_shown = _existing_file(source, "source")
    dst, dst_shown = _resolve(destination, "destination")
    if os.path.isdir(dst):
        dst = os.path.join(dst, os.path.basename(src))
        dst_shown = os.path.relpath(dst, _root())
    if os.path.exists(dst) and not overwrite:
        raise ValueError(f"destination {dst_shown!r} already exists; pass overwrite=true to replace it")
    if os.path.realpath(dst) == os.path.realpath(src):
        raise ValueError(f"source and destination are the same file ({src_shown!r})")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    return src, src_shown, dst, dst_shown


def copy_file(source: str, destination: str, overwrite: bool = False) -> dict:
    """Copy a file within the workspace.

    Args:
        source: Relative path of the file to copy.
        destination: Relative path of the copy, or of an existing directory to copy into.
        overwrite: Whether to replace the destination if it exists.

    Returns:
        source, destination (both relative to the workspace) and bytes copied.
    """
    src, src_shown, dst, dst_shown = _transfer_target(source, destination, overwrite)
    size = os.path.getsize(src)
    if size > _MAX_FILE_BYTES:
        raise ValueError(f"{src_shown!r} is {size} bytes; copies are limited to {_MAX_FILE_BYTES} bytes")
    shutil.copyfile(src, dst)
    return {"source": src_shown, "destination": dst_shown, "bytes": size}


def move_file(source: str, destination: str, overwrite: bool = False) -> dict:
    """Move or rename a file within the workspace.

    Args:
        source: Relative path of the file to move.
        destination: Its new relative path, or an existing directory to move it into.
        overwrite: Whether to replace the destination if it exists.

    Returns:
        source and destination, both relative to the workspace.
    """
    src, src_shown, dst, dst_shown = _transfer_target(source, destination, overwrite)
    os.replace(src, dst)
    return {"source": src_shown, "destination": dst_shown}


def make_directory(path: str) -> str:
    """Create a directory (and any missing parents) in the workspace.

    Args:
        path: Relative path of the directory, e.g. "reports/2024".

    Returns:
        The directory's path relative to the workspace, ending in "/".
    """
    full, shown = _resolve(path)
    if os.path.exists(full) and not os.path.isdir(full):
        raise ValueError(f"{shown!r} already exists as a file")
    os.makedirs(full, exist_ok=True)
    return shown.rstrip("/") + "/"
