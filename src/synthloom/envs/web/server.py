"""A bundled web site served on loopback for one episode: a fresh SQLite database made from the site's seed, a
threaded ``wsgiref`` server on ``127.0.0.1`` and a free port, stopped (and the database deleted) on exit.

    with SiteServer("shop", seed=3) as site:
        site.url            # http://127.0.0.1:PORT
        site.state()        # {table: [row, ...]} read straight from the database
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..environment import State, canonical_state
from .sites import site_module


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class SiteServer:
    """One bundled site (``shop``, ``forum``) over its own database, served while the ``with`` block runs."""

    def __init__(self, site: str, seed: int = 0):
        self.module = site_module(site)
        self.site, self.seed = site, int(seed)
        self.keys: dict[str, list[str]] = dict(self.module.KEYS)
        self._folder: Path | None = None
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SiteServer:
        self._folder = Path(tempfile.mkdtemp(prefix=f"synthloom-web-{self.site}-"))
        self.db_path = str(self._folder / "site.db")
        from .sites.common import create_database

        create_database(self.db_path, self.module.SCHEMA, self.module.seed_rows(self.seed))
        self._server = make_server("127.0.0.1", 0, self.module.app(self.db_path), server_class=_ThreadingServer,
                                   handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"web-{self.site}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The site's origin, ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError(f"web site {self.site!r} is not running: use it inside `with SiteServer(...)`")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def query(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query on the site's database (for checkers and tests)."""
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(sql, args)]
        finally:
            db.close()

    def state(self) -> State:
        """Every table's rows, in canonical order (see :func:`~synthloom.envs.environment.canonical_state`)."""
        return canonical_state({t: self.query(f"SELECT * FROM {t}") for t in self.keys})


def seed_state(site: str, seed: int = 0) -> State:
    """The rows a fresh episode of ``site`` starts with (no server, no database file)."""
    return canonical_state(site_module(site).seed_rows(int(seed)))
