"""Self-Instruct: bootstrap new task instructions from a small seed set with the model itself.

Wang et al. 2022, "Self-Instruct: Aligning Language Models with Self-Generated Instructions"
(arXiv 2212.10560; reference code yizhongw/self-instruct).

The loop, as in the paper's ``bootstrap_instructions.py``:

1. prompt "Come up with a series of tasks:" with 8 numbered in-context instructions — 6 sampled from
   the human seed tasks and 2 from the machine-generated pool (once it has any), shuffled — and end
   the prompt at "9." so the model continues the list;
2. split the continuation into items at each new number; when the generation hit ``max_tokens``
   the last item is incomplete and is dropped (reason ``truncated``);
3. reject an instruction with at most 3 or more than 150 words, a whole-word blacklisted keyword
   (image, graph, file, map, draw, plot, go to, video, audio, ...), the prefix "Write a program",
   a punctuation or non-ASCII first character;
4. reject it when its ROUGE-L F against any instruction already in the pool (seeds and machine
   instructions) is above 0.7 — the shared gate :class:`synthloom.curate.rouge_gate.RougeLGate`;
5. keep going until the target number of instructions is reached.

:class:`SelfInstructBootstrap` (``type: self_instruct``) is a *source*: it reads its seed file and
yields the accepted instructions and, as rejected rows, every candidate a filter removed (the
reason starts with the filter's name, and column ``rejected_filter`` names it). Each round's
requests go out concurrently; answers are processed in request order and every sample has a
seed derived from (run seed, round, slot), so a rerun replays the response cache and yields the
same rows. It reads asynchronously (:meth:`SourceStep.aread`): its model calls run on the run's
event loop. Classification identification and instance generation are the next steps
(``self_instruct_instances.py``).
"""

from __future__ import annotations

import asyncio
import random
import re
import string
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import xxhash

from ...llm.types import Response
from ...pipeline.model_step import ModelSource
from ...pipeline.step import Rejected, RejectedRow
from ...records import ID, add_lineage, derive_id

CITATION = ("Wang et al. 2022, Self-Instruct: Aligning Language Models with Self-Generated Instructions, "
            "arXiv:2212.10560")
HERE = Path(__file__).parent
SEED_FILE = HERE / "self_instruct_seeds.jsonl"

#: whole-word keywords for tasks a text-only model cannot do (paper list + Alpaca's additions)
BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
             "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram")
BAD_PREFIXES = ("Write a program",)
_BLACKLIST_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLACKLIST) + r")\b", re.IGNORECASE)
_ITEM_RE = re.compile(r"^[ \t]*(?:\*\*)?(\d{1,3})\s?[.)](?:\*\*)?[ \t]+", re.MULTILINE)
_SPACE = re.compile(r"\s+")


# -- seed tasks ---------------------------------------------------------------------------------------

class SeedFileError(ValueError):
    """A seed file is missing or a line of it is not a seed task in the ``seed_tasks.jsonl`` format."""


SEED_FORMAT = ('{"id": "...", "name": "...", "instruction": "...", '
               '"instances": [{"input": "...", "output": "..."}], "is_classification": false}')


def load_seed_tasks(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read seed tasks in the original Self-Instruct ``seed_tasks.jsonl`` format (one JSON object
    per line; ``instruction`` required, ``instances`` a list of ``{input, output}``). ``None``
    reads the built-in set. A malformed line raises :class:`SeedFileError` naming it."""
    p = Path(path) if path is not None else SEED_FILE
    if not p.is_file():
        raise SeedFileError(f"seed file {p} does not exist; give the path of a JSONL file with one seed task per "
                            f"line: {SEED_FORMAT}")
    tasks = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            task = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise SeedFileError(f"{where}: not valid JSON ({e}); each line must be one seed task: {SEED_FORMAT}") from None
        if not isinstance(task, dict):
            raise SeedFileError(f"{where}: expected a JSON object, got {type(task).__name__}; format: {SEED_FORMAT}")
        instruction = task.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise SeedFileError(f"{where}: the task has no non-empty string `instruction`; format: {SEED_FORMAT}")
        instances = task.get("instances", [])
        if not isinstance(instances, list) or any(
            not isinstance(x, dict) or not isinstance(x.get("input", ""), str) or not isinstance(x.get("output"), str)
            for x in instances
        ):
            raise SeedFileError(f"{where}: `instances` must be a list of {{\"input\": str, \"output\": str}} objects")
        clf = task.get("is_classification", False)
        if not isinstance(clf, bool):
            raise SeedFileError(f"{where}: `is_classification` must be true or false, got {clf!r}")
        tasks.append({"id": str(task.get("id") or f"seed_task_{len(tasks)}"), "name": str(task.get("name") or ""),
                      "instruction": instruction.strip(), "is_classification": clf,
                      "instances": [{"input": x.get("input", ""), "output": x["output"]} for x in instances]})
    if not tasks:
        raise SeedFileError(f"{p} has no seed tasks; add at least one line: {SEED_FORMAT}")
    return tasks


# -- prompt and parsing -------------------------------------------------------------------------------

def parse_numbered_list(text: str, *, continues_item: bool = True) -> list[str]:
    """Split a generated list into items at each line starting with a number (``10.``, ``11)``,
    ``**12.**``). With ``continues_item`` (a raw completion of a prompt ending in "9.") the text
    before the first number is item 9 itself; otherwise it is a preamble ("Here are ...") and is
    dropped unless there are no numbered lines at all. Items are whitespace-collapsed; empty ones
    are dropped."""
    marks = list(_ITEM_RE.finditer(text))
    pieces: list[str] = []
    head = text[: marks[0].start()] if marks else text
    if continues_item or not marks:
        pieces.append(head)
    for k, m in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
        pieces.append(text[m.end():end])
    return [p for p in (_SPACE.sub(" ", x).strip() for x in pieces) if p]


def clean_instruction(text: str) -> str:
    """Collapse whitespace and upper-case the first letter (the paper's code also lower-cased the
    rest with ``str.capitalize``, which mangles names and acronyms; we do not)."""
    text = _SPACE.sub(" ", text).strip()
    return text[:1].upper() + text[1:]


def instruction_filter(instruction: str, *, min_words: int = 4, max_words: int = 150) -> str | None:
    """The paper's heuristic filters. Returns ``"<filter>: <detail>"`` for a rejected instruction,
    ``None`` for a kept one."""
    if not instruction:
        return "empty: nothing left after cleaning"
    n = len(instruction.split())
    if n < min_words or n > max_words:
        return f"length: {n} words (keeps {min_words} to {max_words})"
    hit = _BLACKLIST_RE.search(instruction)
    if hit:
        return f"keyword_blacklist: contains {hit.group(1).lower()!r}"
    for prefix in BAD_PREFIXES:
        if instruction.startswith(prefix):
            return f"bad_prefix: starts with {prefix!r}"
    if instruction[0] in string.punctuation:
        return f"punctuation_start: starts with {instruction[0]!r}"
    if not instruction[0].isascii():
        return f"non_ascii_start: starts with {instruction[0]!r}"
    return None


def filter_name(reason: str) -> str:
    return reason.split(":", 1)[0]


# -- the bootstrap loop ---------------------------------------------------------------------------------

class Bootstrap:
    """The state of one Self-Instruct run: the ROUGE-L pool (seeds + accepted machine instructions)
    and the machine instructions, with the paper's prompt sampling. :meth:`prompt_instructions`
    picks the in-context instructions of one request; :meth:`take` turns a round's answers into
    the round's rows (kept dicts and :class:`RejectedRow`)."""

    def __init__(self, seeds: list[dict[str, Any]], *, step: str, seed: int = 0, num_prompt_instructions: int = 8,
                 num_machine_instructions: int = 2, rouge_threshold: float = 0.7, min_words: int = 4,
                 max_words: int = 150, classification_only: bool = False, raw: bool = False) -> None:
        from synthloom.curate.rouge_gate import RougeLGate

        pool_seeds = [s for s in seeds if s["is_classification"]] if classification_only else list(seeds)
        if len(pool_seeds) < num_prompt_instructions - num_machine_instructions:
            raise ValueError(f"self_instruct {step!r}: {len(pool_seeds)} usable seed tasks, but each prompt needs "
                             f"{num_prompt_instructions - num_machine_instructions} of them; add seed tasks or "
                             "lower num_prompt_instructions")
        self.seed_instructions = [s["instruction"] for s in pool_seeds]
        self.machine: list[str] = []
        self.gate = RougeLGate(threshold=rouge_threshold)
        for s in seeds:
            self.gate.add(s["instruction"])
        self.step, self.seed = step, seed
        self.k, self.k_machine = num_prompt_instructions, num_machine_instructions
        self.min_words, self.max_words = min_words, max_words
        self.raw = raw
        self.counter = 0  # candidates seen so far: the index their ids derive from

    def prompt_instructions(self, round_no: int, slot: int) -> list[str]:
        """6 seeds + 2 machine instructions (fewer while the pool is small), shuffled."""
        rng = random.Random(f"{self.seed}:{round_no}:{slot}")
        chosen = rng.sample(self.machine, min(self.k_machine, len(self.machine)))
        chosen += rng.sample(self.seed_instructions, min(self.k - len(chosen), len(self.seed_instructions)))
        rng.shuffle(chosen)
        return chosen

    def take(self, round_no: int, answers: list[tuple[list[str], Response, dict[str, Any]]],
             wanted: int) -> list[dict[str, Any] | RejectedRow]:
        """The rows of one round from its ``(shown instructions, response, lineage entry)`` answers,
        in request order, stopping once ``wanted`` instructions are accepted."""
        rows: list[dict[str, Any] | RejectedRow] = []
        accepted = 0
        for shown, resp, lineage in answers:
            choice = resp.choices[0] if resp.choices else None
            items = parse_numbered_list(choice.text if choice else "", continues_item=self.raw)
            truncated = bool(choice and choice.finish_reason == "length")
            for i, raw_item in enumerate(items):
                if accepted >= wanted:
                    return rows
                instruction = clean_instruction(raw_item)
                reason = None
                if truncated and i == len(items) - 1:
                    reason = "truncated: the generation hit max_tokens inside this item"
                reason = reason or instruction_filter(instruction, min_words=self.min_words, max_words=self.max_words)
                score = None
                similar = None
                if reason is None:
                    keep, score, similar = self.gate.check_and_add(instruction)
                    if not keep:
                        reason = f"rouge_l: ROUGE-L F {score:.3f} > {self.gate.threshold} against {similar!r}"
                row = {ID: derive_id("", self.step, self.counter), "instruction": instruction, "round": round_no,
                       "max_rouge_l": score, "most_similar": similar, "prompt_instructions": shown}
                self.counter += 1
                add_lineage(row, lineage)
                if reason is None:
                    self.machine.append(instruction)
                    accepted += 1
                    rows.append(row)
                else:
                    row["rejected_filter"] = filter_name(reason)
                    rows.append(RejectedRow(row, Rejected(reason, score)))
        return rows


def hash_seed(*parts: Any) -> int:
    """The request seed of one bootstrap request, from (run seed, round, slot): the requests are
    not made for a record, so :meth:`ModelStep.seed_for` does not apply."""
    return xxhash.xxh32_intdigest("\x1f".join(map(str, parts)).encode()) & 0x7FFFFFFF


class SelfInstructBootstrap(ModelSource):
    """Self-Instruct's bootstrapping loop as a source (Wang et al. 2022): yields ``instruction``
    rows (with ``round``, ``max_rouge_l``, ``most_similar``, ``prompt_instructions``) until
    ``num_instructions`` (or ``-n``) are accepted or ``max_rounds`` rounds ran; rejected candidates
    come out as rejected rows whose reason (and column ``rejected_filter``) names the filter.

    ``seeds``: a ``seed_tasks.jsonl`` file (default: the built-in 175 tasks). ``raw=True`` sends the
    prompt as a raw completion (the paper's setting with a base model); the default sends it as a
    user message to a chat model. Sampling defaults follow the paper (T=0.7, top_p=0.5, stop at
    "16."); ``presence_penalty`` is not part of the request API and is not sent. ``seed`` seeds
    the choice of in-context instructions and the requests.
    """

    type_name = "self_instruct"
    takes_sampling = False
    columns = ("instruction", "round", "max_rouge_l", "most_similar", "prompt_instructions")

    def __init__(self, name: str, *, seeds: str | None = None, num_instructions: int = 100, model: str = "default",
                 num_prompt_instructions: int = 8, num_machine_instructions: int = 2, requests_per_round: int = 8,
                 max_rounds: int = 50, rouge_threshold: float = 0.7, min_words: int = 4, max_words: int = 150,
                 classification_only: bool = False, raw: bool = False, seed: int = 0, temperature: float = 0.7,
                 top_p: float = 0.5, max_tokens: int = 1024, stop: list[str] | None = None) -> None:
        if stop is None:
            stop = ["\n\n", "\n16", "16.", "16 ."] if raw else ["\n16.", "16."]
        super().__init__(name, model=model, citations=[CITATION], temperature=temperature, top_p=top_p,
                         max_tokens=max_tokens, stop=list(stop))
        if num_instructions < 1 or max_rounds < 1 or requests_per_round < 1:
            raise ValueError("num_instructions, max_rounds and requests_per_round must be >= 1")
        if not 0 <= num_machine_instructions < num_prompt_instructions:
            raise ValueError("num_machine_instructions must be >= 0 and smaller than num_prompt_instructions")
        self.seed_path = seeds
        self.seeds = load_seed_tasks(seeds)  # fail before the run on a bad seed file
        self.num_instructions, self.max_rounds, self.requests_per_round = num_instructions, max_rounds, requests_per_round
        self.num_prompt_instructions, self.num_machine_instructions = num_prompt_instructions, num_machine_instructions
        self.rouge_threshold, self.min_words, self.max_words = rouge_threshold, min_words, max_words
        self.classification_only, self.raw, self.seed = classification_only, raw, seed
        self.tasks_template = self.load_template("self_instruct_tasks.jinja")
        self.new_bootstrap()  # too few usable seeds fails here, not mid-run

    def fingerprint(self) -> str:
        p = Path(self.seed_path) if self.seed_path else SEED_FILE
        st = p.stat()
        return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"

    def new_bootstrap(self) -> Bootstrap:
        """A fresh pool (the seeds only), as at the start of a run."""
        return Bootstrap(self.seeds, step=self.name, seed=self.seed, num_prompt_instructions=self.num_prompt_instructions,
                         num_machine_instructions=self.num_machine_instructions, rouge_threshold=self.rouge_threshold,
                         min_words=self.min_words, max_words=self.max_words,
                         classification_only=self.classification_only, raw=self.raw)

    def encode_prompt(self, instructions: list[str]) -> str:
        """The numbered-list prompt: the in-context instructions (whitespace collapsed, trailing ':'
        removed) numbered 1..k, ending at ``k+1.`` for the model to continue."""
        clean = [_SPACE.sub(" ", i).strip().rstrip(":") for i in instructions]
        return self.render(self.tasks_template, {"instructions": clean, "classification_only": self.classification_only})

    async def run_round(self, boot: Bootstrap, round_no: int, wanted: int) -> list[dict[str, Any] | RejectedRow]:
        """Send one round's requests concurrently; the round's rows, in request order."""
        shown = [boot.prompt_instructions(round_no, slot) for slot in range(self.requests_per_round)]
        answers = await asyncio.gather(*(
            self.call({}, self.encode_prompt(instructions), raw=self.raw, seed=hash_seed(self.seed, round_no, slot))
            for slot, instructions in enumerate(shown)))
        return boot.take(round_no, [(s, resp, entry) for s, (resp, entry) in zip(shown, answers)], wanted)

    async def aread(self, limit: int | None = None) -> AsyncIterator[dict[str, Any] | RejectedRow]:
        target = min(limit, self.num_instructions) if limit is not None else self.num_instructions
        boot = self.new_bootstrap()
        accepted = 0
        for round_no in range(self.max_rounds):
            if accepted >= target:
                return
            for row in await self.run_round(boot, round_no, target - accepted):
                if isinstance(row, dict):
                    accepted += 1
                yield row
