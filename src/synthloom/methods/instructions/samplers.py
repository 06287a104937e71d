"""Deterministic attribute samplers for attribute-conditioned generation.

Attribute conditioning makes diversity explicit: each prompt is built from a combination of
attribute values drawn from lists — TinyStories (Eldan & Li 2023, arXiv:2305.07759) draws one verb,
one noun and one adjective from a child vocabulary plus a random subset of story features; topic ×
audience × style samplers (as in Cosmopedia) and knowledge-infused topic lists work the same way.

Every draw is a pure function of ``(seed, record index, attribute)``, so a rerun (or a resumed run)
produces the same rows. Three modes:

* ``random``      — each attribute drawn independently and uniformly (the papers' setting).
* ``balanced``    — each attribute walks a fresh shuffle of its values: in every block of
                    ``len(values)`` records every value appears exactly once (exact coverage and
                    uniformity of each attribute; combinations may repeat).
* ``exhaustive``  — combinations of the single-valued attributes are enumerated in a seeded
                    pseudo-random order with no repeat until all ``prod(len(values))`` are used;
                    the next cycle uses a different order.

Attributes that pick several values (``k: [0, 2]`` features) are always drawn at random, without
replacement within a record.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import xxhash

from ...pipeline.step import MapStep, SourceStep

MODES = ("random", "balanced", "exhaustive")


def stable_int(*parts: Any) -> int:
    """A 64-bit integer hash of ``parts`` (stable across runs and machines)."""
    return xxhash.xxh3_64_intdigest("\x1f".join(map(str, parts)).encode())


@dataclass(frozen=True)
class Attribute:
    """One attribute: its values, how many to pick per record (``k_min``–``k_max``) and, when more
    than one may be picked, the separator to join them with (``None`` keeps a list)."""

    name: str
    values: tuple[Any, ...]
    k_min: int = 1
    k_max: int = 1
    join: str | None = None

    @property
    def single(self) -> bool:
        return self.k_min == self.k_max == 1

    def columns(self) -> list[str]:
        if self.single and self.values and all(isinstance(v, dict) for v in self.values):
            return list(dict.fromkeys(k for v in self.values for k in v))
        return [self.name]


def load_values(spec: Any, where: str) -> list[Any]:
    """Attribute values from a list, or from ``{"path": file, "key": name, "field": column}``:
    a ``.txt`` file (one value per line), a ``.json`` file (a list, or a dict with ``key``
    naming the list), or any record file (``.jsonl``, ``.csv``, ``.parquet``: rows, or one column
    of them with ``field``)."""
    if isinstance(spec, list):
        return list(spec)
    if not isinstance(spec, dict) or "path" not in spec and "values" not in spec:
        raise ValueError(f"{where}: give a list of values or a mapping with `values:` or `path:`")
    if "values" in spec:
        return list(spec["values"])
    path = Path(str(spec["path"]))
    if not path.exists():
        raise ValueError(f"{where}: no such file {str(path)!r}; check the path (recipes can use ${{recipe_dir}})")
    if path.suffix == ".txt":
        values: list[Any] = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    elif path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            key = spec.get("key")
            if key not in data:
                raise ValueError(f"{where}: {path.name} is a mapping; set `key:` to one of {sorted(data)}")
            data = data[key]
        values = list(data)
    else:
        from ...io.sources import read_records

        values = [row for batch in read_records(path) for row in batch]
    field = spec.get("field")
    if field is not None:
        missing = [i for i, v in enumerate(values) if not isinstance(v, dict) or field not in v]
        if missing:
            raise ValueError(f"{where}: row {missing[0]} of {path.name} has no field {field!r}")
        values = [v[field] for v in values]
    return values


def build_attributes(spec: dict[str, Any]) -> list[Attribute]:
    """Attributes from a recipe mapping ``name -> list | {values|path, k, join, key, field}``."""
    if not isinstance(spec, dict) or not spec:
        raise ValueError("`attributes` must map attribute names to value lists (or {path: ...})")
    out = []
    for name, raw in spec.items():
        where = f"attribute {name!r}"
        values = load_values(raw, where)
        if not values:
            raise ValueError(f"{where} has no values")
        k = raw.get("k", 1) if isinstance(raw, dict) else 1
        k_min, k_max = (k, k) if isinstance(k, int) else tuple(k)
        if not (0 <= k_min <= k_max <= len(values)):
            raise ValueError(f"{where}: k must satisfy 0 <= min <= max <= {len(values)} (the number of values), got {k}")
        join = raw.get("join") if isinstance(raw, dict) else None
        out.append(Attribute(str(name), tuple(values), int(k_min), int(k_max), join))
    return out


@lru_cache(maxsize=4096)
def _shuffled(size: int, seed: int, name: str, cycle: int) -> tuple[int, ...]:
    order = list(range(size))
    random.Random(stable_int(seed, name, cycle, "balanced")).shuffle(order)
    return tuple(order)


def _coprime_multiplier(n: int, seed: int, cycle: int) -> tuple[int, int]:
    """``(a, b)`` with ``gcd(a, n) == 1``: ``i -> (a*i + b) % n`` permutes ``range(n)``."""
    if n <= 2:
        return 1, stable_int(seed, cycle, "offset") % n
    rng = random.Random(stable_int(seed, cycle, "affine"))
    while True:
        a = rng.randrange(1, n)
        if math.gcd(a, n) == 1:
            return a, rng.randrange(n)


def combination_index(index: int, sizes: list[int], seed: int) -> list[int]:
    """Value positions of record ``index`` in ``exhaustive`` mode: a seeded permutation of all
    ``prod(sizes)`` combinations (mixed-radix decoded), a new permutation every cycle."""
    total = math.prod(sizes)
    cycle, pos = divmod(index, total)
    a, b = _coprime_multiplier(total, seed, cycle)
    code = (a * pos + b) % total
    out = []
    for size in sizes:
        code, digit = divmod(code, size)
        out.append(digit)
    return out


def _pick_many(attr: Attribute, seed: int, index: int) -> list[Any]:
    rng = random.Random(stable_int(seed, index, attr.name, "k"))
    k = rng.randint(attr.k_min, attr.k_max)
    positions = sorted(rng.sample(range(len(attr.values)), k))
    return [attr.values[p] for p in positions]


def sample_record(attributes: list[Attribute], index: int, *, seed: int = 0, mode: str = "balanced") -> dict[str, Any]:
    """The attribute values of record ``index`` (a pure function of its arguments)."""
    if mode not in MODES:
        raise ValueError(f"unknown sampling mode {mode!r}; choose one of {', '.join(MODES)}")
    singles = [a for a in attributes if a.single]
    chosen: dict[str, Any] = {}
    if mode == "exhaustive" and singles:
        digits = combination_index(index, [len(a.values) for a in singles], seed)
        chosen = {a.name: a.values[d] for a, d in zip(singles, digits)}
    for attr in attributes:
        if attr.single and attr.name in chosen:
            continue
        if attr.single:
            size = len(attr.values)
            if mode == "balanced":
                cycle, pos = divmod(index, size)
                chosen[attr.name] = attr.values[_shuffled(size, seed, attr.name, cycle)[pos]]
            else:
                chosen[attr.name] = attr.values[stable_int(seed, index, attr.name) % size]
        else:
            picked = _pick_many(attr, seed, index)
            chosen[attr.name] = attr.join.join(map(str, picked)) if attr.join is not None else picked
    out: dict[str, Any] = {}
    for attr in attributes:
        value = chosen[attr.name]
        if attr.single and isinstance(value, dict):
            out.update(value)
        else:
            out[attr.name] = value
    return out


class AttributeSampler(SourceStep):
    """Source of ``n`` records, each a combination of attribute values (TinyStories word and feature
    combos, topic × audience × style, knowledge-infused topic rows) — deterministic in ``seed``.
    ``mode``: ``balanced`` (default; every value of every attribute appears once per block of its
    size), ``random`` (independent uniform draws) or ``exhaustive`` (no combination repeats
    until all are used). ``index_column`` names a column for the record's sample index."""

    type_name = "attribute_sampler"

    def __init__(self, name: str, *, attributes: dict[str, Any], n: int = 100, mode: str = "balanced",
                 seed: int = 0, index_column: str | None = None, citations: list[str] | None = None) -> None:
        super().__init__(name, citations=citations or ())
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.attributes = build_attributes(attributes)
        self.n, self.mode, self.seed, self.index_column = int(n), mode, int(seed), index_column
        cols = [c for a in self.attributes for c in a.columns()]
        self.columns = list(dict.fromkeys(cols + ([index_column] if index_column else [])))

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        total = self.n if limit is None else min(self.n, limit)
        for i in range(total):
            row = sample_record(self.attributes, i, seed=self.seed, mode=self.mode)
            if self.index_column:
                row[self.index_column] = i
            yield row

    def count(self, limit: int | None = None) -> int | None:
        return self.n if limit is None else min(self.n, limit)

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(repr([(a.name, a.values, a.k_min, a.k_max, a.join) for a in self.attributes]).encode())


class AttributeAssign(MapStep):
    """Adds sampled attribute values to every passing record, drawn at random from a seed derived
    from the record's id (so each record keeps its draw on a rerun)."""

    type_name = "attribute_assign"

    def __init__(self, name: str, *, attributes: dict[str, Any], seed: int = 0) -> None:
        self.attributes = build_attributes(attributes)
        super().__init__(name, writes=[c for a in self.attributes for c in a.columns()])
        self.seed = int(seed)

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        index = stable_int(record.get("id", ""), "attribute_assign")
        return {**record, **sample_record(self.attributes, index, seed=self.seed, mode="random")}
