"""The small WSGI toolkit the bundled web sites are written with (stdlib only): a router over regular
expressions, HTML pages with one layout, form reading, redirects after a POST, one SQLite connection per
request on the episode's database file."""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

Handler = Callable[["Request"], "Reply"]


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML."""
    return html.escape(str(value), quote=True)


def money(cents: int) -> str:
    """Cents as ``$12.50``."""
    return f"${cents // 100}.{cents % 100:02d}"


def parse_price(text: str) -> int | None:
    """``"12.5"``, ``"$12.50"`` or ``"12"`` as cents; None when it is not a price."""
    match = re.fullmatch(r"\s*\$?\s*(\d{1,6})(?:\.(\d{1,2}))?\s*", text or "")
    if not match:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


@dataclass
class Request:
    """One HTTP request as a handler sees it: method, path, the regex groups, query and form fields, and the
    database connection of this request."""

    method: str
    path: str
    args: tuple[str, ...]
    query: dict[str, str]
    form: dict[str, str]
    db: sqlite3.Connection


@dataclass
class Reply:
    """What a handler answers: a status, a body, headers (a redirect sets ``Location``)."""

    body: str = ""
    status: str = "200 OK"
    headers: list[tuple[str, str]] = field(default_factory=list)


def redirect(location: str) -> Reply:
    """A 303 See Other to ``location`` (the answer to every successful POST)."""
    return Reply("", "303 See Other", [("Location", location)])


def not_found(what: str) -> Reply:
    return Reply(f"<h1>Not found</h1><p>{esc(what)}</p>", "404 Not Found")


class SiteApp:
    """A WSGI application: ``routes`` are ``(method, regex, handler)``; each request gets its own connection to
    ``db_path`` (committed when the handler returns); every page is wrapped by ``layout(title, body, db)``."""

    def __init__(self, db_path: str, routes: Iterable[tuple[str, str, Handler]],
                 layout: Callable[[str, str, sqlite3.Connection], str]):
        self.db_path = db_path
        self.routes = [(m, re.compile(p + r"\Z"), h) for m, p, h in routes]
        self.layout = layout

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/") or "/"
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        form: dict[str, str] = {}
        if method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size).decode("utf-8", "replace") if size else ""
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        reply = self.dispatch(method, path, query, form)
        if reply.status.startswith("200") or reply.status.startswith("4"):
            title = re.search(r"<h1>(.*?)</h1>", reply.body)
            with self.connect() as db:
                body = self.layout(html.unescape(title.group(1)) if title else "Page", reply.body, db)
        else:
            body = reply.body
        data = body.encode()
        start_response(reply.status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data))),
                                      ("Cache-Control", "no-store"), *reply.headers])
        return [data]

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def dispatch(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> Reply:
        allowed = False
        for m, pattern, handler in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            allowed = True
            if m != method:
                continue
            db = self.connect()
            try:
                reply = handler(Request(method, path, match.groups(), query, form, db))
                db.commit()
                return reply
            finally:
                db.close()
        if allowed:
            return Reply(f"<h1>Method not allowed</h1><p>{esc(method)} {esc(path)}</p>", "405 Method Not Allowed")
        return not_found(f"There is no page at {path}.")


def page(title: str, *parts: str) -> Reply:
    """A 200 page whose ``<h1>`` is ``title`` (the layout reads it for ``<title>``)."""
    return Reply(f"<h1>{esc(title)}</h1>" + "".join(parts))


def form(action: str, fields: str, button: str) -> str:
    """A POST form to ``action`` with ``fields`` (HTML) and one submit button labelled ``button``."""
    return f'<form method="post" action="{esc(action)}">{fields}<button type="submit">{esc(button)}</button></form>'


def field_input(name: str, label: str, value: Any = "", kind: str = "text") -> str:
    """A labelled ``<input>``."""
    return f'<p><label for="{name}">{esc(label)}</label> <input id="{name}" name="{name}" type="{kind}" value="{esc(value)}"></p>'


def field_textarea(name: str, label: str, value: str = "") -> str:
    """A labelled ``<textarea>``."""
    return f'<p><label for="{name}">{esc(label)}</label> <textarea id="{name}" name="{name}" rows="4">{esc(value)}</textarea></p>'


def document(site: str, title: str, nav: str, body: str) -> str:
    """The whole HTML document of a page."""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)} · {esc(site)}</title></head>'
            f'<body><nav>{nav}</nav><main>{body}</main></body></html>')


def create_database(path: str, schema: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """A new SQLite database at ``path``: ``schema`` then ``rows`` (``{table: [row, ...]}``) inserted."""
    db = sqlite3.connect(path)
    try:
        db.executescript(schema)
        for table, items in rows.items():
            for row in items:
                cols = list(row)
                db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                           [row[c] for c in cols])
        db.commit()
    finally:
        db.close()
