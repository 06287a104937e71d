"""The keep-alive HTTP client against real loopback servers (the fake OpenAI server and raw sockets)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator

import pytest
import uvloop

from synthloom.llm.http_client import (
    ConnectFailed,
    HTTPClient,
    ProtocolError,
    RequestTimeout,
    ServerDisconnected,
    TruncatedBody,
)
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(FakeServerConfig(latency_s=0.0)) as srv:
        yield srv


@pytest.fixture(scope="module")
def slow_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(FakeServerConfig(latency_s=0.3, stall_s=60)) as srv:
        yield srv


def chat_body(content: str) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": content}]}


def test_post_json_returns_status_headers_and_body(server):
    async def go():
        client = HTTPClient()
        resp = await client.post_json(server.url + "/chat/completions", chat_body("hello"))
        await client.aclose()
        return resp

    resp = asyncio.run(go())
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["choices"][0]["message"]["content"] == "Reply to: hello"


def test_error_statuses_are_returned_not_raised(server):
    async def go():
        client = HTTPClient()
        resp = await client.post_json(server.url + "/chat/completions", chat_body("x [[fault:429]]"))
        missing = await client.request("GET", server.url + "/nothing")
        return resp, missing

    resp, missing = asyncio.run(go())
    assert resp.status == 429 and resp.headers["retry-after"] == "1"
    assert missing.status == 404


def test_sequential_requests_reuse_one_connection(server):
    async def go():
        client = HTTPClient()
        texts = [(await client.post_json(server.url + "/chat/completions", chat_body(f"q{i}"))).json()
                 for i in range(5)]
        return texts, client.open_connections()

    texts, open_connections = asyncio.run(go())
    assert len(texts) == 5 and open_connections == 1


@pytest.mark.parametrize("limit, expected", [(4, 4), (64, 12)])
def test_pool_grows_to_concurrency_up_to_its_limit(slow_server, limit, expected):
    async def go():
        client = HTTPClient(max_connections=limit)
        url = slow_server.url + "/chat/completions"
        replies = await asyncio.gather(*[client.post_json(url, chat_body(f"c{i}")) for i in range(12)])
        return [r.status for r in replies], client.open_connections()

    statuses, open_connections = uvloop.run(go())
    assert statuses == [200] * 12
    assert open_connections == expected


def test_chunked_responses_are_decoded():
    with FakeOpenAIServer(FakeServerConfig(chunked=True)) as srv:
        async def go():
            client = HTTPClient()
            return [await client.post_json(srv.url + "/chat/completions", chat_body(f"chunk {i}")) for i in range(3)]

        replies = asyncio.run(go())
    assert [r.json()["choices"][0]["message"]["content"] for r in replies] == [f"Reply to: chunk {i}" for i in range(3)]


def test_stale_keepalive_connection_is_retried_once_on_a_fresh_one(server):
    async def go():
        client = HTTPClient()
        url = server.url + "/chat/completions"
        await client.post_json(url, chat_body("warm up"))
        return await client.post_json(url, chat_body("stale [[fault:reset:1]]"))

    assert asyncio.run(go()).status == 200


def test_reset_on_a_fresh_connection_raises_server_disconnected(server):
    async def go():
        return await HTTPClient().post_json(server.url + "/chat/completions", chat_body("drop [[fault:reset]]"))

    with pytest.raises(ServerDisconnected, match="reset the connection before responding") as err:
        asyncio.run(go())
    assert err.value.url.endswith("/v1/chat/completions")


def test_idle_connection_closed_by_the_server_is_dropped_from_the_pool():
    with FakeOpenAIServer(FakeServerConfig(keepalive_timeout_s=0.05)) as srv:
        async def go():
            client = HTTPClient()
            url = srv.url + "/chat/completions"
            first = await client.post_json(url, chat_body("a"))
            for _ in range(200):  # wait (bounded) until the server's idle close has reached us
                if client.open_connections() == 0:
                    break
                await asyncio.sleep(0.01)
            dropped = client.open_connections() == 0
            second = await client.post_json(url, chat_body("b"))
            return first.status, dropped, second.status

        assert asyncio.run(go()) == (200, True, 200)


def test_truncated_body_raises_truncated_body(server):
    async def go():
        return await HTTPClient().post_json(server.url + "/chat/completions", chat_body("cut [[fault:truncate]]"))

    with pytest.raises(TruncatedBody, match="status 200"):
        asyncio.run(go())


def test_stalled_request_times_out_and_the_client_stays_usable(slow_server):
    async def go():
        client = HTTPClient()
        url = slow_server.url + "/chat/completions"
        with pytest.raises(RequestTimeout, match="within 0.2s"):
            await client.post_json(url, chat_body("hang [[fault:stall]]"), timeout=0.2)
        after = await client.post_json(url, chat_body("fine"))
        return after.status, client.open_connections()

    assert asyncio.run(go()) == (200, 1)


def test_cancelled_request_releases_its_connection(slow_server):
    async def go():
        client = HTTPClient(max_connections=1)
        url = slow_server.url + "/chat/completions"
        task = asyncio.ensure_future(client.post_json(url, chat_body("hang [[fault:stall]]")))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = await client.post_json(url, chat_body("next"), timeout=10)
        return after.status

    assert asyncio.run(go()) == 200


def test_waiting_for_a_free_connection_is_bounded_by_the_timeout(slow_server):
    async def go():
        client = HTTPClient(max_connections=1)
        url = slow_server.url + "/chat/completions"
        hog = asyncio.ensure_future(client.post_json(url, chat_body("hang [[fault:stall]]"), timeout=5))
        await asyncio.sleep(0.05)
        try:
            with pytest.raises(RequestTimeout, match="no free connection"):
                await client.post_json(url, chat_body("queued"), timeout=0.2)
        finally:
            hog.cancel()

    asyncio.run(go())


def test_connection_refused_names_the_url_and_the_likely_cause():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    async def go():
        return await HTTPClient().post_json(url, chat_body("x"))

    with pytest.raises(ConnectFailed, match=f"could not connect to {url}: is the server running"):
        asyncio.run(go())


def test_client_can_be_used_from_successive_event_loops(server):
    client = HTTPClient()
    url = server.url + "/chat/completions"
    assert asyncio.run(client.post_json(url, chat_body("loop one"))).status == 200
    assert uvloop.run(client.post_json(url, chat_body("loop two"))).status == 200
    assert client.open_connections() == 1


def test_default_headers_are_sent_but_not_shown(server):
    async def go():
        client = HTTPClient(headers={"Authorization": "Bearer sk-very-secret"})
        await client.post_json(server.url + "/chat/completions", chat_body("auth"))
        return repr(client)

    shown = asyncio.run(go())
    assert "sk-very-secret" not in shown
    assert server.last_request()["headers"]["authorization"] == "Bearer sk-very-secret"


def test_bad_urls_and_header_injection_are_refused():
    client = HTTPClient()
    with pytest.raises(ValueError, match="not an http"):
        asyncio.run(client.request("GET", "ftp://example.com/x"))
    with pytest.raises(ValueError, match="line break"):
        HTTPClient(headers={"X-Evil": "a\r\nInjected: 1"})


def serve_raw_once(reply: bytes) -> tuple[int, threading.Thread]:
    """A loopback server that answers one request with ``reply`` verbatim and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        with listener:
            listener.settimeout(10)
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def test_body_without_length_is_read_until_close():
    port, thread = serve_raw_once(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nstream until eof")
    resp = asyncio.run(HTTPClient().request("GET", f"http://127.0.0.1:{port}/"))
    thread.join(10)
    assert (resp.status, resp.body) == (200, b"stream until eof")


def test_garbage_reply_raises_protocol_error():
    port, thread = serve_raw_once(b"SMTP ready\r\n\r\n")
    with pytest.raises(ProtocolError, match="malformed response head"):
        asyncio.run(HTTPClient().request("GET", f"http://127.0.0.1:{port}/"))
    thread.join(10)


def test_https_with_a_self_signed_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("the openssl command is not installed")
    config = FakeServerConfig(ssl_certfile=str(cert), ssl_keyfile=str(key))
    with FakeOpenAIServer(config) as srv:
        assert srv.url.startswith("https://")

        async def go(context: ssl.SSLContext | None):
            return await HTTPClient(ssl_context=context).post_json(srv.url + "/chat/completions", chat_body("tls"))

        trusted = asyncio.run(go(ssl.create_default_context(cafile=str(cert))))
        assert trusted.json()["choices"][0]["message"]["content"] == "Reply to: tls"
        with pytest.raises(ConnectFailed, match="TLS error"):
            asyncio.run(go(None))
