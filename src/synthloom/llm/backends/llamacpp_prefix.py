"""Shared-prefix KV reuse for the batched llama.cpp engine: which KV slot holds which tokens.

Every KV slot (one llama.cpp sequence id with its own KV stream) holds a run of tokens at positions
``0..n-1``: the prompt and output of the sequence decoding there or, once it has finished, what it
left behind. :class:`PrefixIndex` indexes those contents by chained hashes of ``block``-token blocks,
so a new prompt finds in ``len / block`` dictionary lookups every slot that starts with the same
tokens, and how many. :meth:`PrefixIndex.plan` turns that into a decision for one waiting sequence:

* take over a free slot that already holds its prefix (drop the rest, decode only the suffix);
* copy the prefix held by a busy slot into a free slot (``llama_memory_seq_cp``), decode the suffix;
* wait, when a slot still prefilling will soon hold a longer shared prefix than any ready slot
  (so the first of many requests sharing a rubric computes it once and the others copy it);
* or start from scratch in the free slot whose contents are worth least: one holding nothing
  another slot does not also hold, else the least recently used.

A prompt always decodes its last token itself (its logits pick the first output token), so at most
``len(prompt) - 1`` tokens are reused. Reuse below one block is not worth a copy and is ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

DEFAULT_BLOCK = 16


@dataclass(frozen=True)
class Admission:
    """Where a waiting sequence goes: ``slot`` (a free one), with its first ``reuse`` prompt tokens
    already in that slot's KV stream, copied from ``source`` (``None``: nothing reused; equal to
    ``slot``: the slot's own contents are kept up to ``reuse``)."""

    slot: int
    source: int | None
    reuse: int


class PrefixIndex:
    """Token contents of ``n_slots`` KV slots, searchable by shared prefix.

    A slot's contents are the tokens it holds or, for a sequence still prefilling, will hold once
    its prompt is in (the engine knows how many are in already). ``holders`` maps the chained hash
    of a slot's first ``k`` blocks to the slots starting with those ``k * block`` tokens.
    """

    def __init__(self, n_slots: int, block: int = DEFAULT_BLOCK):
        if block < 1:
            raise ValueError(f"block must be at least 1, got {block}")
        self.block = block
        self._tokens: list[list[int]] = [[] for _ in range(n_slots)]
        self._keys: list[list[int]] = [[] for _ in range(n_slots)]
        self._holders: dict[int, set[int]] = {}
        self._used = [0] * n_slots
        self._clock = 0

    # ------------------------------------------------------------------ contents

    def tokens(self, slot: int) -> list[int]:
        """The tokens ``slot`` holds (do not modify the list)."""
        return self._tokens[slot]

    def chain(self, tokens: Sequence[int]) -> list[int]:
        """Chained hashes of the full blocks of ``tokens`` (key ``k`` stands for ``tokens[:(k + 1) * block]``)."""
        keys: list[int] = []
        key = 0
        b = self.block
        for start in range(0, len(tokens) - b + 1, b):
            key = hash((key, *tokens[start:start + b]))
            keys.append(key)
        return keys

    def assign(self, slot: int, tokens: Sequence[int], keys: Sequence[int] | None = None) -> None:
        """``slot`` now holds ``tokens`` (``keys``: their :meth:`chain`, if already computed)."""
        self._drop_keys(slot, 0)
        self._tokens[slot] = list(tokens)
        self._add_keys(slot, list(self.chain(tokens) if keys is None else keys))
        self.touch(slot)

    def copy(self, source: int, slot: int) -> None:
        """``slot`` now holds what ``source`` holds."""
        self.assign(slot, self._tokens[source], self._keys[source])

    def append(self, slot: int, token: int) -> None:
        """One more token decoded into ``slot``."""
        tokens = self._tokens[slot]
        tokens.append(token)
        if len(tokens) % self.block == 0:
            keys = self._keys[slot]
            key = hash((keys[-1] if keys else 0, *tokens[-self.block:]))
            self._add_keys(slot, [key])

    def truncate(self, slot: int, n: int) -> None:
        """Keep only the first ``n`` tokens of ``slot`` (``0`` empties it)."""
        if n < len(self._tokens[slot]):
            del self._tokens[slot][max(0, n):]
            self._drop_keys(slot, max(0, n) // self.block)

    def touch(self, slot: int) -> None:
        """Mark ``slot`` as just used (eviction takes the least recently used first)."""
        self._clock += 1
        self._used[slot] = self._clock

    def _add_keys(self, slot: int, keys: list[int]) -> None:
        self._keys[slot].extend(keys)
        for key in keys:
            self._holders.setdefault(key, set()).add(slot)

    def _drop_keys(self, slot: int, keep: int) -> None:
        keys = self._keys[slot]
        for key in keys[keep:]:
            holders = self._holders.get(key)
            if holders is not None:
                holders.discard(slot)
                if not holders:
                    del self._holders[key]
        del keys[keep:]

    # ------------------------------------------------------------------ queries

    def match(self, tokens: Sequence[int], keys: Sequence[int] | None = None) -> dict[int, int]:
        """``{slot: tokens in common}`` for every slot sharing at least one full block with ``tokens``."""
        if keys is None:
            keys = self.chain(tokens)
        depth: dict[int, int] = {}
        for k, key in enumerate(keys):
            holders = self._holders.get(key)
            if not holders:
                break
            for slot in holders:
                depth[slot] = k + 1
        out: dict[int, int] = {}
        b = self.block
        for slot, blocks in depth.items():
            held = self._tokens[slot]
            n = blocks * b
            if held[:n] != list(tokens[:n]):  # a hash collision: trust only what compares equal
                continue
            limit = min(len(held), len(tokens), n + b)
            while n < limit and held[n] == tokens[n]:
                n += 1
            out[slot] = n
        return out

    def lost_if_cut(self, slot: int, keep: int) -> int:
        """Tokens of ``slot`` found in no other slot that cutting it to ``keep`` tokens would throw away."""
        shared = 0
        for k, key in enumerate(self._keys[slot]):
            if len(self._holders.get(key, ())) < 2:
                break
            shared = (k + 1) * self.block
        return max(0, len(self._tokens[slot]) - max(keep, shared))

    def victim(self, free: Collection[int]) -> int:
        """The free slot to overwrite: the one whose loss throws away the fewest tokens held nowhere else
        (by whole blocks); among those the lowest slot if it loses nothing, else the least recently used."""
        if not free:
            raise ValueError("no free slot to choose from")

        def cost(slot: int) -> tuple[int, int]:
            lost = self.lost_if_cut(slot, 0) // self.block
            return (lost, self._used[slot] if lost else slot)

        return min(free, key=cost)

    def plan(self, tokens: Sequence[int], keys: Sequence[int] | None, free: Collection[int],
             ready: Sequence[int]) -> Admission | None:
        """Where a sequence with prompt ``tokens`` should go, or ``None`` to wait for a slot still prefilling.

        ``free``: the free slots (non-empty); ``ready[slot]``: how many of the slot's tokens are in the
        KV cache now (all of them for a free slot).
        """
        if not free:
            raise ValueError("no free slot to plan into")
        limit = len(tokens) - 1
        # best (tokens usable now, recency, slot) among free slots (taken over in place) and busy ones (copied)
        best_free = best_busy = (0, -1, -1)
        later = 0
        for slot, common in self.match(tokens, keys).items():
            usable = min(common, limit)
            candidate = (min(usable, ready[slot]), self._used[slot], slot)
            if slot in free:
                best_free = max(best_free, candidate)
            else:
                best_busy = max(best_busy, candidate)
                later = max(later, usable)
        # a copy costs a pass over a whole KV stream: worth it only for a block more than a free slot offers
        best = best_busy if best_busy[0] - best_free[0] >= self.block else best_free
        best_now, source = best[0], best[2]
        if later - best_now >= self.block:
            return None
        if best_now < self.block:
            return Admission(self.victim(free), None, 0)
        self.touch(source)
        if source in free:
            others = [slot for slot in free if slot != source]
            if others and self.lost_if_cut(source, best_now) >= self.block:
                spare = self.victim(others)
                if self.lost_if_cut(spare, 0) < self.block:  # keep the source whole, copy into a worthless slot
                    return Admission(spare, source, best_now)
            return Admission(source, source, best_now)
        return Admission(self.victim(free), source, best_now)
