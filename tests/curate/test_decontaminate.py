"""Decontamination: planted verbatim, edited and paraphrased leaks; clean rows; short items; files; the step."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.decontaminate import (
    Benchmark,
    BenchmarkItem,
    Decontaminate,
    NgramIndex,
    load_benchmark,
    normalise_words,
    run_decontaminate,
)
from synthloom.io.shards import read_shards

GSM = [
    ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?"),
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
    ("Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. "
    "Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her parents. "
    "How much more money does Betty need to buy the wallet?"),
    "James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?",
]
SHORT = ["What is the boiling point of water at sea level?", "Name the largest planet.", "Who wrote Hamlet?"]


def opts() -> RunOptions:
    return RunOptions(progress="quiet", log=lambda m: None)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def bench_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "gsm8k_test.jsonl",
                       [{"uid": f"gsm-{i}", "question": q, "answer": "42"} for i, q in enumerate(GSM)])


def items(texts, source="bench.jsonl"):
    return [BenchmarkItem(source, i, t, f"b{i}") for i, t in enumerate(texts)]


def test_normalise_words_drops_case_and_punctuation():
    assert normalise_words("Hello,  WORLD! It's 3.5%") == ["hello", "world", "it", "s", "3", "5"]


def test_verbatim_leak_inside_a_longer_row_is_caught_and_named():
    bench = Benchmark(items(GSM), method="ngram")
    row = "Solve this for me please. " + GSM[2] + " Show your work step by step and give the final answer."
    (m,) = bench.check_many([row])
    assert m is not None and m.method == "ngram" and m.score == pytest.approx(1.0)
    assert m.item.row == 2 and m.item.id == "b2" and m.item.source == "bench.jsonl"
    d = m.to_dict()
    assert d["benchmark_row"] == 2 and d["benchmark_text"].startswith("Betty is saving money")
    assert "bench.jsonl row 2 (id b2)" in m.reason() and "13-gram" in m.reason()


def test_leak_with_a_few_words_changed_is_caught():
    edited = GSM[2].replace("wallet", "purse", 1).replace("parents decided", "mom and dad decided").replace("$15", "$20")
    bench = Benchmark(items(GSM), method="ngram")
    (m,) = bench.check_many([edited])
    assert m is not None and m.item.row == 2
    assert 0.8 <= m.score < 1.0


def test_shared_phrase_without_the_item_is_not_flagged():
    # a 13-gram of the item appears, but the rest differs: the diff ratio rejects the hit
    row = ("Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her "
           "parents. Then the family went hiking in the mountains for the weekend and came back tired but happy.")
    bench = Benchmark(items(GSM), method="ngram")
    assert bench.ngrams is not None and bench.ngrams.match_many([row]) == [None]
    # ...while a low diff threshold accepts the same hit (the confirmation is what decides)
    loose = NgramIndex(items(GSM), diff_threshold=0.2)
    assert loose.match_many([row])[0] is not None


def test_clean_rows_are_untouched():
    clean = ["Write a haiku about autumn leaves.", "Explain quantum entanglement to a child.",
             "How many clips did you buy?", "", "Natalia went to the market in April."]
    bench = Benchmark(items(GSM + SHORT), method="both")
    assert bench.check_many(clean) == [None] * len(clean)


def test_paraphrased_leak_passes_ngram_but_embedding_flags_it():
    para = ("Twice every week, James writes a letter of 3 pages to each of his 2 friends. "
            "How many pages does he write in a year?")
    assert Benchmark(items(GSM), method="ngram").check_many([para]) == [None]
    (m,) = Benchmark(items(GSM), method="embedding").check_many([para])
    assert m is not None and m.method == "embedding" and m.item.row == 3 and m.score >= 0.8
    (m2,) = Benchmark(items(GSM), method="both").check_many([para])
    assert m2 is not None and m2.method == "embedding"


def test_short_benchmark_items_use_shorter_ngrams_or_the_embedding():
    idx = NgramIndex(items(SHORT))
    # 10 words: 8-grams (n = clamp(10 // 3, 8, 13)); 4 and 3 words: below min_words=8, skipped
    assert sorted(idx.tables) == [8] and idx.skipped == 2
    (m,) = idx.match_many(["Quick quiz: what is the boiling point of water at sea level? Answer in Celsius."])
    assert m is not None and m.item.row == 0 and "8-gram" in m.detail
    assert idx.match_many(["Name the largest planet."]) == [None]
    low = NgramIndex(items(SHORT), min_words=3)
    assert [m.item.row if m else None for m in low.match_many(["Name the largest planet.", "Who wrote Hamlet? Tell me."])] == [1, 2]
    (e,) = Benchmark(items(SHORT), method="embedding").check_many(["Which planet is the largest one?"])
    assert e is not None and e.item.row == 1


def test_planted_leaks_among_many_rows_exact_precision_and_recall():
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "seven", "table", "light", "music", "paper",
             "green", "orange", "window"]
    rows = [" ".join(rng.choice(words) for _ in range(rng.randint(10, 60))) for _ in range(3000)]
    planted = {}
    for k, pos in enumerate(rng.sample(range(3000), 40)):
        item = GSM[k % len(GSM)]
        rows[pos] = rows[pos][:50] + " " + item + " " + rows[pos][50:]
        planted[pos] = k % len(GSM)
    matches = Benchmark(items(GSM), method="ngram").check_many(rows)
    flagged = {i: m.item.row for i, m in enumerate(matches) if m is not None}
    assert flagged == planted


def test_bad_options(bench_file):
    with pytest.raises(ValueError, match="method must be one of"):
        Decontaminate("d", against=str(bench_file), method="magic")
    with pytest.raises(ValueError, match="short_ngram"):
        Decontaminate("d", against=str(bench_file), ngram=5, short_ngram=8)
    with pytest.raises(ValueError, match="diff_threshold"):
        Decontaminate("d", against=str(bench_file), diff_threshold=0)
    with pytest.raises(ValueError, match="no items"):
        Benchmark([], method="ngram")


def test_load_benchmark_formats_columns_and_errors(tmp_path, bench_file):
    got = load_benchmark(bench_file, id_column="uid")
    assert [(i.row, i.id) for i in got] == [(k, f"gsm-{k}") for k in range(4)] and got[0].text == GSM[0]
    csv_path = tmp_path / "short.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "solution"])
        for q in SHORT:
            w.writerow([q, "s"])
    pq_path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"problem": ["p one two", "p three"], "hint": ["h1", "h2"]}), pq_path)
    both = load_benchmark([bench_file, csv_path])
    assert [i.source for i in both] == [str(bench_file)] * 4 + [str(csv_path)] * 3
    assert both[4].text == SHORT[0] and both[4].row == 0
    two_cols = load_benchmark(pq_path, ["problem", "hint"])
    assert two_cols[1].text == "p three\n\nh2"
    with pytest.raises(ValueError, match="set against_columns"):
        load_benchmark(write_jsonl(tmp_path / "odd.jsonl", [{"zzz": "a"}]))
    with pytest.raises(ValueError, match="no column 'nope'"):
        load_benchmark(bench_file, "nope")
    with pytest.raises(Exception, match="missing.jsonl"):
        load_benchmark(tmp_path / "missing.jsonl")


def test_load_benchmark_from_hf_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "hf_bench"
    datasets.Dataset.from_dict({"question": GSM[:2]}).save_to_disk(str(folder))
    got = load_benchmark(folder)
    assert [i.text for i in got] == GSM[:2]


def test_step_rejects_with_the_benchmark_item(tmp_path, bench_file):
    rows = [{"text": "Please solve: " + GSM[0]}, {"text": "Write a poem about the sea."},
            {"text": GSM[1].replace("babysitting", "dog walking", 1)}, {"text": "Tell me a joke."}]
    step = Decontaminate("decon", against=str(bench_file), columns="text", id_column="uid")
    res = run_pipeline(Pipeline([RecordsSource("seeds", rows=rows), step]), tmp_path / "o", opts())
    data = list(read_shards(tmp_path / "o" / "data"))
    rej = [r for sub in sorted((tmp_path / "o" / "rejected").iterdir()) for r in read_shards(sub)]
    assert [r["text"] for r in data] == ["Write a poem about the sea.", "Tell me a joke."]
    assert "contamination" not in data[0]
    assert sorted(r["contamination"]["benchmark_id"] for r in rej) == ["gsm-0", "gsm-1"]
    for r in rej:
        assert r["_rejected_by"] == "decon" and "gsm8k_test.jsonl row" in r["_reason"]
        assert r["contamination"]["method"] == "ngram" and r["_score"] >= 0.8
        assert r["contamination"]["benchmark_file"] == str(bench_file)
    assert res.counts["decon"].balanced and res.counts["decon"].rejected == 2


def test_missing_benchmark_file_is_named_at_construction(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"step 'decon': benchmark file .*nope.jsonl.* does not exist"):
        Decontaminate("decon", against=str(tmp_path / "nope.jsonl"))


def test_run_decontaminate_function_api(tmp_path, bench_file):
    src = write_jsonl(tmp_path / "train.jsonl", [{"instruction": GSM[3] + " Think step by step.", "k": 1},
                                                 {"instruction": "Describe a rainbow.", "k": 2}])
    res = run_decontaminate(src, tmp_path / "out", columns="instruction", against=str(bench_file),
                            against_columns="question", run_options=opts())
    assert res.ok
    data = list(read_shards(tmp_path / "out" / "data"))
    assert [r["k"] for r in data] == [2] and data[0]["id"]
    rej = [r for sub in sorted((tmp_path / "out" / "rejected").iterdir()) for r in read_shards(sub)]
    assert [r["k"] for r in rej] == [1] and rej[0]["contamination"]["benchmark_row"] == 3


def test_batch_matching_equals_one_by_one_even_with_odd_characters():
    texts = ["x\x1ey\x00z " + GSM[0], "Write about \x1e rivers.", GSM[3] + " ok", "", "ﬁnal Ｆｕｌｌｗｉｄｔｈ " + GSM[1]]
    bench = Benchmark(items(GSM), method="ngram")
    together = [m and (m.item.row, round(m.score, 4)) for m in bench.check_many(texts)]
    alone = [m and (m.item.row, round(m.score, 4)) for t in texts for m in bench.check_many([t])]
    assert together == alone
    assert [t if t is None else t[0] for t in together] == [0, None, 3, None, 1]
    ascii_texts = ["Q: " + GSM[2].upper(), "nothing here", GSM[1] + "!!!", "tabs\tand\x1eseparators " + GSM[3]]
    bench_rows = [m and m.item.row for m in bench.check_many(ascii_texts)]
    assert bench_rows == [m and m.item.row for t in ascii_texts for m in bench.check_many([t])] == [2, None, 1, 3]


RECIPE = """\
name: curate-chain
params:
  input: {input}
  bench: {bench}
steps:
  - name: rows
    type: load
    path: ${{input}}
  - name: emb
    type: embed
    columns: text
  - name: semdedup
    type: dedup_semantic
    embedding_column: embedding
    keep: first
  - name: decon
    type: decontaminate
    columns: text
    against: ${{bench}}
    id_column: uid
    method: both
"""


def test_yaml_recipe_chain_embed_semdedup_decontaminate(tmp_path, bench_file):
    from synthloom.recipes.build import load_pipeline

    rows = [{"text": "Write a poem about the sea."}, {"text": "Compose a poem about the sea."},
            {"text": "Quick one: " + GSM[0]},
            {"text": "Twice every week, James writes a letter of 3 pages to each of his 2 friends. "
                     "How many pages does he write in a year?"},
            {"text": "List three uses of copper."}]
    src = write_jsonl(tmp_path / "rows.jsonl", rows)
    recipe = tmp_path / "chain.yaml"
    recipe.write_text(RECIPE.format(input=src, bench=bench_file))
    loaded = load_pipeline(str(recipe), check_models=False)
    res = run_pipeline(loaded.pipeline, tmp_path / "o", opts())
    data = list(read_shards(tmp_path / "o" / "data"))
    assert [r["text"] for r in data] == [rows[0]["text"], rows[4]["text"]]
    assert res.counts["semdedup"].rejected == 1 and res.counts["decon"].rejected == 2
    rej = {p.name: list(read_shards(p)) for p in (tmp_path / "o" / "rejected").iterdir() if p.is_dir()}
    decon = sorted(rej["decon"], key=lambda r: r["contamination"]["benchmark_row"])
    assert [(r["contamination"]["method"], r["contamination"]["benchmark_id"]) for r in decon] == [
        ("ngram", "gsm-0"), ("embedding", "gsm-3")]
    assert all(c.balanced for c in res.counts.values())
