"""The viewer's pages in a real headless Chromium (Playwright): search, filter, open a row, follow
lineage to the raw response, a rejected row's reason, an error row's raw text, a chosen/rejected pair,
a conversation with tool calls, live progress of a running run, two runs compared. A failing test
saves a screenshot (its path is in the failure report, see conftest)."""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse

import pytest
from playwright.sync_api import expect

from synthloom.io.shards import read_shards


@pytest.fixture(scope="module")
def url(small_run, serve):
    with serve(small_run) as base:
        yield base


@pytest.fixture(scope="module")
def data(small_run):
    return list(read_shards(small_run / "data"))


def rows_page(url, table="data", **params):
    return f"{url}#/rows/{table}?{urllib.parse.urlencode(params)}"


def column_texts(page, column):
    """The cells of ``column`` in the rows table."""
    headers = page.locator(".rows-table thead th").all_inner_texts()
    at = [h.split(" ")[0] for h in headers].index(column)
    return page.locator(f".rows-table tbody tr td:nth-child({at + 1})").all_inner_texts()


def test_search_shows_only_matching_rows_and_their_count(page, url, data):
    page.goto(rows_page(url))
    expect(page.locator(".rows-table tbody tr").first).to_be_visible()
    page.fill("#search", '"question 12 about"')
    page.press("#search", "Enter")
    want = [r for r in data if "question 12 about" in r["prompt"].lower()]
    expect(page.locator("#total")).to_have_text(f"rows 1–{len(want)} of {len(want)}")
    assert column_texts(page, "prompt") == [r["prompt"] for r in want]


def test_a_filter_by_value_and_one_by_score(page, url, data):
    page.goto(rows_page(url))
    page.select_option("#filter-column", "category")
    expect(page.locator("#filter-values option").first).to_be_attached()  # the column's values, for the picker
    page.select_option("#filter-op", "=")
    page.fill("#filter-value", "travel")
    page.click("#filter-add")
    travel = [r for r in data if r["category"] == "travel"]
    expect(page.locator("#total")).to_have_text(f"rows 1–{len(travel)} of {len(travel)}")
    assert set(column_texts(page, "category")) == {"travel"}
    page.select_option("#filter-column", "score")
    page.select_option("#filter-op", ">=")
    page.fill("#filter-value", "5")
    page.click("#filter-add")
    both = [r for r in travel if r["score"] >= 5]
    expect(page.locator("#total")).to_have_text(f"rows 1–{len(both)} of {len(both)}")
    expect(page.locator(".chip")).to_have_count(2)
    assert all(int(s) >= 5 for s in column_texts(page, "score"))


def test_sort_by_clicking_a_header(page, url, data):
    page.goto(rows_page(url, limit=10))
    page.locator(".rows-table th", has_text="score").click()
    expect(page.locator(".rows-table th", has_text="score")).to_contain_text("▲")
    assert [int(s) for s in column_texts(page, "score")] == sorted(r["score"] for r in data)[:10]
    page.locator(".rows-table th", has_text="score").click()
    expect(page.locator(".rows-table th", has_text="score")).to_contain_text("▼")
    assert [int(s) for s in column_texts(page, "score")] == sorted((r["score"] for r in data), reverse=True)[:10]


def test_open_a_row_and_follow_its_lineage_to_the_raw_response(page, url, data):
    page.goto(rows_page(url))
    page.locator(".rows-table tbody tr").first.click()
    expect(page.locator("#row-id")).to_have_text(data[0]["id"])
    expect(page.locator("dd[data-column=answer]")).to_contain_text(data[0]["answer"])
    page.locator("a.call-link").first.click()
    expect(page.locator(".call-response")).to_contain_text(data[0]["answer"])
    expect(page.locator(".call .chat")).to_contain_text(data[0]["prompt"])  # the request's messages
    expect(page.locator(".call .facts")).to_contain_text(data[0]["_lineage"][0]["prompt_hash"])


def test_a_parent_link_opens_the_row_it_was_made_from(page, url, data):
    page.goto(rows_page(url))
    page.locator(".rows-table tbody tr").first.click()
    page.locator("a.parent-link").first.click()
    expect(page.locator("#row-id")).to_have_text(data[0]["_lineage"][0]["parent"])
    expect(page.locator(".row-head")).to_contain_text("steps")
    expect(page.locator("dd[data-column=prompt]")).to_have_text(data[0]["prompt"])


def test_a_rejected_rows_reason_under_its_steps_tab(page, url, small_run):
    rejected = list(read_shards(small_run / "rejected" / "long_enough"))
    page.goto(url)
    page.locator("nav a", has_text="Rejected").click()
    page.locator("#step-tabs a[data-step=long_enough]").click()
    expect(page.locator("#total")).to_have_text(f"rows 1–{len(rejected)} of {len(rejected)}")
    page.locator(".rows-table tbody tr").first.click()
    expect(page.locator(".reject-banner")).to_contain_text("rejected by long_enough")
    expect(page.locator(".reject-banner .reason")).to_have_text("the answer is too short")


def test_an_error_row_shows_the_models_raw_text(page, url):
    page.goto(rows_page(url, "errors"))
    page.locator(".rows-table tbody tr").first.click()
    expect(page.locator(".error-banner")).to_contain_text("error in judge: StructuredOutputError")
    expect(page.locator(".error-banner .raw-text")).to_have_text("I refuse to give a score in JSON.")


def test_a_chosen_rejected_pair_side_by_side_with_a_diff(page, url):
    page.goto(rows_page(url, f=json.dumps([["chosen", "!null"]])))
    page.locator(".rows-table tbody tr").first.click()
    expect(page.locator(".pair-side.chosen")).to_contain_text("A careful, correct answer")
    expect(page.locator(".pair-side.chosen")).to_contain_text("score 9")
    expect(page.locator(".pair-side.rejected")).to_contain_text("A sloppy answer")
    page.locator(".pair-diff summary").click()
    expect(page.locator(".pair-diff ins").first).to_have_text("careful, correct")
    expect(page.locator(".pair-diff del").first).to_have_text("sloppy")


def test_a_conversation_with_tool_calls_and_a_tool_use_row(page, url):
    page.goto(rows_page(url, q="get_weather"))
    page.locator(".rows-table tbody tr").first.click()
    chat = page.locator(".chat").first
    expect(chat.locator(".bubble")).to_have_count(5)
    expect(chat.locator(".tool-call")).to_contain_text("get_weather")
    expect(chat.locator(".tool-call pre")).to_contain_text('"city": "Oslo"')
    expect(chat.locator(".role-tool")).to_contain_text('"sky": "snow"')
    page.goto(rows_page(url, f=json.dumps([["calls", "contains", "convert_units"]])))
    page.locator(".rows-table tbody tr").first.click()
    expect(page.locator(".tool-result")).to_contain_text("ok")
    expect(page.locator(".tool-call")).to_contain_text("convert_units")


def test_a_running_run_refreshes_by_itself(page, tmp_path, small_run, serve):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    (run / "run.json").write_text(json.dumps({"status": "running", "pipeline": "viewer-test", "started": 1.0}))
    (run / ".state" / "run.lock").unlink()  # which process writes it is not known
    journal = run / ".state" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    parts = [line for line in lines if '"part"' in line and '"seg":"long_enough"' in line]
    assert len(parts) >= 2
    journal.write_text("\n".join([line for line in lines if '"part"' not in line and '"complete"' not in line] + parts[:1]) + "\n")
    first = json.loads(parts[0])["counts"]["long_enough"]["in"]
    later = first + json.loads(parts[1])["counts"]["long_enough"]["in"]
    with serve(run) as base:
        page.goto(base)
        expect(page.locator("#status")).to_have_text("running")
        expect(page.locator("tr[data-step=long_enough] td:nth-child(4)")).to_have_text(str(first))
        with journal.open("a") as f:
            f.write(parts[1] + "\n")
        expect(page.locator("tr[data-step=long_enough] td:nth-child(4)")).to_have_text(str(later))
        expect(page.locator("#live")).to_be_visible()


def test_two_runs_compared(page, small_run, other_run, serve):
    with serve(small_run, compare=other_run) as base:
        page.goto(base + "#/compare")
        expect(page.locator(".compare-pair").first).to_be_visible()
        expect(page.locator("main")).to_contain_text("A: viewer-test")
        first = page.locator(".compare-pair").first
        expect(first.locator("tr.differs", has_text="answer").locator("ins")).to_have_text("(v2)")
        expect(first.locator("tr.same", has_text="prompt")).to_be_visible()


def test_code_with_highlighting_and_its_sandbox_verdict(page, url):
    page.goto(rows_page(url, f=json.dumps([["solution", "!null"]])))
    page.locator(".rows-table tbody tr").first.click()
    code = page.locator("dd[data-column=solution] pre.code")
    expect(code).to_contain_text("return x * 2")
    expect(code.locator(".tok-keyword").first).to_have_text("def")
    expect(code.locator(".tok-comment")).to_have_text("# twice x")
    verdict = page.locator(".panel", has_text="Sandbox verdict")
    expect(verdict.locator(".badge.bad")).to_have_text("failed")
    expect(verdict.locator(".step-card.failed")).to_contain_text("AssertionError")
    expect(verdict.locator(".step-card.passed")).to_contain_text("assert double(2) == 4")


def test_math_with_the_extracted_answer_and_a_revision_diff(page, url):
    page.goto(rows_page(url, f=json.dumps([["pred_answer", "!null"]])))
    page.locator(".rows-table tbody tr").first.click()
    expect(page.locator(".math-verdict .badge.good")).to_have_text("correct")
    expect(page.locator(".math-verdict .boxed").first).to_have_text("5")
    expect(page.locator("dd[data-column=response] .boxed")).to_have_text("5")
    page.goto(rows_page(url, f=json.dumps([["parent_instruction", "!null"]])))
    page.locator(".rows-table tbody tr").first.click()
    revision = page.locator(".panel", has_text="Revision: parent_instruction → instruction")
    expect(revision.locator(".diff")).to_have_text(re.compile(r"^Explain topic \d+ to a child, in three steps\.$"))
    expect(revision.locator("ins")).to_have_text(" to a child, in three steps")
    expect(revision.locator("del")).to_have_count(0)
