"""The viewer's HTTP server: the page (``static/``) and a read-only JSON API over one run (and
optionally a second one to compare), on the standard library's threading HTTP server.

Only GET is answered; nothing is ever written to a run directory. Bound to 127.0.0.1 by default, and
requests whose ``Host`` is not this machine's loopback name are refused (a web page elsewhere cannot
read the run through DNS rebinding).
"""

from __future__ import annotations

import errno
import sys
import threading
import traceback
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pyarrow as pa

from ..io.formats import is_json_field
from ..io.shards import ShardError
from .compare import compare_rows, compare_summary
from .lineage import revision_chain
from .query import Query, QueryError
from .run_source import RunSource, ViewerError

STATIC = {"index.html": "text/html", "app.js": "text/javascript", "render.js": "text/javascript",
          "pages.js": "text/javascript", "app.css": "text/css"}
CONTENT_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".json": "application/json",
                 ".html": "text/html"}
#: characters of a text value shown in the rows table (the row page shows everything)
PREVIEW_CHARS = 400
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


def preview(value: Any, limit: int = PREVIEW_CHARS) -> Any:
    """A value cut for the rows table: long text shortened, lists and objects as short JSON text."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, (list, dict)):
        text = orjson.dumps(value, default=str).decode()
        return text if len(text) <= limit else text[:limit] + "…"
    return value


def column_kind(field: pa.Field) -> str:
    t = field.type
    if is_json_field(field) or pa.types.is_nested(t):
        return "nested"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_boolean(t):
        return "bool"
    return "text"


class ViewerApp:
    """The API: one method per route, each taking the URL parameters and returning JSON-able data."""

    def __init__(self, run: RunSource, other: RunSource | None = None):
        self.runs = {"a": run, **({"b": other} if other is not None else {})}

    def run(self, params: dict[str, str]) -> RunSource:
        key = params.get("run") or "a"
        if key not in self.runs:
            raise QueryError(f"run {key!r}: this viewer shows {', '.join(self.runs)} (start it with --compare OTHER)")
        return self.runs[key]

    def api_run(self, p: dict[str, str]) -> Any:
        return {**self.run(p).summary(), "compare": "b" in self.runs}

    def api_columns(self, p: dict[str, str]) -> Any:
        table = self.run(p).table(p.get("table", "data"))
        chunks = table.chunks()
        fields = table.columns(chunks)
        nulls = table.shards.null_counts(chunks)
        return [{"name": n, "type": str(f.type), "kind": column_kind(f), "nulls": nulls.get(n)} for n, f in fields.items()]

    def api_rows(self, p: dict[str, str]) -> Any:
        table = self.run(p).table(p.get("table", "data"))
        cols = [c for c in (p.get("cols") or "").split(",") if c] or None
        page = table.page(Query.from_params(p), _int(p, "offset", 0), min(_int(p, "limit", 50), 500), cols,
                          exact_total=p.get("exact") == "1")
        rows = [{k: preview(v) for k, v in row.items()} for row in page.rows]
        return {"rows": rows, "total": page.total, "at_least": page.at_least, "offset": page.offset,
                "columns": page.columns}

    def api_count(self, p: dict[str, str]) -> Any:
        return {"total": self.run(p).table(p.get("table", "data")).total(Query.from_params(p))}

    def api_row(self, p: dict[str, str]) -> Any:
        table = self.run(p).table(p.get("table", "data"))
        fields = table.columns()
        return {"row": table.row(_need(p, "ref")), "table": table.name,
                "kinds": {n: column_kind(f) for n, f in fields.items()}}

    def api_values(self, p: dict[str, str]) -> Any:
        return self.run(p).table(p.get("table", "data")).values(_need(p, "column"), Query.from_params(p))

    def api_find(self, p: dict[str, str]) -> Any:
        return self.run(p).find(_need(p, "id"))

    def api_call(self, p: dict[str, str]) -> Any:
        return self.run(p).calls(_need(p, "hash"), p.get("model") or None)

    def api_chain(self, p: dict[str, str]) -> Any:
        run = self.run(p)
        row = run.table(p.get("table", "data")).row(_need(p, "ref"))
        return revision_chain(run, row)

    def api_compare(self, p: dict[str, str]) -> Any:
        if "b" not in self.runs:
            raise QueryError("no second run to compare: start the viewer with --compare OTHER_RUN")
        return compare_summary(self.runs["a"], self.runs["b"])

    def api_compare_rows(self, p: dict[str, str]) -> Any:
        if "b" not in self.runs:
            raise QueryError("no second run to compare: start the viewer with --compare OTHER_RUN")
        out = compare_rows(self.runs["a"], self.runs["b"], p.get("key") or "id", Query.from_params(p),
                           _int(p, "offset", 0), min(_int(p, "limit", 20), 200))
        for pair in out["pairs"]:
            for side in ("a", "b"):
                if pair[side] is not None:
                    pair[side] = {k: preview(v, 4000) for k, v in pair[side].items()}
        return out


def _int(p: dict[str, str], name: str, default: int) -> int:
    try:
        return int(p.get(name, default))
    except ValueError:
        raise QueryError(f"{name}={p.get(name)!r}: give a whole number") from None


def _need(p: dict[str, str], name: str) -> str:
    value = p.get(name)
    if not value:
        raise QueryError(f"missing parameter {name!r}")
    return value


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        if not self._host_ok():
            return self._send(HTTPStatus.FORBIDDEN, b"forbidden host", "text/plain")
        params = dict(parse_qsl(url.query))
        path = url.path
        try:
            if path == "/" or path == "/index.html":
                return self._static("index.html")
            if path == "/favicon.ico":
                return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            if path.startswith("/static/"):
                return self._static(path[len("/static/"):])
            if path.startswith("/report/"):
                return self._report(path[len("/report/"):], params)
            if path.startswith("/api/"):
                handler: Callable[[dict[str, str]], Any] | None = getattr(self.server.app, "api_" + path[5:].replace("/", "_"), None)
                if handler is None:
                    return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such API: {path}"})
                return self._json(HTTPStatus.OK, handler(params))
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        except (QueryError, ViewerError, ShardError) as e:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": str(e).splitlines()[0]})
        except (BrokenPipeError, ConnectionResetError):
            return None
        except Exception as e:  # noqa: BLE001 - one bad request must not stop the viewer
            traceback.print_exc(file=sys.stderr)
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(e).__name__}: {e}"})

    def do_POST(self) -> None:  # noqa: N802
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"the viewer is read-only", "text/plain")

    do_PUT = do_DELETE = do_PATCH = do_POST  # noqa: N815

    def _host_ok(self) -> bool:
        if self.server.any_host:
            return True
        host = self.headers.get("Host") or ""
        name = host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
        return name in self.server.allowed_hosts

    def _static(self, name: str) -> None:
        if name not in STATIC:
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        data = resources.files("synthloom.viewer").joinpath("static", name).read_bytes()
        return self._send(HTTPStatus.OK, data, STATIC[name] + "; charset=utf-8")

    def _report(self, name: str, params: dict[str, str]) -> None:
        path = self.server.app.run(params).report_file(name)
        if path is None:
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        return self._send(HTTPStatus.OK, path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream"))

    def _json(self, status: HTTPStatus, value: Any) -> None:
        body = orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        self._send(status, body, "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


class ViewerServer(ThreadingHTTPServer):
    """The HTTP server of one viewer (several may watch the same run)."""

    daemon_threads = True

    def __init__(self, app: ViewerApp, host: str, port: int):
        self.app = app
        self.any_host = host not in LOOPBACK
        self.allowed_hosts = {*LOOPBACK, host}
        try:
            super().__init__((host, port), _Handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ViewerError(f"--port {port}: already in use; give another with --port N (--port 0 picks a free one)") from None
            raise ViewerError(f"--host {host} --port {port}: cannot listen there ({e.strerror})") from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{port}/"


def make_server(run_dir: Path, *, compare: Path | None = None, host: str = "127.0.0.1", port: int = 8765,
                cache: Path | None = None) -> ViewerServer:
    """A server for ``run_dir`` (and ``compare``), not yet serving; starts reading shard footers in the
    background so the first page is quick."""
    run = RunSource(run_dir, cache)
    other = RunSource(compare) if compare is not None else None
    server = ViewerServer(ViewerApp(run, other), host, port)
    tables = [t for r in (run, other) if r is not None for t in r.tables.values()]
    threading.Thread(target=lambda: [t.chunks() for t in tables], name="synthloom-viewer-warm", daemon=True).start()
    return server


def serve(run_dir: Path, *, compare: Path | None = None, host: str = "127.0.0.1", port: int = 8765,
          cache: Path | None = None, open_browser: bool = True, log: Callable[[str], None] = print) -> None:
    """Serve the viewer until interrupted (Ctrl-C)."""
    server = make_server(run_dir, compare=compare, host=host, port=port, cache=cache)
    log(f"synthloom viewer: {server.url}  (read-only; Ctrl-C to stop)")
    if server.any_host:
        log(f"warning: listening on {host}: anyone who can reach this machine can read the run")
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
