"""The ``anthropic`` backend: Claude through Anthropic's native Messages API (``POST /v1/messages``)
over the project's keep-alive HTTP client (no SDK).

``anthropic:MODEL`` talks to ``$ANTHROPIC_BASE_URL`` or https://api.anthropic.com with the key in
``$ANTHROPIC_API_KEY`` (``api_key_env`` names another variable), sent as ``x-api-key`` beside the
``anthropic-version`` header; ``anthropic:MODEL@URL`` goes through a proxy or a fake server. The body
mapping is in ``anthropic_messages``; this module sends it and maps failures onto the model layer's
errors: 429 (with ``retry-after``) and 529 overloaded -> :class:`RateLimited` (retried; the adaptive
concurrency shrinks), other 5xx -> :class:`TransientError`, other 4xx -> :class:`PermanentError` with
the API's own message (401: a line saying which variable to set). ``n > 1`` is sent as repeated
requests (the API has no ``n``); with
prompt caching the first one writes the cache that the others then read. The API returns no log
probabilities and takes no raw prompts: such requests fail at once, saying so. It never retries: the
retry layer around it decides.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlparse, urlsplit

import orjson

from synthloom.llm.backends.anthropic_messages import (
    API_VERSION,
    MessageFormatError,
    error_message,
    message_body,
    parse_message,
)
from synthloom.llm.backends.openai import parse_retry_after
from synthloom.llm.http_client import ConnectFailed, HTTPClient, HTTPError, HTTPResponse, RequestTimeout
from synthloom.llm.spec import ModelConfig, ModelSpecError
from synthloom.llm.types import (
    Choice,
    ModelError,
    PermanentError,
    RateLimited,
    Request,
    Response,
    Timeout,
    TransientError,
    Usage,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"


def base_url_of(config: ModelConfig) -> str:
    """The API root (no ``/v1``): the spec's URL, ``$ANTHROPIC_BASE_URL`` or api.anthropic.com."""
    base = (config.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def check_anthropic_config(config: ModelConfig, where: str) -> None:
    """Raise :class:`ModelSpecError` for a base URL, key variable or header that cannot work."""
    url = base_url_of(config)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ModelSpecError(f"{where}: base URL {url!r} is not an http(s) URL; write it like "
                             "anthropic:MODEL@https://host:port")
    try:
        _ = parsed.port
    except ValueError:
        raise ModelSpecError(f"{where}: base URL {url!r} has a bad port number") from None
    if parsed.username or parsed.password:
        raise ModelSpecError(f"{where}: do not put credentials in the base URL; name the variable that holds "
                             "the key with api_key_env")
    if config.api_key_env and not os.environ.get(config.api_key_env):
        raise ModelSpecError(f"{where}: the API key variable {config.api_key_env} is not set; "
                             f"export {config.api_key_env}=<your Anthropic API key>, or set api_key_env to the "
                             "variable that holds it")
    for header, env in config.header_env.items():
        if not os.environ.get(env):
            raise ModelSpecError(f"{where}: header {header!r} takes its value from the environment variable "
                                 f"{env}, which is not set")


class AnthropicBackend:
    """A :class:`~synthloom.llm.types.ModelBackend` for Claude models over the Messages API.

    ``config.prompt_cache`` (default on) marks the shared prefix with ``cache_control`` breakpoints;
    cache writes and reads come back in :class:`Usage` and are priced by ``ModelConfig.cache_prices``.
    Structured output (``json_schema``) forces a tool whose input schema is the schema, unless
    ``supports_json_schema`` is set to false (then the structured layer asks in words).
    """

    #: every request carries ``config.timeout_s`` as its deadline in the HTTP client (-> Timeout)
    enforces_timeout = True

    def __init__(self, config: ModelConfig):
        self.config = config
        self.model = config.model
        self.base_url = base_url_of(config)
        check_anthropic_config(config, f"model {config.name!r}")
        self.identity = f"anthropic:{config.model}@{self.base_url}"
        self.messages_url = f"{self.base_url}/v1/messages"
        self.supports_json_schema = config.supports_json_schema is not False
        self.prompt_cache = config.prompt_cache is not False
        self.headers = {"Content-Type": "application/json", "anthropic-version": API_VERSION}
        self._secrets: list[str] = []
        if config.api_key_env:
            key = os.environ[config.api_key_env]  # check_anthropic_config made sure it is set
            self.headers["x-api-key"] = key
            self._secrets.append(key)
        for header, env in config.header_env.items():
            self.headers[header] = os.environ[env]
            self._secrets.append(self.headers[header])
        self.http = HTTPClient(max_connections=max(1, config.max_in_flight), timeout=config.timeout_s,
                               headers=self.headers)

    def __repr__(self) -> str:
        return f"AnthropicBackend({self.identity!r})"

    @property
    def label(self) -> str:
        return f"model {self.config.name!r} ({self.config.spec or self.identity})"

    def request_body(self, request: Request, *, repeated: bool = False) -> dict[str, Any]:
        """The ``/v1/messages`` body of one sample of ``request``; raises :class:`PermanentError` for a
        request the Messages API cannot take (log probabilities, a raw prompt, temperature > 1)."""
        if request.logprobs:
            raise PermanentError(f"{self.label}: the Anthropic API returns no log probabilities, but this step asks "
                                 "for them (logprobs); turn logprobs off for it or give it a gguf: or openai: model")
        if request.temperature is not None and request.temperature > 1:
            raise PermanentError(f"{self.label}: temperature {request.temperature:g} is above 1, the most the "
                                 "Anthropic API accepts; set temperature between 0 and 1")
        if request.json_schema is not None and request.tools is None and not self.supports_json_schema:
            request = request.replace(json_schema=None)
        try:
            return message_body(self.model, request, prompt_cache=self.prompt_cache, repeated=repeated)
        except MessageFormatError as exc:
            raise PermanentError(f"{self.label}: {exc}") from None

    async def complete(self, request: Request) -> Response:
        """Answer one request; raises RateLimited, TransientError, Timeout or PermanentError."""
        body = orjson.dumps(self.request_body(request, repeated=request.n > 1))
        # the API has no n; with prompt caching the first reply's cache write serves the other samples
        parts = [await self._post(body)] if self.prompt_cache else []
        if len(parts) < request.n:
            tasks = [asyncio.ensure_future(self._post(body)) for _ in range(request.n - len(parts))]
            try:
                parts += await asyncio.gather(*tasks)
            finally:
                for task in tasks:  # one failed: the whole request is retried, so stop the others
                    task.cancel()
        return self.response_of(parts, request)

    def response_of(self, replies: list[dict[str, Any]], request: Request) -> Response:
        """One :class:`Response` from the Message objects answering ``request`` (one per sample)."""
        choices: list[Choice] = []
        usage = Usage()
        model = self.model
        try:
            for reply in replies:
                choice, counts, model = parse_message(reply, request, len(choices))
                choices.append(choice)
                usage.add(counts)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise TransientError(f"{self.identity}: unexpected reply shape ({type(exc).__name__}: {exc})") from exc
        return Response(choices=choices, usage=usage, model=model or self.model)

    async def _post(self, body: bytes) -> dict[str, Any]:
        reply = await self.send("POST", self.messages_url, body)
        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise TransientError(self._redact(f"{self.messages_url}: unparseable JSON in the reply ({exc})")) from exc
        if not isinstance(data, dict):
            raise TransientError(f"{self.messages_url}: the reply is not a JSON object")
        return data

    async def send(self, method: str, url: str, body: bytes = b"") -> HTTPResponse:
        """One API call; a reply other than 200 raises the :class:`ModelError` it stands for.
        (The batch provider calls the other endpoints through this.)"""
        try:
            reply = await self.http.request(method, url, body)
        except ConnectFailed as exc:
            raise TransientError(self._redact(str(exc))) from exc
        except RequestTimeout as exc:
            raise Timeout(self._redact(str(exc))) from exc
        except HTTPError as exc:  # reset, truncated body, malformed HTTP
            raise TransientError(self._redact(str(exc))) from exc
        if reply.status != 200:
            raise self.status_error(reply)
        return reply

    def status_error(self, reply: HTTPResponse) -> ModelError:
        """The model-layer error for an API error reply."""
        status = reply.status
        path = urlsplit(reply.url).path
        message = self._redact(f"{self.label}: {path}: HTTP {status}: {error_message(reply.body)}")
        retry_after = parse_retry_after(reply.headers.get("retry-after"))
        if status in (429, 529):  # 529: the API is overloaded, a back-off signal like 429 (shrinks concurrency)
            return RateLimited(message, retry_after=retry_after, status=status)
        if status >= 500 or status in (408, 409):
            return TransientError(message, retry_after=retry_after, status=status)
        if status == 401:
            env = self.config.api_key_env
            fix = (f"set {env} to a valid Anthropic API key" if env else
                   f"set api_key_env to the variable that holds the API key (e.g. {DEFAULT_KEY_ENV})")
            return PermanentError(f"{self.label}: the API key was refused (HTTP 401); {fix}", status=status)
        if status == 404 and path.endswith("/v1/messages"):
            message += f" (is the model name {self.model!r} right, and is {self.base_url} the API's root?)"
        return PermanentError(message, status=status)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
