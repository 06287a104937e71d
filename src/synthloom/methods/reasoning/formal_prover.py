"""DeepSeek-Prover's data loop, part 2: proof search in rounds, proved theorems as few-shot examples.

Xin et al. 2024, "DeepSeek-Prover", arXiv:2405.14333, §2: the prover samples proofs for every
formal statement; the proof assistant checks them; the proved (statement, proof) pairs are added to
the training data and the next round's prover, fine-tuned on them, attacks what is still unproved.
synthloom does not fine-tune: the proved pairs teach the prover *in context* instead — each round's
prompt shows up to ``n_examples`` proved theorems (the latest round's first; never the theorem asked
about), after a round 1 that shows the built-in seed examples.

:class:`CoqProver` (``type: coq_prover``) is a global step (a round needs the previous round's
proofs): per round it samples ``k`` proofs for each still-unproved statement and checks them in
order with :meth:`~synthloom.verify.coq.CoqChecker.check_proof` (tactics only, compiled by coqc in
the sandbox, the proved theorem re-checked against the statement in a fresh context, ``Print
Assumptions`` closed); the first accepted proof is kept. Statements unproved after ``rounds``
rounds are rejected with the last checker's reason. Rows are spilled to disk and read per round.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from ...io.row_spill import read_rows, row_chunks, write_rows
from ...pipeline.model_step import ModelCalls, chat
from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from ...records import ID, add_lineage
from ...verify.coq import TRIVIAL_TACTICS, CoqVerdict
from ...verify.coq_source import Statement, proof_body
from ..fanout import bounded, check_max_fanout
from .formal_proofs import CITATION, coq_checker

#: statements proved at once (the model's own limits bound what is in flight)
CHUNK = 32
SEED_EXAMPLES = (
    {"name": "mul_zero", "statement": "forall n : nat, n * 0 = 0", "proof": "intros n. lia."},
    {"name": "length_cons", "statement": "forall (A : Type) (x : A) (l : list A), length (x :: l) = S (length l)",
     "proof": "intros A x l. simpl. reflexivity."},
    {"name": "app_length_cons", "statement": "forall (l : list nat) (x : nat), length (l ++ [x]) = S (length l)",
     "proof": "intros l x. induction l as [| y l IH].\n- simpl. reflexivity.\n- simpl. rewrite IH. reflexivity."},
)
COLUMNS = ("proof", "full_proof", "proved_round", "proof_attempts", "few_shot_examples")


class CoqProver(ModelCalls, GlobalStep):
    """Proves the statements (``theorem_name``, ``formal_statement``) in ``rounds`` rounds of ``k``
    sampled proofs each (``k`` bounded by ``max_fanout``), showing ``n_examples`` proved theorems
    as few-shot examples (the seed examples in round 1). Writes ``proof`` (the tactics),
    ``full_proof`` (the checked ``Theorem … Proof. … Qed.``), ``proved_round``, ``proof_attempts``
    (samples checked for it, all rounds) and ``few_shot_examples`` (names shown when it was proved).
    ``timeout`` is seconds per coqc run, ``memory_mb`` its memory limit."""

    type_name = "coq_prover"
    default_sampling = {"temperature": 0.8, "max_tokens": 256}

    def __init__(self, name: str, *, rounds: int = 2, k: int = 4, n_examples: int = 3, max_fanout: int | None = None,
                 timeout: float = 20.0, memory_mb: int = 2048, model: str = "default",
                 inputs: list[str] | None = None, **sampling: Any) -> None:
        if int(rounds) < 1 or int(k) < 1 or int(n_examples) < 0:
            raise ValueError(f"coq_prover {name!r}: rounds and k must be >= 1 and n_examples >= 0, "
                             f"not {rounds}, {k}, {n_examples}")
        GlobalStep.__init__(self, name, inputs=inputs or (), reads=["theorem_name", "formal_statement"],
                            writes=list(COLUMNS), citations=[CITATION], models=[model])
        self._init_model(model, sampling)
        self.rounds, self.n_examples = int(rounds), int(n_examples)
        self.k = bounded(int(k), check_max_fanout(max_fanout))
        self.checker = coq_checker(timeout, memory_mb, TRIVIAL_TACTICS)
        self.prompt = self.load_template("formal_prove.jinja")

    async def aclose(self) -> None:
        self.checker.close()

    def messages(self, record: dict[str, Any], examples: list[dict[str, Any]]) -> list[dict[str, str]]:
        """The proof request for ``record`` with ``examples`` (never the record's own theorem)."""
        shown = [e for e in examples if e.get(ID) is None or e[ID] != record.get(ID)][: self.n_examples]
        view = {"name": record["theorem_name"], "statement": record["formal_statement"], "examples": shown}
        return chat(self.render(self.prompt, view).strip())

    async def attempt(self, record: dict[str, Any], examples: list[dict[str, Any]],
                      round_no: int) -> tuple[str | None, int, CoqVerdict | None, dict[str, Any], list[str]]:
        """One round for one statement: ``(accepted tactics or None, samples checked, last failing
        verdict, lineage entry, example names shown)``."""
        messages = self.messages(record, examples)
        shown = [e["name"] for e in examples if e.get(ID) is None or e[ID] != record.get(ID)][: self.n_examples]
        response, entry = await self.call(record, messages, n=self.k, salt=f":round{round_no}",
                                          lineage={"round": round_no})
        st = Statement(record["theorem_name"], record["formal_statement"])
        last: CoqVerdict | None = None
        for checked, choice in enumerate(response.choices, 1):
            body = proof_body(choice.text or "", st)
            verdict = await self.checker.acheck_proof(st, body)
            if verdict.ok:
                return body, checked, None, entry, shown
            last = verdict
        return None, len(response.choices), last, entry, shown

    def run(self, rows: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any] | RejectedRow]:  # type: ignore[override]
        return self._rounds(rows)

    async def _rounds(self, rows: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any] | RejectedRow]:
        loop = asyncio.get_running_loop()
        folder = self.ctx.spill_dir if self.ctx is not None and self.ctx.state_dir is not None else Path(tempfile.mkdtemp())
        spill = folder / "statements.jsonl"
        await loop.run_in_executor(None, write_rows, rows, spill)
        proved: dict[str, dict[str, Any]] = {}
        failures: dict[str, CoqVerdict | None] = {}
        attempts: dict[str, int] = {}
        lineage: dict[str, list[dict]] = {}
        examples: list[dict[str, Any]] = [dict(e) for e in SEED_EXAMPLES]
        for round_no in range(1, self.rounds + 1):
            new: list[dict[str, Any]] = []
            chunks = row_chunks(spill, CHUNK)
            while chunk := await loop.run_in_executor(None, next, chunks, None):
                todo = [r for r in chunk if r[ID] not in proved]
                results = await asyncio.gather(*(self.attempt(r, examples, round_no) for r in todo))
                for r, (body, checked, last, entry, shown) in zip(todo, results):
                    attempts[r[ID]] = attempts.get(r[ID], 0) + checked
                    lineage.setdefault(r[ID], []).append(entry)
                    if body is None:
                        failures[r[ID]] = last
                        continue
                    proved[r[ID]] = {"proof": body, "round": round_no, "shown": shown}
                    new.append({ID: r[ID], "name": r["theorem_name"], "statement": r["formal_statement"], "proof": body})
            if new:  # the latest proofs first, then the earlier examples; one spare (a theorem never shows itself)
                examples = (new + examples)[: self.n_examples + 1]
        for r in read_rows(spill):
            for entry in lineage.get(r[ID], []):
                add_lineage(r, entry)
            done = proved.get(r[ID])
            if done is None:
                last = failures.get(r[ID])
                why = last.reason if last is not None else "the model returned no proof"
                yield RejectedRow({**r, "proof_attempts": attempts.get(r[ID], 0)},
                                  Rejected(f"not proved in {self.rounds} round(s) of {self.k} samples: {why}"))
                continue
            full = f"Theorem {r['theorem_name']} : {r['formal_statement']}.\nProof.\n{done['proof']}\nQed."
            yield {**r, "proof": done["proof"], "full_proof": full, "proved_round": done["round"],
                   "proof_attempts": attempts[r[ID]], "few_shot_examples": done["shown"]}
        spill.unlink(missing_ok=True)
