"""Baize self-chat: one model plays both the human and the AI of a multi-turn conversation seeded by a
question, in the transcript format of the paper, until a stop rule ends it.

Xu, C., Guo, D., Duan, N., McAuley, J. (2023). *Baize: An Open-Source Chat Model with Parameter-Efficient
Tuning on Self-Chat Data*, EMNLP 2023, arXiv:2304.01196 (project-baize/baize-chatbot). ChatGPT is given
a template that frames a transcript between a human and an AI chatting about a seed (a Quora or Stack
Overflow question), with ``[|Human|]`` and ``[|AI|]`` opening the statements, a two-line example
exchange, and the rules that the human asks related follow-ups and stops when they have no more
questions; the model completes the transcript, playing both sides.

:class:`BaizeSelfChat` (``baize_self_chat``) writes the transcript one statement at a time: each call
shows the template, the transcript so far and the next speaker's marker, and stops at either marker
(``stop``), so every statement is checked as it is written. The first human statement is the seed
question itself (``seed_opens``; otherwise the model writes it). The conversation ends — ``stop_reason``
in the row — at the first of:

* ``max_turns``: ``max_turns`` human–AI exchanges are written;
* ``human_ended``: the human's statement closes the chat (a thanks or goodbye without a question,
  ``end_phrases``) — the paper's "the human will stop the conversation when they have no more question";
* ``empty``: the human's statement is empty (nothing left to ask);
* ``repeat``: the human repeats an earlier statement (rapidfuzz ratio ≥ ``repeat_threshold``);
* ``cut`` / ``ai_empty``: a statement hit its ``max_tokens``, or the AI said nothing — the unfinished
  exchange is dropped.

The statement that triggers a stop is not kept. A conversation with at least ``min_turns`` exchanges is
a row (``messages``: chat SFT turns; ``transcript``: the Baize text; ``turns``; ``stop_reason``);
shorter ones are rejected with the reason.
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz

from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns

CITATION = ("Xu et al. 2023, Baize: An Open-Source Chat Model with Parameter-Efficient Tuning on Self-Chat Data, "
            "EMNLP 2023, arXiv:2304.01196")
HUMAN, AI = "[|Human|]", "[|AI|]"
END_PHRASES = ("thank you", "thanks", "bye", "goodbye", "that's all", "that is all", "no more questions",
               "i have no more questions", "that's everything", "have a nice day", "have a great day")
_LABEL = re.compile(r"^\s*(?:\[\|?\s*(?:human|ai)\s*\|?\]|\[?(?:human|ai|assistant|user)\]?\s*:)\s*", re.IGNORECASE)
_MARKER = re.compile(r"\[\|?\s*(?:human|ai)\s*\|?\]", re.IGNORECASE)


def statement(text: str) -> str:
    """One statement of the transcript: a leading speaker label dropped, cut at the next marker."""
    text = _LABEL.sub("", text or "", count=1)
    return _MARKER.split(text, maxsplit=1)[0].strip()


def ends_chat(text: str, phrases: tuple[str, ...] | list[str] = END_PHRASES) -> bool:
    """Whether a human statement closes the conversation: it says one of ``phrases`` and asks nothing."""
    if "?" in text:
        return False
    folded = " " + " ".join(re.sub(r"[^\w' ]", " ", text.casefold()).split()) + " "
    return any(f" {p.casefold()} " in folded for p in phrases)


def repeats(text: str, earlier: list[str], threshold: float) -> bool:
    """Whether ``text`` repeats one of ``earlier`` (case- and space-folded rapidfuzz ratio ≥ ``threshold``)."""
    norm = " ".join(text.casefold().split())
    return any(fuzz.ratio(norm, " ".join(e.casefold().split())) >= threshold for e in earlier)


class BaizeSelfChat(ModelStep):
    """Baize self-chat (Xu et al. 2023): one model writes both sides of a ``[|Human|]`` / ``[|AI|]``
    transcript about the row's seed question (``seed_column``), one statement per call, up to
    ``max_turns`` exchanges or until the human ends the chat, says nothing or repeats itself (see the
    module docstring). Writes ``messages``, ``transcript``, ``turns`` and ``stop_reason``; a chat of fewer
    than ``min_turns`` exchanges is rejected."""

    type_name = "baize_self_chat"
    default_sampling = {"temperature": 0.7, "max_tokens": 512, "stop": [HUMAN, AI]}

    def __init__(self, name: str, *, seed_column: str = "question", max_turns: int = 4, min_turns: int = 1,
                 seed_opens: bool = True, human_max_tokens: int = 128, end_phrases: list[str] | None = None,
                 repeat_threshold: float = 90.0, template: str | None = None, **kwargs: Any) -> None:
        where = f"baize_self_chat {name!r}"
        if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
            raise ValueError(f"{where}: max_turns (human-AI exchanges) must be a whole number >= 1, not {max_turns!r}")
        if not isinstance(min_turns, int) or isinstance(min_turns, bool) or not 1 <= min_turns <= max_turns:
            raise ValueError(f"{where}: min_turns must be from 1 to max_turns ({max_turns}), not {min_turns!r}")
        if int(human_max_tokens) < 1:
            raise ValueError(f"{where}: human_max_tokens must be >= 1, not {human_max_tokens!r}")
        if not 0 < float(repeat_threshold) <= 100:
            raise ValueError(f"{where}: repeat_threshold is a rapidfuzz ratio in (0, 100], not {repeat_threshold!r}")
        phrases = list(END_PHRASES) if end_phrases is None else list(end_phrases)
        if not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ValueError(f"{where}: end_phrases must be a list of non-empty phrases, e.g. [thank you, bye]")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=[seed_column], writes=["messages", "transcript", "turns", "stop_reason"], **kwargs)
        self.seed_column, self.max_turns, self.min_turns, self.seed_opens = seed_column, max_turns, min_turns, bool(seed_opens)
        self.human_max_tokens, self.end_phrases, self.repeat_threshold = int(human_max_tokens), phrases, float(repeat_threshold)
        self.template = template or self.load_template("baize.jinja")
        self.read_columns(self.template, not_columns={"seed", "transcript", "next"})

    async def say(self, record: dict[str, Any], seed: str, transcript: list[dict[str, str]], marker: str,
                  salt: str, lineage: list[dict[str, Any]], **sampling: Any) -> tuple[str, bool]:
        """The next statement of ``marker``'s speaker and whether it hit its token limit."""
        view = {**user_columns(record), "seed": seed, "transcript": transcript, "next": marker}
        response, entry = await self.call(record, chat(self.render(self.template, view).rstrip()), salt=salt,
                                          lineage={"speaker": "human" if marker == HUMAN else "ai"}, **sampling)
        lineage.append(entry)
        cut = bool(response.choices) and response.choices[0].finish_reason == "length"
        return statement(response.text or ""), cut

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        seed = " ".join(str(record.get(self.seed_column) or "").split())
        if not seed:
            raise ValueError(f"baize_self_chat {self.name!r}: column {self.seed_column!r} is empty; every row needs a seed question")
        lineage: list[dict[str, Any]] = []
        transcript: list[dict[str, str]] = []
        humans: list[str] = []
        reason = "max_turns"
        for turn in range(1, self.max_turns + 1):
            if turn == 1 and self.seed_opens:
                human, cut = seed, False
            else:
                human, cut = await self.say(record, seed, transcript, HUMAN, f"human{turn}", lineage,
                                            max_tokens=self.human_max_tokens)
            reason = self.human_stop(human, cut, humans)
            if reason:
                break
            ai, cut = await self.say(record, seed, transcript + [{"marker": HUMAN, "text": human}], AI, f"ai{turn}", lineage)
            if cut or not ai:
                reason = "cut" if cut else "ai_empty"
                break
            humans.append(human)
            transcript += [{"marker": HUMAN, "text": human}, {"marker": AI, "text": ai}]
            reason = "max_turns"
        turns = len(transcript) // 2
        if turns < self.min_turns:
            return Rejected(f"too_short: {turns} exchange(s) < min_turns {self.min_turns} (stopped: {reason})")
        messages = [{"role": "user" if t["marker"] == HUMAN else "assistant", "content": t["text"]} for t in transcript]
        text = "\n".join(f"{t['marker']} {t['text']}" for t in transcript)
        row = {**record, "messages": messages, "transcript": text, "turns": turns, "stop_reason": reason}
        return adopt_rows(record, row, self.name, lineage)

    def human_stop(self, human: str, cut: bool, earlier: list[str]) -> str | None:
        """The stop rule a human statement fires (``None``: the chat goes on)."""
        if cut:
            return "cut"
        if not human:
            return "empty"
        if ends_chat(human, self.end_phrases):
            return "human_ended"
        if repeats(human, earlier, self.repeat_threshold):
            return "repeat"
        return None
