"""Headless Chromium under Playwright for the web environment, fenced to one site's origin.

:class:`Chromium` owns one browser on a thread of its own (Playwright's sync API keeps an event loop running in the
thread that opened it, where the engine's ``asyncio`` cannot run), so every call is handed to that thread: ``call``
from plain code, ``acall`` from a coroutine. :class:`BrowserTab` is one episode's page in a fresh browser context
whose every request is routed through :meth:`BrowserTab._route`: requests to the site's origin go on, anything else
(another loopback port, an outside host, a WebSocket) is aborted and listed in ``blocked``. Service workers are
blocked and the browser's proxy is a closed loopback port, so a request that escaped routing would fail too.

Observations (:meth:`BrowserTab.observe`) are a simplified DOM: the page's title, path and text, block by block,
with every link, button, input, textarea and select numbered in place (``[3] button "Add to cart"``).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

T = TypeVar("T")
OBSERVE_JS = (Path(__file__).parent / "observe.js").read_text(encoding="utf-8")
#: the longest page text an observation carries (characters)
TEXT_LIMIT = 3000
ACTION_TIMEOUT_MS = 15_000
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--proxy-server=http://127.0.0.1:9", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--dns-prefetch-disable"]


class BrowserError(RuntimeError):
    """Chromium or Playwright is missing, or the browser could not start."""


def chromium_path() -> str | None:
    """Debian's ``chromium`` (``make system-deps`` installs it), or None."""
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


class Chromium:
    """One headless Chromium, started on first use on a thread of its own; :meth:`close` stops it."""

    def __init__(self, executable: str | None = None):
        self.executable = executable or chromium_path()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._lock = threading.Lock()
        self._playwright: Any = None
        self.browser: Any = None

    def _start(self) -> None:
        if self.browser is not None:
            return
        if self.executable is None:
            raise BrowserError("the web environment needs Chromium: install it (`make system-deps`, or apt-get install chromium)")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise BrowserError("the web environment needs Playwright: pip install playwright") from None
        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(executable_path=self.executable, args=LAUNCH_ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure is reported in one line
            self._playwright.stop()
            self._playwright = None
            raise BrowserError(f"Chromium at {self.executable} did not start: {str(exc).splitlines()[0]}") from None

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` run on the browser's thread (the browser started first)."""
        def run() -> T:
            self._start()
            return fn(*args)
        return self._pool.submit(run).result()

    async def acall(self, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`call` for a coroutine: waits without blocking the event loop."""
        def run() -> T:
            self._start()
            return fn(*args)
        return await asyncio.wrap_future(self._pool.submit(run))

    def close(self) -> None:
        def stop() -> None:
            if self.browser is not None:
                self.browser.close()
                self._playwright.stop()
                self.browser = self._playwright = None
        with self._lock:
            if self._pool._shutdown:  # noqa: SLF001 - closing twice is a no-op
                return
            if self.browser is not None:
                try:
                    self._pool.submit(stop).result()
                except RuntimeError:  # the interpreter is exiting: Chromium's driver ends with this process
                    pass
            self._pool.shutdown()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass
class Observation:
    """What the agent sees: the page's ``title``, ``path`` (no host: ports differ between episodes), ``text`` with numbered
    ``elements``, and ``message`` (what the last action did, or why it failed)."""

    title: str
    path: str
    text: str
    elements: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def prompt(self) -> str:
        """The observation as prompt text."""
        head = f"Page: {self.title}\nURL path: {self.path}\n"
        return head + (f"Last action: {self.message}\n" if self.message else "") + "\n" + self.text

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "path": self.path, "text": self.text, "message": self.message}


class BrowserTab:
    """One episode's page on ``origin`` (``http://127.0.0.1:PORT``), in a fresh context; all methods run on the browser's
    thread (through :meth:`Chromium.call`), see :class:`~synthloom.envs.web.episode.WebEpisode`."""

    def __init__(self, browser: Any, origin: str):
        self.origin = origin.rstrip("/")
        self.blocked: list[str] = []
        self.context = browser.new_context(service_workers="block", java_script_enabled=True)
        self.context.route("**/*", self._route)
        self.context.route_web_socket("**/*", self._route_socket)
        self.page = self.context.new_page()
        self.page.set_default_timeout(ACTION_TIMEOUT_MS)
        self.elements: list[dict[str, Any]] = []

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin or parts.scheme in ("data", "about", "blob")

    def _route(self, route: Any) -> None:
        url = route.request.url
        if self.allowed(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _route_socket(self, socket: Any) -> None:
        self.blocked.append(socket.url)
        socket.close()

    def goto(self, path: str) -> str:
        """Open ``path`` on the site; returns what happened, in words."""
        url = urljoin(self.origin + "/", path)
        if not self.allowed(url):
            return f"blocked: {path} is not on this site (navigate takes a path such as /cart)"
        try:
            response = self.page.goto(url, wait_until="load")
        except Exception as exc:  # noqa: BLE001 - a failed navigation is the agent's observation
            return f"navigation failed: {str(exc).splitlines()[0]}"
        status = response.status if response is not None else 0
        return f"opened {urlsplit(self.page.url).path}" + (f" (HTTP {status})" if status >= 400 else "")

    def observe(self, message: str = "") -> Observation:
        seen = self.page.evaluate(OBSERVE_JS, TEXT_LIMIT)
        self.elements = seen["elements"]
        parts = urlsplit(self.page.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "") if self.allowed(self.page.url) else self.page.url
        return Observation(seen["title"], path, seen["text"], self.elements, message)

    def _element(self, element: Any) -> tuple[dict[str, Any] | None, str]:
        try:
            index = int(element)
        except (TypeError, ValueError):
            return None, f"element must be a number from the page, not {element!r}"
        found = next((e for e in self.elements if e["id"] == index), None)
        if found is None:
            return None, f"there is no element [{index}] on this page (elements 1 to {len(self.elements)})"
        return found, ""

    def click(self, element: Any) -> str:
        found, problem = self._element(element)
        if found is None:
            return problem
        before = self.page.url
        try:
            self.page.locator(f'[data-synthloom-id="{found["id"]}"]').click(timeout=ACTION_TIMEOUT_MS)
            self.page.wait_for_load_state("load")
        except Exception as exc:  # noqa: BLE001
            return f"click on [{found['id']}] failed: {str(exc).splitlines()[0]}"
        moved = f", now at {urlsplit(self.page.url).path}" if self.page.url != before else ""
        return f"clicked [{found['id']}] {found['role']} \"{found['name']}\"{moved}"

    def type(self, element: Any, text: str) -> str:
        found, problem = self._element(element)
        if found is None:
            return problem
        if found["role"] not in ("input", "textarea", "select"):
            return f"[{found['id']}] is a {found['role']}, not a field: type into an input, textarea or select"
        target = self.page.locator(f'[data-synthloom-id="{found["id"]}"]')
        try:
            if found["role"] == "select":
                target.select_option(label=str(text), timeout=ACTION_TIMEOUT_MS)
            else:
                target.fill(str(text), timeout=ACTION_TIMEOUT_MS)
        except Exception as exc:  # noqa: BLE001
            return f"typing into [{found['id']}] failed: {str(exc).splitlines()[0]}"
        return f"typed {str(text)!r} into [{found['id']}] {found['role']} \"{found['name']}\""

    def back(self) -> str:
        try:
            self.page.go_back(wait_until="load")
        except Exception as exc:  # noqa: BLE001
            return f"going back failed: {str(exc).splitlines()[0]}"
        return f"went back to {urlsplit(self.page.url).path}"

    def close(self) -> None:
        self.context.close()
