"""Reward and classification models behind vLLM's pooling endpoints, ``/pooling`` and ``/classify``.

vLLM serves reward models and sequence classifiers with ``vllm serve MODEL --runner pooling`` (older
releases: ``--task reward`` / ``--task classify``). Both endpoints live at the server root, beside
``/v1`` (``http://host:8000/pooling``), and take the chat messages (the server applies the model's
chat template) or a raw ``input`` text:

* ``POST /pooling`` ``{"model", "messages"}`` -> ``{"data": [{"index": 0, "object": "pooling",
  "data": [...]}], "usage": {...}}``, where ``data`` is one vector (``[r]`` for a one-head reward
  model) or one vector per token (a token-level reward model: the last token's vector counts);
* ``POST /classify`` ``{"model", "messages"}`` -> ``{"data": [{"index": 0, "label": "...",
  "probs": [...], "num_classes": k}], "usage": {...}}``.

:class:`PoolingBackend` is a :class:`~synthloom.llm.types.ModelBackend` for one of them: a chat
:class:`Request` (or a raw prompt) in, a :class:`Response` out whose one choice's text is the JSON
``{"values": [...], "label": ...}`` (:func:`pooled_values` reads it back). Being a backend, it runs
inside the layers every model call has — cache (a rerun replays the rewards), budget, rate limits,
retries — when built with :func:`pooling_model`. It reuses the ``openai`` backend's URL, API key and
header handling and its mapping of HTTP failures onto retryable and permanent errors.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from synthloom.llm.backends.openai import OpenAIBackend, _server_message, _snippet
from synthloom.llm.http_client import ConnectFailed, HTTPError, RequestTimeout
from synthloom.llm.spec import ModelConfig
from synthloom.llm.types import Choice, PermanentError, Request, Response, Timeout, TransientError, Usage

POOLING_ENDPOINTS = ("pooling", "classify")


def server_root(base_url: str) -> str:
    """The server's root URL from a model's ``/v1`` base (``http://h:8000/v1`` -> ``http://h:8000``)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class PoolingBackend(OpenAIBackend):
    """A backend answering each request with the output of a vLLM ``/pooling`` or ``/classify``
    endpoint (see the module docstring). Sampling fields of the request are not sent: a pooling
    model computes, it does not sample."""

    def __init__(self, config: ModelConfig, endpoint: str = "pooling") -> None:
        if endpoint not in POOLING_ENDPOINTS:
            raise ValueError(f"model {config.name!r}: pooling endpoint must be one of {', '.join(POOLING_ENDPOINTS)}, "
                             f"not {endpoint!r}")
        super().__init__(config)
        self.endpoint = endpoint
        root = server_root(self.base_url)
        self.url = f"{root}/{endpoint}"
        self.identity = f"{endpoint}:{config.model}@{root}"

    def __repr__(self) -> str:
        return f"PoolingBackend({self.identity!r})"

    def request_body(self, request: Request, chat: bool = True, with_schema: bool = False) -> dict[str, Any]:
        """The JSON body sent for ``request``: the model and its messages (or ``input`` text)."""
        body: dict[str, Any] = {"model": self.model}
        if request.messages is not None:
            body["messages"] = [dict(m) for m in request.messages]
        else:
            body["input"] = request.prompt
        return body

    async def complete(self, request: Request) -> Response:
        """Pool one request; raises RateLimited, TransientError, Timeout or PermanentError."""
        data = await self._post_pooling(self.request_body(request))
        values, label = parse_pooling_reply(data, self.endpoint, self.url)
        usage = data.get("usage") or {}
        text = orjson.dumps({"values": values, "label": label}).decode()
        return Response(choices=[Choice(text, "stop")],
                        usage=Usage(int(usage.get("prompt_tokens") or 0), 0), model=str(data.get("model") or self.model))

    async def _post_pooling(self, body: dict[str, Any]) -> dict[str, Any]:
        url = self.url
        try:
            reply = await self._http.request("POST", url, orjson.dumps(body))
        except ConnectFailed as exc:
            raise TransientError(self._redact(str(exc))) from exc
        except RequestTimeout as exc:
            raise Timeout(self._redact(str(exc))) from exc
        except HTTPError as exc:
            raise TransientError(self._redact(str(exc))) from exc
        if reply.status in (404, 405):
            raise PermanentError(self._redact(f"{url}: HTTP {reply.status}: {_server_message(reply.body)} (does the "
                                              f"server serve /{self.endpoint}? start vLLM with `vllm serve "
                                              f"{self.model} --runner pooling`)"), status=reply.status)
        if reply.status != 200:
            raise self._status_error(url, reply)
        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise TransientError(self._redact(f"{url}: unparseable JSON in the reply ({exc}): "
                                              f"{_snippet(reply.body)}")) from exc
        if not isinstance(data, dict):
            raise TransientError(self._redact(f"{url}: the reply is not a JSON object: {_snippet(reply.body)}"))
        return data


def parse_pooling_reply(data: dict[str, Any], endpoint: str, url: str = "") -> tuple[list[float], str | None]:
    """``(values, label)`` of the first item of a ``/pooling`` or ``/classify`` reply: the pooled
    vector (a token-level reply's last token) or the class probabilities, and the predicted label
    (``None`` for pooling). A reply of another shape raises :class:`TransientError`."""
    items = data.get("data")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise TransientError(f"{url}: reply without a 'data' list: {_snippet(orjson.dumps(data))}")
    item = items[0]
    raw = item.get("probs") if endpoint == "classify" else item.get("data")
    if isinstance(raw, list) and raw and isinstance(raw[-1], list):
        raw = raw[-1]  # one vector per token: the last token's
    if not isinstance(raw, list) or not raw or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       for v in raw):
        what = "'probs' list of numbers" if endpoint == "classify" else "'data' vector of numbers (ask for floats, "\
            "not base64)"
        raise TransientError(f"{url}: reply item without a {what}: {_snippet(orjson.dumps(item))}")
    values = [float(v) for v in raw]
    if not all(math.isfinite(v) for v in values):
        raise TransientError(f"{url}: the reply holds a value that is not finite: {values[:8]}")
    label = item.get("label") if endpoint == "classify" else None
    return values, label if isinstance(label, str) else None


def pooled_values(response: Response) -> tuple[list[float], str | None]:
    """``(values, label)`` carried by a :class:`PoolingBackend` response (see :func:`parse_pooling_reply`)."""
    text = response.choices[0].text if response.choices else ""
    try:
        data = orjson.loads(text or "")
        return [float(v) for v in data["values"]], data.get("label")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise PermanentError(f"not a pooling response: {text[:200]!r}") from None


def pooling_model(models: Any, name: str, endpoint: str) -> Any:
    """Recipe model ``name`` reached through its server's ``endpoint`` (``pooling`` or ``classify``),
    inside the usual layers. ``models`` is the run's :class:`~synthloom.llm.client.ModelRegistry`;
    the model must be an OpenAI-compatible server (``openai:MODEL@http://host:port/v1``)."""
    configs = getattr(models, "configs", None)
    if configs is None or not hasattr(models, "get_variant"):
        raise PermanentError(f"model {name!r}: reward endpoints need the run's model registry (a recipe's `models:`)")
    if name not in configs:
        raise PermanentError(f"no model named {name!r} in this recipe (models: {', '.join(configs) or 'none'})")
    config = configs[name]
    if config.backend != "openai":
        raise PermanentError(f"model {name!r} is {config.spec or config.backend}; a reward endpoint needs a server: "
                             f"give `openai:MODEL@http://host:port/v1` (vllm serve MODEL --runner pooling)")
    return models.get_variant(name, endpoint, lambda c: PoolingBackend(c, endpoint))
