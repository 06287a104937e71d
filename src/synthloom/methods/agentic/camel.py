"""CAMEL role-playing: an AI user instructs an AI assistant, both held in role by inception prompts.

Li et al. 2023, "CAMEL: Communicative Agents for 'Mind' Exploration of Large Language Model Society",
NeurIPS 2023, arXiv:2303.17760 (camel-ai/camel). Per session (an assistant role, a user role and a task
idea, from :mod:`.camel_roles`):

1. the *task specifier* makes the idea specific ("Please make it more specific. Be creative and
   imaginative. Please reply with the specified task in <WORD_LIMIT> words or less.");
2. two agents get *inception prompts*: the AI user ("Never forget you are a <USER_ROLE> and I am a
   <ASSISTANT_ROLE>. Never flip roles! You will always instruct me.") answers only "Instruction: ...
   Input: ..."; the AI assistant ("... Never instruct me!") answers "Solution: ... Next request.";
3. they talk turn by turn (user instruction, assistant solution), each agent seeing the conversation
   from its own side, until a termination rule fires.

Termination (the paper's rules, named as in the row's ``termination``):

* ``done``: the user says ``<CAMEL_TASK_DONE>`` (kept);
* ``max_turns``: the turn cap (the paper caps at 40 messages, 20 turns) (kept, marked);
* ``token_limit``: a message hit ``max_tokens``; the incomplete turn is dropped (kept when a turn remains);
* ``role_flip``: the assistant gives an instruction ("Instruction:") or the user answers ("Solution:")
  (rejected);
* ``repeat``: a message repeats an earlier one, exactly or as a near-duplicate (rapidfuzz ratio at
  least ``repeat_threshold``, the markers set aside) — the paper's "infinite loop of messages" (rejected);
* ``empty``: a message says nothing beyond the format's markers (rejected);
* ``no_instruction``: the user gave no instruction for ``no_instruction_rounds`` rounds (the paper: 3)
  (rejected).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from .camel_roles import CITATION, COLUMNS, VARIANTS

DONE = "CAMEL_TASK_DONE"
#: the assistant's opening words to the AI user (camel-ai's role-playing session)
KICKOFF = "Now start to give me instructions one by one. Only reply with Instruction and Input."
SPECIFIER_SYSTEM = "You can make a task more specific."
KEPT = ("done", "max_turns", "token_limit")
FAILED = ("role_flip", "repeat", "empty", "no_instruction")
_INSTRUCTION = re.compile(r"^[\W_]*instruction\s*:", re.IGNORECASE | re.MULTILINE)
_SOLUTION = re.compile(r"^[\W_]*solution\s*:", re.IGNORECASE)
_MARKERS = re.compile(r"<?camel_task_done>?|\binput\s*:\s*none\b|\b(?:instruction|input|solution)\s*:|next request\.?",
                      re.IGNORECASE)


def substance(text: str) -> str:
    """What a message says beyond the format's markers (Instruction:, Input: None, Solution:, Next
    request., the done token), case- and whitespace-normalised: compared for repeats, empty when nothing."""
    return " ".join(_MARKERS.sub(" ", text).casefold().split())


def gives_instruction(text: str) -> bool:
    """Whether a message has a line opening with "Instruction:" (what only the AI user may write)."""
    return bool(_INSTRUCTION.search(text))


def gives_solution(text: str) -> bool:
    """Whether a message opens with "Solution:" (what only the AI assistant may write)."""
    return bool(_SOLUTION.match(text.strip()))


@dataclass
class Session:
    """One role-playing conversation as it unfolds: every message said (``said``: speaker, text), the
    complete turns, how it ended and why, and the lineage of its model calls."""

    said: list[tuple[str, str]] = field(default_factory=list)
    turns: list[tuple[str, str]] = field(default_factory=list)
    termination: str | None = None
    reason: str = ""
    silent_rounds: int = 0
    lineage: list[dict[str, Any]] = field(default_factory=list)

    def end(self, termination: str, reason: str) -> None:
        self.termination, self.reason = termination, reason

    def repeat_of(self, text: str, threshold: float) -> str | None:
        """Which earlier message ``text`` repeats (exactly, or at least ``threshold`` similar), or None."""
        mine = substance(text)
        for i, (speaker, earlier) in enumerate(self.said):
            other = substance(earlier)
            where = f"the {speaker}'s message of turn {i // 2 + 1}"
            if mine == other:
                return f"repeats {where} exactly"
            if threshold < 1 and (score := fuzz.ratio(mine, other, score_cutoff=threshold * 100)):
                return f"repeats {where} ({score:.0f}% similar)"
        return None


class Camel(ModelStep):
    """CAMEL role-playing (Li et al. 2023): the task specifier, then an AI user and an AI assistant under
    the paper's inception prompts (``variant`` ``society`` or ``code``) talking for up to ``max_turns``
    turns, ended by the paper's rules (see the module doc). Reads ``assistant_role``, ``user_role``,
    ``task`` (and ``language``, ``domain`` for ``code``); writes ``specified_task``, ``messages`` (the
    assistant's side as SFT chat: its inception prompt as system when ``keep_system``, the user's
    instructions, its solutions; complete turns only), ``conversation`` (every message said, with
    ``role`` user/assistant and ``name`` the role played), ``termination`` and ``turns``. Sessions ended
    by ``role_flip``, ``repeat``, ``empty`` or ``no_instruction`` are rejected with the reason; ``done``,
    ``max_turns`` and ``token_limit`` are kept and marked. The AI user is ``user_model`` (default the
    step's model) with ``user_temperature`` and ``user_max_tokens``."""

    type_name = "camel"
    default_sampling = {"temperature": 0.7, "max_tokens": 1024}

    def __init__(self, name: str, *, variant: str = "society", specify: bool = True, word_limit: int = 50,
                 specifier_max_tokens: int = 160, max_turns: int = 20, repeat_threshold: float = 0.9,
                 no_instruction_rounds: int = 3, user_model: str | None = None, user_temperature: float | None = None,
                 user_max_tokens: int = 256, keep_system: bool = True, specifier_template: str | None = None,
                 assistant_template: str | None = None, user_template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"camel {name!r}"
        if variant not in VARIANTS:
            raise ValueError(f"{where}: variant must be 'society' or 'code', not {variant!r}")
        for opt, v, low in (("word_limit", word_limit, 1), ("specifier_max_tokens", specifier_max_tokens, 1),
                            ("max_turns", max_turns, 1), ("user_max_tokens", user_max_tokens, 1),
                            ("no_instruction_rounds", no_instruction_rounds, 0)):
            if int(v) < low:
                raise ValueError(f"{where}: {opt} must be >= {low}, not {v}")
        if not 0 < float(repeat_threshold) <= 1:
            raise ValueError(f"{where}: repeat_threshold must be in (0, 1] (1 = exact repeats only), not {repeat_threshold}")
        reads = [c for c in COLUMNS[variant] if c != "variant"]
        super().__init__(name, reads=reads, writes=["specified_task", "messages", "conversation", "termination", "turns"],
                         citations=[CITATION, *citations], **kwargs)
        if user_model and user_model not in self.models:
            self.models.append(user_model)
        self.variant, self.specify, self.word_limit = variant, bool(specify), int(word_limit)
        self.specifier_max_tokens, self.max_turns = int(specifier_max_tokens), int(max_turns)
        self.repeat_threshold, self.no_instruction_rounds = float(repeat_threshold), int(no_instruction_rounds)
        self.user_model, self.user_temperature, self.user_max_tokens = user_model, user_temperature, int(user_max_tokens)
        self.keep_system = bool(keep_system)
        self.specifier_template = specifier_template or self.load_template(f"camel_{variant}_specify.jinja")
        self.assistant_template = assistant_template or self.load_template(f"camel_{variant}_assistant.jinja")
        self.user_template = user_template or self.load_template(f"camel_{variant}_user.jinja")
        provided = {"specified_task", "word_limit"}
        self.read_columns(self.specifier_template, self.assistant_template, self.user_template, not_columns=provided)

    # -- the session --------------------------------------------------------------------------------
    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        if record.get("variant", self.variant) != self.variant:
            raise ValueError(f"camel {self.name!r}: the row is a {record['variant']!r} session but the step's variant is "
                             f"{self.variant!r}; set variant: {record['variant']} on the step")
        view = {**user_columns(record), "word_limit": self.word_limit}
        session = Session()
        specified = await self.specified_task(record, view, session)
        if isinstance(specified, Rejected):
            return specified
        view["specified_task"] = specified
        assistant_system = self.render(self.assistant_template, view).strip()
        user_view = [{"role": "system", "content": self.render(self.user_template, view).strip()},
                     {"role": "user", "content": KICKOFF}]
        assistant_view = [{"role": "system", "content": assistant_system}]
        for turn in range(1, self.max_turns + 1):
            instruction = await self.speak(record, user_view, session, "user", turn)
            if instruction is None:
                break
            user_view.append({"role": "assistant", "content": instruction})
            assistant_view.append({"role": "user", "content": instruction})
            solution = await self.speak(record, assistant_view, session, "assistant", turn)
            if solution is None:
                break
            assistant_view.append({"role": "assistant", "content": solution})
            user_view.append({"role": "user", "content": solution})
            session.turns.append((instruction, solution))
        else:
            session.end("max_turns", f"the conversation reached max_turns ({self.max_turns})")
        if session.termination in FAILED:
            return Rejected(f"{session.termination}: {session.reason}")
        if not session.turns:
            return Rejected(f"{session.termination}: {session.reason}, before any complete turn")
        return adopt_rows(record, self.row(record, specified, assistant_system, session), self.name, session.lineage)

    async def specified_task(self, record: dict[str, Any], view: dict[str, Any], session: Session) -> str | Rejected:
        """The task specifier's version of ``task`` (the idea itself when ``specify`` is off)."""
        if not self.specify:
            return str(record["task"]).strip()
        response, entry = await self.call(record, chat(self.render(self.specifier_template, view).strip(), SPECIFIER_SYSTEM),
                                          salt="specify", max_tokens=self.specifier_max_tokens,
                                          lineage={"role": "task_specifier"})
        session.lineage.append(entry)
        text = reply_text(response, "specified task")
        if isinstance(text, Rejected):
            return text
        return " ".join(re.sub(r"^\W*specified task\s*:\s*", "", text, flags=re.IGNORECASE).split())

    async def speak(self, record: dict[str, Any], view: list[dict[str, str]], session: Session, speaker: str,
                    turn: int) -> str | None:
        """One message of ``speaker`` (``user`` or ``assistant``): its text, or None when a termination
        rule ended the session on it (``session.termination`` says which)."""
        user = speaker == "user"
        response, entry = await self.call(
            record, view, salt=f"{speaker}{turn}", model=self.user_model if user else None,
            temperature=self.user_temperature if user else None, max_tokens=self.user_max_tokens if user else None,
            lineage={"role": f"ai_{speaker}", "turn": turn})
        session.lineage.append(entry)
        text = (response.text or "").strip()
        cut = bool(response.choices) and response.choices[0].finish_reason == "length"
        verdict = self.user_verdict(session, text, cut) if user else self.assistant_verdict(session, text, cut)
        session.said.append((speaker, text))
        if verdict is not None:
            session.end(*verdict)
            return None
        return text

    def user_verdict(self, session: Session, text: str, cut: bool) -> tuple[str, str] | None:
        """The termination a user message triggers, as (rule, reason), or None to go on."""
        n = len(session.turns) + 1
        if DONE in text.upper():
            return "done", f"the user said <{DONE}> at turn {n}"
        failed = self.failure(session, "user", text, n)
        if failed:
            return failed
        if gives_solution(text):
            return "role_flip", f"the user answered instead of instructing at turn {n}: {text[:80]!r}"
        if cut:
            return "token_limit", f"the user's message at turn {n} hit max_tokens"
        session.silent_rounds = 0 if gives_instruction(text) else session.silent_rounds + 1
        if self.no_instruction_rounds and session.silent_rounds >= self.no_instruction_rounds:
            return "no_instruction", f"the user gave no instruction for {session.silent_rounds} rounds (turn {n})"
        return None

    def assistant_verdict(self, session: Session, text: str, cut: bool) -> tuple[str, str] | None:
        """The termination an assistant message triggers, as (rule, reason), or None to go on."""
        n = len(session.turns) + 1
        failed = self.failure(session, "assistant", text, n)
        if failed:
            return failed
        if gives_instruction(text):
            return "role_flip", f"the assistant gave an instruction at turn {n}: {text[:80]!r}"
        if cut:
            return "token_limit", f"the assistant's message at turn {n} hit max_tokens"
        return None

    def failure(self, session: Session, speaker: str, text: str, turn: int) -> tuple[str, str] | None:
        """The rules every message is held to: not empty, not a repeat."""
        if not substance(text):
            return "empty", f"the {speaker}'s message at turn {turn} is empty: {text[:40]!r}"
        repeated = session.repeat_of(text, self.repeat_threshold)
        if repeated:
            return "repeat", f"the {speaker}'s message at turn {turn} {repeated}: {text[:80]!r}"
        return None

    def row(self, record: dict[str, Any], specified: str, assistant_system: str, session: Session) -> dict[str, Any]:
        names = {"user": str(record["user_role"]), "assistant": str(record["assistant_role"])}
        messages = [{"role": "system", "content": assistant_system}] if self.keep_system else []
        for instruction, solution in session.turns:
            messages += [{"role": "user", "content": instruction}, {"role": "assistant", "content": solution}]
        conversation = [{"role": speaker, "name": names[speaker], "content": text} for speaker, text in session.said]
        return {**user_columns(record), "specified_task": specified, "messages": messages, "conversation": conversation,
                "termination": session.termination, "turns": len(session.turns)}
