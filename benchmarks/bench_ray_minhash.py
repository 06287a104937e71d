"""MinHash-LSH dedup over 1,000,000 short documents: the local ``dedup_minhash`` step vs its Ray form.

    .venv/bin/python benchmarks/bench_ray_minhash.py                 # 1M docs, 3 runs each, 2 Ray CPUs
    .venv/bin/python benchmarks/bench_ray_minhash.py --docs 100000 --runs 3 --cpus 2

The documents are ``bench_minhash.py``'s planted corpus (~50 pseudo-words, near-copy clusters made by
word substitutions, insertions and deletions, hard negatives sharing half their words). They are written
as Parquet shards of ``--shard-rows`` rows (the engine's partition size, 1,000), as a run's upstream
node folder holds them. Timed, the same work both ways: every output item consumed, from the upstream
folder to the last kept or rejected row.

* local: ``MinHashDedup.run(read_shards(folder))`` in this process (its sketching uses 2 threads);
* Ray: ``distributed_form(step)([folder], RayGlobalContext(workers=cpus))`` on a local Ray instance of
  ``--cpus`` CPUs started once before the runs (start-up reported apart): signatures per row range in
  tasks, LSH per band group in tasks, the verdicts and the rows yielded by the driver.

Both runs' outputs are checked to be identical (a digest of every item's kind, id, reason and score).
Reported: median seconds of ``--runs`` runs, rows/s, and the ratio Ray / local.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import xxhash

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_minhash import planted_corpus  # noqa: E402

from synthloom.curate.minhash_dedup import MinHashDedup  # noqa: E402
from synthloom.io.shards import ShardWriter, read_shards  # noqa: E402
from synthloom.pipeline.step import RejectedRow  # noqa: E402


def write_upstream(folder: Path, texts: list[str], shard_rows: int) -> None:
    writer = ShardWriter(folder, format="parquet")
    for k, start in enumerate(range(0, len(texts), shard_rows)):
        writer.write_shard(k, [{"id": f"doc-{i:07d}", "text": texts[i]} for i in range(start, min(start + shard_rows, len(texts)))])


def consume(items) -> tuple[int, str]:
    """(rejected rows, digest of every item)."""
    digest, rejected = xxhash.xxh3_128(), 0
    for item in items:
        if isinstance(item, RejectedRow):
            rejected += 1
            v = item.verdict
            digest.update(f"R\x1f{item.record['id']}\x1f{v.reason}\x1f{v.score!r}\x1f{v.duplicate_of}\n".encode())
        else:
            digest.update(f"K\x1f{item['id']}\n".encode())
    return rejected, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance (= workers)")
    parser.add_argument("--shard-rows", type=int, default=1000)
    args = parser.parse_args()

    import ray

    from synthloom.engine.ray_global import RayGlobalContext, distributed_form

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"{args.docs:,} docs, Ray {ray.__version__}")
    t0 = time.perf_counter()
    texts, _ = planted_corpus(args.docs, seed=0)
    with tempfile.TemporaryDirectory(prefix="bench-ray-minhash-") as tmp:
        folder = Path(tmp) / "upstream"
        write_upstream(folder, texts, args.shard_rows)
        del texts
        print(f"corpus + {args.docs // args.shard_rows:,} shards written in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        print(f"ray.init: {time.perf_counter() - t0:.1f} s (not counted)")
        step = MinHashDedup("dedup", columns="text")
        ctx = RayGlobalContext(workers=args.cpus, spill_dir=Path(tmp) / "spill")
        times: dict[str, list[float]] = {"local": [], "ray": []}
        outputs: dict[str, set[tuple[int, str]]] = {"local": set(), "ray": set()}
        for run in range(args.runs):
            for name in ("local", "ray"):
                t0 = time.perf_counter()
                items = step.run(read_shards(folder)) if name == "local" else distributed_form(step)([folder], ctx)
                outputs[name].add(consume(items))
                times[name].append(time.perf_counter() - t0)
                print(f"run {run + 1} {name:5s} {times[name][-1]:7.2f} s  load {os.getloadavg()[0]:.1f}", flush=True)
        ray.shutdown()
    same = outputs["local"] == outputs["ray"] and len(outputs["local"]) == 1
    (rejected, _), = outputs["local"]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\noutputs identical: {same} ({rejected:,} near-duplicates rejected of {args.docs:,})")
    for name in ("local", "ray"):
        print(f"{name:5s}: median {med[name]:.2f} s over {args.runs} runs ({', '.join(f'{t:.1f}' for t in times[name])}), "
              f"{args.docs / med[name]:,.0f} rows/s")
    print(f"ray / local: {med['ray'] / med['local']:.2f}x the time")
    if not same:
        raise SystemExit("the Ray form's output differs from the local step's")


if __name__ == "__main__":
    main()
