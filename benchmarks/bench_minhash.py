"""MinHash-LSH near-duplicate dedup: scale (1,000,000 short documents) and distilabel's MinHashDedup.

    .venv/bin/python benchmarks/bench_minhash.py               # 1M docs (function + pipeline step), 50k vs distilabel
    .venv/bin/python benchmarks/bench_minhash.py --small       # 100k docs, 10k vs distilabel
    .venv/bin/python benchmarks/bench_minhash.py --docs 300000 --peer-docs 20000 --no-pipeline

Documents are ~50 pseudo-words drawn Zipf-like from a 20,000-word vocabulary. A share of originals get
1-4 near-copies (each made from the original or an earlier copy by 1-2 word substitutions, insertions or
deletions, plus case and punctuation noise), and 15% of originals are hard negatives that share half of
their words, as one block, with an unrelated document. Precision and recall are measured against the
planted clusters: per row (a row is a true duplicate when an earlier row belongs to its cluster; the
tool flags it or not) and, for synthloom, per pair of rows put in one cluster.

(a) synthloom's ``minhash_dedup`` on ``--docs`` texts end to end (sketching, LSH, verification,
union-find, survivors), and the ``dedup_minhash`` step through ``synthloom run`` on a Parquet file
of the same documents (reading, spilling, writing data/ and rejected/ included).
(b) distilabel 1.5.3's ``MinHashDedup`` step on ``--peer-docs`` documents, run in its own virtual
environment (benchmarks/.venvs/distilabel, with datasketch 1.6.5: datasketch 2.x breaks distilabel
1.5.3's LSH subclass) by calling the step's ``load()`` and ``process()`` on batches of 1,000 rows, so
its pipeline machinery costs it nothing. Its ``words`` tokenizer needs NLTK's punkt data (a download),
so it runs with ``tokenizer="ngrams"`` (character 5-grams), at its default threshold 0.9 and at 0.7.
synthloom runs on the same documents with its defaults in the same run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_PYTHON = HERE / ".venvs" / "distilabel" / "bin" / "python"

DISTILABEL_HARNESS = r'''
import json, os, sys, time, warnings
warnings.filterwarnings("ignore")
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "ERROR")
path, threshold, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
started = time.perf_counter()
cpu0 = time.process_time()
from distilabel.steps import MinHashDedup
step = MinHashDedup(tokenizer="ngrams", n=5, threshold=threshold, num_perm=128, storage="dict")
step.load()
loaded, cpu1 = time.perf_counter(), time.process_time()
flags = []
for s in range(0, len(texts), 1000):
    rows = next(step.process([{"text": t} for t in texts[s:s + 1000]]))
    flags.extend(not r["keep_row_after_minhash_filtering"] for r in rows)
done, cpu2 = time.perf_counter(), time.process_time()
import distilabel, datasketch
json.dump({"seconds": done - loaded, "cpu_seconds": cpu2 - cpu1, "load_seconds": loaded - started, "flags": flags,
           "versions": {"distilabel": distilabel.__version__, "datasketch": datasketch.__version__}}, open(out, "w"))
'''


# --- the corpus ------------------------------------------------------------------------------------------

def vocabulary(rng: random.Random, size: int) -> list[str]:
    syll = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "pe", "da", "ru", "shi", "an", "el", "or", "un", "is",
            "ta", "be", "go", "zu", "fa", "qui", "mo"]
    vocab: set[str] = set()
    while len(vocab) < size:
        vocab.add("".join(rng.choice(syll) for _ in range(rng.randint(1, 4))))
    return sorted(vocab)


def planted_corpus(n_docs: int, seed: int = 0, copy_share: float = 0.25) -> tuple[list[str], np.ndarray]:
    """``n_docs`` texts and the planted cluster label of each (see the module doc)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    vocab = vocabulary(rng, 20_000)
    words = np.array(vocab, dtype=object)
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    n_orig = int(n_docs / (1 + copy_share * 2.5)) + 16
    lengths = nrng.integers(45, 56, size=n_orig)
    flat = nrng.choice(len(vocab), size=int(lengths.sum()), p=p)
    bounds = np.concatenate([[0], np.cumsum(lengths)])

    def noisy(ws: list[int]) -> tuple[list[int], str]:
        out = list(ws)
        for _ in range(rng.randint(1, 2)):
            op = rng.random()
            if op < 0.5:
                out[rng.randrange(len(out))] = rng.randrange(len(vocab))
            elif op < 0.75:
                out.insert(rng.randrange(len(out) + 1), rng.randrange(len(vocab)))
            else:
                del out[rng.randrange(len(out))]
        text = " ".join(words[out])
        text = text.capitalize() + "." if rng.random() < 0.5 else text
        return out, text.replace(" ", ", ", 1) if rng.random() < 0.3 else text

    texts: list[str] = []
    labels: list[int] = []
    for label in range(n_orig):
        if len(texts) >= n_docs:
            break
        ws = flat[bounds[label]:bounds[label + 1]].tolist()
        if label and rng.random() < 0.15:  # hard negative: half its words, as a block, from another original
            other = flat[bounds[(j := rng.randrange(label))]:bounds[j + 1]].tolist()
            k = len(other) // 2
            start = rng.randrange(len(other) - k + 1)
            ws[:k] = other[start:start + k]
        texts.append(" ".join(words[ws]))
        labels.append(label)
        if rng.random() < copy_share:
            members = [ws]
            for _ in range(rng.randint(1, 4)):
                copy, text = noisy(rng.choice(members))  # copies of copies: clusters are chains
                members.append(copy)
                texts.append(text)
                labels.append(label)
    order = nrng.permutation(len(texts))[:n_docs]
    return [texts[i] for i in order], np.asarray(labels)[order]


# --- scoring ---------------------------------------------------------------------------------------------

def row_truth(labels: np.ndarray) -> np.ndarray:
    seen: set[int] = set()
    truth = np.zeros(len(labels), dtype=bool)
    for i, lab in enumerate(labels.tolist()):
        truth[i] = lab in seen
        seen.add(lab)
    return truth


def row_scores(labels: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    truth = row_truth(labels)
    flagged = np.asarray(flagged, dtype=bool)
    tp = int((truth & flagged).sum())
    return {"row_precision": round(tp / max(int(flagged.sum()), 1), 4), "row_recall": round(tp / max(int(truth.sum()), 1), 4),
            "flagged": int(flagged.sum()), "true_duplicates": int(truth.sum())}


def pair_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    def same(counter: collections.Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counter.values())

    both = same(collections.Counter(zip(labels.tolist(), clusters.tolist())))
    predicted = same(collections.Counter(clusters.tolist()))
    planted = same(collections.Counter(labels.tolist()))
    return {"pair_precision": round(both / max(predicted, 1), 4), "pair_recall": round(both / max(planted, 1), 4)}


# --- runs ------------------------------------------------------------------------------------------------

def run_ours(texts: list[str], labels: np.ndarray) -> dict[str, object]:
    from synthloom.curate.minhash_dedup import minhash_dedup

    started, cpu = time.perf_counter(), time.process_time()
    result = minhash_dedup(texts)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "cpu_seconds": round(time.process_time() - cpu, 3),
            "docs_per_s": round(len(texts) / seconds), "duplicates": result.n_duplicates,
            **row_scores(labels, result.is_duplicate), **pair_scores(labels, result.cluster)}


def run_pipeline(texts: list[str], labels: np.ndarray, work: Path) -> dict[str, object]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    data = work / "docs.parquet"
    pq.write_table(pa.table({"doc": np.arange(len(texts)), "text": texts}), data, row_group_size=100_000)
    recipe = {"name": "bench-minhash", "description": "MinHash dedup of a Parquet file.", "citations": ["Broder 1997"],
              "steps": [{"name": "docs", "type": "load", "path": str(data)},
                        {"name": "near_dups", "type": "dedup_minhash", "columns": "text"}]}
    (work / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    out = work / "run"
    cmd = [str(ROOT / ".venv" / "bin" / "synthloom"), "run", str(work / "recipe.yaml"), "-o", str(out), "--quiet",
           "--partition-size", "50000"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": (proc.stdout + proc.stderr)[-2000:]}
    run = json.loads((out / "run.json").read_text())
    flagged = np.zeros(len(texts), dtype=bool)
    for shard in sorted((out / "rejected").rglob("*.parquet")):
        flagged[pq.read_table(shard, columns=["doc"]).column("doc").to_numpy()] = True
    return {"seconds": round(seconds, 2), "docs_per_s": round(len(texts) / seconds), "rows": run.get("rows"),
            **row_scores(labels, flagged)}


def run_distilabel(texts: list[str], labels: np.ndarray, threshold: float, work: Path) -> dict[str, object]:
    if not PEER_PYTHON.exists():
        return {"error": f"{PEER_PYTHON} missing: bash benchmarks/setup_peer_venvs.sh distilabel"}
    data, out, harness = work / "peer.jsonl", work / f"peer-{threshold}.json", work / "harness.py"
    if not data.exists():
        data.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    harness.write_text(DISTILABEL_HARNESS)
    started = time.perf_counter()
    proc = subprocess.run([str(PEER_PYTHON), str(harness), str(data), str(threshold), str(out)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    got = json.loads(out.read_text())
    return {"threshold": threshold, "seconds": round(got["seconds"], 2), "cpu_seconds": round(got["cpu_seconds"], 2),
            "process_wall_seconds": round(wall, 2),
            "versions": got["versions"], **row_scores(labels, np.array(got["flags"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="100k docs and 10k against distilabel")
    ap.add_argument("--docs", type=int, default=None, help="documents for the scale run (default 1,000,000)")
    ap.add_argument("--peer-docs", type=int, default=None, help="documents for the distilabel comparison (default 50,000)")
    ap.add_argument("--no-pipeline", action="store_true", help="skip the dedup_minhash step through `synthloom run`")
    ap.add_argument("--no-peer", action="store_true", help="skip distilabel")
    ap.add_argument("--peer-thresholds", default="0.9,0.7", help="distilabel thresholds to run (its default is 0.9)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_minhash.json")
    args = ap.parse_args()
    n_docs = args.docs or (100_000 if args.small else 1_000_000)
    n_peer = args.peer_docs or (10_000 if args.small else 50_000)
    result: dict[str, object] = {"bench": "minhash", "machine": {
        "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg()}}

    started = time.perf_counter()
    texts, labels = planted_corpus(n_docs, seed=1)
    print(f"corpus: {n_docs:,} docs ({time.perf_counter() - started:.1f} s to generate), "
          f"{int(row_truth(labels).sum()):,} planted duplicates", flush=True)
    ours = run_ours(texts, labels)
    print(f"(a) minhash_dedup on {n_docs:,}: {ours['seconds']} s ({ours['docs_per_s']:,} docs/s) "
          f"row P/R {ours['row_precision']}/{ours['row_recall']}, pair P/R {ours['pair_precision']}/{ours['pair_recall']}",
          flush=True)
    result["scale"] = {"docs": n_docs, "target_seconds": 300, "function": ours}
    with tempfile.TemporaryDirectory(prefix="bench-minhash-") as tmp:
        work = Path(tmp)
        if not args.no_pipeline:
            piped = run_pipeline(texts, labels, work)
            result["scale"]["pipeline_step"] = piped  # type: ignore[index]
            print(f"(a) dedup_minhash step via `synthloom run` on {n_docs:,}: {piped.get('seconds')} s "
                  f"{piped.get('error', '')}", flush=True)
        del texts

        peer_texts, peer_labels = planted_corpus(n_peer, seed=2)
        ours_small = run_ours(peer_texts, peer_labels)
        comparison: dict[str, object] = {"docs": n_peer, "synthloom": ours_small, "distilabel": [], "target_ratio": 20}
        print(f"(b) synthloom on {n_peer:,}: {ours_small['seconds']} s, row P/R "
              f"{ours_small['row_precision']}/{ours_small['row_recall']}", flush=True)
        if not args.no_peer:
            for threshold in [float(t) for t in args.peer_thresholds.split(",") if t]:
                peer = run_distilabel(peer_texts, peer_labels, threshold, work)
                if "seconds" in peer:
                    peer["ratio"] = round(float(peer["seconds"]) / float(ours_small["seconds"]), 1)  # type: ignore[arg-type]
                    peer["ratio_cpu_time"] = round(float(peer["cpu_seconds"]) / float(ours_small["cpu_seconds"]), 1)  # type: ignore[arg-type]
                comparison["distilabel"].append(peer)  # type: ignore[union-attr]
                print(f"(b) distilabel MinHashDedup (threshold {threshold}) on {n_peer:,}: {peer.get('seconds')} s "
                      f"-> {peer.get('ratio')}x ({peer.get('ratio_cpu_time')}x in CPU time); "
                      f"row P/R {peer.get('row_precision')}/{peer.get('row_recall')} "
                      f"{peer.get('error', '')}", flush=True)
        result["vs_distilabel"] = comparison
    result["machine"]["loadavg_after"] = os.getloadavg()  # type: ignore[index]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
