"""The web environment in real headless Chromium (one browser shared by the process): observations with numbered
elements, click/type/navigate/back/stop changing the site's database, and the fence that keeps the agent's browser on
the bundled site's origin (another loopback server and an outside host are unreachable)."""

from __future__ import annotations

import http.server
import threading

from synthloom.envs.web import WebEpisode, action_problem

BUY = {"site": "shop", "seed": 1, "kind": "buy", "goal": {"product": "Copper Kettle", "quantity": 2}, "intent": "Buy 2 kettles."}


def number(observation, name: str) -> int:
    return next(e["id"] for e in observation.elements if e["name"] == name)


def test_the_page_is_shown_as_text_with_numbered_elements(chromium):
    with WebEpisode(chromium, BUY) as ep:
        first = ep.observation
        assert first.path == "/" and first.title.startswith("Welcome to Loom Shop")
        prompt = first.prompt()
        assert "[1] link \"Home\"" in prompt and "# Welcome to Loom Shop" in prompt
        assert "input \"Search products\" value \"\"" in prompt and "127.0.0.1" not in prompt
        assert [e["id"] for e in first.elements] == list(range(1, len(first.elements) + 1))
        page = ep.act({"action": "click", "element": number(first, "Copper Kettle")})
        assert page.path == "/product/2" and "clicked" in page.message
        assert "[4] input (number) \"Quantity\" value \"1\"" in page.prompt()


def test_actions_change_the_database_and_the_checker_reads_it(chromium):
    with WebEpisode(chromium, BUY) as ep:
        assert not ep.check().passed
        page = ep.act({"action": "navigate", "text": "/product/2"})
        page = ep.act({"action": "type", "element": number(page, "Quantity"), "text": "2"})
        assert "value \"2\"" in page.prompt()
        page = ep.act({"action": "click", "element": number(page, "Add to cart")})
        assert page.path == "/cart" and ep.server.state()["cart_items"] == [{"product_id": 2, "quantity": 2}]
        verdict = ep.check()
        assert not verdict.passed and "checkout was not finished" in verdict.reason
        page = ep.act({"action": "click", "element": number(page, "Proceed to checkout")})
        for label, text in (("Full name", "Ada"), ("Shipping address", "London")):
            page = ep.act({"action": "type", "element": number(page, label), "text": text})
        page = ep.act({"action": "click", "element": number(page, "Place order")})
        assert page.path == "/orders/3" and "2 × Copper Kettle" in page.text
        assert ep.act({"action": "back"}).path == "/checkout"
        ep.act({"action": "stop", "text": "ordered"})
        assert ep.done and ep.answer == "ordered"
        assert ep.check().passed


def test_bad_actions_are_observations_not_crashes(chromium):
    with WebEpisode(chromium, BUY) as ep:
        assert "no element [99]" in ep.act({"action": "click", "element": 99}).message
        assert "is a link, not a field" in ep.act({"action": "type", "element": 1, "text": "x"}).message
        assert "invalid action" in ep.act({"action": "scroll"}).message
        assert "(HTTP 404)" in ep.act({"action": "navigate", "text": "/nowhere"}).message
        assert not ep.done
    assert action_problem({"action": "click"}) == "click needs the element's number"


class Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the base class's name
        Counting.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>other server</h1>")

    def log_message(self, *args):
        pass


def test_the_browser_reaches_only_the_bundled_site(chromium):
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    other_url = f"http://127.0.0.1:{other.server_address[1]}/secret"
    try:
        with WebEpisode(chromium, BUY) as ep:
            assert "not on this site" in ep.act({"action": "navigate", "text": other_url}).message

            def escape_attempts(url: str) -> list[str]:
                page, results = ep.tab.page, []
                for target in (url, "http://example.com/", "http://localhost:9/"):
                    try:
                        page.goto(target)
                        results.append("reached")
                    except Exception as exc:  # noqa: BLE001
                        results.append(str(exc).splitlines()[0])
                for attempt in range(3):  # the last refused navigation's error page may still be loading
                    try:
                        page.goto(ep.server.url + "/")
                        break
                    except Exception as exc:  # noqa: BLE001
                        if "interrupted by another navigation" not in str(exc) or attempt == 2:
                            raise
                        page.wait_for_load_state()
                results.append(page.evaluate("url => fetch(url).then(() => 'reached', e => 'failed: ' + e)", url))
                results.append(page.evaluate("url => new Promise(ok => { const ws = new WebSocket(url); ws.onopen = () => ok('reached');"
                                             " ws.onerror = () => ok('failed'); ws.onclose = () => ok('failed'); })",
                                             url.replace("http", "ws")))
                return results

            results = chromium.call(escape_attempts, other_url)
            assert all("ERR_BLOCKED_BY_CLIENT" in r for r in results[:3]), results
            assert results[3].startswith("failed") and results[4] == "failed", results
            assert other_url in ep.tab.blocked and "http://example.com/" in ep.tab.blocked
            assert ep.check().details["blocked_requests"]
            page = ep.act({"action": "navigate", "text": "/cart"})
            assert page.title.startswith("Your cart")  # the site itself still works
        assert Counting.hits == []
    finally:
        other.shutdown()
        other.server_close()
