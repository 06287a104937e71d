"""ToolCoder: code written while calling an API-search tool, kept when the code passes its tests.

Zhang, K., Zhang, H., Li, G., Li, J., Li, Z., Jin, Z. (2023). *ToolCoder: Teach Code Generation
Models to use API search tools*. arXiv:2305.04032.

ToolCoder teaches a code model to pause while writing, emit ``<API>APISearch(query)->answer</API>``
(a natural-language query and the API the search tool suggests: DuckDuckGo for public libraries,
BM25 over the documentation for private ones) and go on writing with the suggested API. Its
training data is source code annotated with such calls by ChatGPT, kept when the annotated API is the
one the code uses. Here the model writes the code itself and searches for real:

* the tool is ``api_search`` (an OpenAI function tool offered through :meth:`ModelStep.call`):
  Okapi BM25 over a documentation index (``toolcoder_api_docs.jsonl``: real standard-library APIs of
  ``itertools``, ``collections``, ``statistics``, ``re``, ``datetime`` and a few more, each with its
  signature and a summary written for this project; or the user's own JSONL). It is a data lookup, not
  model code, so it runs in-process; the results are fed back as the tool's reply;
* the model answers with the function; it runs in the sandbox against the task's tests and is kept
  only when every test passes;
* the row keeps the code annotated in the paper's format: each search whose suggested API the code
  uses is written as ``<API>APISearch(query)->api</API>`` just before that API's first use.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from ...io.jsonl_lines import jsonl_lines
from ...llm.tools import assistant_message, tool_message
from ...pipeline.model_step import chat
from ...pipeline.step import Rejected
from ...tools.spec import Tool
from ..instructions.agent_instruct_search import SearchCorpus
from .base import CodeMethodStep, Rows
from .execution import failure_reason
from .extract import extract_code

CITATION = "Zhang et al. 2023, ToolCoder: Teach Code Generation Models to use API search tools, arXiv:2305.04032"
BUNDLED_DOCS = Path(__file__).parent / "toolcoder_api_docs.jsonl"
API_SEARCH = "api_search"
SEARCH_MODES = ("required", "auto")
API_SEARCH_TOOL = Tool(
    name=API_SEARCH, category="code", module=None, entry=API_SEARCH,
    description="Search the documentation of Python library APIs by what you need them to do; returns the best-matching "
                "APIs with their signatures and a summary.",
    parameters={"type": "object", "properties": {"query": {"type": "string", "maxLength": 80,
                                                           "description": "what the API should do, in a few words"}},
                "required": ["query"], "additionalProperties": False},
)


class ApiIndex:
    """A BM25 index over API documentation entries (``api``, ``signature``, ``doc``); the API's
    name is indexed with its signature and summary."""

    def __init__(self, entries: list[dict[str, str]], *, source: str = "") -> None:
        self.entries = {e["api"]: e for e in entries}
        passages = [{"id": e["api"], "title": e["api"].replace(".", " ").replace("_", " "), "text": f"{e['signature']} {e['doc']}"}
                    for e in entries]
        self.index = SearchCorpus(passages, source=source)

    def search(self, query: str, k: int = 3) -> list[dict[str, str]]:
        """The ``k`` entries best matching ``query``, best first (none when no word is shared)."""
        return [self.entries[hit.id] for hit in self.index.search(query, k)]


@functools.lru_cache(maxsize=8)
def load_api_index(path: str | None = None) -> ApiIndex:
    """The API documentation in JSONL file ``path`` (``None``: the bundled standard-library index);
    each line needs ``api``, ``signature`` and ``doc`` strings."""
    file = Path(path) if path else BUNDLED_DOCS
    entries = []
    for n, row in jsonl_lines(file, "the API documentation"):
        if not (isinstance(row, dict) and all(isinstance(row.get(k), str) and row[k].strip() for k in ("api", "signature", "doc"))):
            raise ValueError(f"{file}:{n}: an API documentation line must be a JSON object with 'api', 'signature' and 'doc' strings")
        entries.append({"api": row["api"], "signature": row["signature"], "doc": row["doc"]})
    if not entries:
        raise ValueError(f"the API documentation {str(file)!r} has no entries")
    return ApiIndex(entries, source=str(file))


def _api_names(api: str) -> list[str]:
    """The ways code may name ``api``: the full dotted name, then shorter suffixes
    (``itertools.chain.from_iterable`` → ``chain.from_iterable`` → ``from_iterable``)."""
    parts = api.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


def api_use(code: str, api: str) -> int | None:
    """Where ``code`` first uses ``api`` outside import lines (a character offset), or ``None``."""
    for name in _api_names(api):
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\b" if "." in name else rf"(?<!\w){re.escape(name)}\b")
        offset = 0
        for line in code.splitlines(keepends=True):
            if not re.match(r"\s*(from|import)\s", line):
                m = pattern.search(line)
                if m:
                    return offset + m.start()
            offset += len(line)
    return None


def annotate(code: str, searches: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """``code`` with each search written as ``<API>APISearch(query)->api</API>`` before the first use
    of the first suggested API the code uses, and the searches with their ``answer`` (that API, or
    the top suggestion when none is used) and ``used`` filled in."""
    inserts: list[tuple[int, int, str]] = []
    annotated = []
    for i, search in enumerate(searches):
        used = [(api, pos) for api in search.get("results", []) for pos in [api_use(code, api)] if pos is not None]
        answer = used[0][0] if used else (search.get("results") or [None])[0]
        annotated.append({**search, "answer": answer, "used": bool(used)})
        if used:
            inserts.append((used[0][1], i, f"<API>APISearch({search['query']})->{answer}</API>"))
    for pos, _, tag in sorted(inserts, reverse=True):
        code = code[:pos] + tag + code[pos:]
    return code, annotated


class ToolCoder(CodeMethodStep):
    """ToolCoder on one task (``question``, ``tests``, optional ``entry_point``): the model is offered
    the ``api_search`` tool over ``api_docs`` (a JSONL of ``api``, ``signature``, ``doc``; default
    the bundled standard-library index), up to ``max_searches`` rounds of searches each answered with
    the ``k`` best entries (``search``: ``required`` forces a search in the first round, ``auto``
    lets the model choose; rounds after the first are ``auto``, which the in-process llama.cpp
    backend does not offer), then writes the function, which runs in the sandbox against ``tests``.
    Kept when every test passes and at least ``min_searches`` searches were made; the row has
    ``solution``, ``annotated_solution`` (the paper's ``<API>APISearch(query)->api</API>`` format)
    and ``searches`` (query, results, answer, used). Otherwise rejected with the reason."""

    type_name = "toolcoder"
    default_sampling = {"temperature": 0.2, "max_tokens": 512}

    def __init__(self, name: str, *, api_docs: str | None = None, k: int = 3, max_searches: int = 1,
                 min_searches: int = 1, search: str = "required", **kwargs: Any) -> None:
        if search not in SEARCH_MODES:
            raise ValueError(f"step {name!r}: search must be one of {', '.join(SEARCH_MODES)}, not {search!r}")
        if k < 1 or max_searches < 1 or not 0 <= min_searches <= max_searches:
            raise ValueError(f"step {name!r}: need k >= 1, max_searches >= 1 and 0 <= min_searches <= max_searches, "
                             f"not {k}, {max_searches} and {min_searches}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=["question", "tests"], writes=["solution", "annotated_solution", "searches"], **kwargs)
        self.index, self.k = load_api_index(api_docs), k
        self.max_searches, self.min_searches, self.search = max_searches, min_searches, search
        self.system = self.load_template("toolcoder_system.jinja").strip()
        self.task_prompt = self.load_template("toolcoder_task.jinja")

    def tool_choice(self, turn: int) -> str:
        if turn >= self.max_searches:
            return "none"
        return "required" if turn == 0 and self.search == "required" else "auto"

    def observe(self, call: Any, searches: list[dict[str, Any]]) -> str:
        """The tool reply to one call; a good search is added to ``searches``."""
        if call.name != API_SEARCH:
            return f"error: unknown tool {call.name!r}; the only tool is {API_SEARCH}"
        query = str(call.arguments.get("query") or "").strip() if call.ok else ""
        if not query:
            return f"error: {API_SEARCH} needs a non-empty 'query' string"
        hits = self.index.search(query, self.k)
        searches.append({"query": query, "results": [h["api"] for h in hits]})
        return json.dumps(hits, ensure_ascii=False) if hits else "no API matches these words; try other words"

    async def run(self, record: dict[str, Any]) -> tuple[Rows | Rejected, list[dict[str, Any]]]:
        question, entry = str(record.get("question") or "").strip(), record.get("entry_point")
        if not question or not record.get("tests"):
            return Rejected("the task needs a question and tests"), []
        messages: list[dict[str, Any]] = chat(self.render(self.task_prompt, {"question": question}),
                                              system=self.system)
        searches: list[dict[str, Any]] = []
        lineage = []
        for turn in range(self.max_searches + 1):
            response, entry_lineage = await self.call(record, messages, tools=[API_SEARCH_TOOL.openai()],
                                                      tool_choice=self.tool_choice(turn), salt=f"turn{turn}")
            lineage.append(entry_lineage)
            calls = list(response.tool_calls)
            if not calls:
                break
            replies = [tool_message(c.id, self.observe(c, searches)) for c in calls]
            messages += [assistant_message(calls, response.text or None), *replies]
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the solution hit max_tokens (finish_reason=length)"), lineage
        if len(searches) < self.min_searches:
            return Rejected(f"the model made {len(searches)} API search(es), fewer than min_searches {self.min_searches}"), lineage
        code = extract_code(response.text, entry_point=entry)
        if not code:
            return Rejected(f"the reply has no Python code: {(response.text or '')[:80]!r}"), lineage
        verdict = await self.sandbox.averify(code, record["tests"], entry_point=entry)
        if not verdict.passed:
            return Rejected(f"the solution fails its tests in the sandbox ({failure_reason(verdict)})", score=verdict.pass_rate), lineage
        annotated, searches = annotate(code, searches)
        return {**self.base_columns(record), "solution": code, "annotated_solution": annotated, "searches": searches}, lineage
