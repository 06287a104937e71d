"""MinHash-LSH near-duplicate dedup: defaults, planted clusters, survivor rules, the step and a recipe."""

from __future__ import annotations

import collections
import itertools
import random
from pathlib import Path

import numpy as np
import pytest
import xxhash
import yaml
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.curate.exact_dedup import ExactDedup
from synthloom.curate.minhash_dedup import (
    MinHashDedup,
    MinHashIndex,
    lsh_params,
    minhash_clusters,
    minhash_dedup,
)
from synthloom.curate.text_shingles import (
    shingle_hashes,
    text_shingles,
    word_hashes,
    words,
)
from synthloom.io.shards import read_shards
from synthloom.pipeline.step import RejectedRow


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    syll = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "pe", "da", "ru", "shi", "an", "el", "or", "un", "is"]
    vocab: set[str] = set()
    while len(vocab) < size:
        vocab.add("".join(rng.choice(syll) for _ in range(rng.randint(1, 4))))
    return sorted(vocab)


def planted_corpus(n_docs: int, seed: int = 0, words_per_doc: int = 50) -> tuple[list[str], list[int]]:
    """Zipf-distributed pseudo-word documents. 30% of originals get 1-4 copies, each made from the
    original or an earlier copy by 1-2 word substitutions/insertions/deletions plus case and
    punctuation noise (so clusters are chains). 15% of originals are hard negatives that share half
    their words, as one block, with an unrelated earlier document. Returns texts and planted labels."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    cum = list(itertools.accumulate(1 / (r + 1) for r in range(len(vocab))))

    def noisy(ws: list[str]) -> str:
        out = list(ws)
        for _ in range(rng.randint(1, 2)):
            op = rng.random()
            if op < 0.5:
                out[rng.randrange(len(out))] = rng.choice(vocab)
            elif op < 0.75:
                out.insert(rng.randrange(len(out) + 1), rng.choice(vocab))
            else:
                del out[rng.randrange(len(out))]
        text = " ".join(out)
        text = text.capitalize() + "." if rng.random() < 0.5 else text
        return text.replace(" ", ", ", 1) if rng.random() < 0.3 else text

    items: list[tuple[str, int]] = []
    originals: list[list[str]] = []
    label = 0
    while len(items) < n_docs:
        ws = rng.choices(vocab, cum_weights=cum, k=words_per_doc + rng.randint(-5, 5))
        if originals and rng.random() < 0.15:
            other = rng.choice(originals)
            k = len(other) // 2
            start = rng.randrange(len(other) - k + 1)
            ws[:k] = other[start:start + k]
        originals.append(ws)
        items.append((" ".join(ws), label))
        if rng.random() < 0.3:
            members = [ws]
            for _ in range(rng.randint(1, 4)):
                text = noisy(rng.choice(members))
                members.append(words(text))
                items.append((text, label))
        label += 1
    items = items[:n_docs]
    rng.shuffle(items)
    return [t for t, _ in items], [lab for _, lab in items]


def pairwise_precision_recall(labels: list[int], clusters: list[int]) -> tuple[float, float]:
    def same_pairs(counts: collections.Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = same_pairs(collections.Counter(zip(labels, clusters)))
    predicted = same_pairs(collections.Counter(clusters))
    planted = same_pairs(collections.Counter(labels))
    return both / predicted, both / planted


def paragraph(rng: random.Random, vocab: list[str], n: int = 100) -> list[str]:
    return [rng.choice(vocab) for _ in range(n)]


# --- shingles ------------------------------------------------------------------------------------------


def test_words_normalise_case_punctuation_and_unicode():
    assert words("The cat-flap, OPEN!  Ça va? ﬁne — 'quoted'") == ["the", "catflap", "open", "ça", "va", "fine", "quoted"]
    assert words("") == [] and words(None) == [] and words("!!! ...") == []


def test_bulk_word_hashes_are_the_hashes_of_words():
    rng = random.Random(3)
    alphabet = [chr(c) for c in range(0x20, 0x2100) if rng.random() < 0.1] + list(" \t\n\u00a0\u2003\x1c\u3000") * 5
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(500)] + [None, ""]
    hashes, offsets = word_hashes(texts)
    for i, text in enumerate(texts):
        expected = [xxhash.xxh3_64_intdigest(w.encode()) | 1 for w in words(text)]
        assert hashes[offsets[i]:offsets[i + 1]].tolist() == expected


def test_shingle_counts_and_order_sensitivity():
    texts = ["a b c d e", "a b", "", "e d c b a", "A b, C d e!"]
    hashes, offsets = text_shingles(texts, 3)
    per_text = [hashes[offsets[i]:offsets[i + 1]].tolist() for i in range(len(texts))]
    assert [len(s) for s in per_text] == [3, 1, 0, 3, 3]  # a 2-word text still has one shingle
    assert per_text[0] == per_text[4]  # normalisation
    assert not set(per_text[0]) & set(per_text[3])  # n-grams are ordered
    # shingles are the same wherever a text sits in the batch
    alone, _ = text_shingles(["e d c b a"], 3)
    assert alone.tolist() == per_text[3]
    with pytest.raises(ValueError, match="shingle size"):
        shingle_hashes(*word_hashes(["a"]), 0)


# --- the defaults ----------------------------------------------------------------------------------------


def test_one_or_two_words_changed_in_100_is_a_near_duplicate_at_defaults():
    rng = random.Random(7)
    vocab = vocabulary(rng, 3000)
    texts: list[str] = []
    for _ in range(60):
        base = paragraph(rng, vocab)
        texts.append(" ".join(base))
        for changes in (1, 2):
            copy = list(base)
            for pos in rng.sample(range(100), changes):
                copy[pos] = rng.choice(vocab)
            texts.append(" ".join(copy))
        inserted = list(base)
        inserted.insert(rng.randrange(101), rng.choice(vocab))
        texts.append(" ".join(inserted))
        deleted = list(base)
        del deleted[rng.randrange(100)]
        deleted[rng.randrange(99)] = rng.choice(vocab)  # a deletion and a substitution
        texts.append(" ".join(deleted))
    clusters = minhash_clusters(texts)
    for g in range(60):
        group = clusters[5 * g:5 * g + 5]
        assert group == [5 * g] * 5, f"paragraph {g}: {group}"


def test_default_lsh_split_and_option_errors():
    assert lsh_params(0.7, 128) == (18, 7)
    index = MinHashIndex()
    assert (index.bands, index.rows, index.ngram, index.num_perm, index.threshold) == (18, 7, 3, 128, 0.7)
    for bad, match in [({"threshold": 0}, "threshold"), ({"ngram": 0}, "ngram"), ({"verify": "maybe"}, "verify"),
                       ({"bands": 4}, "both"), ({"bands": 20, "rows": 8}, "bands"), ({"num_perm": 4}, "num_perm")]:
        with pytest.raises(ValueError, match=match):
            MinHashIndex(**bad)
    with pytest.raises(ValueError, match="keep must be one of"):
        minhash_dedup(["a"], keep="shortest")


# --- planted clusters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("verify", ["estimate", "exact"])
def test_precision_and_recall_on_planted_near_duplicate_clusters(verify):
    texts, labels = planted_corpus(2000, seed=11)
    result = minhash_dedup(texts, verify=verify)
    precision, recall = pairwise_precision_recall(labels, result.cluster.tolist())
    assert precision >= 0.95 and recall >= 0.90, (precision, recall)
    # row level: a row is a true duplicate when an earlier row has its label
    seen: set[int] = set()
    truth = []
    for lab in labels:
        truth.append(lab in seen)
        seen.add(lab)
    truth_arr, flagged = np.array(truth), result.is_duplicate
    row_precision = (truth_arr & flagged).sum() / flagged.sum()
    row_recall = (truth_arr & flagged).sum() / truth_arr.sum()
    assert row_precision >= 0.95 and row_recall >= 0.90, (row_precision, row_recall)
    # every duplicate's survivor is the first row of its cluster, and its similarity is reported
    dup = np.flatnonzero(flagged)
    assert (result.survivor[dup] < dup).all() and (result.survivor[dup] == result.cluster[dup]).all()
    assert ((result.similarity[dup] > 0.3) & (result.similarity[dup] <= 1.0)).all()


def test_unrelated_and_empty_texts_are_never_clustered():
    rng = random.Random(5)
    vocab = vocabulary(rng, 3000)
    texts = [" ".join(paragraph(rng, vocab, 40)) for _ in range(300)] + ["", None, "!!!", "", "..."]
    result = minhash_dedup(texts)
    assert result.n_duplicates == 0 and result.cluster.tolist() == list(range(len(texts)))


def test_exact_verification_reports_the_true_jaccard():
    texts = ["one two three four five six seven eight nine ten", "one two three four five six seven eight nine TEN!",
             "one two three four five six seven eight nine eleven"]
    result = minhash_dedup(texts, verify="exact")
    shingles = [set(text_shingles([t], 3)[0].tolist()) for t in texts]
    jaccard = len(shingles[0] & shingles[2]) / len(shingles[0] | shingles[2])
    assert result.cluster.tolist() == [0, 0, 0]
    assert result.similarity.tolist() == [1.0, 1.0, jaccard]


def test_survivor_rules_first_and_longest():
    rng = random.Random(9)
    vocab = vocabulary(rng, 2000)
    base = paragraph(rng, vocab, 60)
    short = " ".join(base[:-1])
    full = " ".join(base)
    longer = full + " " + rng.choice(vocab)
    other = " ".join(paragraph(rng, vocab, 60))
    texts = [short, other, longer, full]
    first = minhash_dedup(texts, keep="first")
    assert first.survivor.tolist() == [0, 1, 0, 0]
    longest = minhash_dedup(texts, keep="longest")
    assert longest.survivor.tolist() == [2, 1, 2, 2] and longest.cluster.tolist() == [0, 1, 0, 0]
    # ties in length go to the earliest row
    tied = minhash_dedup([full, other, full.upper()], keep="longest")
    assert tied.survivor.tolist() == [0, 1, 0]


def test_batching_and_threads_do_not_change_the_result():
    texts, _ = planted_corpus(600, seed=4)
    a = minhash_dedup(texts, workers=1, batch_size=10_000)
    b = minhash_dedup(texts, workers=2, batch_size=37)
    assert a.cluster.tolist() == b.cluster.tolist() and np.allclose(a.similarity, b.similarity)


# --- the step --------------------------------------------------------------------------------------------


def test_step_rejects_duplicates_naming_the_survivor(tmp_path):
    texts, labels = planted_corpus(300, seed=2)
    rows = [{"id": f"row{i}", "text": t, "n": i} for i, t in enumerate(texts)]
    step = MinHashDedup("near", columns="text", batch_size=64)
    out = list(step.run(iter(rows)))
    assert len(out) == len(rows)  # every row comes out, kept or rejected, in input order
    order = [(o.record if isinstance(o, RejectedRow) else o)["n"] for o in out]
    assert order == list(range(len(rows)))
    expected = minhash_dedup(texts)
    rejected = [o for o in out if isinstance(o, RejectedRow)]
    assert len(rejected) == expected.n_duplicates > 20
    for r in rejected:
        i = r.record["n"]
        survivor = int(expected.survivor[i])
        assert r.verdict.duplicate_of == f"row{survivor}" and f"row{survivor}" in r.verdict.reason
        assert labels[survivor] == labels[i]
        assert r.verdict.score == pytest.approx(expected.similarity[i])
    with pytest.raises(ValueError, match="dedup_minhash 'bad'.*keep"):
        MinHashDedup("bad", columns="text", keep="random")
    with pytest.raises(ValueError, match="dedup_minhash 'bad'.*threshold"):
        MinHashDedup("bad", columns="text", threshold=2)


def test_exact_dedup_words_normalisation():
    rows = [{"id": "a", "q": "Hello, world!"}, {"id": "b", "q": "hello world"}, {"id": "c", "q": "hello  world."}]
    basic = [o for o in ExactDedup("x", columns="q").run(iter(rows)) if isinstance(o, RejectedRow)]
    assert basic == []
    out = list(ExactDedup("x", columns="q", normalize="words").run(iter(rows)))
    assert [o.verdict.duplicate_of for o in out if isinstance(o, RejectedRow)] == ["a", "a"]
    with pytest.raises(ValueError, match="normalize must be one of"):
        ExactDedup("x", columns="q", normalize="stem")


def test_recipe_with_minhash_dedup_and_rouge_filter_runs_through_the_cli(tmp_path: Path):
    rng = random.Random(1)
    vocab = vocabulary(rng, 2000)
    docs = []
    for i in range(12):
        base = paragraph(rng, vocab, 40)
        docs.append({"doc": f"d{i}", "text": " ".join(base), "instruction": f"Describe item number {i} in detail {' '.join(base[:3])}"})
    copy = list(docs[3]["text"].split())
    copy[10] = "changed"
    docs[5]["instruction"] = "Write a haiku about rivers"
    docs.append({"doc": "copy-of-d3", "text": " ".join(copy), "instruction": "Explain tides to a child"})
    docs.append({"doc": "near-instr", "text": " ".join(paragraph(rng, vocab, 40)), "instruction": "Write one haiku about rivers"})
    recipe = {
        "name": "dedup-demo",
        "description": "MinHash dedup then the Self-Instruct ROUGE-L filter over inline records.",
        "citations": ["Broder 1997", "Wang et al. 2023 (Self-Instruct)"],
        "steps": [
            {"name": "docs", "type": "records", "rows": docs},
            {"name": "near_dups", "type": "dedup_minhash", "columns": "text"},
            {"name": "rouge", "type": "rouge_filter", "column": "instruction", "threshold": 0.7},
        ],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    kept = list(read_shards(out / "data"))
    rejected = [r for d in sorted((out / "rejected").iterdir()) for r in read_shards(d)]
    assert len(kept) + len(rejected) == len(docs)
    by_doc = {r["doc"]: r for r in rejected}
    assert set(by_doc) == {"copy-of-d3", "near-instr"}
    d3_id = next(r["id"] for r in kept if r["doc"] == "d3")
    assert by_doc["copy-of-d3"]["_rejected_by"] == "near_dups" and by_doc["copy-of-d3"]["_duplicate_of"] == d3_id
    d5_id = next(r["id"] for r in kept if r["doc"] == "d5")
    assert by_doc["near-instr"]["_rejected_by"] == "rouge" and "ROUGE-L" in by_doc["near-instr"]["_reason"]
    assert by_doc["near-instr"]["_duplicate_of"] == d5_id
    assert "copy-of-d3" not in {r["doc"] for r in kept}
    assert not any((out / ".state").rglob("minhash-rows.pkl"))  # spill files are removed
