"""Before a run sends anything: can every model server be reached at all?"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from ..llm.spec import ModelConfig, ModelSpecError


def probe_servers(configs: Iterable[ModelConfig], timeout_s: float = 3.0) -> None:
    """Open (and close) a TCP connection to each OpenAI-compatible server; raise a ModelSpecError
    naming the model and the URL when one does not answer."""
    for cfg in configs:
        if cfg.backend != "openai" or not cfg.base_url:
            continue
        parts = urlsplit(cfg.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout_s):
                pass
        except OSError as e:
            raise ModelSpecError(
                f"model {cfg.name!r}: could not connect to {cfg.base_url} ({e.strerror or e}): is the server running? "
                f"Start it, or point the recipe at another server with --model openai:MODEL@URL"
            ) from None
