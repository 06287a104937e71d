import pytest

from synthloom.llm.backends.llamacpp_prefix import Admission, PrefixIndex

RUBRIC = list(range(1000, 1040))  # 40 tokens: 2 full blocks of 16 and 8 more


def index_with(*contents, n_slots=4, block=16):
    index = PrefixIndex(n_slots, block=block)
    for slot, tokens in enumerate(contents):
        index.assign(slot, tokens)
    return index


# ---------------------------------------------------------------- matching


def test_match_counts_common_tokens_exactly_past_the_last_full_block():
    index = index_with(RUBRIC + [1, 2, 3], RUBRIC[:20] + [9, 9], [5] * 30)
    assert index.match(RUBRIC + [1, 2, 7]) == {0: 42, 1: 20}


def test_match_needs_one_full_block_in_common():
    index = index_with(RUBRIC[:15] + [1], [7] * 40)
    assert index.match(RUBRIC) == {}
    assert index.match([7] * 16) == {1: 16}


def test_prompt_that_is_a_prefix_of_a_slot_and_the_other_way_round():
    index = index_with(RUBRIC + [1, 2, 3, 4])
    assert index.match(RUBRIC) == {0: 40}
    assert index.match(RUBRIC + [1, 2, 3, 4, 5, 6]) == {0: 44}


def test_append_and_truncate_keep_the_index_in_step_with_the_tokens():
    index = index_with(RUBRIC[:30])
    for token in RUBRIC[30:]:
        index.append(0, token)
    assert index.tokens(0) == RUBRIC
    assert index.match(RUBRIC) == {0: 40}
    index.truncate(0, 17)
    assert index.tokens(0) == RUBRIC[:17]
    assert index.match(RUBRIC) == {0: 17}
    index.truncate(0, 0)
    assert index.match(RUBRIC) == {}


def test_hash_collisions_are_checked_against_the_tokens():
    index = index_with(RUBRIC)
    forged = index.chain(RUBRIC)  # keys claiming RUBRIC for a prompt that differs
    assert index.match([1] * 40, forged) == {}


def test_copy_gives_the_slot_the_same_contents():
    index = index_with(RUBRIC)
    index.copy(0, 3)
    assert index.match(RUBRIC) == {0: 40, 3: 40}
    index.truncate(0, 0)
    assert index.match(RUBRIC) == {3: 40}


# ---------------------------------------------------------------- eviction


def test_victim_prefers_empty_then_duplicated_contents_then_least_recently_used():
    index = index_with(RUBRIC + [1] * 40, RUBRIC + [2] * 40, [3] * 64, [])
    assert index.victim([0, 1, 2, 3]) == 3  # empty: nothing lost
    # slots 0 and 1 share the rubric: each loses only its own 40-token tail; slot 2 loses 64 tokens
    assert index.victim([0, 1, 2]) == 0
    index.touch(0)
    assert index.victim([0, 1, 2]) == 1
    index.truncate(1, 0)
    # slot 0 is now the only holder of the rubric: losing it costs 80 tokens, more than slot 2's 64
    assert index.victim([0, 2]) == 2


def test_lost_if_cut_counts_only_tokens_no_other_slot_holds():
    index = index_with(RUBRIC + [1] * 8, RUBRIC[:32])
    assert index.lost_if_cut(0, 0) == 48 - 32
    assert index.lost_if_cut(0, 44) == 4
    assert index.lost_if_cut(1, 0) == 0


def test_victim_with_no_free_slot_is_an_error():
    with pytest.raises(ValueError):
        PrefixIndex(2).victim([])


# ---------------------------------------------------------------- planning


def test_plan_takes_over_a_free_slot_holding_the_prefix():
    index = index_with(RUBRIC + [1, 2], [7] * 20)
    ready = [42, 20, 0, 0]
    plan = index.plan(RUBRIC + [5, 6], None, [0, 1, 2, 3], ready)
    assert plan == Admission(slot=0, source=0, reuse=40)


def test_plan_copies_from_a_busy_slot_into_the_cheapest_free_one():
    index = index_with(RUBRIC + [1, 2], [7] * 40, [])
    plan = index.plan(RUBRIC + [5, 6], None, [1, 2, 3], [42, 40, 0, 0])
    assert plan == Admission(slot=2, source=0, reuse=40)


def test_plan_waits_for_a_slot_still_prefilling_the_shared_prefix():
    index = index_with(RUBRIC + [1, 2])
    assert index.plan(RUBRIC + [5], None, [1, 2, 3], [10, 0, 0, 0]) is None
    # once that slot has decoded the shared part, copy it
    assert index.plan(RUBRIC + [5], None, [1, 2, 3], [40, 0, 0, 0]) == Admission(1, 0, 40)


def test_plan_does_not_wait_for_less_than_a_block():
    index = index_with(RUBRIC + [1, 2])
    plan = index.plan(RUBRIC + [5], None, [1, 2, 3], [32, 0, 0, 0])
    assert plan == Admission(1, 0, 32)


def test_a_fully_cached_prompt_still_decodes_its_last_token():
    index = index_with(RUBRIC + [1, 2])
    assert index.plan(RUBRIC, None, [0, 1], [42, 0]) == Admission(0, 0, 39)


def test_plan_without_a_shared_block_starts_from_scratch():
    index = index_with(RUBRIC, [])
    assert index.plan([9] * 50, None, [0, 1], [40, 0]) == Admission(1, None, 0)


def test_plan_keeps_a_unique_prefix_and_copies_it_into_an_empty_slot():
    # slot 0 alone holds RUBRIC + a long tail; a prompt sharing only the first 32 tokens must not cut it
    index = index_with(RUBRIC + [1] * 30, [])
    plan = index.plan(RUBRIC[:32] + [8] * 10, None, [0, 1], [70, 0])
    assert plan == Admission(slot=1, source=0, reuse=32)
    # with no other free slot, the source is taken over
    assert index.plan(RUBRIC[:32] + [8] * 10, None, [0], [70, 0]) == Admission(0, 0, 32)


# ---------------------------------------------------------------- the setting


def test_prefix_cache_is_a_boolean_model_setting():
    from synthloom.llm.spec import ModelSpecError, parse_model_spec

    assert parse_model_spec("embedded").prefix_cache is True
    assert parse_model_spec("embedded", prefix_cache=False).prefix_cache is False
    with pytest.raises(ModelSpecError, match="'prefix_cache' must be true or false"):
        parse_model_spec("embedded", prefix_cache="no")


# ---------------------------------------------------------------- on the embedded model

SHARED = ("You grade short answers. A good answer is correct, brief and polite; a bad one is wrong, rambling or "
          "rude. Give a score from 1 to 5 and a reason of at most ten words. ")


def _mixed_requests():
    from synthloom.llm.types import Request

    def chat(text):
        return Request.chat([{"role": "user", "content": text}], temperature=0, max_tokens=8)

    def raw(text):
        return Request.completion(text, temperature=0, max_tokens=8)

    half = SHARED[: len(SHARED) // 2]
    return [  # interleaved: long shared prefix, shorter shared prefix, unrelated, prefix-of-another
        chat(SHARED + "Answer: Paris is the capital of France."),
        chat(half + "Answer: water boils at 100 C."),
        raw(SHARED),
        chat(SHARED + "Answer: the sun is a planet."),
        chat("Write a haiku about rain."),
        chat(half + "Answer: cats are reptiles."),
        raw(SHARED + " The answer to grade: two plus two is four."),
        chat(SHARED + "Answer: I don't know, ask someone else."),
        chat(half + "Answer: seven continents."),
        raw(SHARED + " The answer to grade: two plus two"),
    ]


@pytest.mark.slow
def test_greedy_outputs_are_identical_with_and_without_prefix_reuse():
    import asyncio

    from synthloom.llm.backends.llamacpp import LlamaCppBackend
    from synthloom.llm.spec import parse_model_spec

    requests = _mixed_requests()  # 10 requests, more than the 8 sequences

    async def together(b):
        # one request at a time (the reference: nothing shares a forward pass)
        return [(await asyncio.wait_for(b.complete(r), 120)).text for r in requests]

    async def without_reuse():
        # one thread: the slow side stays within the timeout on a busy machine (outputs do not depend on threads)
        plain = LlamaCppBackend(parse_model_spec("embedded", n_ctx=512, n_seq=8, prefix_cache=False, n_threads=1))
        try:
            return await together(plain), dict(plain._engine.stats)
        finally:
            await plain.aclose()

    expected, plain_stats = asyncio.run(without_reuse())
    assert plain_stats["reused_tokens"] == 0
    assert len(set(expected)) > 5
    # a fresh backend with reuse on (the default)
    backend = LlamaCppBackend(parse_model_spec("embedded", n_ctx=512, n_seq=8, prefix_cache=True, n_threads=1))
    try:
        first = asyncio.run(together(backend))
        again = asyncio.run(together(backend))  # now every prefix is already in some slot
        stats = backend._engine.stats
        assert first == expected
        assert again == expected
        # micro-batches under 64 tokens round the same way whatever else shares them: all at once, too
        async def at_once():
            return [r.text for r in await asyncio.gather(*(asyncio.wait_for(backend.complete(q), 120) for q in requests))]

        assert asyncio.run(at_once()) == expected
        assert stats["reused_tokens"] > stats["prompt_tokens"] // 2, stats
        engine = backend._engine
        assert sorted(engine._free_slots) == list(range(8)) and not engine._active
    finally:
        asyncio.run(backend.aclose())
