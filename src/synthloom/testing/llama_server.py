"""Start llama.cpp's own OpenAI-compatible server (``python -m llama_cpp.server``) on loopback,
serving a GGUF (by default the embedded SmolLM2 model) — a real server for tests and demos."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..llm.embedded import embedded_gguf_path
from .processes import stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerFailed(RuntimeError):
    """llama_cpp.server exited or did not answer in time; the message ends with its log."""


@contextmanager
def llama_cpp_server(log_path: Path, model: str | None = None, *, n_ctx: int = 2048,
                     startup_timeout_s: float = 120.0, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Run the server for the duration of the block; yields its ``/v1`` base URL. ``extra_args`` are more
    server flags (e.g. ``["--flash_attn", "true"]``)."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model or embedded_gguf_path(), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(min(2, os.cpu_count() or 1)), *extra_args]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                raise ServerFailed(f"llama_cpp.server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerFailed(f"llama_cpp.server did not answer within {startup_timeout_s:.0f}s:\n"
                                   f"{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        stop_process(proc, grace_s=15)
