"""The ``openai`` backend: any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama,
TGI, OpenAI) over the lean keep-alive client of ``llm/http_client.py``.

It maps a :class:`Request` onto ``/chat/completions`` or ``/completions`` and the reply back onto a
:class:`Response`, and turns every failure into the right :class:`ModelError` subclass. ``tools``
and ``tool_choice`` are sent as they are; ``message.tool_calls`` come back as :class:`ToolCall`
objects (arguments parsed; text that is not a JSON object kept raw and marked, a missing id derived
from the request), with finish reason ``"tool_calls"`` also where a server says ``"stop"``. It never
retries: the retry layer around it decides, from the exception type, what to do.
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from synthloom.llm.backends.prompt_logprobs import PromptLogprobs
from synthloom.llm.http_client import (
    ConnectFailed,
    HTTPClient,
    HTTPError,
    HTTPResponse,
    RequestTimeout,
)
from synthloom.llm.spec import ModelConfig, ModelSpecError
from synthloom.llm.tools import ToolCall, stable_call_id
from synthloom.llm.types import (
    Choice,
    ModelError,
    PermanentError,
    RateLimited,
    Request,
    Response,
    Timeout,
    TokenLogprob,
    TransientError,
    Usage,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
ENDPOINTS = ("auto", "chat", "completions")
_SCHEMA_REJECTED = re.compile(r"response_format|json_schema", re.IGNORECASE)
_SCHEMA_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class OpenAIBackend:
    """A :class:`~synthloom.llm.types.ModelBackend` for OpenAI-compatible HTTP servers.

    Chat requests go to ``/chat/completions`` and raw prompts to ``/completions`` (``endpoint
    "auto"``), or all to one endpoint when ``config.endpoint`` forces it. The API key comes from
    the environment variable named by ``config.api_key_env``, extra headers from
    ``config.header_env``; their values never appear in errors, reprs or logs.

    ``supports_json_schema`` starts as ``config.supports_json_schema``. When that is ``None`` and the
    server rejects ``response_format`` (a 400, 422 or 500 naming it), the request is sent again without it (the
    structured-output layer then validates client side) and, unless the server accepted a schema
    before, ``supports_json_schema`` becomes ``False`` so later requests skip it.
    """

    #: every request carries ``config.timeout_s`` as its deadline in the HTTP client (-> Timeout)
    enforces_timeout = True

    def __init__(self, config: ModelConfig):
        if config.endpoint not in ENDPOINTS:
            raise ModelSpecError(f"model {config.name!r}: endpoint must be one of {', '.join(ENDPOINTS)}, "
                                 f"not {config.endpoint!r}")
        base = (config.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelSpecError(f"model {config.name!r}: base URL {base!r} must look like http://host:port/v1")
        if parts.username or parts.password:
            raise ModelSpecError(f"model {config.name!r}: do not put credentials in the base URL; "
                                 "name an environment variable with api_key_env or header_env instead")
        self.config = config
        self.model = config.model
        self.base_url = base
        self.identity = f"openai:{config.model}@{base}"
        self.supports_json_schema = config.supports_json_schema
        self._schema_accepted = False
        self._chat_url = f"{base}/chat/completions"
        self._completions_url = f"{base}/completions"
        self.prompt_logprobs = PromptLogprobs(self)
        headers = {"Content-Type": "application/json"}
        self._secrets: list[str] = []
        self._missing_key_env: str | None = None
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
                self._secrets.append(key)
            else:
                self._missing_key_env = config.api_key_env
        for header, env in config.header_env.items():
            value = os.environ.get(env)
            if value is None:
                raise ModelSpecError(f"model {config.name!r}: header {header!r} takes its value from environment "
                                     f"variable {env}, which is not set")
            headers[header] = value
            self._secrets.append(value)
        self._headers = headers  # also sent by the batch provider (llm/batch/openai.py)
        self._http = HTTPClient(max_connections=max(1, config.max_in_flight), timeout=config.timeout_s,
                                headers=headers)

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.identity!r})"

    async def complete(self, request: Request) -> Response:
        """Answer one request; raises RateLimited, TransientError, Timeout or PermanentError."""
        if request.prompt_logprobs:
            return await self.prompt_logprobs.complete(request)
        chat = self._is_chat(request)
        url = self._chat_url if chat else self._completions_url
        with_schema = request.json_schema is not None and self.supports_json_schema is not False
        try:
            response = await self._complete_all(url, request, chat, with_schema)
        except (PermanentError, TransientError) as exc:
            # 400/422 from most servers; llama-cpp-python's server answers 500 to an unknown response_format
            if not (with_schema and self.config.supports_json_schema is None and exc.status in (400, 422, 500)
                    and _SCHEMA_REJECTED.search(str(exc))):
                raise
            if not self._schema_accepted:
                self.supports_json_schema = False
            log.info("%s rejected response_format json_schema; sending without it (validated client side)",
                     self.identity)
            return await self._complete_all(url, request, chat, False)
        if with_schema and not self._schema_accepted:
            self._schema_accepted = True
            if self.supports_json_schema is None:
                self.supports_json_schema = True
        return response

    def _is_chat(self, request: Request) -> bool:
        endpoint = self.config.endpoint
        if endpoint == "completions" and request.is_chat:
            raise PermanentError(f"model {self.config.name!r} is set to endpoint 'completions', which cannot take "
                                 "chat messages; use endpoint 'auto' or 'chat' for chat requests")
        return endpoint == "chat" or request.is_chat

    async def _complete_all(self, url: str, request: Request, chat: bool, with_schema: bool) -> Response:
        response = self._parse(await self._post(url, self.request_body(request, chat, with_schema)), chat, request)
        while len(response.choices) < request.n:  # servers that ignore `n` (e.g. llama.cpp) get asked again
            missing = request.n - len(response.choices)
            seed = None if request.seed is None else request.seed + len(response.choices)
            more = self._parse(await self._post(url, self.request_body(
                request.replace(n=missing, seed=seed), chat, with_schema)), chat, request)
            if not more.choices:
                raise TransientError(f"{url}: the server returned no choices")
            response.choices.extend(more.choices[:missing])
            response.usage.add(more.usage)
        return response

    def request_body(self, request: Request, chat: bool, with_schema: bool = True) -> dict[str, Any]:
        """The JSON body sent for ``request`` (``chat`` picks the chat or the completions format)."""
        body: dict[str, Any] = {"model": self.model}
        if request.messages is not None:
            body["messages"] = request.messages
        elif chat:
            body["messages"] = ({"role": "user", "content": request.prompt},)
        else:
            body["prompt"] = request.prompt
        if request.n != 1:
            body["n"] = request.n
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = request.stop
        if request.seed is not None:
            body["seed"] = request.seed
        if request.logprobs:
            if chat:
                body["logprobs"] = True
                if request.top_logprobs:
                    body["top_logprobs"] = request.top_logprobs
            else:  # legacy format: an int; at least 1, as some servers read 0 as "off"
                body["logprobs"] = max(request.top_logprobs or 0, 1)
        if request.json_schema is not None and with_schema:
            name = _SCHEMA_NAME_CHARS.sub("_", str(request.json_schema.get("title") or "output"))[:64]
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": name, "schema": request.json_schema, "strict": True}}
        if request.tools is not None:
            body["tools"] = request.tools
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        for key, value in request.extra:
            body[key] = value
        return body

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await self._http.request("POST", url, orjson.dumps(body))
        except ConnectFailed as exc:
            raise TransientError(self._redact(str(exc))) from exc
        except RequestTimeout as exc:
            raise Timeout(self._redact(str(exc))) from exc
        except HTTPError as exc:  # reset, truncated body, malformed HTTP
            raise TransientError(self._redact(str(exc))) from exc
        if reply.status != 200:
            raise self._status_error(url, reply)
        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            detail = f"{url}: unparseable JSON in the reply ({exc}): {_snippet(reply.body)}"
            raise TransientError(self._redact(detail)) from exc
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise TransientError(self._redact(f"{url}: reply without a 'choices' list: {_snippet(reply.body)}"))
        return data

    def _status_error(self, url: str, reply: HTTPResponse) -> ModelError:
        status = reply.status
        message = self._redact(f"{url}: HTTP {status}: {_server_message(reply.body)}")
        retry_after = parse_retry_after(reply.headers.get("retry-after"))
        if status == 429:
            return RateLimited(message, retry_after=retry_after, status=status)
        if status >= 500 or status in (408, 409):
            return TransientError(message, retry_after=retry_after, status=status)
        if status in (401, 403):
            if self._missing_key_env:
                message += f" (environment variable {self._missing_key_env} is not set)"
            elif self.config.api_key_env:
                message += f" (check the API key in environment variable {self.config.api_key_env})"
            else:
                message += " (set api_key_env to the environment variable that holds the API key)"
        elif status == 404:
            message += f" (is the model name {self.model!r} right, and is {self.base_url} the server's /v1 root?)"
        elif 300 <= status < 400:
            message += f" (redirected to {reply.headers.get('location', '?')}; use the final URL as base_url)"
        return PermanentError(message, status=status)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _parse(self, data: dict[str, Any], chat: bool, request: Request) -> Response:
        raw = data["choices"]
        if len(raw) > 1:
            raw = sorted(raw, key=lambda c: c.get("index", 0))
        top_k = request.top_logprobs or 0
        choices = []
        try:
            for c in raw:
                calls: list[ToolCall] = []
                finish = c.get("finish_reason")
                if chat:
                    message = c.get("message") or {}
                    text = _content_text(message.get("content"))
                    reasoning = message.get("reasoning_content") or message.get("reasoning")
                    logprobs = _chat_logprobs(c.get("logprobs"), top_k) if request.logprobs else None
                    calls = _tool_calls(message.get("tool_calls"), request, len(choices))
                    if calls and finish in (None, "stop"):  # OpenAI says "stop" after a forced function call
                        finish = "tool_calls"
                else:
                    text = c.get("text") or ""
                    reasoning = c.get("reasoning_content")
                    logprobs = _completion_logprobs(c.get("logprobs"), top_k) if request.logprobs else None
                choices.append(Choice(text, finish, logprobs, reasoning, calls))
            usage = data.get("usage") or {}
            counts = Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise TransientError(f"{self.identity}: unexpected reply shape ({type(exc).__name__}: {exc})") from exc
        return Response(choices=choices, usage=counts, model=str(data.get("model") or self.model))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


def _tool_calls(raw: Any, request: Request, choice: int) -> list[ToolCall]:
    """The reply's ``message.tool_calls``; arguments that are not a JSON object are kept raw and
    marked (``ToolCall.error``), a missing id is derived from the request."""
    if not raw:
        return []
    calls = []
    for i, call in enumerate(raw):
        fn = call.get("function") or {}
        name = fn.get("name")
        parsed = ToolCall.parse(str(call.get("id") or stable_call_id(request.fingerprint(), choice, i)),
                                name if isinstance(name, str) else "", fn.get("arguments"))
        if not parsed.name and parsed.error is None:
            parsed.error = "the call names no function"
        calls.append(parsed)
    return calls


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _chat_logprobs(logprobs: Any, top_k: int) -> list[TokenLogprob] | None:
    if not logprobs or logprobs.get("content") is None:
        return None
    return [TokenLogprob(t["token"], float(t["logprob"]),
                         [(a["token"], float(a["logprob"])) for a in (t.get("top_logprobs") or [])[:top_k]])
            for t in logprobs["content"]]


def _completion_logprobs(logprobs: Any, top_k: int) -> list[TokenLogprob] | None:
    if not logprobs or logprobs.get("tokens") is None:
        return None
    tops = logprobs.get("top_logprobs") or []
    out = []
    for i, (token, lp) in enumerate(zip(logprobs["tokens"], logprobs.get("token_logprobs") or [])):
        if lp is None:  # an echoed prompt token has no log probability
            continue
        alternatives = sorted((tops[i] or {}).items(), key=lambda kv: -kv[1]) if i < len(tops) and top_k else []
        out.append(TokenLogprob(token, float(lp), [(t, float(v)) for t, v in alternatives[:top_k]]))
    return out


def _server_message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _snippet(body)
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message") or error
        if error is not None:
            return _snippet(error if isinstance(error, str) else orjson.dumps(error))
    return _snippet(body)


def _snippet(text: bytes | str, limit: int = 500) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip() or "(empty body)"
    return text if len(text) <= limit else text[:limit] + "..."


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
