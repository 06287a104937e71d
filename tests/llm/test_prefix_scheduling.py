"""Prefix-aware order of requests waiting for a slot: grouping, bounded reordering, cancellation, and output
rows that do not depend on the order answers come in."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.llm.limits import RateLimitedBackend
from synthloom.llm.prefix_scheduling import PREFIX_CHARS, PrefixWaiters, prefix_key
from synthloom.llm.types import Choice, Request, Response

RUBRIC = "You are a strict judge. Score the answer from 1 to 10 for accuracy and clarity. " * 5
OTHER = "Write a short story set in a lighthouse, with three characters and a storm at sea. " * 5


def judge(i: int) -> Request:
    return Request.chat([{"role": "system", "content": RUBRIC}, {"role": "user", "content": f"Answer {i}"}])


def story(i: int) -> Request:
    return Request.completion(OTHER + f"Story {i}.")


def test_prefix_key():
    assert prefix_key(judge(1)) == prefix_key(judge(2)) != prefix_key(story(1))
    assert prefix_key(story(1)) == prefix_key(story(2))
    assert prefix_key(Request.completion("short")) is None and prefix_key(None) is None
    assert prefix_key(Request.completion("x" * PREFIX_CHARS)) is not None
    assert prefix_key(Request.completion("x" * PREFIX_CHARS + "a")) == prefix_key(Request.completion("x" * PREFIX_CHARS))


def drain(waiters: PrefixWaiters, names: dict) -> list[str]:
    out = []
    while (fut := waiters.pop()) is not None:
        out.append(names[fut])
    return out


def queue(pattern: str, **kw) -> tuple[PrefixWaiters, dict]:
    loop = asyncio.new_event_loop()
    waiters, names = PrefixWaiters(**kw), {}
    for i, kind in enumerate(pattern):
        fut = loop.create_future()
        names[fut] = f"{kind}{i}"
        waiters.append(fut, None if kind == "n" else hash(kind))
    loop.close()
    return waiters, names


def test_waiters_go_out_in_prefix_groups():
    waiters, names = queue("ABABABAB")
    assert drain(waiters, names) == ["A0", "A2", "A4", "A6", "B1", "B3", "B5", "B7"]
    assert waiters.regrouped == 3  # A2, A4, A6 passed a B; the Bs are then in arrival order


def test_the_group_of_the_last_request_sent_goes_first():
    waiters, names = queue("ABAB")
    waiters.last_key = hash("B")  # a B was just sent without waiting
    assert drain(waiters, names) == ["B1", "B3", "A0", "A2"]


def test_no_waiter_is_passed_over_more_than_max_bypass_times():
    waiters, names = queue("BAAAAAAB", max_bypass=2)
    waiters.last_key = hash("A")
    # B0 goes after being passed twice; then its group is the current one, so B7 follows it
    assert drain(waiters, names) == ["A1", "A2", "B0", "B7", "A3", "A4", "A5", "A6"]


def test_only_the_window_is_searched_and_keyless_waiters_keep_their_order():
    waiters, names = queue("ABBBA", window=3)
    assert drain(waiters, names) == ["A0", "B1", "B2", "B3", "A4"]
    waiters, names = queue("nAnAn")
    assert drain(waiters, names) == ["n0", "A1", "A3", "n2", "n4"]


def test_cancelled_waiters_are_skipped():
    loop = asyncio.new_event_loop()
    waiters = PrefixWaiters()
    futures = [loop.create_future() for _ in range(4)]
    for fut, key in zip(futures, (1, 2, 1, 2)):
        waiters.append(fut, key)
    futures[0].cancel()
    futures[2].cancel()
    assert waiters.pop() is futures[1] and waiters.pop() is futures[3] and waiters.pop() is None
    loop.close()


class Recorder:
    """A backend that answers after a delay and records the order requests reach it."""

    identity = "recorder"

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def complete(self, request: Request) -> Response:
        text = request.prompt if request.prompt is not None else request.messages[-1]["content"]
        self.seen.append(text.rsplit(" ", 1)[-1] if request.prompt is None else text[-9:])
        await asyncio.sleep(0.001)
        return Response([Choice(f"answer to {text[-9:]}")])

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize("grouped", [True, False])
def test_the_limiter_sends_groups_and_answers_each_request(grouped):
    requests = [judge(i) if i % 2 == 0 else story(i) for i in range(16)]
    inner = Recorder()
    limits = RateLimitedBackend(inner, max_in_flight=1, prefix_scheduling=grouped)

    async def go():
        return await asyncio.gather(*(limits.complete(r) for r in requests))

    responses = asyncio.run(go())
    for request, response in zip(requests, responses):  # each caller gets its own answer, whatever the order
        text = request.prompt if request.prompt is not None else request.messages[-1]["content"]
        assert response.text == f"answer to {text[-9:]}"
    kinds = ["J" if s.isdigit() else "S" for s in inner.seen]
    changes = sum(a != b for a, b in zip(kinds, kinds[1:]))
    assert changes == (1 if grouped else 15)


def test_output_rows_do_not_depend_on_the_order_of_sending(tmp_path, fake_server):
    from synthloom import Pipeline, RecordsSource, RunOptions, run_pipeline
    from synthloom.io.shards import read_shards
    from synthloom.llm.spec import parse_model_spec
    from synthloom.pipeline.llm_step import LLMStep

    rows = [{"q": (RUBRIC if i % 3 else OTHER) + f" item {i}"} for i in range(30)]
    outputs = []
    for grouped in (False, True):
        model = parse_model_spec(f"openai:fake@{fake_server.url}", max_in_flight=2, prefix_scheduling=grouped)
        pipe = Pipeline([RecordsSource("src", rows=rows), LLMStep("ask", prompt=lambda r: r["q"], reads=["q"])],
                        models={"default": model})
        run_pipeline(pipe, tmp_path / str(grouped), RunOptions(progress="quiet", log=lambda m: None, use_cache=False))
        outputs.append([{k: v for k, v in r.items() if k != "_lineage"} for r in read_shards(tmp_path / str(grouped) / "data")])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 30
