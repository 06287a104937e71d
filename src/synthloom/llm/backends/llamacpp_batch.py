"""Continuous batching over one llama.cpp context: concurrent requests share forward passes.

One background thread owns the llama.cpp model and context. Requests arrive as
:class:`GenerationJob` objects (already tokenized); each of their ``n`` completions becomes a
*sequence* with its own KV-cache stream (``seq_id``) and its own sampler chain. Every
``llama_decode`` call carries one token for each decoding sequence plus chunks of the prompts of
newly admitted sequences (chunked prefill), up to ``n_batch`` tokens. A finished sequence clears
its slot for the next waiting one. Results go back to the asyncio loop that submitted the job
through ``call_soon_threadsafe``, so the event loop never blocks on the model.

With ``prefix_cache`` on, a finished sequence's tokens stay in its slot's KV stream, and a new
sequence whose prompt starts with tokens some slot holds reuses them (``llamacpp_prefix``): it takes
over that slot or gets a copy of its stream, and decodes only the rest of its prompt.
"""

from __future__ import annotations

import asyncio
import bisect
import codecs
import collections
import ctypes
import threading
from dataclasses import dataclass, field
from typing import Any

import llama_cpp
import numpy as np

from synthloom.llm.backends.llamacpp_grammar import GrammarGate
from synthloom.llm.backends.llamacpp_prefix import Admission, PrefixIndex
from synthloom.llm.types import Choice, ModelError, PermanentError, TokenLogprob, TransientError

_U32 = 0xFFFFFFFF

#: tokens per llama.cpp micro-batch with one thread. On one thread the CPU kernels compute a micro-batch of
#: fewer than 64 tokens with the same rounding whatever its size and whichever sequences share it
#: (measured: logits bit-identical for every way of cutting a 300-token prompt into batches, and for a
#: request decoded alone or beside others), while from 64 tokens on they take another path. Below that
#: bound a token's numbers depend only on the tokens before it: greedy outputs do not change with
#: concurrency, prompt chunking or prefix reuse. With more threads llama.cpp splits attention work by the
#: size of the batch's KV window, so numbers depend on the batch whatever the micro-batch size; there the
#: engine uses full-size micro-batches, which prefill about 20% faster on 2 cores.
UBATCH = 32


def tokenize(vocab: Any, text: str) -> list[int]:
    """Token ids of ``text`` in ``vocab`` (a ``llama_model_get_vocab`` handle): special-token text
    parsed, no BOS/EOS added."""
    data = text.encode("utf-8")
    capacity = len(data) + 8
    buf = (llama_cpp.llama_token * capacity)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, capacity, False, True)
    if n < 0:
        capacity = -n
        buf = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, capacity, False, True)
    return list(buf[:n])


@dataclass(eq=False)
class GenerationJob:
    """One tokenized request waiting for its ``n`` completions.

    ``seed`` is the seed of completion 0; completion ``i`` samples with ``seed + i``.
    ``temperature == 0`` means greedy decoding. ``grammar`` is GBNF source (root rule ``root``).
    """

    prompt_tokens: list[int]
    n: int
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop: tuple[str, ...] = ()
    grammar: str | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[list[tuple[Choice, int]]] | None = None
    results: list[tuple[Choice, int] | None] = field(default_factory=list)
    cancelled: bool = False
    failed: bool = False


class _Sequence:
    """One completion being generated: its KV slot, sampler chain, output so far."""

    __slots__ = (
        "job", "index", "slot", "sampler", "grammar", "cursor", "n_past", "pending", "n_generated",
        "text", "decoder", "token_starts", "logprobs", "keys",
    )

    def __init__(self, job: GenerationJob, index: int):
        self.job = job
        self.index = index
        self.slot = -1
        self.sampler: Any = None
        self.grammar: GrammarGate | None = None  # the request's json_schema as a grammar, checked per drawn token
        self.cursor = 0  # prompt tokens already sent to llama_decode
        self.n_past = 0  # tokens in this sequence's KV stream (= position of the next token)
        self.pending = -1  # sampled token not yet decoded
        self.n_generated = 0
        self.text = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.token_starts: list[int] = []
        self.logprobs: list[TokenLogprob] | None = [] if job.logprobs else None
        self.keys: list[int] | None = None  # block hashes of the prompt (prefix index)


class BatchEngine:
    """Owns a llama.cpp model and multi-sequence context; decodes many sequences per batch.

    ``n_seq`` sequences decode together; each has a context of ``n_ctx_seq`` tokens (the KV cache
    holds ``n_seq * n_ctx_seq`` tokens, one stream per sequence). ``n_batch`` caps the tokens per
    ``llama_decode`` call (decode tokens first, then prompt chunks). ``prefix_cache`` reuses KV
    cells of shared prompt prefixes; ``stats`` counts prompt tokens decoded and reused, and grammar redraws.
    """

    def __init__(self, model: Any, *, n_seq: int, n_ctx_seq: int, n_batch: int, n_threads: int,
                 prefix_cache: bool = False):
        self.model = model
        self.vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        #: True: a grammar masks the whole vocabulary before every draw (llama.cpp's ``grammar_first``;
        #: slower, the same greedy tokens) instead of checking the drawn token (``llamacpp_grammar``)
        self.grammar_first = False
        self.n_seq = n_seq
        self.n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx_seq * n_seq
        params.n_batch = n_batch
        params.n_ubatch = min(n_batch, UBATCH) if n_threads == 1 else n_batch
        params.n_seq_max = n_seq
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.kv_unified = False
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(model, params)
        if not self.ctx:
            raise PermanentError(
                f"llama.cpp could not create a context of {n_seq} sequences x {n_ctx_seq} tokens; "
                "lower n_seq or n_ctx in the model settings"
            )
        self.n_ctx_seq = llama_cpp.llama_n_ctx_seq(self.ctx)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self._alloc_batch(n_batch)
        self._pieces: dict[int, bytes] = {}
        self._piece_buf = ctypes.create_string_buffer(256)
        self._cv = threading.Condition()
        self._incoming: list[GenerationJob] = []
        self._stopping = False
        self._waiting: collections.deque[_Sequence] = collections.deque()
        self._active: list[_Sequence] = []
        self._free_slots = list(range(n_seq))  # sorted
        self._slot_seq: list[_Sequence | None] = [None] * n_seq
        self.prefix_cache = prefix_cache
        self.index = PrefixIndex(n_seq)
        self.stats = {"prompt_tokens": 0, "reused_tokens": 0, "copies": 0, "grammar_redraws": 0}
        self._thread = threading.Thread(target=self._run, name="synthloom-llamacpp", daemon=True)
        self._thread.start()

    def _alloc_batch(self, n: int) -> None:
        self._tok = np.zeros(n, dtype=np.int32)
        self._pos = np.zeros(n, dtype=np.int32)
        self._nsid = np.ones(n, dtype=np.int32)
        self._sid = np.zeros(n, dtype=np.int32)
        self._out = np.zeros(n, dtype=np.int8)
        sid_base = self._sid.ctypes.data
        self._sid_ptrs = (ctypes.POINTER(ctypes.c_int32) * n)(
            *[ctypes.cast(sid_base + 4 * i, ctypes.POINTER(ctypes.c_int32)) for i in range(n)]
        )
        self._batch = llama_cpp.llama_batch()
        self._batch.token = self._tok.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        self._batch.embd = ctypes.POINTER(ctypes.c_float)()
        self._batch.pos = self._pos.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        self._batch.n_seq_id = self._nsid.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        self._batch.seq_id = ctypes.cast(self._sid_ptrs, ctypes.POINTER(ctypes.POINTER(ctypes.c_int32)))
        self._batch.logits = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))

    # ----------------------------------------------------------------- asyncio-facing side

    def submit(self, job: GenerationJob) -> None:
        """Queue a job; its ``future`` (on ``job.loop``) gets the ``(Choice, n_tokens)`` list."""
        job.results = [None] * job.n
        with self._cv:
            if self._stopping:
                raise PermanentError("the llama.cpp backend is closed")
            self._incoming.append(job)
            self._cv.notify()

    def close(self) -> None:
        """Stop the thread (failing unfinished jobs) and free the context. Blocks until done."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._thread.join()

    # ----------------------------------------------------------------- scheduler thread

    def _run(self) -> None:
        try:
            while True:
                with self._cv:
                    while not self._stopping and not self._incoming and not self._active and not self._waiting:
                        self._cv.wait()
                    if self._stopping:
                        break
                    incoming, self._incoming = self._incoming, []
                for job in incoming:
                    self._waiting.extend(_Sequence(job, i) for i in range(job.n))
                self._drop_cancelled()
                self._admit()
                self._compact()
                if self._active:
                    self._step()
        except BaseException as exc:  # noqa: BLE001 - a crash must reach every waiting caller
            self._fail_all(TransientError(f"llama.cpp scheduler crashed: {exc!r}"))
            raise
        finally:
            self._fail_all(PermanentError("the llama.cpp backend was closed before the request finished"))
            llama_cpp.llama_free(self.ctx)
            self.ctx = None

    def _fail_all(self, error: ModelError) -> None:
        with self._cv:
            self._stopping = True
            incoming, self._incoming = self._incoming, []
        for seq in list(self._active) + list(self._waiting):
            self._release(seq)
            self._fail(seq.job, error)
        self._active.clear()
        self._waiting.clear()
        for job in incoming:
            self._fail(job, error)

    def _drop_cancelled(self) -> None:
        if any(s.job.cancelled or s.job.failed for s in self._waiting):
            self._waiting = collections.deque(s for s in self._waiting if not (s.job.cancelled or s.job.failed))
        for seq in [s for s in self._active if s.job.cancelled or s.job.failed]:
            self._release(seq)

    def _admit(self) -> None:
        deferred: list[_Sequence] = []
        while self._waiting and self._free_slots:
            seq = self._waiting.popleft()
            if seq.job.cancelled or seq.job.failed:
                continue
            plan = self._plan(seq)
            if plan is None:  # a slot still prefilling will hold a longer shared prefix: wait for it
                deferred.append(seq)
                continue
            try:
                seq.sampler, seq.grammar = self._make_sampler(seq.job, seq.index)
            except PermanentError as exc:
                self._fail(seq.job, exc)
                continue
            self._place(seq, plan)
        self._waiting.extendleft(reversed(deferred))

    def _plan(self, seq: _Sequence) -> Admission | None:
        if not self.prefix_cache:
            return Admission(self._free_slots[0], None, 0)
        if seq.keys is None:
            seq.keys = self.index.chain(seq.job.prompt_tokens)
        ready = [len(self.index.tokens(slot)) if owner is None else owner.n_past
                 for slot, owner in enumerate(self._slot_seq)]
        return self.index.plan(seq.job.prompt_tokens, seq.keys, self._free_slots, ready)

    def _place(self, seq: _Sequence, plan: Admission) -> None:
        """Put ``seq`` into the free slot ``plan.slot`` with the planned prefix of its prompt in its KV stream."""
        slot, reuse = plan.slot, plan.reuse
        self._free_slots.remove(slot)
        if plan.source is not None and plan.source != slot:
            # across KV streams llama.cpp copies a whole stream (at the next decode); the tail is dropped below
            llama_cpp.llama_memory_seq_cp(self.memory, plan.source, slot, -1, -1)
            self.stats["copies"] += 1
        if plan.source is None or not llama_cpp.llama_memory_seq_rm(self.memory, slot, reuse, -1):
            llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)
            reuse = 0
        self.index.assign(slot, seq.job.prompt_tokens, seq.keys)
        seq.slot = slot
        seq.cursor = seq.n_past = reuse
        self.stats["prompt_tokens"] += len(seq.job.prompt_tokens)
        self.stats["reused_tokens"] += reuse
        self._slot_seq[slot] = seq
        self._active.append(seq)

    def _compact(self) -> None:
        """Move the highest-slot sequence into the lowest free slot while one lies below it.

        llama.cpp runs each run of consecutive sequence ids as its own micro-batch (one more pass
        over the weights), so holes left by finished sequences slow every later step. With nothing
        waiting to fill a hole, the KV stream is copied down instead (done at the next decode); the
        slot moved from keeps what it held, for reuse.
        """
        if self._waiting:
            return
        while self._free_slots and self._active:
            top = max(self._active, key=lambda seq: seq.slot)
            # with prefix reuse on, a hole holding a prefix no other slot holds is kept for reuse
            holes = [slot for slot in self._free_slots if slot < top.slot
                     and (not self.prefix_cache or self.index.lost_if_cut(slot, 0) < self.index.block)]
            if not holes:
                return
            hole = holes[0]
            self._free_slots.remove(hole)
            llama_cpp.llama_memory_seq_cp(self.memory, top.slot, hole, -1, -1)
            self.index.copy(top.slot, hole)
            self._slot_seq[hole], self._slot_seq[top.slot] = top, None
            self._vacate(top.slot, top.n_past)
            top.slot = hole

    def _make_sampler(self, job: GenerationJob, index: int) -> tuple[Any, GrammarGate | None]:
        """The sequence's sampler chain (temperature, top-p, seeded draw, or greedy) and, for a request
        with a grammar, the gate that checks each drawn token against it (``llamacpp_grammar``)."""
        grammar = None
        if job.grammar is not None and not self.grammar_first:
            try:
                grammar = GrammarGate(self.vocab, job.grammar, self.n_vocab)
            except ValueError:
                raise PermanentError("llama.cpp could not compile the grammar made from the request's json_schema") from None
        chain_params = llama_cpp.llama_sampler_chain_default_params()
        chain_params.no_perf = True
        chain = llama_cpp.llama_sampler_chain_init(chain_params)
        if job.grammar is not None and self.grammar_first:  # mask the vocabulary before every draw
            masking = llama_cpp.llama_sampler_init_grammar(self.vocab, job.grammar.encode("utf-8"), b"root")
            if not masking:
                llama_cpp.llama_sampler_free(chain)
                raise PermanentError("llama.cpp could not compile the grammar made from the request's json_schema")
            llama_cpp.llama_sampler_chain_add(chain, masking)
        if job.temperature <= 0.0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(job.temperature))
            if job.top_p < 1.0:
                llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(job.top_p, 1))
            seed = (job.seed + index) & _U32
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
        return chain, grammar

    def _step(self) -> None:
        # Work for this forward pass: one token per decoding sequence, then prompt chunks of newly
        # admitted sequences (in admission order) until n_batch tokens.
        budget = self.n_batch - sum(1 for seq in self._active if seq.pending >= 0)
        work: list[tuple[_Sequence, int]] = []  # (sequence, prompt tokens to send; 0 = decode step)
        for seq in self._active:
            if seq.pending >= 0:
                work.append((seq, 0))
            elif budget > 0:
                take = min(budget, len(seq.job.prompt_tokens) - seq.cursor)
                work.append((seq, take))
                budget -= take
        # With one KV stream per sequence, llama.cpp splits a batch into micro-batches of sequences
        # with consecutive ids in batch order, so tokens are laid out by ascending slot.
        work.sort(key=lambda item: item[0].slot)
        n = 0
        outputs: list[tuple[int, _Sequence]] = []
        tok, pos, sid, out = self._tok, self._pos, self._sid, self._out
        for seq, take in work:
            if take == 0:
                tok[n], pos[n], sid[n], out[n] = seq.pending, seq.n_past, seq.slot, 1
                outputs.append((n, seq))
                n += 1
                continue
            tok[n:n + take] = seq.job.prompt_tokens[seq.cursor:seq.cursor + take]
            pos[n:n + take] = np.arange(seq.cursor, seq.cursor + take, dtype=np.int32)
            sid[n:n + take] = seq.slot
            out[n:n + take] = 0
            if seq.cursor + take == len(seq.job.prompt_tokens):
                out[n + take - 1] = 1
                outputs.append((n + take - 1, seq))
            n += take
        if n == 0:
            return
        self._batch.n_tokens = n
        rc = llama_cpp.llama_decode(self.ctx, self._batch)
        if rc != 0:
            error = TransientError(f"llama_decode failed with code {rc} on a batch of {n} tokens")
            for seq, _ in work:
                self._release(seq, keep=False)
                self._fail(seq.job, error)
            return
        for seq, take in work:
            seq.cursor += take
            seq.n_past += take if take else 1
            if not take:
                self.index.append(seq.slot, seq.pending)
        for index, seq in outputs:
            self._sample(seq, index)

    def _sample(self, seq: _Sequence, index: int) -> None:
        token = llama_cpp.llama_sampler_sample(seq.sampler, self.ctx, index)
        if seq.grammar is not None:
            token = seq.grammar.pick(seq.sampler, self.ctx, index, token)
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            self._finish(seq, "stop")
            return
        if seq.logprobs is not None:
            seq.logprobs.append(self._logprob(index, token, seq.job.top_logprobs))
        seq.n_generated += 1
        start = len(seq.text)
        seq.token_starts.append(start)
        seq.text += seq.decoder.decode(self._piece(token))
        for stop in seq.job.stop:
            hit = seq.text.find(stop, max(0, start - len(stop) + 1))
            if hit >= 0:
                seq.text = seq.text[:hit]
                if seq.logprobs is not None:
                    kept = sum(1 for s in seq.token_starts if s < hit)
                    del seq.logprobs[kept:]
                self._finish(seq, "stop", flush=False)
                return
        if seq.n_generated >= seq.job.max_tokens or seq.n_past + 1 > self.n_ctx_seq:
            self._finish(seq, "length")
            return
        seq.pending = token

    def _logprob(self, index: int, token: int, top: int) -> TokenLogprob:
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, index)
        logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
        peak = logits.max()
        log_z = peak + np.log(np.exp(logits - peak).sum())
        alternatives: list[tuple[str, float]] = []
        if top > 0:
            best = np.argpartition(-logits, top)[:top]
            best = best[np.argsort(-logits[best], kind="stable")]
            alternatives = [(self._token_text(int(t)), float(logits[t] - log_z)) for t in best]
        return TokenLogprob(self._token_text(token), float(logits[token] - log_z), alternatives)

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            size = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece_buf, len(self._piece_buf), 0, False)
            if size < 0:
                buf = ctypes.create_string_buffer(-size)
                size = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
                piece = buf.raw[:size]
            else:
                piece = self._piece_buf.raw[:size]
            self._pieces[token] = piece
        return piece

    def _token_text(self, token: int) -> str:
        return self._piece(token).decode("utf-8", errors="replace")

    def _finish(self, seq: _Sequence, reason: str, *, flush: bool = True) -> None:
        job = seq.job
        if flush:
            seq.text += seq.decoder.decode(b"", final=True)
        job.results[seq.index] = (Choice(text=seq.text, finish_reason=reason, logprobs=seq.logprobs), seq.n_generated)
        self._release(seq)
        if all(r is not None for r in job.results):
            self._deliver(job, [r for r in job.results if r is not None])

    def _release(self, seq: _Sequence, *, keep: bool = True) -> None:
        if seq.slot >= 0:
            self._slot_seq[seq.slot] = None
            self._vacate(seq.slot, seq.n_past if keep else 0)
            seq.slot = -1
        if seq.sampler is not None:
            llama_cpp.llama_sampler_free(seq.sampler)
            seq.sampler = None
        if seq.grammar is not None:
            self.stats["grammar_redraws"] += seq.grammar.redraws
            seq.grammar.free()
            seq.grammar = None
        if seq in self._active:
            self._active.remove(seq)

    def _vacate(self, slot: int, n_kept: int) -> None:
        """Free ``slot``, keeping its first ``n_kept`` tokens in the KV cache for reuse (prefix cache on)."""
        if not self.prefix_cache:
            n_kept = 0
        if n_kept == 0:
            llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)
        self.index.truncate(slot, n_kept)
        bisect.insort(self._free_slots, slot)

    def _deliver(self, job: GenerationJob, value: Any, error: BaseException | None = None) -> None:
        fut, loop = job.future, job.loop
        if fut is None or loop is None:
            return

        def settle() -> None:
            if fut.done():
                return
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(value)

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
            pass

    def _fail(self, job: GenerationJob, error: ModelError) -> None:
        if not job.failed:
            job.failed = True
            self._deliver(job, None, error)
