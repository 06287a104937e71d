"""Preference trees (UltraInteract): multi-turn actions with feedback and critique, a pair at each turn.

Yuan, L., Cui, G., Wang, H., Ding, N., Wang, X., Deng, J., Shan, B., Chen, H., Xie, R., Lin, Y.,
Liu, Z., Zhou, B., Peng, H., Liu, Z., Sun, M. (2024). *Advancing LLM Reasoning Generalists with
Preference Trees*. arXiv:2404.02078 (Eurus; the UltraInteract data set).

UltraInteract builds, for each problem with a verifiable answer, a **preference tree**: the
problem is the root; at each turn the actor samples actions (a solution, optionally with Python
code run by an interpreter); a correct action is a leaf; an incorrect one is expanded — the
environment gives its observation (the code's output, and "Your answer is wrong.") and a critique
model, which sees the reference answer, comments on the mistake — and the actor tries again with
that history, for at most 5 turns. At each turn, a correct and an incorrect action with the same
history make a preference pair.

Step ``preference_tree``: per problem, at most ``max_turns`` turns (also bounded by
``max_fanout``, so ``-n`` bounds a quick try) of ``k`` sampled actions each, every action checked
by :mod:`synthloom.verify.math` against the gold answer (with ``execute_code``, a ```` ```python ````
block of the action is run in the sandbox first; its output is the observation, and the answer is
read from the output when the text states none). At each turn, each correct action is paired with
a different incorrect one (``min(#correct, #incorrect)`` pairs); the first incorrect action is
expanded with the feedback turn (observation, "Your answer is wrong." and, with ``critique``, the
critique model's comment). The tree stops at a turn where no action is wrong. One row per pair
(the pair columns of ``pairs``: ``prompt``, ``prompt_messages`` = the history shared by both
actions, ``chosen``, ``rejected``, ...; plus ``turn``, ``chosen_answer``, ``rejected_answer``,
``gold_answer`` and ``tree``, the whole tree). A problem whose tree makes no pair — no action
verified, or none failed — is a rejected row with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.model_step import chat
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ...verify.sandbox_client import SandboxClient
from ..code.extract import code_blocks
from ..preference.pair_row import PAIR_COLUMNS
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = "Yuan et al. 2024, Advancing LLM Reasoning Generalists with Preference Trees, arXiv:2404.02078"
TREE_COLUMNS = (*PAIR_COLUMNS, "prompt_messages", "turn", "chosen_answer", "rejected_answer", "gold_answer", "tree")
MAX_OUTPUT_CHARS = 1000


def pair_up(correct: list[Any], wrong: list[Any]) -> list[tuple[Any, Any]]:
    """Each correct action with a different incorrect one, in order: ``min(len)`` pairs."""
    return list(zip(correct, wrong))


def python_code(text: str) -> str | None:
    """The last closed ```python block of ``text`` (a fence cut off by max_tokens is not run)."""
    blocks = [b for b in code_blocks(text) if b.is_python and b.closed and b.code.strip()]
    return blocks[-1].code if blocks else None


class PreferenceTree(VerifiedSampler):
    """UltraInteract's preference tree over a math problem (see the module docstring). Options:
    ``k`` (actions per turn, the tree's branching), ``max_turns``, ``max_fanout`` (a bound on the
    turns, e.g. ``${n}``), ``critique`` / ``critic_model`` / ``critique_max_tokens`` /
    ``critique_template`` (the critique model's comment on a wrong action), ``feedback_template``
    (the user turn an expanded action gets), ``execute_code`` / ``code_timeout`` (run the action's
    Python block in the sandbox), and the :class:`VerifiedSampler` options."""

    type_name = "preference_tree"
    default_template = "preference_tree_actor.jinja"

    def __init__(self, name: str, *, k: int = 2, max_turns: int = 5, max_fanout: int | None = None,
                 critique: bool = True, critic_model: str | None = None, critique_max_tokens: int = 192,
                 critique_template: str | None = None, feedback_template: str | None = None,
                 execute_code: bool = True, code_timeout: float = 5.0, temperature: float = 1.0,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"preference_tree {name!r}"
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"{where}: k (actions sampled per turn) must be a whole number >= 2 to make pairs, not {k!r}")
        for label, value in (("max_turns", max_turns), ("max_fanout", max_fanout)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{where}: {label} must be a whole number >= 1, not {value!r}")
        if isinstance(critique_max_tokens, bool) or not isinstance(critique_max_tokens, int) or critique_max_tokens < 8:
            raise ValueError(f"{where}: critique_max_tokens must be a whole number >= 8, not {critique_max_tokens!r}")
        if float(code_timeout) <= 0:
            raise ValueError(f"{where}: code_timeout must be a positive number of seconds, not {code_timeout!r}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(TREE_COLUMNS)
        self.turns = min(max_turns, max_fanout) if max_fanout is not None else max_turns
        self.critique, self.critique_max_tokens = critique, critique_max_tokens
        self.critic = self.uses_model(critic_model) if critique else None
        self.critique_template = critique_template or self.load_template("preference_tree_critique.jinja")
        self.feedback_template = feedback_template or self.load_template("preference_tree_feedback.jinja")
        self.execute_code, self.code_timeout = execute_code, float(code_timeout)
        self._sandbox: SandboxClient | None = None

    async def aclose(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        await super().aclose()

    # -- the environment ---------------------------------------------------------------------------
    async def run_code(self, texts: list[str]) -> list[str | None]:
        """Per action, the output of its last ```python block run in the sandbox (``None`` without one)."""
        codes = [python_code(t) if self.execute_code else None for t in texts]
        jobs = [{"code": c} for c in codes if c is not None]
        if not jobs:
            return [None] * len(texts)
        if self._sandbox is None:
            self._sandbox = SandboxClient(timeout=self.code_timeout, thread_name="preference-tree")
        results = iter(await self._sandbox.arun_many(jobs))
        out: list[str | None] = []
        for c in codes:
            if c is None:
                out.append(None)
                continue
            r = next(results)
            text = r.stdout if r.status == "passed" else f"{r.stdout}\n{r.stderr}".strip() + f"\n(status: {r.status})"
            out.append(text.strip()[-MAX_OUTPUT_CHARS:])
        return out

    async def act(self, record: dict[str, Any], history: list[dict[str, str]],
                  turn: int) -> tuple[list[Sample], list[str | None], list[dict[str, Any]]]:
        """The ``k`` actions of one turn, verified: ``(samples, code outputs, lineage)``."""
        raw, lineage = await self.sample(record, history, self.k, salt=f"\x1fturn:{turn}", lineage={"turn": turn})
        outputs = await self.run_code([text for text, _, _ in raw])
        checked = [(f"{text}\nThe answer is {out.splitlines()[-1]}" if out and "\\boxed" not in text
                    and "answer is" not in text.lower() else text, reasoning, finish)
                   for (text, reasoning, finish), out in zip(raw, outputs)]
        samples = await self.verify(checked, record.get(self.gold_column))
        for s, (text, _, _) in zip(samples, raw):
            s.text = text.strip()  # the action as the actor wrote it (the answer read from its output is in the verdict)
        return samples, outputs, lineage

    async def feedback(self, record: dict[str, Any], history: list[dict[str, str]], action: Sample, output: str | None,
                       turn: int) -> tuple[str, str | None, list[dict[str, Any]]]:
        """The user turn after a wrong ``action`` (observation and critique) and the critique."""
        comment, lineage = None, []
        if self.critique:
            view = {**record, "question": record.get(self.question_column), "gold": record.get(self.gold_column),
                    "history": history[1:] if history and history[0]["role"] == "system" else history,
                    "action": action.text, "observation": output, "verdict": reason_for(action.verdict)}
            messages = chat(self.render(self.critique_template, view).strip() + "\n")
            texts, lineage = await self.sample(record, messages, 1, salt=f"\x1fcritique:{turn}", model=self.critic,
                                               max_tokens=self.critique_max_tokens, lineage={"turn": turn, "role": "critique"})
            comment = texts[0][0].strip()
        turn_text = self.render(self.feedback_template, {"observation": output, "critique": comment}).strip()
        return turn_text, comment, lineage

    # -- the tree ----------------------------------------------------------------------------------
    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        gold = record.get(self.gold_column)
        history = self.messages(record)
        system = history[0]["content"] if history and history[0]["role"] == "system" else None
        tree: list[dict[str, Any]] = []
        pairs: list[tuple[int, list[dict[str, str]], Sample, Sample]] = []
        lineage: list[dict[str, Any]] = []
        for turn in range(1, self.turns + 1):
            samples, outputs, lin = await self.act(record, history, turn)
            lineage += lin
            correct = [s for s in samples if s.correct]
            wrong = [s for s in samples if not s.correct]
            node: dict[str, Any] = {"turn": turn, "actions": [
                {"text": s.text, "observation": out, "answer": s.verdict.pred, "correct": s.correct,
                 "verify_status": s.verdict.status} for s, out in zip(samples, outputs)], "expanded": None, "critique": None}
            tree.append(node)
            pairs += [(turn, history, c, w) for c, w in pair_up(correct, wrong)]
            if not wrong or turn == self.turns:
                break
            expand = wrong[0]
            turn_text, comment, lin = await self.feedback(record, history, expand, outputs[expand.index], turn)
            lineage += lin
            node["expanded"], node["critique"] = expand.index, comment
            history = [*history, {"role": "assistant", "content": expand.text}, {"role": "user", "content": turn_text}]
        if not pairs:
            counts = [sum(a["correct"] for a in n["actions"]) for n in tree]
            if not any(counts):
                return Rejected(f"no correct action in {len(tree)} turn(s) of {self.k} actions: every branch failed "
                                f"(gold {gold!r})", 0.0)
            return Rejected(f"no turn had both a correct and an incorrect action (correct per turn: {counts})", 1.0)
        base = self.base_columns(record)
        question = str(record.get(self.question_column) or "")
        model = self.model_name
        rows = [{**base, "prompt": question, "system": system,
                 "prompt_messages": [m for m in shared if m["role"] != "system"], "chosen": c.text, "rejected": w.text,
                 "chosen_score": 1.0, "rejected_score": 0.0, "chosen_model": model, "rejected_model": model, "margin": 1.0,
                 "pair_rule": "preference_tree", "turn": turn, "chosen_answer": c.verdict.pred,
                 "rejected_answer": w.verdict.pred, "gold_answer": c.verdict.gold, "tree": tree}
                for turn, shared, c, w in pairs]
        return adopt_rows(record, rows, self.name, lineage)
