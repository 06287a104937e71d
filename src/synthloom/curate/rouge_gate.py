"""The Self-Instruct / Alpaca ROUGE-L similarity filter as a fast incremental gate.

Self-Instruct (Wang et al., 2023, "Self-Instruct: Aligning Language Models with Self-Generated
Instructions", arXiv:2212.10560) and Stanford Alpaca add a generated instruction to the pool only
when its ROUGE-L F-measure against every instruction already in the pool (seeds included) is at
most 0.7. Their code scores each new instruction against the whole pool with the ``rouge-score``
package: O(pool) pure-Python LCS tables per instruction, hours for tens of thousands.

This gate returns the same decisions and the same F-scores (bit for bit):

* :func:`rouge_tokenize` is ``rouge-score``'s default tokenizer without stemming (lower-case,
  every character outside ``[a-z0-9]`` becomes a separator, so ``"café"`` gives ``["caf"]`` and
  text with no ASCII letters or digits gives no tokens);
* :func:`rouge_l_f` computes the LCS with rapidfuzz's bit-parallel ``LCSseq`` and the F-measure
  with ``rouge-score``'s own float expression ``2*p*r/(p+r)``.

Speed comes from never scoring pairs that cannot exceed the threshold ``t``. With ``m`` query
tokens, ``n`` pool tokens and ``L`` their LCS, ``F = 2L/(m+n)`` and ``L <= min(m, n)``, so
``F > t`` needs (1) ``n`` within ``[t·m/(2-t), m·(2-t)/t]`` and (2) at least
``a = floor(t·(m+n_min)/2) + 1`` shared tokens, counted as a multiset. By the pigeonhole principle a
pool item sharing ``a`` of the query's ``m`` token occurrences shares one of *any* ``m - a + 1`` of
them, so the gate looks up only the ``m - a + 1`` rarest occurrences in an inverted index of
(token, occurrence number) and computes LCS for the few items found. Anything scoring above the
threshold is always found, so keep/reject decisions are exact; the best score reported for a *kept*
text is the best among the shortlisted items (0.0 when none), which can be below the true maximum.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from ..pipeline.step import GlobalStep, Rejected, RejectedRow
from ..records import ID

__all__ = ["GateMatch", "RougeFilter", "RougeLGate", "rouge_l_f", "rouge_tokenize"]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Token ids are stored as code points so rapidfuzz compares pool items as plain strings (no per-call
# conversion). Surrogates are skipped; the last code point is the "unknown token" sentinel.
_SURROGATES = 0xD800
_SURROGATE_SPAN = 0x800
_UNKNOWN = chr(0x10FFFF)
_MAX_VOCAB = 0x10FFFF - _SURROGATE_SPAN - 1


def rouge_tokenize(text: str) -> list[str]:
    """``rouge_score.tokenize.tokenize(text, stemmer=None)``: the tokens ROUGE-L compares."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _fmeasure(lcs: int, n_target: int, n_prediction: int) -> float:
    """``rouge_score.scoring.fmeasure`` applied exactly as ``rouge_scorer._score_lcs`` does."""
    if not n_target or not n_prediction:
        return 0.0
    precision = lcs / n_prediction
    recall = lcs / n_target
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_l_f(a_tokens: Sequence[str], b_tokens: Sequence[str]) -> float:
    """ROUGE-L F-measure of two token lists, equal to ``rouge_scorer._score_lcs(a, b).fmeasure``."""
    if not a_tokens or not b_tokens:
        return 0.0
    codes: dict[str, str] = {}
    a = "".join(codes.setdefault(tok, _code(len(codes))) for tok in a_tokens)
    b = "".join(codes.setdefault(tok, _code(len(codes))) for tok in b_tokens)
    return _fmeasure(LCSseq.similarity(a, b), len(a_tokens), len(b_tokens))


def _code(token_id: int) -> str:
    if token_id >= _MAX_VOCAB:
        raise OverflowError("more distinct ROUGE tokens than code points; split the pool")
    return chr(token_id + _SURROGATE_SPAN if token_id >= _SURROGATES else token_id)


class GateMatch(NamedTuple):
    """The verdict, the best F found, and the pool index it was found at (None when nothing scored)."""

    keep: bool
    score: float
    index: int | None


class RougeLGate:
    """An incremental ROUGE-L filter: a text is kept when its F against every pool text is
    ``<= threshold`` (Self-Instruct's rule: reject when ``max F > 0.7``).

    ``check(text)`` judges without adding, ``add(text)`` adds unconditionally (seeds),
    ``check_and_add(text)`` adds only what it keeps. ``key`` (e.g. a row id) can be stored with each
    pool text and read back with :meth:`key_of`. :meth:`check_and_add_many` gives the same decisions
    as calling :meth:`check_and_add` on each text in turn, faster: it scores a batch against the pool
    as one LCS matrix where the shortlist would be long, and the batch against itself.
    """

    def __init__(self, threshold: float = 0.7, texts: Iterable[str] = (), *, workers: int = -1) -> None:
        threshold = float(threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"RougeLGate: threshold must lie in [0, 1] (ROUGE-L F is a fraction); got {threshold}")
        self.threshold = threshold
        # bounds are computed against a hair lower threshold so float rounding never loses a match
        self._t = max(threshold - 1e-9, 0.0)
        self._vocab: dict[str, int] = {}
        self._postings: dict[int, list[int]] = {}  # (token id << 20 | occurrence) -> pool indices
        self._seqs: list[str] = []
        self._texts: list[str] = []
        self._keys: list[object] = []
        self._lens: list[int] = []
        self.workers = workers  # threads for the batched LCS matrices (-1: all cores)
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._texts)

    def text_of(self, index: int) -> str:
        return self._texts[index]

    def key_of(self, index: int) -> object:
        return self._keys[index]

    # -- public API -------------------------------------------------------------------------
    def check(self, text: str) -> tuple[bool, float, str | None]:
        """``(keep, best F, most similar pool text)`` without adding ``text``."""
        keep, score, index = self.query(text)
        return keep, score, None if index is None else self._texts[index]

    def add(self, text: str, key: object = None) -> int:
        """Add ``text`` to the pool whatever its similarity; returns its pool index."""
        return self._add(text, rouge_tokenize(text), key)

    def check_and_add(self, text: str, key: object = None) -> tuple[bool, float, str | None]:
        """Like :meth:`check`, and adds ``text`` to the pool when it is kept."""
        tokens = rouge_tokenize(text)
        keep, score, index = self._query_tokens(tokens)
        if keep:
            self._add(text, tokens, key)
        return keep, score, None if index is None else self._texts[index]

    def query(self, text: str) -> GateMatch:
        """``GateMatch(keep, best F, pool index of the most similar text or None)``."""
        return self._query_tokens(rouge_tokenize(text))

    def query_and_add(self, text: str, key: object = None) -> GateMatch:
        """:meth:`query`, then add ``text`` with ``key`` when kept."""
        tokens = rouge_tokenize(text)
        match = self._query_tokens(tokens)
        if match.keep:
            self._add(text, tokens, key)
        return match

    def check_and_add_many(self, texts: Iterable[str], keys: Iterable[object] | None = None,
                           batch_size: int = 256) -> list[tuple[bool, float, str | None]]:
        """:meth:`check_and_add` on each text in order (same decisions), batched."""
        return [(k, f, None if i is None else self._texts[i])
                for k, f, i in self.query_and_add_many(texts, keys, batch_size)]

    def query_and_add_many(self, texts: Iterable[str], keys: Iterable[object] | None = None,
                           batch_size: int = 256) -> list[GateMatch]:
        """:meth:`query_and_add` on each text in order (same decisions), batched."""
        texts = list(texts)
        keys = [None] * len(texts) if keys is None else list(keys)
        if len(keys) != len(texts):
            raise ValueError(f"query_and_add_many: {len(texts)} texts but {len(keys)} keys")
        out: list[GateMatch] = []
        for start in range(0, len(texts), max(1, batch_size)):
            out.extend(self._batch(texts[start:start + batch_size], keys[start:start + batch_size]))
        return out

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _elements(ids: list[int]) -> list[int]:
        """The multiset of token occurrences as index keys, ``(id << 20) | k`` for the k-th
        occurrence, in the gate's global order: larger id (a token first seen later, so usually a
        rarer one) first. Any fixed order keeps the prefix filter exact; rare-first keeps it short."""
        seen: dict[int, int] = {}
        out = []
        for tid in ids:
            k = seen.get(tid, 0) + 1
            seen[tid] = k
            out.append((tid << 20) | min(k, 0xFFFFF))
        out.sort(reverse=True)  # (within one token, later occurrences first: still one fixed order)
        return out

    def _prefix_len(self, size: int) -> int:
        """How many of a text's first elements (in the global order) must be compared: a pair can
        only score above the threshold when both texts' prefixes share an element."""
        t = self._t
        other_lo = int(math.floor(t * size / (2 - t))) + 1  # the shortest partner that could pass
        need = int(math.floor(t * (size + other_lo) / 2)) + 1  # occurrences such a pair must share
        return max(size - need + 1, 0)

    def _ids(self, tokens: list[str]) -> list[int]:
        vocab = self._vocab
        ids = []
        for tok in tokens:
            tid = vocab.get(tok)
            if tid is None:
                tid = vocab[tok] = len(vocab)
            ids.append(tid)
        return ids

    def _add(self, text: str, tokens: list[str], key: object) -> int:
        ids = self._ids(tokens)
        return self._add_ids(text, ids, "".join(map(_code, ids)), key)

    def _add_ids(self, text: str, ids: list[int], seq: str, key: object) -> int:
        index = len(self._texts)
        self._seqs.append(seq)
        self._texts.append(text)
        self._keys.append(key)
        self._lens.append(len(ids))
        postings = self._postings
        for el in self._elements(ids)[: self._prefix_len(len(ids))]:
            lst = postings.get(el)
            if lst is None:
                postings[el] = [index]
            else:
                lst.append(index)
        return index

    def _batch(self, texts: list[str], keys: list[object]) -> list[GateMatch]:
        # new tokens get ids now: an id with no pool item behaves exactly like an unseen token
        ids = [self._ids(rouge_tokenize(t)) for t in texts]
        seqs = ["".join(map(_code, x)) for x in ids]
        sizes = np.array([len(x) for x in ids], dtype=np.float64)
        best: list[tuple[float, int | None]] = [(0.0, None)] * len(texts)
        pool = len(self._seqs)
        scan = []
        for i, x in enumerate(ids):
            if not x or not pool:
                continue
            lists = [lst for el in self._elements(x)[: self._prefix_len(len(x))] if (lst := self._postings.get(el))]
            if sum(map(len, lists)) * 8 > pool:  # a long shortlist: the LCS matrix row is cheaper
                scan.append(i)
            elif lists:
                match = self._shortlisted(seqs[i], len(x), lists)
                best[i] = (match.score, match.index)
        if scan:
            lcs = process.cdist([seqs[i] for i in scan], self._seqs, scorer=LCSseq.similarity, dtype=np.int32,
                                workers=self.workers)
            for i, top in zip(scan, _row_best(lcs, sizes[scan], np.array(self._lens, dtype=np.int32))):
                best[i] = top
        within = _f_matrix(process.cdist(seqs, seqs, scorer=LCSseq.similarity, dtype=np.int32, workers=self.workers),
                           sizes, sizes)
        out: list[GateMatch] = []
        kept: list[int] = []  # batch positions kept so far
        pool_index: dict[int, int] = {}
        for i, text in enumerate(texts):
            score, index = best[i]
            if kept:
                row = within[i, kept]
                k = int(row.argmax())
                if row[k] > score:  # ties go to the earlier text, as in the one-by-one path
                    score, index = float(row[k]), pool_index[kept[k]]
            keep = not score > self.threshold
            if keep:
                pool_index[i] = self._add_ids(text, ids[i], seqs[i], keys[i])
                kept.append(i)
            out.append(GateMatch(keep, score, index))
        return out

    def _query_tokens(self, tokens: list[str]) -> GateMatch:
        m = len(tokens)
        if m == 0 or not self._texts:
            return GateMatch(True, 0.0, None)
        vocab = self._vocab
        ids = [vocab.get(tok, -1) for tok in tokens]
        known = self._elements([tid for tid in ids if tid >= 0])
        # tokens the pool has never seen come first in the global order and match nothing
        probe = self._prefix_len(m) - (m - len(known))
        if probe <= 0:
            return GateMatch(True, 0.0, None)
        lists = [lst for el in known[:probe] if (lst := self._postings.get(el))]
        if not lists:
            return GateMatch(True, 0.0, None)
        return self._shortlisted("".join(_UNKNOWN if tid < 0 else _code(tid) for tid in ids), m, lists)

    def _shortlisted(self, query: str, m: int, lists: list[list[int]]) -> GateMatch:
        """The best match among the pool items in ``lists`` whose length allows F > threshold."""
        t = self._t
        lo = t * m / (2 - t) - 1e-9
        hi = m * (2 - t) / t + 1e-9 if t > 0 else math.inf
        lengths = self._lens
        cands = sorted(i for i in set().union(*lists) if lo < lengths[i] < hi)
        if not cands:
            return GateMatch(True, 0.0, None)
        return self._best_of(query, m, cands)

    def _best_of(self, query: str, m: int, cands: list[int]) -> GateMatch:
        seqs = self._seqs
        if len(cands) < 24:
            best, best_i = 0.0, None
            sim = LCSseq.similarity
            for i in cands:
                s = seqs[i]
                f = _fmeasure(sim(query, s), m, len(s))
                if f > best:
                    best, best_i = f, i
            return GateMatch(not best > self.threshold, best, best_i)
        lcs = process.cdist([query], [seqs[i] for i in cands], scorer=LCSseq.similarity, dtype=np.int32, workers=1)
        f = _f_matrix(lcs, np.array([m], dtype=np.float64), np.array([self._lens[i] for i in cands], dtype=np.float64))[0]
        k = int(np.argmax(f))
        best = float(f[k])
        if best <= 0.0:
            return GateMatch(True, 0.0, None)
        return GateMatch(not best > self.threshold, best, int(cands[k]))


def _row_best(lcs: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> list[tuple[float, int | None]]:
    """Per row of an LCS matrix, rouge-score's best F and its first column. F = 2L/(m+n) on paper,
    so one division ranks the columns; the exact float F is then taken over the columns that tie
    for the top (to 1e-9), as rouge-score's own max over the floats would see them."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rank = lcs / (rows.astype(np.int64)[:, None] + cols[None, :])
    rank = np.nan_to_num(rank, nan=0.0)
    tops = rank.max(axis=1)
    out: list[tuple[float, int | None]] = []
    for r, top in enumerate(tops.tolist()):
        if top <= 0.0:
            out.append((0.0, None))
            continue
        m = int(rows[r])
        best, best_j = 0.0, None
        for j in np.flatnonzero(rank[r] >= top - 1e-9).tolist():
            f = _fmeasure(int(lcs[r, j]), m, int(cols[j]))
            if f > best:
                best, best_j = f, j
        out.append((best, best_j))
    return out


def _f_matrix(lcs: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """rouge-score's F for an LCS matrix, elementwise with its exact float expression (numpy float64
    rounds like Python floats); texts without tokens score 0."""
    lcs = lcs.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = lcs / cols[None, :]
        recall = lcs / rows[:, None]
        total = precision + recall
        return np.where(total > 0, 2 * precision * recall / total, 0.0)


class RougeFilter(GlobalStep):
    """Self-Instruct's ROUGE-L filter: drops rows too similar (F > threshold) to a kept row or seed.

    In input order, a row whose ``column`` scores ROUGE-L F ``> threshold`` against any kept row (or
    any text of the ``against`` seed file) is rejected, naming the most similar kept row's id and
    the score."""

    type_name = "rouge_filter"

    def __init__(self, name: str, *, column: str, threshold: float = 0.7, against: str | None = None,
                 against_column: str | None = None, inputs: list[str] | None = None) -> None:
        if not isinstance(column, str) or not column:
            raise ValueError(f"rouge_filter {name!r}: `column` must name the text column to compare")
        super().__init__(name, reads=[column], inputs=inputs or ())
        try:
            RougeLGate(threshold)
        except ValueError as exc:
            raise ValueError(f"rouge_filter {name!r}: {exc}") from None
        self.column = column
        self.threshold = float(threshold)
        self.against = None if against is None else str(against)
        self.against_column = against_column or column

    def _seeded_gate(self) -> RougeLGate:
        gate = RougeLGate(self.threshold)
        if self.against is None:
            return gate
        from ..io.sources import read_records

        try:
            batches = read_records(self.against, columns=[self.against_column])
            n = 0
            for batch in batches:
                for rec in batch:
                    value = rec.get(self.against_column)
                    if value is not None:
                        gate.add(str(value), key=("seed", n))
                    n += 1
        except ValueError as exc:
            raise ValueError(f"rouge_filter {self.name!r}: cannot read the seed texts (`against`): {exc}") from None
        return gate

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        gate = self._seeded_gate()
        chunk: list[dict[str, Any]] = []
        for record in rows:
            chunk.append(record)
            if len(chunk) >= 256:
                yield from self._judge(gate, chunk)
                chunk = []
        yield from self._judge(gate, chunk)

    def _judge(self, gate: RougeLGate, chunk: list[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        texts = ["" if (v := r.get(self.column)) is None else str(v) for r in chunk]
        for record, match in zip(chunk, gate.query_and_add_many(texts, [r.get(ID, "") for r in chunk])):
            if match.keep:
                yield record
                continue
            key = gate.key_of(match.index)
            if isinstance(key, tuple):  # a seed text
                reason = (f"ROUGE-L {match.score:.4f} > {self.threshold} against seed #{key[1]} of "
                          f"{self.against}: {_clip(gate.text_of(match.index))!r}")
                yield RejectedRow(record, Rejected(reason, match.score))
            else:
                reason = f"ROUGE-L {match.score:.4f} > {self.threshold} against kept row {key}"
                yield RejectedRow(record, Rejected(reason, match.score, duplicate_of=str(key)))


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
