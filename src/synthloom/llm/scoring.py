"""Log-likelihood of given text under a local GGUF model (llama.cpp): the scoring entry point.

Generation backends return logprobs of *generated* tokens; data selection (IFD, perplexity
filters) needs the logprobs of text we already have. :class:`LogLikelihoodScorer` evaluates
``context + continuation`` in one forward pass (in chunks of ``n_batch`` tokens) with logits kept for
every continuation position, and returns ``log p(token_i | everything before it)`` for each
continuation token — the model's own log-softmax of the raw logits, as the llamacpp backend reports
for generated tokens.

Context and continuation are tokenized **separately** and concatenated, so the continuation's tokens
are the same whatever context precedes them (conditioned and unconditioned scores compare the same
tokens). A BOS token starts the sequence when the model asks for one; with no BOS and an empty
context, the first continuation token has nothing to be predicted from and is skipped.

The scorer loads its own copy of the model (one context, one sequence) and is separate from the
generation backend's scheduler, so scoring never disturbs generation. Calls are serialised by a lock;
:func:`get_scorer` shares one scorer per GGUF file and context size within the process.

:func:`scorer_for_model` gives the scorer of a recipe model: this one for a GGUF, or
:class:`~synthloom.llm.server_scoring.ServerScorer` for an OpenAI-compatible server that returns prompt
log-probabilities. Both have ``async ascore(context, continuation) -> ContinuationScore``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .types import PermanentError

if TYPE_CHECKING:
    from .server_scoring import ServerScorer


@dataclass(frozen=True, slots=True)
class ContinuationScore:
    """Per-token log probabilities of a continuation, and how many of its tokens were cut to fit.
    ``tokens`` are token ids (in-process) or token texts (from a server)."""

    logprobs: list[float]
    tokens: list[int] | list[str]
    truncated: int = 0

    @property
    def mean_nll(self) -> float:
        """Average negative log-likelihood per token (the cross-entropy loss)."""
        return -float(np.mean(self.logprobs)) if self.logprobs else float("nan")

    @property
    def perplexity(self) -> float:
        return float(np.exp(self.mean_nll)) if self.logprobs else float("nan")


class LogLikelihoodScorer:
    """Scores text under the GGUF model at ``path`` (see the module docstring)."""

    def __init__(self, path: str, *, n_ctx: int = 2048, n_batch: int = 512, n_threads: int | None = None) -> None:
        import llama_cpp

        if not os.path.isfile(path):
            raise PermanentError(f"GGUF file {path} does not exist")
        self.path = path
        self._lock = threading.Lock()
        llama_cpp.llama_backend_init()
        self._model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), llama_cpp.llama_model_default_params())
        if not self._model:
            raise PermanentError(f"llama.cpp could not load {path}")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.bos = llama_cpp.llama_vocab_bos(self._vocab)
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab)) and self.bos >= 0
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = min(n_batch, n_ctx)
        params.n_seq_max = 1
        params.n_threads = params.n_threads_batch = n_threads or len(os.sched_getaffinity(0)) or 1
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama_cpp.llama_model_free(self._model)
            raise PermanentError(f"llama.cpp could not create a scoring context of {n_ctx} tokens for {path}")
        self.n_ctx = llama_cpp.llama_n_ctx(self._ctx)
        self.n_batch = int(params.n_batch)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (special-token text parsed, no BOS added)."""
        from .backends.llamacpp_batch import tokenize

        return tokenize(self._vocab, text)

    def score(self, context: str, continuation: str) -> ContinuationScore:
        """``log p`` of each token of ``continuation`` given ``context`` and the tokens before it.
        A continuation too long for the context window is cut at the end (``truncated`` says how many
        tokens); a context that leaves no room raises."""
        prefix = ([self.bos] if self.add_bos else []) + self.tokenize(context)
        cont = self.tokenize(continuation)
        if not prefix:
            prefix, cont = cont[:1], cont[1:]  # nothing predicts the very first token
        room = self.n_ctx - len(prefix)
        if room < 1:
            raise PermanentError(f"the context has {len(prefix)} tokens; the scoring window is {self.n_ctx}")
        truncated = max(0, len(cont) - room)
        cont = cont[:room]
        if not cont:
            return ContinuationScore([], [], truncated)
        with self._lock:
            logprobs = self._eval(prefix + cont, first_scored=len(prefix))
        return ContinuationScore(logprobs, cont, truncated)

    async def ascore(self, context: str, continuation: str) -> ContinuationScore:
        """:meth:`score` in a worker thread (the interface the server scorer shares)."""
        return await asyncio.to_thread(self.score, context, continuation)

    def _eval(self, tokens: list[int], first_scored: int) -> list[float]:
        """Decode ``tokens`` from an empty cache; log p(tokens[i]) for i >= ``first_scored``."""
        import llama_cpp

        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)
        out: list[float] = []
        batch = self._batch
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start:start + self.n_batch]
            wanted = []
            for j, tok in enumerate(chunk):
                pos = start + j
                batch.token[j] = tok
                batch.pos[j] = pos
                batch.n_seq_id[j] = 1
                batch.seq_id[j][0] = 0
                predicts = pos + 1 >= first_scored and pos + 1 < len(tokens)
                batch.logits[j] = 1 if predicts else 0
                if predicts:
                    wanted.append((j, tokens[pos + 1]))
            batch.n_tokens = len(chunk)
            rc = llama_cpp.llama_decode(self._ctx, batch)
            if rc != 0:
                raise PermanentError(f"llama_decode failed with code {rc} while scoring {len(tokens)} tokens")
            for j, nxt in wanted:
                ptr = llama_cpp.llama_get_logits_ith(self._ctx, j)
                logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
                peak = logits.max()
                out.append(float(logits[nxt] - (peak + np.log(np.exp(logits - peak).sum()))))
        return out

    def close(self) -> None:
        import llama_cpp

        with self._lock:
            if self._batch is not None:
                llama_cpp.llama_batch_free(self._batch)
                self._batch = None
            if self._ctx:
                llama_cpp.llama_free(self._ctx)
                self._ctx = None
            if self._model:
                llama_cpp.llama_model_free(self._model)
                self._model = None


def scoring_problem(config: Any) -> str | None:
    """Why model ``config`` cannot score given text (None when it can, or may: a server is asked on first use)."""
    label = f"model {config.name!r} ({config.spec or config.backend})"
    if config.backend == "openai":
        if getattr(config, "prompt_logprobs", "auto") == "none":
            return (f"{label} has prompt_logprobs: none, so it cannot score given text; set prompt_logprobs to auto "
                    "(or echo / vllm) if the server offers them, or score with a GGUF model (`gguf:/path/model.gguf`)")
        return None
    if config.backend != "llamacpp":
        return (f"{label} cannot score given text (no prompt log-probabilities); use a GGUF model in-process "
                "(`embedded` or `gguf:/path/model.gguf`) or an OpenAI-compatible server that returns them (vLLM)")
    return None


_SCORERS: dict[tuple[str, int], LogLikelihoodScorer] = {}
_SCORERS_LOCK = threading.Lock()


def get_scorer(path: str, n_ctx: int = 2048, n_threads: int | None = None) -> LogLikelihoodScorer:
    """The process-wide scorer for ``path`` with a ``n_ctx`` window (created on first use)."""
    key = (os.path.abspath(path), n_ctx)
    with _SCORERS_LOCK:
        scorer = _SCORERS.get(key)
        if scorer is None:
            scorer = _SCORERS[key] = LogLikelihoodScorer(key[0], n_ctx=n_ctx, n_threads=n_threads)
        return scorer


def scorer_for_model(models: Any, name: str, n_ctx: int | None = None) -> LogLikelihoodScorer | ServerScorer:
    """The scorer for recipe model ``name``: an in-process GGUF (``embedded`` or ``gguf:PATH``) scores in this
    process, an OpenAI-compatible server by its prompt log-probabilities (``n_ctx`` is then the server's)."""
    configs = getattr(models, "configs", None) or {}
    if name not in configs:
        known = ", ".join(configs) or "none"
        raise PermanentError(f"no model named {name!r} in this recipe (models: {known})")
    config = configs[name]
    problem = scoring_problem(config)
    if problem:
        raise PermanentError(problem)
    if config.backend == "openai":
        from .server_scoring import ServerScorer

        return ServerScorer(models.get(name), name)
    from .backends.llamacpp import resolve_gguf_path
    from .spec import ModelSpecError

    try:
        path = resolve_gguf_path(config)
    except ModelSpecError as e:
        raise PermanentError(str(e)) from e
    return get_scorer(path, n_ctx=n_ctx or min(config.n_ctx, 4096), n_threads=config.n_threads)

