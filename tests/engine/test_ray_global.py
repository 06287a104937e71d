"""Distributed forms of the curation global steps on a real local Ray cluster: each must yield exactly
what the local ``step.run`` yields (records, reasons, scores, ``duplicate_of``, order)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytest.importorskip("ray")

from synthloom.curate.decontaminate import Decontaminate  # noqa: E402
from synthloom.curate.exact_dedup import ExactDedup  # noqa: E402
from synthloom.curate.minhash_dedup import MinHashDedup  # noqa: E402
from synthloom.curate.selection import DeitaSelect, SelectTop, TopKPerCluster  # noqa: E402
from synthloom.curate.semantic_dedup import EMBED_ROWS, SemanticDedup  # noqa: E402
from synthloom.engine.ray_global import RayGlobalContext, distributed_form  # noqa: E402
from synthloom.engine.ray_scoring import semantic_dedup_form  # noqa: E402
from synthloom.engine.ray_shards import iter_rows  # noqa: E402
from synthloom.io.shards import ShardWriter  # noqa: E402
from synthloom.pipeline.step import RejectedRow  # noqa: E402

WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "po", "ri", "su", "te") for b in ("n", "r", "s", "th", "x", "lm")]
GSM = [
    ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
     "How many clips did Natalia sell altogether in April and May?"),
    ("Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. "
     "Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her parents."),
]


def corpus(n: int, seed: int = 0) -> list[dict]:
    """Rows with exact copies (case and spacing changed), near-duplicates (a word or two changed),
    unrelated texts, empty and missing texts."""
    rng = random.Random(seed)
    texts: list[str | None] = []
    for _ in range(n):
        r = rng.random()
        if texts and r < 0.15:
            base = rng.choice([t for t in texts if t] or ["x"])
            texts.append("  " + base.upper().replace(" ", "   ") + " ")
        elif texts and r < 0.4:
            words = (rng.choice([t for t in texts if t] or ["x"])).split()
            for _ in range(rng.randint(1, 2)):
                words[rng.randrange(len(words))] = rng.choice(WORDS)
            texts.append(" ".join(words))
        elif r < 0.43:
            texts.append(rng.choice(["", None, "!!"]))
        else:
            texts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))))
    return [{"id": f"r{i:05d}", "text": t, "n": i % 7} for i, t in enumerate(texts)]


def write(folder: Path, rows: list[dict], sizes: list[int], fmt: str = "parquet") -> Path:
    """``rows`` as shards of the given sizes (the last size repeats)."""
    writer = ShardWriter(folder, format=fmt)
    start, k = 0, 0
    while start < len(rows):
        size = sizes[min(k, len(sizes) - 1)]
        writer.write_shard(k, rows[start:start + size])
        start, k = start + size, k + 1
    writer.finalize()
    return folder


def as_tuples(items) -> list[tuple]:
    out = []
    for item in items:
        if isinstance(item, RejectedRow):
            v = item.verdict
            out.append(("rejected", item.record, v.reason, v.score, v.duplicate_of))
        else:
            out.append(("kept", item))
    return out


def same_as_local(step, folders: list[Path], tmp_path: Path, workers: int = 2, form=None) -> list[tuple]:
    local = as_tuples(step.run(iter_rows(folders)))
    form = form or distributed_form(step)
    assert form is not None
    distributed = as_tuples(form(folders, RayGlobalContext(workers=workers, spill_dir=tmp_path / "spill")))
    assert distributed == local
    return local


def rejected(result: list[tuple]) -> int:
    return sum(1 for r in result if r[0] == "rejected")


LAYOUTS = {
    "uneven-parquet": ([1, 90, 7, 300, 40], "parquet"),
    "jsonl": ([250], "jsonl"),
    "one-shard": ([100_000], "parquet"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("normalize", ["basic", "none"])
def test_exact_dedup_equals_local(ray_local, tmp_path, layout, normalize):
    sizes, fmt = LAYOUTS[layout]
    folder = write(tmp_path / "up", corpus(900), sizes, fmt)
    result = same_as_local(ExactDedup("exact", columns=["text"], normalize=normalize), [folder], tmp_path)
    assert rejected(result) > (100 if normalize == "basic" else 20)  # raw: only the empty texts repeat


def test_exact_dedup_with_one_worker_and_all_duplicates(ray_local, tmp_path):
    folder = write(tmp_path / "up", [{"id": f"d{i}", "text": "The same text."} for i in range(300)], [64])
    result = same_as_local(ExactDedup("exact", columns="text"), [folder], tmp_path, workers=1)
    assert rejected(result) == 299 and all(r[4] == "d0" for r in result[1:])


@pytest.mark.parametrize(("layout", "verify", "keep"), [
    ("uneven-parquet", "estimate", "first"),
    ("jsonl", "exact", "longest"),
    ("one-shard", "none", "first"),
    ("uneven-parquet", "estimate", "longest"),
])
def test_minhash_dedup_equals_local(ray_local, tmp_path, layout, verify, keep):
    sizes, fmt = LAYOUTS[layout]
    folder = write(tmp_path / "up", corpus(1200, seed=1), sizes, fmt)
    step = MinHashDedup("near", columns=["text"], verify=verify, keep=keep, threshold=0.6)
    result = same_as_local(step, [folder], tmp_path)
    assert rejected(result) > 100
    assert any(r[4] is not None and r[1]["text"] and r[4] != r[1]["id"] for r in result if r[0] == "rejected")
    if keep == "longest":  # some survivors come after the rows they replace
        assert any(r[4] > r[1]["id"] for r in result if r[0] == "rejected")


def test_minhash_dedup_edge_cases(ray_local, tmp_path):
    step = MinHashDedup("near", columns="text")
    assert same_as_local(step, [tmp_path / "nothing"], tmp_path) == []
    blank = write(tmp_path / "blank", [{"id": f"b{i}", "text": t} for i, t in enumerate(["", "...", None, " "])], [2])
    assert rejected(same_as_local(step, [blank], tmp_path)) == 0  # rows without words are never near-duplicates
    copies = write(tmp_path / "copies", [{"id": f"c{i}", "text": "one two three four five six"} for i in range(50)], [50])
    assert rejected(same_as_local(step, [copies], tmp_path, workers=3)) == 49


def test_exact_dedup_empty_input(ray_local, tmp_path):
    (tmp_path / "empty").mkdir()
    assert same_as_local(ExactDedup("exact", columns="text"), [tmp_path / "empty"], tmp_path) == []


def planted_rows(n: int) -> list[dict]:
    rows = corpus(n, seed=2)
    for k, i in enumerate(range(5, n, n // 12)):
        text = GSM[k % 2] if k % 3 else GSM[k % 2].replace("half", "a half")
        rows[i]["text"] = f"{rows[i]['text'] or ''} {text} and so on"
    return rows


def test_decontaminate_equals_local(ray_local, tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps({"question": q}) + "\n" for q in GSM))
    folder = write(tmp_path / "up", [r for r in planted_rows(700) if r["text"] is not None], [90, 33, 200])
    step = Decontaminate("decon", against=str(bench), columns="text", batch_size=64)
    result = same_as_local(step, [folder], tmp_path)
    assert rejected(result) == 12
    assert all(r[1]["contamination"]["benchmark_file"] == str(bench) for r in result if r[0] == "rejected")
    (tmp_path / "empty").mkdir()
    assert same_as_local(step, [tmp_path / "empty"], tmp_path) == []


def test_decontaminate_error_is_the_local_one(ray_local, tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"question": GSM[0]}) + "\n")
    folder = write(tmp_path / "up", [{"id": "a", "body": "no text column"}], [1])
    step = Decontaminate("decon", against=str(bench), columns="text")
    with pytest.raises(KeyError) as local:
        list(step.run(iter_rows([folder])))
    with pytest.raises(KeyError) as distributed:
        list(distributed_form(step)([folder], RayGlobalContext(workers=2, spill_dir=tmp_path / "spill")))
    assert str(distributed.value) == str(local.value)


def scored_rows(n: int) -> list[dict]:
    """Short instructions (cheap to embed) from a small grammar, so many are alike; some have no score."""
    rng = random.Random(4)
    verbs, things = ["bake", "fix", "paint", "sell", "clean"], ["bread", "a bike", "the fence", "old books", "a car"]
    return [{"id": f"s{i:04d}", "instruction": f"How do I {rng.choice(verbs)} {rng.choice(things)}?",
             "complexity": rng.choice([1, 2, 3, 4, 5, None]), "quality": round(rng.uniform(1, 6), 2)} for i in range(n)]


def test_embedding_selection_equals_local(ray_local, tmp_path):
    pytest.importorskip("onnxruntime")
    folder = write(tmp_path / "up", scored_rows(520), [300, 200, 20])  # > 1 embedding batch of 512
    deita = same_as_local(DeitaSelect("deita", text="instruction", max_similarity=0.9, budget=10), [folder], tmp_path)
    reasons = {r[2].split(" ")[0] for r in deita if r[0] == "rejected"}
    assert {"too", "budget", "no"} <= reasons  # too similar, over budget, no score
    small = write(tmp_path / "small", scored_rows(120), [50])
    topk = same_as_local(TopKPerCluster("topk", column="quality", k=2, text="instruction", n_clusters=5),
                         [small], tmp_path)
    assert sum(1 for r in topk if r[0] == "kept") == 10


def test_semantic_dedup_equals_local(ray_local, tmp_path):
    pytest.importorskip("onnxruntime")
    texts = ["How do I bake bread?", "How can I bake bread?", "What is a prime number?", "Explain prime numbers.",
             "Fix a flat bike tyre", "Paint the garden fence", "How do I bake bread at home?"]
    folder = write(tmp_path / "up", [{"id": f"t{i}", "text": texts[i % len(texts)] + " " * (i % 3)} for i in range(60)], [25])
    result = same_as_local(SemanticDedup("sem", columns="text"), [folder], tmp_path)
    assert 40 <= rejected(result) < 60


def test_semantic_dedup_form_over_several_embedding_batches(ray_local, tmp_path):
    """Vectors given in the rows (no encoder): ranges cut at multiples of EMBED_ROWS, rows and order kept."""
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.normal(size=(3000, 8))
    n = 2 * EMBED_ROWS + 300
    vectors = base[rng.integers(0, len(base), size=n)] + rng.normal(scale=0.01, size=(n, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [{"id": f"v{i}", "vec": v.round(6).tolist()} for i, v in enumerate(vectors)]
    folder = write(tmp_path / "up", rows, [3000, 1, 2000])
    step = SemanticDedup("sem", embedding_column="vec", n_clusters=20, eps=0.01)
    assert distributed_form(step) is None  # nothing heavy to spread when the vectors are in the rows
    result = same_as_local(step, [folder], tmp_path, form=lambda folders, ctx: semantic_dedup_form(step, folders, ctx))
    assert rejected(result) > 1000


def test_steps_without_a_distributed_form():
    class MyDedup(ExactDedup):
        pass

    assert distributed_form(SelectTop("top", column="n", k=3)) is None
    assert distributed_form(MyDedup("mine", columns="text")) is None  # a subclass may change verdicts
    assert distributed_form(ExactDedup("exact", columns="text")) is not None
