"""Reading Coq source a model wrote: comments, sentences, a theorem's statement, a proof's tactics.

The proof checker (:mod:`synthloom.verify.coq`) trusts only ``coqc``'s verdicts; these helpers
shape the model's text into the files it compiles and refuse, before any compilation, what a
proof of a *given* statement may not contain: commands (a proof is tactics only: no ``Axiom``,
no ``Qed`` followed by a new theorem, no ``Admitted``) and the escape hatches ``admit`` /
``give_up``. They never raise on model output: they return ``None`` or a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: words that end or bypass a proof; a proof mentioning one is refused outright
FORBIDDEN_WORDS = ("admit", "Admitted", "give_up", "Axiom", "Axioms", "Parameter", "Parameters", "Conjecture",
                   "Hypothesis", "Hypotheses", "Variable", "Variables", "Abort", "Qed", "Defined", "Save",
                   "Extraction", "Redirect", "Load", "Declare", "Require", "Drop")
_FORBIDDEN = re.compile(r"(?<![\w'.])(" + "|".join(FORBIDDEN_WORDS) + r")(?![\w'])")
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*$")
_THEOREM = re.compile(r"\b(Theorem|Lemma|Example|Fact|Remark|Proposition|Corollary)\s+([A-Za-z_][A-Za-z0-9_']*)")
_FENCE = re.compile(r"```[ \t]*([\w-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_BULLET = re.compile(r"^[-+*{}]+\s*")


def strip_comments(text: str) -> str:
    """``text`` without its (nested) ``(* … *)`` comments; an unclosed comment runs to the end."""
    out, depth, i = [], 0, 0
    while i < len(text):
        two = text[i:i + 2]
        if two == "(*":
            depth, i = depth + 1, i + 2
        elif two == "*)" and depth:
            depth, i = depth - 1, i + 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def sentences(text: str) -> list[str]:
    """The Coq sentences of comment-free ``text`` (a period followed by white space or the end
    ends one; ``Nat.add_comm`` does not), without their final period, blank ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def coq_block(text: str) -> str:
    """The Coq part of a reply: the longest fenced block (any tag but an explicitly non-Coq one),
    else the whole reply."""
    blocks = [body for tag, body in _FENCE.findall(text or "") if tag.lower() in ("", "coq", "v", "gallina", "ltac")]
    return max(blocks, key=len) if blocks else (text or "")


@dataclass(frozen=True)
class Statement:
    """A formal theorem: its name and its statement (one Coq term, binders folded into ``forall``)."""

    name: str
    statement: str

    @property
    def text(self) -> str:
        return f"Theorem {self.name} : {self.statement}."


def _top_level_colon(text: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0 and text[i + 1:i + 2] not in ("=", ":") and text[i - 1:i] != ":":
            return i
    return -1


def parse_statement(reply: str) -> Statement | str:
    """The first ``Theorem NAME binders : STATEMENT.`` of a reply (``Lemma``, ``Example``… too),
    as a :class:`Statement`, or the reason there is none. Binders before the colon become a
    leading ``forall``; white space is collapsed so the statement is one line."""
    source = strip_comments(coq_block(reply))
    m = _THEOREM.search(source)
    if m is None:
        return "no `Theorem NAME : statement.` in the reply"
    rest = source[m.end():]
    end = _SENTENCE_END.search(rest)
    if end is None:
        return "the theorem statement does not end with a period"
    head = rest[:end.start()]
    colon = _top_level_colon(head)
    if colon < 0:
        return "the theorem has no `:` before its statement"
    binders, body = " ".join(head[:colon].split()), " ".join(head[colon + 1:].split())
    if not body:
        return "the theorem statement is empty"
    if ":=" in body:
        return "the statement holds a definition (`:=`), not a proposition"
    return Statement(m.group(2), f"forall {binders}, {body}" if binders else body)


def proof_body(reply: str, statement: Statement | None = None) -> str:
    """The tactics of a proof reply: the Coq block with a restated theorem, ``Proof.`` and a final
    ``Qed.`` / ``Defined.`` removed (the checker adds its own)."""
    text = strip_comments(coq_block(reply)).strip()
    if statement is not None or _THEOREM.search(text):
        m = re.search(r"(?<![\w'])Proof\s*\.(?=\s|$)", text)
        if m is not None:
            text = text[m.end():]
        elif _THEOREM.search(text):  # restated without Proof.: drop up to the statement's end
            t = _THEOREM.search(text)
            end = _SENTENCE_END.search(text, t.end())
            text = text[end.end():] if end else ""
    elif re.match(r"\s*Proof\s*\.(?=\s|$)", text):
        text = re.sub(r"^\s*Proof\s*\.", "", text, count=1)
    text = re.sub(r"(?<![\w'])(Qed|Defined)\s*\.\s*$", "", text.strip())
    return text.strip()


def forbidden_in_proof(body: str) -> str | None:
    """Why the tactic script ``body`` may not be checked (a forbidden word, or a sentence that is a
    command rather than a tactic), or ``None`` when it is tactics only."""
    clean = strip_comments(body)
    if not clean.strip():
        return "the proof is empty"
    m = _FORBIDDEN.search(clean)
    if m is not None:
        return f"the proof uses `{m.group(1)}` (a proof must be closed by tactics, with no axiom or admit)"
    for sentence in sentences(clean):
        head = _BULLET.sub("", sentence)
        if head and (head[0].isupper() or head[0] == "#"):
            return f"the proof holds a command, not a tactic: `{head.split()[0]}` (a proof is tactics only)"
    return None


def forbidden_in_statement(statement: str) -> str | None:
    """Why ``statement`` is not a single proposition to check (several sentences, a tactic in a
    term), or ``None``."""
    if _SENTENCE_END.search(statement):
        return "the statement holds more than one sentence"
    if '"' in statement:
        return "the statement holds a string literal"
    if "ltac:" in statement:
        return "the statement runs a tactic (`ltac:`)"
    if _FORBIDDEN.search(statement):
        return f"the statement mentions `{_FORBIDDEN.search(statement).group(1)}`"
    return None


def valid_name(name: str) -> bool:
    """Whether ``name`` is a plain Coq identifier."""
    return bool(_IDENT.match(name))
