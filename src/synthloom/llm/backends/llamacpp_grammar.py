"""Grammar-constrained sampling for the batched llama.cpp engine: draw first, check one token.

A grammar sampler placed first in a llama.cpp sampler chain checks every token of the vocabulary
(49,152 for SmolLM2) against the grammar's stacks at every step; measured on the embedded model,
that halves decoding speed for a single sequence (108 → 54 tokens/s) and, as the checks run one
sequence after another on the engine's thread, it costs more the more sequences decode together.
:class:`GrammarGate` does what llama.cpp's own ``common_sampler`` does instead: the token is drawn
by the chain *without* the grammar, then only that token is checked; when the grammar allows it (most
tokens of a reply that already follows the format) it is accepted, and only when it does not is the
whole distribution masked by the grammar and drawn from again.

For greedy decoding the result is the same token as masking first (the best allowed token is the best
token when the best is allowed). For temperature sampling it is the same distribution: a token ``t``
the grammar allows comes out with ``p(t) + (1 - Z) · p(t) / Z = p(t) / Z`` where ``Z`` is the mass the
grammar allows — the masked distribution. (With ``top_p`` the nucleus is cut from the unmasked
distribution on the first draw, as in llama.cpp.) Only the random draws consumed differ, so a seeded
request's text is not the one the mask-first chain gave.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llama_cpp
import numpy as np

#: the layout of ``llama_token_data`` (id, logit, p)
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


class GrammarGate:
    """A compiled grammar for one sequence, checked against the token its chain drew (see the module
    docstring). :meth:`pick` returns the token to keep (accepted by the grammar); :meth:`free` releases
    the llama.cpp sampler. Raises ``ValueError`` when llama.cpp cannot compile ``grammar``."""

    def __init__(self, vocab: Any, grammar: str, n_vocab: int):
        self.sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not self.sampler:
            raise ValueError("llama.cpp could not compile the grammar")
        self.n_vocab = n_vocab
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self._one, llama_cpp.llama_token_data_p), size=1, selected=-1, sorted=False)
        self._all: np.ndarray | None = None  # the whole vocabulary, made on the first redraw
        self.redraws = 0

    def allows(self, token: int) -> bool:
        """Whether the grammar, in its current state, allows ``token`` next."""
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        self._one_array.size, self._one_array.selected, self._one_array.sorted = 1, -1, False
        llama_cpp.llama_sampler_apply(self.sampler, ctypes.byref(self._one_array))
        return self._one[0].logit != -math.inf

    def pick(self, chain: Any, ctx: Any, index: int, drawn: int) -> int:
        """The token to keep at output ``index``: ``drawn`` (what ``chain`` sampled without the grammar)
        when the grammar allows it, else a new draw by ``chain`` from the grammar-masked logits."""
        token = drawn
        if not self.allows(drawn):
            self.redraws += 1
            if self._all is None:
                self._all = np.zeros(self.n_vocab, dtype=_TOKEN_DATA)
            cand = self._all
            cand["id"] = np.arange(self.n_vocab, dtype=np.int32)
            cand["logit"] = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, index), shape=(self.n_vocab,))
            cand["p"] = 0.0
            array = llama_cpp.llama_token_data_array(
                data=cand.ctypes.data_as(llama_cpp.llama_token_data_p), size=self.n_vocab, selected=-1, sorted=False)
            llama_cpp.llama_sampler_apply(self.sampler, ctypes.byref(array))
            llama_cpp.llama_sampler_apply(chain, ctypes.byref(array))
            token = int(array.data[array.selected].id)
            # the chain already took ``drawn`` in (its accept is a no-op for temperature, top-p, dist, greedy)
        llama_cpp.llama_sampler_accept(self.sampler, token)
        return token

    def free(self) -> None:
        if self.sampler:
            llama_cpp.llama_sampler_free(self.sampler)
            self.sampler = None
