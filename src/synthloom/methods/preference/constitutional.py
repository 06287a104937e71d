"""Constitutional AI, supervised stage (SL-CAI): critique and revise a response against sampled principles.

Bai, Y., Kadavath, S., Kundu, S., Askell, A., et al. (2022). *Constitutional AI: Harmlessness from
AI Feedback*. arXiv:2212.08073.

The paper (§3) shows a helpful model's response to a (red-team) prompt back to the same model with a
*critique request* drawn from a constitution ("Identify specific ways in which the assistant's last
response is harmful, …"), samples a critique, then a *revision request* ("Please rewrite the
assistant response to remove …") and samples a revision; critique → revision repeats for several
rounds with a principle sampled independently each time, and the final revision is the SFT target.
The bundled constitution (``constitution.json``) holds the paper's 16 critique/revision request
pairs (Appendix C.1) and its 16 RL-CAI principles (Appendix C.2, used by
:mod:`.constitutional_feedback`); ``constitution:`` points at a file of the same shape.

``constitutional`` (this module) emits per row: ``prompt``, ``initial_response``, ``revisions``
(one ``{"round", "principle", "critique_request", "critique", "revision_request", "revision"}``
per round) and the final revision in ``output`` (default ``response``: an SFT row). ``emit: pairs``
adds pair columns as well (chosen = final revision, rejected = initial response, ``pair_rule``
``cai_revision`` — what open CAI datasets train DPO on; the paper itself trains a preference model
on AI labels instead, see ``constitutional_feedback``).

Departures: the paper prompts a pretrained-style dialogue ("Human: … Assistant: … CritiqueRequest: …
Critique:") with few-shot examples; this step speaks the chat format (the request is the next user
turn after the response) with no few-shot examples, and each round shows only the latest response
(not the whole chain), which keeps prompts short for small models. A reply's first line that only
announces it ("Here is the revised response:") is cut; a final revision cut off by ``max_tokens``
rejects the row.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...pipeline.model_step import ModelStep, RowError
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ..corpus.wrap import strip_preamble
from .pair_row import pair_columns, pair_row
from .prompt_columns import PromptColumns

CITATION = "Bai et al. 2022, Constitutional AI: Harmlessness from AI Feedback, arXiv:2212.08073"
BUNDLED = Path(__file__).with_name("constitution.json")
EMITS = ("sft", "pairs")


@dataclass(frozen=True)
class CritiqueRevision:
    """One SL-CAI principle: a critique request and the matching revision request."""

    name: str
    critique: str
    revision: str


@dataclass(frozen=True)
class FeedbackPrinciple:
    """One RL-CAI principle: the multiple-choice question asked of the feedback model."""

    name: str
    principle: str


@dataclass(frozen=True)
class Constitution:
    """The principles of both stages, read from a ``constitution.json``-shaped file."""

    critique_revision: tuple[CritiqueRevision, ...]
    feedback: tuple[FeedbackPrinciple, ...]
    source: str = ""

    def pick(self, kind: str, names: list[str] | None, where: str) -> list[Any]:
        """The principles of ``kind`` (``critique_revision`` or ``feedback``) named in ``names`` (all when None)."""
        items = list(getattr(self, kind))
        if names is None:
            return items
        known = {p.name: p for p in items}
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ValueError(f"{where}: principles must name {kind} principles of the constitution; unknown "
                             f"{unknown or names!r} (known: {', '.join(known)})")
        return [known[n] for n in names]


def _entries(doc: dict[str, Any], key: str, fields: tuple[str, ...], where: str) -> list[dict[str, str]]:
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{where}: {key!r} must be a list of objects with {', '.join(fields)}")
    for n, item in enumerate(items):
        bad = [f for f in fields if not isinstance(item.get(f), str) or not item[f].strip()]
        if bad:
            raise ValueError(f"{where}: {key}[{n}] needs a non-empty string for {', '.join(bad)}")
    names = [i["name"] for i in items]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: {key} repeats a principle name: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return items


def load_constitution(path: str | Path | None = None) -> Constitution:
    """The constitution at ``path`` (the bundled one, Bai et al. 2022 Appendix C, when None): a JSON
    object with ``critique_revision`` ([{name, critique, revision}]) and/or ``feedback`` ([{name, principle}])."""
    file = BUNDLED if path is None else Path(path)
    where = f"constitution {file}"
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{where}: cannot be read ({e.strerror or e}); give the path of a JSON file") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: must be a JSON object with 'critique_revision' and/or 'feedback' lists")
    cr = _entries(doc, "critique_revision", ("name", "critique", "revision"), where)
    fb = _entries(doc, "feedback", ("name", "principle"), where)
    if not cr and not fb:
        raise ValueError(f"{where}: has neither 'critique_revision' nor 'feedback' principles")
    return Constitution(tuple(CritiqueRevision(i["name"], i["critique"], i["revision"]) for i in cr),
                        tuple(FeedbackPrinciple(i["name"], i["principle"]) for i in fb), str(doc.get("source", "")))


def sample_principles(items: list[Any], rounds: int, seed: int) -> list[Any]:
    """One principle per round, drawn independently (with replacement, as in the paper) with ``seed``."""
    rng = random.Random(seed)
    return [rng.choice(items) for _ in range(rounds)]


class ConstitutionalRevision(ModelStep):
    """SL-CAI: the response to the row's prompt (generated, or read from ``response_column``) is
    critiqued and revised for ``rounds`` rounds, each against a critique/revision pair sampled from
    the constitution; the final revision goes to ``output`` (see the module docstring)."""

    type_name = "constitutional"
    default_sampling = {"temperature": 0.7, "max_tokens": 512}

    def __init__(self, name: str, *, prompt: str = "prompt", prompt_messages: str | None = None,
                 system_column: str | None = None, response_column: str | None = None, output: str = "response",
                 rounds: int = 1, constitution: str | None = None, principles: list[str] | None = None,
                 emit: str = "sft", **kwargs: Any) -> None:
        where = f"constitutional {name!r}"
        if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= 16:
            raise ValueError(f"{where}: rounds must be a whole number from 1 to 16 (the paper uses up to 4), not {rounds!r}")
        if emit not in EMITS:
            raise ValueError(f"{where}: emit must be 'sft' (final revision as the target) or 'pairs' (also "
                             f"chosen = revision, rejected = initial response), not {emit!r}")
        self.constitution = load_constitution(constitution)
        self.pool = self.constitution.pick("critique_revision", principles, where)
        if not self.pool:
            raise ValueError(f"{where}: the constitution has no critique_revision principles")
        columns = PromptColumns(prompt, prompt_messages, system_column)
        writes = ["prompt", "system", output, "initial_response", "revisions"] + (["prompt_messages"] if prompt_messages else [])
        writes += [c for c in pair_columns(columns) if c not in writes] if emit == "pairs" else []
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=[response_column] if response_column else [], writes=writes, **kwargs)
        self.columns = columns
        self.reads |= self.columns.reads()
        self.response_column, self.output, self.rounds, self.emit = response_column, output, rounds, emit
        self.critique_template = self.load_template("constitutional_critique.jinja")
        self.revision_template = self.load_template("constitutional_revision.jinja")

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["constitution_content"] = [p.__dict__ for p in self.pool]  # a custom file's text, not only its path
        return d

    async def _reply(self, record: dict[str, Any], messages: list[dict[str, Any]], salt: str, what: str,
                     extra: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        response, entry = await self.call(record, messages, salt=salt, lineage=extra)
        text = strip_preamble(response.text or "")
        if not text:
            raise RowError(f"constitutional {self.name!r}: the model's {what} is empty", raw_text=response.text)
        finish = response.choices[0].finish_reason if response.choices else None
        return text, finish, entry

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        base = self.columns.messages(record)
        lineage: list[dict[str, Any]] = []
        if self.response_column:
            initial = record.get(self.response_column)
            if not isinstance(initial, str) or not initial.strip():
                raise RowError(f"constitutional {self.name!r}: column {self.response_column!r} (the initial response) "
                               f"is empty or not text: {initial!r:.80}")
            initial = initial.strip()
        else:
            initial, _, entry = await self._reply(record, base, "initial", "initial response", {"stage": "initial"})
            lineage.append(entry)
        current, finish, revisions = initial, None, []
        picked = sample_principles(self.pool, self.rounds, self.seed_for(record, "principles"))
        for round_no, principle in enumerate(picked, start=1):
            ask = self.render(self.critique_template, {"critique_request": principle.critique})
            shown = [*base, {"role": "assistant", "content": current}, {"role": "user", "content": ask}]
            tag = {"round": round_no, "principle": principle.name}
            critique, _, entry_c = await self._reply(record, shown, f"critique{round_no}", f"critique (round {round_no})",
                                                     {"stage": "critique", **tag})
            revise = self.render(self.revision_template, {"revision_request": principle.revision})
            current, finish, entry_r = await self._reply(
                record, [*shown, {"role": "assistant", "content": critique}, {"role": "user", "content": revise}],
                f"revision{round_no}", f"revision (round {round_no})", {"stage": "revision", **tag})
            lineage += [entry_c, entry_r]
            revisions.append({"round": round_no, "principle": principle.name, "critique_request": principle.critique,
                              "critique": critique, "revision_request": principle.revision, "revision": current})
        if finish == "length":
            return Rejected(f"the final revision (round {self.rounds}) hit max_tokens (finish_reason=length)")
        fields = self.columns.fields(record)
        out = {**record, **fields, "initial_response": initial, "revisions": revisions, self.output: current}
        if self.emit == "pairs":
            out = pair_row(out, self.columns, chosen=current, rejected=initial, pair_rule="cai_revision",
                           chosen_model=self.model_name, rejected_model=None if self.response_column else self.model_name)
        return adopt_rows(record, out, self.name, lineage)
