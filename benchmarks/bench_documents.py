"""Documents in: documents per second through reading + chunking, per format (txt, md, html, pdf).

    .venv/bin/python benchmarks/bench_documents.py                 # 100 documents per format, 5 repeats
    .venv/bin/python benchmarks/bench_documents.py --docs 20 --repeats 3   # a quick check

A generated corpus (seeded): each document is about ``--words`` words of prose in paragraphs; the
HTML pages wrap them in navigation, a header and a footer (boilerplate trafilatura must drop), the
PDFs (written with fpdf2) spread them over pages. Each repeat reads every document of a format with
``read_document`` (text extraction included) and cuts it with ``chunk_text`` into chunks of
``--chunk-tokens`` tokens of ``--tokenizer`` (default: the embedded model's GGUF vocabulary). The
reference, in the same process, is reading the same files' bytes and decoding them (what any reader
costs at least): the ratio says how much of the time extraction and tokenization add. Medians of
the repeats; the load average is recorded before and after. Results go to
``benchmarks/results/bench_documents.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from synthloom.io.chunking import chunk_text
from synthloom.io.documents import find_documents, read_document
from synthloom.io.text_tokenizers import load_tokenizer

WORDS = ("the of and to in is was for on that with as by at from his her they were which this have are one had "
         "soil water light river market engine village harvest winter colony signal theory bridge library voyage "
         "measure gradually carefully although because however therefore scientists farmers engineers children "
         "observed described built measured discovered explained compared produced remained developed").split()
FORMATS = ("txt", "md", "html", "pdf")


def prose(rng: random.Random, words: int) -> list[str]:
    """Paragraphs of 40-90 words of sentences of 6-18 words."""
    paragraphs, left = [], words
    while left > 0:
        n = min(left, rng.randint(40, 90))
        sentences, k = [], n
        while k > 0:
            m = min(k, rng.randint(6, 18))
            sentences.append(" ".join(rng.choice(WORDS) for _ in range(m)).capitalize() + ".")
            k -= m
        paragraphs.append(" ".join(sentences))
        left -= n
    return paragraphs


def write_corpus(root: Path, docs: int, words: int, seed: int) -> None:
    from fpdf import FPDF

    rng = random.Random(seed)
    for fmt in FORMATS:
        (root / fmt).mkdir()
    for i in range(docs):
        for fmt in FORMATS:
            paras = prose(rng, words)
            path = root / fmt / f"doc{i}.{fmt}"
            if fmt == "txt":
                path.write_text("\n\n".join(paras))
            elif fmt == "md":
                path.write_text(f"# Report {i}\n\n" + "\n\n".join(f"## Part {j}\n\n{p}" if j % 3 == 0 else p
                                                                  for j, p in enumerate(paras)))
            elif fmt == "html":
                nav = "".join(f'<a href="/s{j}">Section {j}</a> ' for j in range(12))
                body = "".join(f"<p>{p}</p>" for p in paras)
                path.write_text(f"<html><head><title>Report {i}</title></head><body><nav>{nav}</nav>"
                                f"<header><div>Subscribe to our newsletter</div></header><main><article>"
                                f"<h1>Report {i}</h1>{body}</article></main><footer>Copyright 2026. All rights "
                                f"reserved. <a href='/privacy'>Privacy</a></footer></body></html>")
            else:
                pdf = FPDF()
                pdf.set_title(f"Report {i}")
                pdf.set_font("Helvetica", size=11)
                for j in range(0, len(paras), 3):
                    pdf.add_page()
                    pdf.multi_cell(0, 6, "\n\n".join(paras[j:j + 3]))
                pdf.output(str(path))


def time_format(folder: Path, tokenizer, chunk_tokens: int) -> dict:
    files = find_documents([str(folder)])
    start = time.perf_counter()
    raw_chars = sum(len(path.read_bytes().decode("latin-1")) for path in files)
    reference_s = time.perf_counter() - start
    start = time.perf_counter()
    chunks = tokens = 0
    read_s = 0.0
    for path, doc_id in files.items():
        t0 = time.perf_counter()
        doc = read_document(path, doc_id)
        read_s += time.perf_counter() - t0
        pieces = chunk_text(doc.text, tokenizer, chunk_tokens)
        chunks += len(pieces)
        tokens += sum(c.token_count for c, _ in pieces)
    total_s = time.perf_counter() - start
    return {"docs": len(files), "seconds": total_s, "read_seconds": read_s, "reference_seconds": reference_s,
            "chunks": chunks, "tokens": tokens, "raw_chars": raw_chars}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100, help="documents per format")
    parser.add_argument("--words", type=int, default=800, help="words per document")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chunk-tokens", type=int, default=300)
    parser.add_argument("--tokenizer", default="embedded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_documents.json")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    tokenizer = load_tokenizer(args.tokenizer)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(root, args.docs, args.words, args.seed)
        for fmt in FORMATS:
            runs = [time_format(root / fmt, tokenizer, args.chunk_tokens) for _ in range(args.repeats)]
            median = statistics.median(r["seconds"] for r in runs)
            read = statistics.median(r["read_seconds"] for r in runs)
            reference = statistics.median(r["reference_seconds"] for r in runs)
            first = runs[0]
            results[fmt] = {
                "docs": first["docs"], "chunks": first["chunks"], "tokens": first["tokens"],
                "docs_per_s": first["docs"] / median, "read_share": read / median,
                "tokens_per_s": first["tokens"] / median, "reference_docs_per_s": first["docs"] / reference,
                "times_reference": median / reference, "seconds": [round(r["seconds"], 4) for r in runs],
            }
    load_after = os.getloadavg()
    report = {"command": "benchmarks/bench_documents.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "python": platform.python_version(), "cpus": os.cpu_count(), "tokenizer": args.tokenizer,
              "chunk_tokens": args.chunk_tokens, "words_per_doc": args.words, "repeats": args.repeats,
              "load_before": load_before, "load_after": load_after, "formats": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; tokenizer {args.tokenizer}, "
          f"{args.words} words per document, chunks of {args.chunk_tokens} tokens, median of {args.repeats}")
    print("| format | docs | chunks | docs/s (read + chunk) | tokens/s | share reading | raw read docs/s | × raw read |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt, r in results.items():
        print(f"| {fmt} | {r['docs']} | {r['chunks']} | {r['docs_per_s']:.0f} | {r['tokens_per_s']:,.0f} | "
              f"{r['read_share']:.0%} | {r['reference_docs_per_s']:,.0f} | {r['times_reference']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
