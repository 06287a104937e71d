"""The viewer's HTTP API: JSON answers, one-line errors, read-only, loopback hosts only."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import urllib.parse

import pytest

from synthloom.viewer.run_source import ViewerError
from synthloom.viewer.server import PREVIEW_CHARS, make_server, preview


@pytest.fixture(scope="module")
def server(small_run):
    srv = make_server(small_run, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv, path, method="GET", host=None):
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
    headers = {"Host": host} if host else {}
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type"), body


def api(srv, route, **params):
    status, _, body = request(srv, f"/api/{route}?{urllib.parse.urlencode(params)}")
    return status, json.loads(body)


def test_the_page_and_its_scripts_are_served(server):
    status, kind, body = request(server, "/")
    assert status == 200 and kind.startswith("text/html") and b'<main id="main">' in body
    for name in ("app.js", "pages.js", "render.js", "app.css"):
        status, kind, body = request(server, f"/static/{name}")
        assert status == 200 and body
    assert request(server, "/static/../run.json")[0] == 404
    assert request(server, "/static/secret.py")[0] == 404


def test_rows_come_with_previews_refs_and_totals(server, small_run):
    status, page = api(server, "rows", table="data", q="question", limit=5, exact=1)
    assert status == 200 and len(page["rows"]) == 5
    assert page["total"] == json.loads((small_run / "run.json").read_text())["rows"]["data"]
    row = page["rows"][0]
    assert isinstance(row["conversation"], str) and len(row["conversation"]) <= PREVIEW_CHARS + 1  # JSON text, cut
    status, full = api(server, "row", table="data", ref=row["_ref"])
    assert status == 200 and isinstance(full["row"]["conversation"], list) and full["kinds"]["score"] == "number"
    assert api(server, "count", table="data", q="Oslo")[1]["total"] > 0


def test_user_mistakes_are_400_with_one_line(server):
    for params, text in [({"table": "nope"}, "table 'nope'"),
                         ({"table": "data", "f": '[["score", ">", "x"]]'}, "give a number"),
                         ({"table": "data", "f": "oops"}, "JSON list"),
                         ({"table": "data", "limit": "ten"}, "whole number")]:
        status, body = api(server, "rows", **params)
        assert status == 400 and text in body["error"] and "\n" not in body["error"]
    assert api(server, "nothing")[0] == 404
    assert api(server, "compare")[1]["error"].startswith("no second run to compare")


def test_the_viewer_is_read_only_and_refuses_foreign_hosts(server):
    assert request(server, "/api/run", method="POST")[0] == 405
    assert request(server, "/api/run", method="DELETE")[0] == 405
    assert request(server, "/api/run", host="evil.example:80")[0] == 403
    assert request(server, "/api/run", host="localhost:1234")[0] == 200


def test_only_report_files_are_served_from_the_run(tmp_path, small_run):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    (run / "report").mkdir()
    (run / "report" / "lengths.png").write_bytes(b"\x89PNG fake")
    srv = make_server(run, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        status, kind, body = request(srv, "/report/lengths.png")
        assert (status, kind, body) == (200, "image/png", b"\x89PNG fake")
        assert request(srv, "/report/..%2Frun.json")[0] == 404
        assert request(srv, "/report/../run.json")[0] == 404
        assert api(srv, "run")[1]["report"]["plots"] == ["lengths.png"]
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_busy_port_is_a_one_line_error(server, small_run):
    port = server.server_address[1]
    with pytest.raises(ViewerError, match=f"--port {port}: already in use; give another"):
        make_server(small_run, port=port)


def test_preview_cuts_long_text_and_nested_values():
    assert preview("x" * 10) == "x" * 10
    assert preview("x" * 1000) == "x" * PREVIEW_CHARS + "…"
    assert preview([{"a": 1}]) == '[{"a":1}]'
    assert preview(3.5) == 3.5
