"""One headless Chromium shared by every web-environment test in a process (started on first use, closed at exit),
and a scripted web agent that reads the page it is shown and acts like a user who knows the site."""

from __future__ import annotations

import atexit
import json
import re
from typing import Any

from ..envs.web.browser import Chromium, chromium_path

_shared: Chromium | None = None


def shared_chromium() -> Chromium | None:
    """The process's shared browser, or None when Chromium is not installed."""
    global _shared
    if chromium_path() is None:
        return None
    if _shared is None:
        _shared = Chromium()
        atexit.register(_shared.close)
    return _shared


def elements(prompt: str) -> dict[str, int]:
    """The numbered elements of the LAST page in a web agent's prompt: label → number (first wins)."""
    page = prompt[prompt.rfind("Current page:"):] if "Current page:" in prompt else prompt
    found: dict[str, int] = {}
    for number, label in re.findall(r"\[(\d+)\] \w+(?: \(\w+\))? \"([^\"]*)\"", page):
        found.setdefault(label, int(number))
    return found


def page_path(prompt: str) -> str:
    """The URL path of the last page in a web agent's prompt."""
    paths = re.findall(r"^URL path: (\S+)", prompt, flags=re.M)
    return paths[-1] if paths else ""


def field_value(prompt: str, label: str) -> str | None:
    """The value an input labelled ``label`` shows on the last page."""
    page = prompt[prompt.rfind("Current page:"):]
    match = re.search(r"\[\d+\] \w+(?: \(\w+\))? \"" + re.escape(label) + r"\" value \"([^\"]*)\"", page)
    return match.group(1) if match else None


def act(action: str, element: int = 0, text: str = "", thought: str = "") -> str:
    """A web agent's reply: the action JSON."""
    return json.dumps({"thought": thought or f"I {action}.", "action": action, "element": element, "text": text})


def shopper(product: str, quantity: int, *, checkout: bool = True) -> Any:
    """A scripted shopper: opens ``product``, sets the quantity, adds it to the cart and (when ``checkout``) places the
    order, then stops. A reply function for :class:`~synthloom.testing.scripted.ScriptedModel`."""
    def reply(req: Any) -> str:
        prompt = req.messages[-1]["content"]
        path, els = page_path(prompt), elements(prompt)
        if path == "/":
            return act("click", els[product])
        if path.startswith("/product/"):
            if field_value(prompt, "Quantity") != str(quantity):
                return act("type", els["Quantity"], str(quantity))
            return act("click", els["Add to cart"])
        if path == "/cart":
            return act("click", els["Proceed to checkout"]) if checkout else act("stop", text="done")
        if path == "/checkout":
            if field_value(prompt, "Full name") == "":
                return act("type", els["Full name"], "Ada Byron")
            if field_value(prompt, "Shipping address") == "":
                return act("type", els["Shipping address"], "12 Analytical Row, London")
            return act("click", els["Place order"])
        return act("stop", text="done")
    return reply


def replier(post: str, text: str) -> Any:
    """A scripted forum member: opens ``post``, types ``text`` into the reply box, posts it, then stops."""
    def reply(req: Any) -> str:
        prompt = req.messages[-1]["content"]
        path, els = page_path(prompt), elements(prompt)
        if path == "/":
            return act("click", els[post])
        if path.startswith("/post/") and "Last action: clicked" in prompt and "Post reply" in prompt.split("Last action:")[-1][:60]:
            return act("stop", text="replied")
        if path.startswith("/post/"):
            if "Your reply" in els and field_value(prompt, "Your reply") != text:
                return act("type", els["Your reply"], text)
            return act("click", els["Post reply"])
        return act("stop", text="done")
    return reply
