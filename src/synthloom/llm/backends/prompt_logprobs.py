"""Prompt log-probabilities from OpenAI-compatible servers: the log probability of every token of a given text.

Selection methods (IFD, perplexity filters) score text that already exists, so they need
``log p(token_i | tokens before it)`` for the *prompt*. Servers offer this in two ways, chosen per model with
the ``prompt_logprobs`` setting:

``echo``  ``POST /v1/completions`` with ``echo: true, logprobs: 1, max_tokens: 1``: the reply's legacy
          ``logprobs`` cover the echoed prompt and the one generated token (the first prompt token has none).
          llama-cpp-python's server and vLLM answer this; OpenAI's current models do not.
``vllm``  vLLM's extension ``prompt_logprobs: 0`` on ``/v1/completions``: ``choices[0].prompt_logprobs`` is a
          list with ``null`` first, then one ``{token_id: {logprob, rank, decoded_token}}`` per token.
``auto``  (default) tries ``echo``, then ``vllm``, once per backend, and keeps the first that works.
``none``  the server offers neither: scoring fails at once with a message saying what to do.

A reply is checked before it is trusted: an echo reply must contain the prompt and the generated token after
it. llama-cpp-python's server pairs each echoed token with the logits computed *after* that token when the
model adds no BOS token (SmolLM2 and other ChatML models), and drops the generated token; such a reply is
recognised by the missing generated token and refused, since its numbers are not the prompt's log-probabilities.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from synthloom.llm.types import ModelError, PermanentError, PromptToken, Request, Response

if TYPE_CHECKING:
    from synthloom.llm.backends.openai import OpenAIBackend

log = logging.getLogger(__name__)

#: the order ``auto`` tries the modes in
DETECTION_ORDER = ("echo", "vllm")


class PromptLogprobsMissing(PermanentError):
    """The server answered, but without usable prompt log-probabilities in the form asked for."""


class PromptLogprobs:
    """Sends the prompt-log-probability requests of one :class:`OpenAIBackend` (see the module docstring)."""

    def __init__(self, backend: OpenAIBackend) -> None:
        self.backend = backend
        configured = backend.config.prompt_logprobs
        self.mode: str | None = None if configured == "auto" else configured
        self.refusal: str | None = None
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def _detection_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    async def complete(self, request: Request) -> Response:
        """Answer ``request`` (a raw prompt with ``prompt_logprobs``): its first choice carries the tokens."""
        if self.backend.config.endpoint == "chat":
            raise PermanentError(self._label() + " is set to endpoint 'chat'; prompt log-probabilities need the "
                                 "/completions endpoint: set endpoint to 'auto' or 'completions'")
        if self.mode is None:
            async with self._detection_lock():
                if self.mode is None:
                    return await self._detect(request)
        if self.mode == "none":
            raise PermanentError(self.refusal or self._cannot("prompt_logprobs is set to 'none'"))
        try:
            return await self._send(self.mode, request)
        except PromptLogprobsMissing as exc:
            raise PermanentError(self._cannot(f"with prompt_logprobs '{self.mode}': {exc}")) from None

    async def _detect(self, request: Request) -> Response:
        reasons = []
        for mode in DETECTION_ORDER:
            try:
                response = await self._send(mode, request)
            except PromptLogprobsMissing as exc:
                reasons.append(f"{mode}: {exc}")
                continue
            except ModelError as exc:
                if exc.status not in (400, 404, 422, 500, 501):
                    raise  # a timeout, a 429, a dead server: not an answer about prompt log-probabilities
                reasons.append(f"{mode}: HTTP {exc.status}")
                continue
            self.mode = mode
            log.info("%s: prompt log-probabilities by %s", self.backend.identity, mode)
            return response
        self.mode = "none"
        self.refusal = self._cannot("tried " + "; ".join(reasons))
        raise PermanentError(self.refusal)

    def _label(self) -> str:
        config = self.backend.config
        return f"model {config.name!r} ({config.spec or self.backend.identity})"

    def _cannot(self, why: str) -> str:
        return (f"{self._label()} gives no prompt log-probabilities ({why}); score with a server that does (vLLM, "
                "llama-cpp-python's server for models with a BOS token) or with the model in-process "
                "(`gguf:/path/model.gguf`)")

    async def _send(self, mode: str, request: Request) -> Response:
        backend = self.backend
        body = backend.request_body(request, chat=False, with_schema=False)
        body.setdefault("max_tokens", 1)
        if mode == "echo":
            body["echo"] = True
            body["logprobs"] = 1
        else:
            body.pop("logprobs", None)
            body["prompt_logprobs"] = 0
        url = backend._completions_url
        data = await backend._post(url, body)
        response = backend._parse(data, False, request.replace(logprobs=False))
        if not data["choices"] or not response.choices:
            raise PromptLogprobsMissing("the reply has no choices")
        raw = data["choices"][0]
        prompt = request.prompt or ""
        if mode == "echo":
            tokens = echo_tokens(raw, prompt, response.usage.completion_tokens)
            choice_text = response.choices[0].text
            if choice_text.startswith(prompt):  # the echoed prompt is not part of the answer
                response.choices[0].text = choice_text[len(prompt):]
        else:
            tokens = vllm_tokens(raw.get("prompt_logprobs", data.get("prompt_logprobs")), prompt)
        response.choices[0].prompt_logprobs = tokens
        return response


def echo_tokens(choice: dict[str, Any], prompt: str, completion_tokens: int) -> list[PromptToken]:
    """The prompt's tokens from an ``echo`` reply's legacy ``logprobs`` (the generated tokens dropped)."""
    text = choice.get("text")
    if not isinstance(text, str) or not text.startswith(prompt):
        raise PromptLogprobsMissing("the reply does not echo the prompt")
    logprobs = choice.get("logprobs") or {}
    tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values) or not tokens:
        raise PromptLogprobsMissing("the reply has no token log-probabilities")
    generated = text[len(prompt):]
    if completion_tokens > 0 and generated and not "".join(tokens[-completion_tokens:]).endswith(generated):
        raise PromptLogprobsMissing(
            "its echoed log-probabilities leave out the generated token, the sign that each prompt token was paired "
            "with the logits after it (llama-cpp-python's server does this for models that add no BOS token)")
    keep = len(tokens) - completion_tokens if completion_tokens > 0 and generated else len(tokens)
    out = []
    for token, value in zip(tokens[:keep], values[:keep]):
        out.append(PromptToken(str(token), None if value is None else float(value)))
    return out


def vllm_tokens(entries: Any, prompt: str) -> list[PromptToken]:
    """The prompt's tokens from vLLM's ``prompt_logprobs`` (``null``, then ``{id: {logprob, decoded_token}}``).

    With ``prompt_logprobs: 0`` each entry holds the prompt token alone; were there more, the first is the
    prompt's own (vLLM puts it first). The first token's text is what the others leave of the prompt."""
    if not isinstance(entries, list) or not entries:
        raise PromptLogprobsMissing("the reply has no prompt_logprobs")
    out: list[PromptToken] = []
    for entry in entries:
        if entry is None:
            out.append(PromptToken("", None))
            continue
        if not isinstance(entry, dict) or not entry:
            raise PromptLogprobsMissing(f"unexpected prompt_logprobs entry {entry!r:.80}")
        info = next(iter(entry.values()))
        if isinstance(info, dict):
            out.append(PromptToken(str(info.get("decoded_token") or ""), float(info["logprob"])))
        else:
            out.append(PromptToken("", float(info)))
    rest = "".join(t.token for t in out[1:])
    if out[0].logprob is None and not out[0].token and prompt.endswith(rest):
        out[0] = PromptToken(prompt[: len(prompt) - len(rest)], None)
    return out


def continuation_logprobs(tokens: list[PromptToken], continuation: str) -> tuple[list[str], list[float]]:
    """The tokens at the end of ``tokens`` that spell ``continuation``, and their log-probabilities.

    Tokens are taken from the end until their text covers ``continuation``; a token that spans the join with the
    context counts as the continuation's (the server saw one joint text). A token nothing predicts is left out."""
    need = len(continuation)
    covered = 0
    start = len(tokens)
    while start > 0 and covered < need:
        start -= 1
        covered += len(tokens[start].token)
    picked = [t for t in tokens[start:] if t.logprob is not None]
    return [t.token for t in picked], [float(t.logprob) for t in picked]  # type: ignore[arg-type]
