"""Robust parsing of LLM-judge replies: scores, yes/no verdicts, pairwise winners, aspect scores.

Judges answer in many shapes: ``Score: 4/5``, ``**Rating:** 4``, ``[RESULT] 3`` (Prometheus),
``[Start of Score] 1 [End of Score]`` (InstructLab), ``Rating: [[5]]`` (MT-Bench), a JSON object,
``4 out of 5``, a bare number on the first line (AlpaGasus), reasoning before or after the score.
The parser looks for the score in tiers, most explicit first, and stops at the first tier that
finds anything:

1. a JSON object with a score key (``score``, ``rating``, ``overall_score``...);
2. tags: ``[RESULT] n``, ``[Start of Score] n [End of Score]``, ``[[n]]``, ``<score>n</score>``;
3. a label followed by the number: ``score``, ``rating``, ``grade``, ``overall``, ``final score``...
   (``Score: 4``, ``Rating (1-5): 4``, ``score of 4``, ``I would rate it a 4``, ``I give it 4``);
4. the first line of the reply holding only a number (AlpaGasus asks for the score there);
5. a fraction whose denominator is the top of the scale: ``4/5``, ``4 out of 5``;
6. the last line holding only a number (all such lines must agree).

Within the tier that matched, all values must agree — when they do not (``Score: 3 ... Score: 4``)
the reply is **ambiguous** and fails, except that a label saying *final* or *overall* wins over the
others. A score outside the scale fails (it is never clamped), and so does a fraction on another
scale (``8/10`` when the scale is 1–5). Every failure raises :class:`JudgeParseError` carrying the
raw reply, which the judge step turns into an error row (``RowError``) that keeps the text.
Numbers inside the judge's reasoning ("the answer lists 3 steps") are never taken: only the
patterns above count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NUM = r"[-+]?\d+(?:\.\d+)?"
_WORD_NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10}
_WORDS = "|".join(_WORD_NUMBERS)
#: a number (not the start of a range such as "1-5" or "1 to 5"); a number word only when it ends the phrase
_VALUE = (rf"(?P<num>{NUM}(?![\w]|\.\d)|(?:{_WORDS})(?=\s*(?:[.!,;)\]]|$|/|out\s+of)))"
          rf"(?!\s*(?:-|–|to)\s*\d)")
_DEN = rf"(?:\s*(?:/|out\s+of|of)\s*(?P<den>{NUM})(?![\w]|\.\d))?"
SCORE_KEYS = ("score", "rating", "final_score", "overall_score", "overall_rating", "overall", "grade", "result",
              "quality", "value", "points")
_MARKDOWN = re.compile(r"\*\*|__|`|^#+[ \t]*", re.MULTILINE)

_TAGS = [
    ("result_tag", re.compile(rf"\[RESULT\]\s*[:=]?\s*\(?\s*{_VALUE}{_DEN}", re.IGNORECASE)),
    ("score_tags", re.compile(rf"\[Start of Score\]\s*(?:score\s*[:=]?\s*)?{_VALUE}{_DEN}\s*\[End of Score\]",
                              re.IGNORECASE)),
    ("double_brackets", re.compile(rf"\[\[\s*{_VALUE}{_DEN}\s*\]\]")),
    ("xml_tag", re.compile(rf"<(?:score|rating)>\s*{_VALUE}{_DEN}\s*</(?:score|rating)>", re.IGNORECASE)),
]
_STRONG_LABEL = (r"(?P<label>(?:final|overall|total)\s+(?:score|rating|grade|evaluation)|score|rating|grade)")
_WEAK_LABEL = r"(?P<label>overall|evaluation|verdict|result|total|quality)"
_OBJECT = r"(?:it|this(?:\s+(?:response|answer|output))?|the\s+(?:response|answer|output)|them)"
_LABELLED = [
    # "Score: 4", "Rating (1-5): 4", "Final score = 4.5/5", "score of 4", "Overall rating is 4 out of 5"
    re.compile(rf"(?<![\w-]){_STRONG_LABEL}s?[ \t]*(?:\([^)\n]{{0,20}}\))?[ \t]*(?:[:=]|[-–](?=\s)|is|of|would\s+be|will\s+be|"
               rf"should\s+be)\s*(?:[:=]\s*)?(?:a\s+|an\s+)?(?:score\s+of\s+|rating\s+of\s+)?\(?\s*{_VALUE}{_DEN}",
               re.IGNORECASE),
    # "Overall: 4", "Verdict = 2" (weaker words: only with a colon or an equals sign)
    re.compile(rf"(?<![\w-]){_WEAK_LABEL}\s*[:=]\s*\(?\s*{_VALUE}{_DEN}", re.IGNORECASE),
    # "I would rate this response a 4", "I give it a 4 out of 5", "I'd rate it 4/5"
    re.compile(rf"\b(?P<label>rate|rated|give|gave|assign|award)\s+{_OBJECT}\s+(?:as\s+|a\s+|an\s+)?"
               rf"(?:score\s+of\s+|rating\s+of\s+)?{_VALUE}{_DEN}", re.IGNORECASE),
]
_FRACTION = re.compile(rf"(?<![\w.]){_VALUE}\s*(?:/|out\s+of)\s*(?P<den>{NUM})(?![\w]|\.\d)", re.IGNORECASE)
_BARE_LINE = re.compile(rf"^(?:[^\w+\-]|[+\-](?!\d))*{_VALUE}{_DEN}\W*$", re.IGNORECASE)


class JudgeParseError(ValueError):
    """A judge's reply holds no usable answer (or an ambiguous or out-of-range one); ``raw`` keeps it."""

    def __init__(self, message: str, raw: str):
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True, slots=True)
class ParsedScore:
    """A score read from a reply: its value, which pattern found it, where it is, the rest as reason."""

    value: float
    method: str
    span: tuple[int, int] | None
    reason: str


def _number(token: str) -> float:
    token = token.strip().lower()
    return float(_WORD_NUMBERS[token]) if token in _WORD_NUMBERS else float(token)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _scale(lo: float, hi: float) -> str:
    return f"{_fmt(lo)}–{_fmt(hi)}"


# ---------------------------------------------------------------------------------------------- JSON
def json_objects(text: str) -> list[Any]:
    """JSON objects in ``text``: fenced blocks first, then every balanced ``{...}`` that parses."""
    found: list[Any] = []
    for block in re.findall(r"```(?:json)?\s*(.*?)```", text, re.DOTALL | re.IGNORECASE):
        try:
            found.append(json.loads(block))
        except ValueError:
            pass
    i = 0
    while (start := text.find("{", i)) >= 0:
        depth, in_str, esc, end = 0, False, False, -1
        for j in range(start, len(text)):
            ch = text[j]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    end = j
                    break
        if end < 0:
            break
        try:
            found.append(json.loads(text[start:end + 1]))
            i = end + 1
        except ValueError:
            i = start + 1
    return [o for o in found if isinstance(o, dict)]


def _norm_key(key: Any) -> str:
    return re.sub(r"[\s_\-]+", "_", str(key).strip().lower())


def _json_number(value: Any) -> tuple[float, float | None] | None:
    """(value, denominator) from a JSON score value: 4, 4.5, "4", "4/5", {"rating": 4}."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value), None
    if isinstance(value, str):
        m = re.fullmatch(rf"\s*{_VALUE}{_DEN}\s*", value, re.IGNORECASE)
        if m:
            return _number(m.group("num")), float(m.group("den")) if m.group("den") else None
    if isinstance(value, dict):
        for k, v in value.items():
            if _norm_key(k) in ("rating", "score", "value"):
                return _json_number(v)
    return None


# -------------------------------------------------------------------------------------------- scores
def _check(value: float, den: float | None, lo: float, hi: float, raw: str, where: str) -> float:
    if den is not None and den != hi:
        raise JudgeParseError(f"the judge gave {_fmt(value)}/{_fmt(den)} ({where}), a different scale than "
                              f"{_scale(lo, hi)}", raw)
    if not lo <= value <= hi:
        raise JudgeParseError(f"the judge's score {_fmt(value)} ({where}) is outside the scale {_scale(lo, hi)}", raw)
    return value


def _agree(matches: list[tuple[float, float | None, tuple[int, int], str]], lo: float, hi: float, raw: str,
           method: str) -> tuple[float, tuple[int, int]]:
    values = {m[0] for m in matches}
    if len(values) > 1:
        final = [m for m in matches if re.search(r"final|overall|total", m[3], re.IGNORECASE)]
        if final and len({m[0] for m in final}) == 1:
            matches = final
        else:
            shown = ", ".join(_fmt(v) for v in sorted(values))
            raise JudgeParseError(f"ambiguous reply: several different scores ({shown}) found by {method}", raw)
    value, den, span, _ = matches[-1]
    return _check(value, den, lo, hi, raw, method), span


def _reason(text: str, span: tuple[int, int] | None) -> str:
    if span is None:
        return text.strip()
    line_start = text.rfind("\n", 0, span[0]) + 1
    line_end = text.find("\n", span[1])
    line_end = len(text) if line_end < 0 else line_end
    line = text[line_start:line_end]
    if len(line.strip()) <= 40:  # a score line: drop it whole
        rest = (text[:line_start] + text[line_end:]).strip()
    else:
        rest = (text[:span[0]] + text[span[1]:]).strip()
    return rest or text.strip()


def parse_score(text: str, lo: float = 1, hi: float = 5, *, keys: Iterable[str] = SCORE_KEYS) -> ParsedScore:
    """Read one score on the scale ``[lo, hi]`` from a judge's reply (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise JudgeParseError("the judge's reply is empty", text if isinstance(text, str) else repr(text))
    raw = text
    key_order = [_norm_key(k) for k in keys]
    # 1. JSON
    for obj in json_objects(text):
        norm = {_norm_key(k): v for k, v in obj.items()}
        for key in key_order:
            if key in norm and (got := _json_number(norm[key])) is not None:
                value = _check(got[0], got[1], lo, hi, raw, f"JSON key {key!r}")
                reason = next((str(v) for k, v in norm.items() if k in ("reason", "rationale", "explanation",
                                                                          "feedback", "justification", "critique")
                               and isinstance(v, str)), text.strip())
                return ParsedScore(value, "json", None, reason)
    clean = _MARKDOWN.sub("", text)
    # 2. tags, 3. labels
    for tier in (_TAGS, [("label", p) for p in _LABELLED]):
        found = sorted(((m.span("num"), method, m) for method, pattern in tier for m in pattern.finditer(clean)),
                       key=lambda t: t[0])
        if found:
            matches = [(_number(m.group("num")), float(m.group("den")) if m.group("den") else None, span,
                        m.groupdict().get("label") or "") for span, _, m in found]
            methods = "/".join(dict.fromkeys(method for _, method, _ in found))
            value, span = _agree(matches, lo, hi, raw, methods)
            method = next(method for sp, method, _ in found if sp == span)
            return ParsedScore(value, method, None, _reason(clean, span))
    lines = [line for line in clean.splitlines() if line.strip()]
    bare = [(i, m) for i, line in enumerate(lines) if (m := _BARE_LINE.match(line.strip()))]

    def bare_score(i: int, m: re.Match) -> ParsedScore:
        value = _check(_number(m.group("num")), float(m.group("den")) if m.group("den") else None, lo, hi, raw,
                       "a line holding only a number")
        reason = "\n".join(line for j, line in enumerate(lines) if j != i).strip() or clean.strip()
        return ParsedScore(value, "bare_line", None, reason)

    # 4. the first line holds only a number (AlpaGasus: "output a single line containing the score")
    if bare and bare[0][0] == 0:
        return bare_score(*bare[0])
    # 5. fractions on this scale ("4/5", "4 out of 5"); other denominators are ordinary text
    matches = [(_number(m.group("num")), float(m.group("den")), m.span("num"), "")
               for m in _FRACTION.finditer(clean) if float(m.group("den")) == hi]
    if matches:
        value, span = _agree(matches, lo, hi, raw, "fraction")
        return ParsedScore(value, "fraction", None, _reason(clean, span))
    # 6. the last line holding only a number; all such lines must agree
    if bare:
        values = {_number(m.group("num")) for _, m in bare}
        if len(values) > 1:
            shown = ", ".join(_fmt(v) for v in sorted(values))
            raise JudgeParseError(f"ambiguous reply: several lines hold only a number ({shown})", raw)
        return bare_score(*bare[-1])
    raise JudgeParseError(f"no score on the scale {_scale(lo, hi)} found in the judge's reply", raw)


# ------------------------------------------------------------------------------------------- yes/no
_YES = {"yes", "true", "pass", "passed", "correct", "y", "1", "acceptable", "good"}
_NO = {"no", "false", "fail", "failed", "incorrect", "n", "0", "unacceptable", "bad"}
_YN = r"(?P<v>yes|no|true|false|pass(?:ed)?|fail(?:ed)?|correct|incorrect)"
_BINARY_PATTERNS = [
    ("result_tag", re.compile(rf"\[RESULT\]\s*[:=]?\s*{_YN}\b", re.IGNORECASE)),
    ("double_brackets", re.compile(rf"\[\[\s*{_YN}\s*\]\]", re.IGNORECASE)),
    ("score_tags", re.compile(r"\[Start of Score\]\s*(?P<v>yes|no|[01])\s*\[End of Score\]", re.IGNORECASE)),
    ("label", re.compile(rf"(?<![\w-])(?:final\s+)?(?:answer|verdict|decision|judg(?:e)?ment|result|label|"
                         rf"evaluation)\s*(?:[:=\-–]|\bis\b)\s*{_YN}\b", re.IGNORECASE)),
]


def parse_binary(text: str) -> tuple[bool, str]:
    """A yes/no verdict: ``(True/False, method)``. JSON keys ``answer``/``verdict``/``decision``...,
    ``[RESULT] Yes``, ``[[YES]]``, ``Verdict: no``, or a reply that opens (or whose last line is) yes/no."""
    if not isinstance(text, str) or not text.strip():
        raise JudgeParseError("the judge's reply is empty", text if isinstance(text, str) else repr(text))
    for obj in json_objects(text):
        for k, v in obj.items():
            if _norm_key(k) in ("answer", "verdict", "decision", "judgment", "judgement", "result", "label",
                                "passed", "pass", "correct", "is_correct", "acceptable"):
                token = str(v).strip().lower() if not isinstance(v, bool) else ("yes" if v else "no")
                if token in _YES or token in _NO:
                    return token in _YES, "json"
    clean = _MARKDOWN.sub("", text)
    for method, pattern in _BINARY_PATTERNS:
        found = {m.group("v").lower() in _YES for m in pattern.finditer(clean)}
        if len(found) > 1:
            raise JudgeParseError(f"ambiguous reply: both yes and no found by {method}", text)
        if found:
            return found.pop(), method
    first = re.match(r"\W*(yes|no)\b", clean, re.IGNORECASE)
    if first:
        return first.group(1).lower() == "yes", "first_word"
    last = clean.strip().splitlines()[-1] if clean.strip() else ""
    m = re.fullmatch(r"\W*(yes|no)\W*", last, re.IGNORECASE)
    if m:
        return m.group(1).lower() == "yes", "last_line"
    raise JudgeParseError("no yes/no verdict found in the judge's reply", text)


# ------------------------------------------------------------------------------------------ pairwise
_AB = r"(?P<v>A|B|1|2|tie|draw|C)"
_PAIR_PATTERNS = [
    ("double_brackets", re.compile(r"\[\[\s*(?P<v>A|B|C|tie)\s*\]\]", re.IGNORECASE)),
    ("result_tag", re.compile(r"\[RESULT\]\s*[:=]?\s*\(?(?:response\s+)?(?P<v>A|B|tie)\b", re.IGNORECASE)),
    ("label", re.compile(r"(?<![\w-])(?:final\s+)?(?:winner|verdict|better\s+(?:response|answer|output)|preferred"
                         r"(?:\s+(?:response|answer|output))?|preference|choice|decision)\s*(?:is)?\s*[:=\-–]?\s*"
                         r"(?:response|output|answer|assistant)?\s*\(?(?P<v>A|B|1|2|tie|draw)\b\)?", re.IGNORECASE)),
    ("output_tag", re.compile(r"^\W*Output\s*\((?P<v>a|b)\)\W*$", re.IGNORECASE | re.MULTILINE)),
    ("phrase", re.compile(r"(?:response|output|answer|assistant)\s+(?P<v>A|B|1|2)\s+is\s+(?:the\s+)?(?:clearly\s+|"
                          r"slightly\s+|much\s+)?(?:better|superior|preferred|preferable|stronger|more\s+helpful)",
                          re.IGNORECASE)),
    ("phrase", re.compile(r"\bprefer\s+(?:response|output|answer|assistant)\s+(?P<v>A|B|1|2)\b", re.IGNORECASE)),
]
_TIE_WORDS = re.compile(r"\b(?:it'?s\s+a\s+tie|a\s+tie|both\s+(?:responses\s+)?are\s+equally\s+(?:good|bad)|"
                        r"equally\s+good|equally\s+bad)\b", re.IGNORECASE)


def _ab(token: str) -> str:
    t = token.strip().lower()
    if t in ("a", "1", "response_a", "response a"):
        return "A"
    if t in ("b", "2", "response_b", "response b"):
        return "B"
    if t in ("tie", "draw", "c", "equal", "both", "none"):
        return "tie"
    raise KeyError(t)


def parse_pairwise(text: str) -> tuple[str, str]:
    """The preferred response of a pairwise judge: ``("A" | "B" | "tie", method)``. Understands
    ``[[A]]``/``[[B]]``/``[[C]]`` (MT-Bench, C = tie), ``[RESULT] A`` (Prometheus), JSON ``{"winner": "A"}``,
    ``Winner: B``, ``Output (a)`` (AlpacaEval), ``Response A is better`` and a reply of just ``A``/``B``/``tie``."""
    if not isinstance(text, str) or not text.strip():
        raise JudgeParseError("the judge's reply is empty", text if isinstance(text, str) else repr(text))
    for obj in json_objects(text):
        for k, v in obj.items():
            if _norm_key(k) in ("winner", "better", "preferred", "preference", "choice", "verdict", "result",
                                "decision", "better_response"):
                try:
                    return _ab(str(v)), "json"
                except KeyError:
                    pass
    clean = _MARKDOWN.sub("", text)
    for method, pattern in _PAIR_PATTERNS:
        found = {_ab(m.group("v")) for m in pattern.finditer(clean)}
        if len(found) > 1:
            raise JudgeParseError(f"ambiguous reply: {' and '.join(sorted(found))} found by {method}", text)
        if found:
            return found.pop(), method
    if _TIE_WORDS.search(clean):
        return "tie", "tie_phrase"
    m = re.fullmatch(rf"\W*{_AB}\W*", clean.strip(), re.IGNORECASE)
    if m:
        return _ab(m.group("v")), "only_answer"
    raise JudgeParseError("no preferred response (A, B or tie) found in the judge's reply", text)


# ------------------------------------------------------------------------------------------- aspects
def parse_aspects(text: str, aspects: Iterable[str], lo: float, hi: float) -> tuple[dict[str, float], dict[str, str]]:
    """Scores for several named aspects from one reply: ``(scores, rationales)``. A JSON object (values
    numbers, ``"4/5"`` or ``{"rating": 4, "rationale": "..."}``) first, else ``Aspect: 4`` lines.
    Every aspect must be present and on the scale."""
    names = list(aspects)
    if not isinstance(text, str) or not text.strip():
        raise JudgeParseError("the judge's reply is empty", text if isinstance(text, str) else repr(text))
    wanted = {_norm_key(a): a for a in names}
    scores: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for obj in json_objects(text):
        candidates = [obj] + [v for v in obj.values() if isinstance(v, dict)]
        for cand in candidates:
            norm = {_norm_key(k): v for k, v in cand.items()}
            for key, aspect in wanted.items():
                if aspect in scores or key not in norm:
                    continue
                got = _json_number(norm[key])
                if got is not None:
                    scores[aspect] = _check(got[0], got[1], lo, hi, text, f"aspect {aspect!r}")
                    if isinstance(norm[key], dict):
                        why = next((str(v) for k, v in norm[key].items() if _norm_key(k) in
                                    ("rationale", "reason", "explanation", "feedback")), "")
                        if why:
                            reasons[aspect] = why
        if len(scores) == len(names):
            return scores, reasons
    clean = _MARKDOWN.sub("", text)
    for aspect in names:
        if aspect in scores:
            continue
        label = r"[\s_\-]*".join(re.escape(part) for part in re.split(r"[\s_\-]+", aspect.strip()))
        pattern = re.compile(rf"(?<![\w-]){label}[ \t]*(?:\([^)\n]{{0,20}}\))?[ \t]*(?:score|rating)?[ \t]*(?:[:=]|[-–](?=\s))\s*"
                             rf"(?:rating\s*[:=]\s*)?{_VALUE}{_DEN}", re.IGNORECASE)
        matches = [(_number(m.group("num")), float(m.group("den")) if m.group("den") else None, m.span("num"), "")
                   for m in pattern.finditer(clean)]
        if matches:
            scores[aspect], _ = _agree(matches, lo, hi, text, f"aspect {aspect!r}")
    missing = [a for a in names if a not in scores]
    if missing:
        raise JudgeParseError(f"no score for aspect(s) {missing} on the scale {_scale(lo, hi)} in the judge's reply", text)
    return scores, reasons
