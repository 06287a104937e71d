"""A fast, deterministic, fault-injecting OpenAI-compatible server for tests and benchmarks.

Replies are a pure function of the request: the text is ``"Reply to: " + <last user message or
prompt>`` (choice ``i > 0`` says ``"Reply {i+1} to: ..."``), cut to ``max_tokens`` whitespace words
(``finish_reason: "length"``) and at the first ``stop`` string. Token counts are whitespace words.

Faults are injected server-wide (:class:`FakeServerConfig`) or per request by a directive in the
last user message / prompt: ``[[fault:KIND]]`` fails every attempt of that request,
``[[fault:KIND:K]]`` fails its first K attempts (attempts are counted per exact request body).
KIND is an HTTP status (``429``, ``500``, ``400``...) or one of ``truncate`` (Content-Length
promises more than is sent, then close), ``stall`` (never answer; close after ``stall_s``),
``malformed`` (200 with a broken JSON body) and ``reset`` (TCP reset).

``n``, ``stop``, ``logprobs``/``top_logprobs`` (fake but stable values, chat and legacy formats) and
``response_format`` json_schema (a minimal instance that validates the schema) are honoured; see
``fake_replies``. Prompt log-probabilities (``echo`` with ``logprobs``, vLLM's ``prompt_logprobs``) are served as
``FakeServerConfig.prompt_logprobs`` says (an echo it does not serve is a 400; an unserved ``prompt_logprobs`` is
ignored, as servers other than vLLM do). ``latency_s`` delays every reply without blocking the others.

Tool calls: a chat request offering ``tools`` is answered with ``message.tool_calls`` (finish
reason ``tool_calls``, arguments a minimal instance of the tool's parameters) for each
``[[call:NAME]]`` directive (several: parallel calls; ``[[call:NAME:broken]]``: arguments that are
not valid JSON) unless the last message is a ``tool`` result, or else when ``tool_choice`` names a
function (``"required"``: the first tool). The faults above apply to these replies too.

Reward models: ``POST /pooling`` and ``POST /classify`` (at the server root, as vLLM serves them)
answer with the reward of the last message: a ``[[reward:X]]`` directive's X, else a tenth of its
word count (``/classify``: classes ``bad``/``good`` with ``p(good) = sigmoid(reward)``).

``GET /_stats`` returns counters, ``POST /_stats/reset`` zeroes them (and the attempt counts),
``GET /_last_request`` returns the last API request's headers and body.

Batch API: ``/v1/files`` and ``/v1/batches`` as OpenAI serves them, each item answered as above; slow
completion, expiry and partial failure as ``fake_batches`` describes (``POST /_batches/release`` ends a hold).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import select
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from synthloom.testing.fake_protocol import FakeServerProtocol, ServerState
from synthloom.testing.processes import stop_process

NAMED_FAULTS = ("truncate", "stall", "malformed", "reset")


def check_fault(kind: str) -> str:
    """Return ``kind`` if it names a fault (an HTTP status 400-599 or a named fault), else raise."""
    if kind in NAMED_FAULTS or (kind.isdigit() and 400 <= int(kind) <= 599):
        return kind
    raise ValueError(f"unknown fault {kind!r}: use an HTTP status 400-599 or one of {', '.join(NAMED_FAULTS)}")


@dataclass
class FakeServerConfig:
    """Settings of a :class:`FakeOpenAIServer`: reply behaviour, latency and injected faults.

    ``fault`` applies to every API request unless narrowed by ``fault_every`` (every k-th
    request) or ``fault_first`` (the first k attempts of each distinct request body).
    """

    host: str = "127.0.0.1"
    port: int = 0
    model: str = "fake-model"
    latency_s: float = 0.0
    reasoning: bool = False  # add "reasoning_content" to chat replies
    json_schema_supported: bool = True  # False: 400 on response_format json_schema, like older servers
    prompt_logprobs: str = "echo,vllm"  # prompt log-probabilities served: "echo", "vllm" (prompt_logprobs), "" none
    api_key: str | None = None  # when set, require "Authorization: Bearer <api_key>"
    required_headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    fault_every: int = 0
    fault_first: int = 0
    retry_after_s: float = 1.0
    retry_after_http_date: bool = False
    stall_s: float = 30.0
    keepalive_timeout_s: float | None = None  # close idle keep-alive connections silently
    chunked: bool = False  # send bodies with Transfer-Encoding: chunked
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # the batch API (``fake_batches``): seconds a batch stays in progress, held until POST /_batches/release,
    # the first K batches expiring with nothing processed, the first K batches failing
    batch_delay_s: float = 0.0
    batch_hold: bool = False
    batch_expire_first: int = 0
    batch_fail_first: int = 0

    def __post_init__(self) -> None:
        if self.fault is not None:
            check_fault(self.fault)


async def serve(config: FakeServerConfig, ready: Callable[[str], None] | None = None,
                stop: asyncio.Event | None = None, *, protocol: Callable[[ServerState], asyncio.Protocol] = FakeServerProtocol,
                state_class: type[ServerState] = ServerState) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT); call ``ready(url)`` once listening.
    ``protocol``/``state_class`` serve another API with the same faults (``fake_anthropic``)."""
    loop = asyncio.get_running_loop()
    ssl_ctx = None
    if config.ssl_certfile:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(config.ssl_certfile, config.ssl_keyfile)
    state = state_class(config)
    server = await loop.create_server(lambda: protocol(state), config.host, config.port,
                                      ssl=ssl_ctx, backlog=2048, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    stop = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (RuntimeError, ValueError, NotImplementedError):  # not the main thread, or no signals here
            break
    if ready is not None:
        ready(f"{'https' if ssl_ctx else 'http'}://{config.host}:{port}/v1")
    try:
        await stop.wait()
    finally:
        server.close()


class FakeOpenAIServer:
    """Runs the fake OpenAI-compatible server in a subprocess (its own GIL) for tests and benchmarks.

    Use as a context manager: ``with FakeOpenAIServer(FakeServerConfig(latency_s=0.1)) as srv:``
    then point a client at ``srv.url`` (``http://127.0.0.1:PORT/v1``).
    """

    module = "synthloom.testing.fake_server"  # run as ``python -m MODULE --config-json ...``

    def __init__(self, config: FakeServerConfig | None = None, *, startup_timeout_s: float = 30.0):
        self.config = config or FakeServerConfig()
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def root_url(self) -> str:
        return self.url[: -len("/v1")]

    def start(self) -> FakeOpenAIServer:
        src_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src_root, os.environ.get("PYTHONPATH")])))
        cmd = [sys.executable, "-m", self.module, "--exit-on-stdin-eof",
               "--config-json", orjson.dumps(dataclasses.asdict(self.config)).decode()]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.startup_timeout_s)
        line = self._proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"fake server did not start within {self.startup_timeout_s}s (command: {cmd[:4]})")
        self.url = line
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_process(proc)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def _call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(self.root_url + path, method=method, data=b"" if method == "POST" else None)
        context = ssl._create_unverified_context() if self.url.startswith("https") else None  # our own loopback
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return orjson.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        """Counters: requests, by_status, by_path, faults, connections (these control calls included)
        and the in-flight maximum (at zero latency replies are synchronous, so it stays 1)."""
        return self._call("GET", "/_stats")

    def reset_stats(self) -> None:
        """Zero the counters and the per-request attempt counts."""
        self._call("POST", "/_stats/reset")

    def release_batches(self) -> dict[str, Any]:
        """End ``batch_hold``: batches submitted so far (and later) finish; returns the batch counters."""
        return self._call("POST", "/_batches/release")

    def last_request(self) -> dict[str, Any]:
        """The last API request as received: ``request_line``, ``headers`` (lower-case names), ``body``."""
        return self._call("GET", "/_last_request")

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m synthloom.testing.fake_server", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    p.add_argument("--fault", help="KIND or KIND:K (first K attempts of each request); KIND: status or "
                   + "/".join(NAMED_FAULTS))
    p.add_argument("--fault-every", type=int, default=0, help="fault only every k-th request")
    p.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds of 429 replies")
    p.add_argument("--stall", type=float, default=30.0, help="seconds a stalled request stays open")
    p.add_argument("--model", default="fake-model")
    p.add_argument("--reasoning", action="store_true", help="add reasoning_content to chat replies")
    p.add_argument("--config-json", help="a full FakeServerConfig as JSON (overrides the flags)")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None, *, config_class: type[FakeServerConfig] | None = None,
         **serve_options: Any) -> None:
    """Command-line entry: serve until interrupted, printing the base URL once ready
    (``config_class`` and ``serve_options`` for another API, as ``fake_anthropic`` does)."""
    args = _parser().parse_args(argv)
    if args.config_json:
        config = (config_class or FakeServerConfig)(**orjson.loads(args.config_json))
    else:
        fault, _, first = (args.fault or "").partition(":")
        try:
            config = (config_class or FakeServerConfig)(host=args.host, port=args.port, latency_s=args.latency, fault=fault or None,
                                      fault_first=int(first or 0), fault_every=args.fault_every,
                                      retry_after_s=args.retry_after, stall_s=args.stall, model=args.model,
                                      reasoning=args.reasoning)
        except ValueError as exc:
            _parser().error(str(exc))

    async def run() -> None:
        stop = asyncio.Event()
        if args.exit_on_stdin_eof:  # the parent holds our stdin: its exit (even by a crash) stops us
            fd = sys.stdin.fileno()
            asyncio.get_running_loop().add_reader(fd, lambda: os.read(fd, 4096) or stop.set())
        await serve(config, ready=lambda url: print(url, flush=True), stop=stop, **serve_options)

    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())


if __name__ == "__main__":
    main()
