"""The offline MiniLM encoder (int8 ONNX + vendored tokenizer) and the ``embed`` step."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate import embeddings
from synthloom.curate.embeddings import EmbedStep, get_encoder
from synthloom.io.shards import read_shards

PARA_A = "How do I bake a chocolate cake at home?"
PARA_B = "What is the procedure for making a chocolate cake in my own kitchen?"
UNRELATED = "The central bank raised interest rates by half a percentage point on Tuesday."


@pytest.fixture(scope="module")
def enc():
    return get_encoder()


def test_shape_dtype_and_unit_rows(enc):
    v = enc.encode([PARA_A, PARA_B, UNRELATED, "x"])
    assert v.shape == (4, enc.dim) == (4, 384)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert enc.name == "minilm"


def test_paraphrase_is_much_closer_than_unrelated(enc):
    a, b, c = enc.encode([PARA_A, PARA_B, UNRELATED])
    para, unrelated = float(a @ b), float(a @ c)
    assert para > 0.7
    assert unrelated < 0.3
    assert para - unrelated > 0.5


def test_deterministic_and_independent_of_batching(enc):
    texts = [PARA_A, UNRELATED * 3, PARA_B, "short", "a somewhat longer sentence with more words in it"]
    full = enc.encode(texts, batch_size=64)
    one_by_one = np.stack([enc.encode([t])[0] for t in texts])
    small_batches = enc.encode(texts, batch_size=2)
    np.testing.assert_allclose(full, one_by_one, atol=1e-5)
    np.testing.assert_allclose(full, small_batches, atol=1e-5)
    np.testing.assert_array_equal(full, enc.encode(texts, batch_size=64))
    # the output is in input order, not the length-sorted order used for batching
    np.testing.assert_allclose(full[2], enc.encode([PARA_B])[0], atol=1e-5)


def test_empty_list_and_empty_text(enc):
    v = enc.encode([])
    assert v.shape == (0, 384) and v.dtype == np.float32
    e = enc.encode([""])
    assert e.shape == (1, 384) and abs(np.linalg.norm(e[0]) - 1) < 1e-5


def test_long_text_truncated_to_256_tokens(enc):
    head = " ".join(f"word{i}" for i in range(200))
    long_a = head + " " + "apple " * 2000
    long_b = head + " " + "apple " * 2000 + " completely different ending about rockets and galaxies " * 50
    assert enc.token_lengths([long_a])[0] == 256
    va, vb = enc.encode([long_a, long_b])
    # everything past token 256 is cut off: both texts share their first 256 tokens
    np.testing.assert_allclose(va, vb, atol=1e-5)


def test_encoder_is_cached_per_process():
    assert get_encoder() is get_encoder("minilm")


def test_bad_arguments(enc):
    with pytest.raises(TypeError, match="list of texts"):
        enc.encode("not a list")
    with pytest.raises(ValueError, match="batch_size"):
        enc.encode(["a"], batch_size=0)
    with pytest.raises(ValueError, match="unknown embedding model"):
        get_encoder("bert-large")


def test_missing_extra_names_the_install_command(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kw):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kw)

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'synthloom\[embed\]'"):
        embeddings.MiniLMEncoder()


def test_embed_step_in_a_pipeline(tmp_path):
    texts = [PARA_A, PARA_B, UNRELATED] + [f"sentence number {i} about topic {i % 3}" for i in range(20)]
    src = RecordsSource("seeds", rows=[{"text": t} for t in texts])
    pipe = Pipeline([src, EmbedStep("emb", columns="text", output="vec")])
    res = run_pipeline(pipe, tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    assert res.ok and res.counts["emb"].balanced
    data = list(read_shards(tmp_path / "o" / "data"))
    assert [r["text"] for r in data] == texts
    vecs = np.asarray([r["vec"] for r in data], dtype=np.float32)
    assert vecs.shape == (len(texts), 384)
    np.testing.assert_allclose(vecs, get_encoder().encode(texts), atol=1e-5)


def test_embed_step_missing_column_is_an_error_row(tmp_path):
    src = RecordsSource("seeds", rows=[{"text": "fine"}, {"other": "no text column"}])
    pipe = Pipeline([src, EmbedStep("emb", columns="text")])
    res = run_pipeline(pipe, tmp_path / "o", RunOptions(progress="quiet", log=lambda m: None))
    assert res.counts["emb"].errors == 1 and res.counts["emb"].ok == 1 and res.counts["emb"].balanced
