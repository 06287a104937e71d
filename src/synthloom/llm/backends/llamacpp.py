"""In-process GGUF models through llama.cpp (``embedded`` and ``gguf:PATH`` model specs).

Concurrent :meth:`LlamaCppBackend.complete` calls share forward passes: a background thread
decodes up to ``config.n_seq`` sequences per ``llama_decode`` (see ``llamacpp_batch``).

How requests become tokens:

* chat ``messages`` are rendered with the model's own Jinja2 chat template (GGUF key
  ``tokenizer.chat_template``) with ``add_generation_prompt=True``;
* a raw ``prompt`` is used exactly as written (Magpie's pre-query templates rely on this).

In both cases special-token text such as ``<|im_start|>`` is parsed as the special token, and a BOS
token is prepended only when the model asks for one (``tokenizer.ggml.add_bos_token``) and the
text does not already start with it, so a template or prompt that writes its own BOS never gets two.

Sampling defaults follow the OpenAI API: ``temperature`` 1.0, ``top_p`` 1.0; ``temperature=0``
is greedy; ``max_tokens`` defaults to 256. Completion ``i`` of a request with ``seed=s`` samples
with seed ``s + i``, so a seeded request gives the same output whatever else runs beside it.
``usage.completion_tokens`` counts generated tokens, not the end-of-generation token; each of
the ``n`` completions processes the prompt itself, ``usage.prompt_tokens`` counts it once.
Logprobs are the model's own: log-softmax of the raw logits, before temperature, top_p and the
``json_schema`` grammar shape the choice. ``json_schema`` becomes a GBNF grammar (llama-cpp-python's
converter) that constrains sampling, so a ``stop`` finish means the output is complete JSON.

Tools: the template gets them when it knows tools, else they are described in the system message
(see ``gguf_chat``). A ``tool_choice`` of ``"required"`` or naming a function constrains the output
with a grammar made from the tool schemas (``llm/tools.py`` ``calls_schema``: ``{"name", "arguments"}``,
or a list of them for parallel calls under ``"required"``), parsed into ``tool_calls`` with ids
derived from the request fingerprint (finish reason ``"tool_calls"``; a call cut by ``max_tokens``
stays text with finish reason ``"length"``). ``"none"`` answers in text; ``"auto"`` (the default
when tools are offered) is refused: a free choice between text and a call is not constrained here.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import logging
import os
import random
import threading
from typing import TYPE_CHECKING, Any

from synthloom.llm.embedded import INSTALL_HINT, EmbeddedModelMissing, embedded_gguf_path
from synthloom.llm.spec import ModelConfig, ModelSpecError
from synthloom.llm.tools import calls_from_json, calls_schema
from synthloom.llm.types import Choice, PermanentError, Request, Response, Usage

if TYPE_CHECKING:
    from synthloom.llm.backends.gguf_chat import GgufChatTemplate
    from synthloom.llm.backends.llamacpp_batch import BatchEngine

DEFAULT_MAX_TOKENS = 256
DEFAULT_N_BATCH = 512
_MIB = 1 << 20


def resolve_gguf_path(config: ModelConfig) -> str:
    """The GGUF file ``config.model`` names (``embedded`` -> the packaged SmolLM2), checked to exist."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelSpecError(f"model {config.name!r} runs in-process and needs llama-cpp-python; {INSTALL_HINT}")
    if config.model == "embedded":
        try:
            return embedded_gguf_path()
        except EmbeddedModelMissing as exc:
            raise ModelSpecError(f"model {config.name!r}: {exc}") from exc
    path = os.path.abspath(os.path.expanduser(config.model))
    where = f"model {config.name!r} (spec {config.spec or 'gguf:' + config.model!r})"
    if not os.path.exists(path):
        raise ModelSpecError(f"{where}: GGUF file {path} does not exist; fix the path after 'gguf:'")
    if not os.path.isfile(path):
        raise ModelSpecError(f"{where}: {path} is not a file; 'gguf:' needs the path of a .gguf file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelSpecError(f"{where}: cannot read {path}: {exc.strerror}") from exc
    if magic != b"GGUF":
        raise ModelSpecError(
            f"{where}: {path} is not a GGUF file (it does not start with 'GGUF'); "
            "convert the model with llama.cpp's convert_hf_to_gguf.py or download a .gguf build"
        )
    return path


def check_model_path(config: ModelConfig) -> None:
    """Raise :class:`ModelSpecError` if ``config`` cannot name a loadable GGUF (run before any model work)."""
    resolve_gguf_path(config)


def gguf_fingerprint(path: str) -> str:
    """Stable content hash of a GGUF: sha256 of its size, first MiB and last MiB (not its path)."""
    size = os.path.getsize(path)
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        digest.update(f.read(_MIB))
        if size > _MIB:
            f.seek(max(_MIB, size - _MIB))
            digest.update(f.read(_MIB))
    return digest.hexdigest()


def _quiet_llama_logs() -> None:
    logger = logging.getLogger("llama-cpp-python")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


class LlamaCppBackend:
    """A GGUF model run in this process by llama.cpp, batching concurrent requests together.

    The model loads on the first request (in a worker thread) and stays loaded until
    :meth:`aclose`. ``n_batch`` caps the tokens per forward pass (decode tokens plus prompt chunks).
    """

    #: a request's ``json_schema`` becomes a llama.cpp grammar: decoding is constrained in-process
    supports_json_schema = True

    def __init__(self, config: ModelConfig, *, n_batch: int | None = None):
        try:
            self.path = resolve_gguf_path(config)
        except ModelSpecError as exc:
            raise PermanentError(str(exc)) from exc
        self.config = config
        self.identity = "llamacpp:" + gguf_fingerprint(self.path)
        self.model_name = os.path.splitext(os.path.basename(self.path))[0]
        self.n_seq = max(1, config.n_seq)
        self.n_batch = max(n_batch or config.n_batch or DEFAULT_N_BATCH, self.n_seq)
        self.n_threads = config.n_threads or len(os.sched_getaffinity(0)) or 1
        self._start_lock = threading.Lock()
        self._engine: BatchEngine | None = None
        self._model: Any = None
        self._template: GgufChatTemplate | None = None
        self._template_error: str | None = None
        self._grammars: dict[str, str] = {}
        self._closed = False

    async def complete(self, request: Request) -> Response:
        """Generate ``request.n`` completions; waits without blocking the event loop."""
        if self._engine is None:
            await asyncio.to_thread(self._start)
        engine = self._engine
        if engine is None or self._closed:
            raise PermanentError(f"the llama.cpp backend for {self.model_name} is closed")
        from synthloom.llm.backends.llamacpp_batch import GenerationJob

        tokens = self._prompt_tokens(request)
        if len(tokens) >= engine.n_ctx_seq:
            raise PermanentError(
                f"the prompt has {len(tokens)} tokens but {self.model_name} has a context of {engine.n_ctx_seq} "
                f"tokens per sequence (model {self.config.name!r}); shorten the prompt or raise the model "
                f"setting n_ctx"
            )
        max_tokens = DEFAULT_MAX_TOKENS if request.max_tokens is None else request.max_tokens
        if max_tokens < 1:
            raise PermanentError(f"max_tokens must be at least 1, got {max_tokens}")
        unknown = [key for key, _ in request.extra]
        if unknown:
            raise PermanentError(f"the llamacpp backend does not support the extra request field(s) {unknown}")
        schema = request.json_schema
        forced = self._forced_calls(request)
        if forced:
            schema = calls_schema(request.tools, request.tool_choice)
        loop = asyncio.get_running_loop()
        job = GenerationJob(
            prompt_tokens=tokens,
            n=request.n,
            max_tokens=max_tokens,
            temperature=1.0 if request.temperature is None else max(0.0, float(request.temperature)),
            top_p=1.0 if request.top_p is None else float(request.top_p),
            seed=random.getrandbits(32) if request.seed is None else int(request.seed),
            stop=tuple(s for s in request.stop or () if s),
            grammar=None if schema is None else self._grammar(schema),
            logprobs=request.logprobs or bool(request.top_logprobs),
            top_logprobs=request.top_logprobs or 0,
            loop=loop,
            future=loop.create_future(),
        )
        engine.submit(job)
        try:
            results = await job.future  # type: ignore[misc]
        except asyncio.CancelledError:
            job.cancelled = True
            raise
        choices = [choice for choice, _ in results]
        if forced:
            for i, choice in enumerate(choices):
                _read_calls(choice, request, i)
        return Response(
            choices=choices,
            usage=Usage(prompt_tokens=len(tokens), completion_tokens=sum(n for _, n in results)),
            model=self.model_name,
        )

    def _forced_calls(self, request: Request) -> bool:
        """Whether ``request`` must answer with tool calls (a grammar constrains them)."""
        if request.tools is None or request.tool_choice == "none":
            return False
        if request.tool_choice in (None, "auto"):
            raise PermanentError(
                f"model {self.config.name!r} (llamacpp) makes tool calls only when they are forced: set tool_choice "
                "to 'required' or {'type': 'function', 'function': {'name': NAME}} ('auto' is not supported in-process)"
            )
        if request.json_schema is not None:
            raise PermanentError(f"model {self.config.name!r} (llamacpp): a request cannot force both a json_schema "
                                 "and a tool call; drop one of them")
        return True

    async def aclose(self) -> None:
        """Stop the scheduler thread and free the context and the model (safe to call twice)."""
        self._closed = True
        await asyncio.to_thread(self._stop)

    # ------------------------------------------------------------------ model lifetime

    def _start(self) -> None:
        with self._start_lock:
            if self._engine is not None or self._closed:
                return
            _quiet_llama_logs()
            import llama_cpp

            from synthloom.llm.backends.llamacpp_batch import BatchEngine

            llama_cpp.llama_backend_init()
            model = llama_cpp.llama_model_load_from_file(
                self.path.encode("utf-8"), llama_cpp.llama_model_default_params()
            )
            if not model:
                raise PermanentError(f"llama.cpp could not load {self.path}; is it a complete, supported GGUF?")
            try:
                self._load_template(model)
                self._engine = BatchEngine(
                    model,
                    n_seq=self.n_seq,
                    n_ctx_seq=self.config.n_ctx,
                    n_batch=self.n_batch,
                    n_threads=self.n_threads,
                    prefix_cache=self.config.prefix_cache,
                )
            except BaseException:
                llama_cpp.llama_model_free(model)
                raise
            self._model = model

    def _stop(self) -> None:
        with self._start_lock:
            engine, self._engine = self._engine, None
            if engine is not None:
                engine.close()
            if self._model is not None:
                import llama_cpp

                llama_cpp.llama_model_free(self._model)
                self._model = None

    def _load_template(self, model: Any) -> None:
        import llama_cpp

        from synthloom.llm.backends.gguf_chat import ChatTemplateError, GgufChatTemplate

        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._bos = llama_cpp.llama_vocab_bos(self._vocab)
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab)) and self._bos >= 0
        source = llama_cpp.llama_model_chat_template(model, None)
        if not source:
            self._template_error = (
                f"{self.path} has no chat template (GGUF key tokenizer.chat_template); "
                "send raw `prompt` requests to this model"
            )
            return
        eos = llama_cpp.llama_vocab_eos(self._vocab)
        try:
            self._template = GgufChatTemplate(
                source.decode("utf-8"),
                bos_token=self._special_text(self._bos),
                eos_token=self._special_text(eos),
                model_name=self.model_name,
            )
        except ChatTemplateError as exc:
            self._template_error = str(exc)

    def _special_text(self, token: int) -> str:
        import llama_cpp

        if token < 0:
            return ""
        return (llama_cpp.llama_vocab_get_text(self._vocab, token) or b"").decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ request -> tokens

    def _prompt_tokens(self, request: Request) -> list[int]:
        from synthloom.llm.backends.gguf_chat import ChatTemplateError

        if request.messages is not None:
            if self._template is None:
                raise PermanentError(self._template_error or f"{self.model_name} has no chat template")
            try:
                text = self._template.render(request.messages, request.tools)
            except ChatTemplateError as exc:
                raise PermanentError(str(exc)) from exc
        else:
            text = request.prompt or ""
        tokens = self.tokenize(text)
        if self._add_bos and (not tokens or tokens[0] != self._bos):
            tokens.insert(0, self._bos)
        if not tokens:
            raise PermanentError("the prompt is empty and the model has no BOS token to start from")
        return tokens

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` with special-token text parsed and no BOS/EOS added (needs a loaded model)."""
        from synthloom.llm.backends.llamacpp_batch import tokenize

        return tokenize(self._vocab, text)

    def _grammar(self, schema: dict[str, Any]) -> str:
        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            try:
                grammar = json_schema_to_gbnf(json.dumps(grammar_schema(schema)))
            except Exception as exc:  # noqa: BLE001 - the converter raises many kinds on bad schemas
                raise PermanentError(f"cannot turn the request's json_schema into a llama.cpp grammar: {exc}") from exc
            self._grammars[key] = grammar
        return grammar


#: the longest ``maxLength`` written into a grammar: llama.cpp's converter nests one optional rule per
#: character, and at about 2,000 the grammar no longer parses ("failed to parse grammar")
GRAMMAR_MAX_LENGTH = 1000


def grammar_schema(schema: Any) -> Any:
    """``schema`` as the grammar enforces it: a string's ``maxLength`` over :data:`GRAMMAR_MAX_LENGTH` is left
    out (the reply is still validated against the whole schema, and ``max_tokens`` bounds it)."""
    if isinstance(schema, dict):
        out = {k: grammar_schema(v) for k, v in schema.items()}
        if isinstance(out.get("maxLength"), int) and out["maxLength"] > GRAMMAR_MAX_LENGTH:
            del out["maxLength"]
        return out
    if isinstance(schema, list):
        return [grammar_schema(v) for v in schema]
    return schema


def _read_calls(choice: Choice, request: Request, index: int) -> None:
    """Turn a grammar-constrained answer into ``choice.tool_calls`` (a cut-off one stays text)."""
    if choice.finish_reason != "stop":
        return
    calls = calls_from_json(choice.text, request.fingerprint(), index)
    if calls is not None:
        choice.tool_calls = calls
        choice.text = ""
        choice.finish_reason = "tool_calls"
