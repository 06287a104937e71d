import asyncio
import json
import shutil

import pytest

from synthloom.llm.backends.llamacpp import LlamaCppBackend, check_model_path, gguf_fingerprint
from synthloom.llm.spec import ModelSpecError, parse_model_spec
from synthloom.llm.types import ModelBackend, PermanentError, Request

CHAT = [{"role": "user", "content": "Name three colours of the rainbow."}]


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


# ---------------------------------------------------------------- no model needed


def test_missing_gguf_path_is_named(tmp_path):
    missing = tmp_path / "nope" / "model.gguf"
    with pytest.raises(ModelSpecError) as err:
        check_model_path(parse_model_spec(f"gguf:{missing}", name="gen"))
    assert str(missing) in str(err.value)
    assert "'gen'" in str(err.value)
    with pytest.raises(PermanentError) as err:
        LlamaCppBackend(parse_model_spec(f"gguf:{missing}"))
    assert str(missing) in str(err.value)


def test_directory_and_non_gguf_files_are_rejected(tmp_path):
    with pytest.raises(ModelSpecError, match="is not a file"):
        check_model_path(parse_model_spec(f"gguf:{tmp_path}"))
    bogus = tmp_path / "weights.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ModelSpecError, match="is not a GGUF file"):
        check_model_path(parse_model_spec(f"gguf:{bogus}"))


def test_fingerprint_follows_content_not_location(tmp_path):
    a = tmp_path / "a.gguf"
    a.write_bytes(b"GGUF" + bytes(range(256)) * 9000)
    moved = tmp_path / "elsewhere" / "renamed.gguf"
    moved.parent.mkdir()
    shutil.copy(a, moved)
    assert gguf_fingerprint(str(a)) == gguf_fingerprint(str(moved))
    changed = tmp_path / "c.gguf"
    changed.write_bytes(b"GGUF" + bytes(range(256)) * 8999 + b"x" * 256)
    assert gguf_fingerprint(str(changed)) != gguf_fingerprint(str(a))


# ---------------------------------------------------------------- real model


def _greedy(backend, request):
    return _run(backend.complete(request))


@pytest.mark.slow
def test_chat_and_raw_completion_produce_text(backend):
    assert isinstance(backend, ModelBackend)
    assert backend.identity.startswith("llamacpp:") and len(backend.identity) == len("llamacpp:") + 64
    chat = _greedy(backend, Request.chat(CHAT, temperature=0, max_tokens=16))
    assert chat.text.strip()
    assert chat.usage.prompt_tokens > 10 and 0 < chat.usage.completion_tokens <= 16
    raw = _greedy(backend, Request.completion("<|im_start|>user\n", temperature=0, max_tokens=12))
    assert raw.text.strip()
    assert raw.usage.prompt_tokens == 3  # special tokens parsed, no BOS added: <|im_start|> user \n


@pytest.mark.slow
def test_greedy_chat_matches_llama_cpp_python(backend):
    from llama_cpp import Llama

    llm = Llama(
        backend.path, n_ctx=512, flash_attn=True, chat_format="chat_template.default", verbose=False
    )
    try:
        theirs = llm.create_chat_completion(CHAT, temperature=0.0, max_tokens=24)
    finally:
        llm.close()
    ours = _greedy(backend, Request.chat(CHAT, temperature=0, max_tokens=24))
    assert ours.text == theirs["choices"][0]["message"]["content"]
    assert ours.usage.prompt_tokens == theirs["usage"]["prompt_tokens"]
    assert ours.usage.completion_tokens == theirs["usage"]["completion_tokens"]


@pytest.mark.slow
def test_concurrent_requests_do_not_mix_sequences(backend):
    requests = [
        Request.chat([{"role": "user", "content": f"Write one sentence about the number {i}."}],
                     temperature=0, max_tokens=12)
        for i in range(10)  # more than n_seq=8: some wait for a free slot
    ]

    async def together():
        return await asyncio.gather(*[backend.complete(r) for r in requests])

    batched = _run(together())
    alone = [_greedy(backend, r) for r in requests]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert len({r.text for r in alone}) > 5


@pytest.mark.slow
def test_seeded_sampling_is_reproducible_even_in_a_crowd(backend):
    request = Request.chat(CHAT, temperature=1.0, top_p=0.95, seed=1234, max_tokens=16)
    first = _greedy(backend, request)

    async def crowd():
        others = [backend.complete(Request.chat(CHAT, temperature=1.0, seed=s, max_tokens=16)) for s in range(5)]
        return await asyncio.gather(backend.complete(request), *others)

    again, *others = _run(crowd())
    assert again.text == first.text
    assert len({first.text, *(o.text for o in others)}) > 1


@pytest.mark.slow
def test_stop_string_trims_and_reports_stop(backend):
    full = _greedy(backend, Request.chat(CHAT, temperature=0, max_tokens=24))
    words = full.text.split()
    assert len(words) >= 3
    stop = words[2]
    cut = _greedy(backend, Request.chat(CHAT, temperature=0, max_tokens=24, stop=[stop]))
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.choices[0].finish_reason == "stop"
    assert full.choices[0].finish_reason in ("length", "stop")


@pytest.mark.slow
def test_length_finish_and_n_choices(backend):
    response = _greedy(backend, Request.chat(CHAT, n=3, temperature=0.9, seed=7, max_tokens=6))
    assert len(response.choices) == 3
    assert all(c.finish_reason in ("length", "stop") for c in response.choices)
    assert response.usage.completion_tokens <= 18
    short = _greedy(backend, Request.completion("Once upon a time", temperature=0, max_tokens=5))
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens == 5


@pytest.mark.slow
def test_logprobs_are_log_probabilities(backend):
    response = _greedy(backend, Request.chat(CHAT, temperature=0, max_tokens=8, logprobs=True, top_logprobs=3))
    logprobs = response.choices[0].logprobs
    assert logprobs is not None and len(logprobs) == response.usage.completion_tokens
    assert "".join(t.token for t in logprobs) == response.text
    for entry in logprobs:
        assert entry.logprob <= 0.0
        assert len(entry.top) == 3
        values = [lp for _, lp in entry.top]
        assert values == sorted(values, reverse=True) and all(v <= 0.0 for v in values)
        assert entry.top[0] == (entry.token, pytest.approx(entry.logprob))  # greedy picks the top token


@pytest.mark.slow
def test_json_schema_output_validates(backend):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 4},  # a reply must end
        },
        "required": ["name", "age", "tags"],
        "additionalProperties": False,
    }
    request = Request.chat([{"role": "user", "content": "Describe a person as JSON."}],
                           json_schema=schema, temperature=0.7, seed=3, n=2, max_tokens=120)
    response = _greedy(backend, request)
    for choice in response.choices:
        assert choice.finish_reason == "stop", choice.text
        data = json.loads(choice.text)
        assert set(data) == {"name", "age", "tags"}
        assert isinstance(data["name"], str) and isinstance(data["age"], int)
        assert all(isinstance(t, str) for t in data["tags"])


@pytest.mark.slow
def test_prompt_longer_than_context_is_permanent(backend):
    with pytest.raises(PermanentError, match="context of 512 tokens per sequence"):
        _greedy(backend, Request.completion("word " * 700, max_tokens=4))


@pytest.mark.slow
def test_cancelled_request_frees_its_slot(backend):
    async def cancel_one():
        long_request = Request.completion("Count: 1, 2, 3,", temperature=0, max_tokens=200)
        task = asyncio.ensure_future(backend.complete(long_request))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        short = Request.completion("Hi", temperature=0, max_tokens=3)
        return await asyncio.gather(*[backend.complete(short) for _ in range(8)])

    responses = _run(cancel_one())
    assert all(r.usage.completion_tokens >= 1 for r in responses)
    engine = backend._engine
    assert sorted(engine._free_slots) == list(range(8)) and not engine._active


@pytest.mark.slow
def test_aclose_frees_model_and_thread():
    pytest.importorskip("llama_cpp")
    b = LlamaCppBackend(parse_model_spec("embedded", n_ctx=256, n_seq=2))
    _run(b.complete(Request.completion("Hello", max_tokens=2)))
    thread = b._engine._thread
    assert thread.is_alive()
    _run(b.aclose())
    assert not thread.is_alive()
    assert b._engine is None and b._model is None
    with pytest.raises(PermanentError, match="closed"):
        _run(b.complete(Request.completion("Hello", max_tokens=2)))
    _run(b.aclose())  # idempotent


@pytest.mark.slow
def test_sequences_moved_into_freed_slots_keep_their_output(backend):
    # short requests finish first and leave holes below the long ones, which are moved down
    requests = [
        Request.chat([{"role": "user", "content": f"Say something about {word}."}],
                     temperature=0, max_tokens=2 if i % 2 == 0 else 14)
        for i, word in enumerate(["cats", "rain", "maps", "tea", "snow", "bikes"])
    ]

    async def together():
        return await asyncio.gather(*[backend.complete(r) for r in requests])

    batched = _run(together())
    alone = [_greedy(backend, r) for r in requests]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert all(r.usage.completion_tokens > 2 for r in batched[1::2])


def test_long_max_lengths_are_left_out_of_the_grammar_but_short_ones_stay():
    from synthloom.llm.backends.llamacpp import GRAMMAR_MAX_LENGTH, grammar_schema

    schema = {"type": "object", "properties": {
        "code": {"type": "string", "maxLength": 2000, "minLength": 1},
        "files": {"type": "array", "items": {"type": "object", "properties": {"content": {"type": "string", "maxLength": 5000}}}},
        "title": {"type": "string", "maxLength": GRAMMAR_MAX_LENGTH}}}
    out = grammar_schema(schema)
    assert out["properties"]["code"] == {"type": "string", "minLength": 1}
    assert out["properties"]["files"]["items"]["properties"]["content"] == {"type": "string"}
    assert out["properties"]["title"]["maxLength"] == GRAMMAR_MAX_LENGTH
    assert schema["properties"]["code"]["maxLength"] == 2000  # the request's schema is not changed


@pytest.mark.slow
def test_a_schema_with_a_2000_character_string_is_answered_and_validated(backend):
    # llama.cpp's converter nests one optional rule per character: 2,000 made a grammar it cannot parse
    schema = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 2000}}, "required": ["text"]}
    request = Request.chat([{"role": "user", "content": "Write a sentence as JSON."}], json_schema=schema, max_tokens=40)
    response = _greedy(backend, request)
    assert response.choices[0].text.lstrip().startswith("{")
