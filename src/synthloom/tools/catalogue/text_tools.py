"""Text processing: counting words and characters, slugs and title case, find-and-replace (plain or regex),
extracting e-mail addresses and URLs, edit distance, palindromes, the Caesar cipher and truncation.

Every tool is a pure function of its arguments. Texts are limited to 20,000 characters, regex patterns to 200
characters (nested quantifiers such as ``(a+)+``, which can backtrack for ever, are refused) and edit-distance
inputs to 1,000 characters each, so every call finishes quickly.
"""

import re
import unicodedata

CATEGORY = "text"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_MAX_TEXT = 20_000  # keeps every result under the executor's 64 KiB limit on one value
_MAX_RESULT = 30_000
_MAX_PATTERN = 200
_MAX_EDIT = 1000
_SMALL_WORDS = frozenset("a an and as at but by en for if in nor of on or per the to v vs via with".split())
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`]+", re.I)
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{?]")


def _text(text: str, what: str = "text", limit: int = _MAX_TEXT) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a string, not {text!r}")
    if len(text) > limit:
        raise ValueError(f"{what} is {len(text)} characters long; at most {limit} are allowed")
    return text


def _count(value: int, what: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def word_count(text: str) -> dict:
    """Count the words, characters, lines and sentences of a text.

    Args:
        text: the text (up to 20,000 characters).

    Returns:
        An object {"words", "characters", "characters_no_spaces", "lines", "sentences"} (a sentence ends in . ! or ?;
        a final unpunctuated fragment also counts).
    """
    t = _text(text)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", t.strip()) if re.search(r"\w", s)]
    return {
        "words": len(re.findall(r"\w+(?:['’-]\w+)*", t)),
        "characters": len(t),
        "characters_no_spaces": sum(1 for c in t if not c.isspace()),
        "lines": len(t.splitlines()) if t else 0,
        "sentences": len(sentences),
    }


def char_frequency(text: str, ignore_case: bool = True, include_spaces: bool = False, top: int | None = None) -> dict[str, int]:
    """Count how often each character occurs in a text, most frequent first (ties in order of first appearance).

    Args:
        text: the text (up to 20,000 characters).
        ignore_case: count upper- and lower-case letters together (as lower case).
        include_spaces: also count whitespace characters.
        top: keep only the most frequent characters, 1 to 1000 (optional; all by default).

    Returns:
        An object mapping each character to its count.
    """
    t = _text(text)
    if ignore_case:
        t = t.lower()
    counts: dict[str, int] = {}
    for c in t:
        if include_spaces or not c.isspace():
            counts[c] = counts.get(c, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if top is not None:
        ranked = ranked[:_count(top, "top", 1, 1000)]
    return dict(ranked)


def slugify(text: str, separator: str = "-") -> str:
    """Turn a text into a URL slug: ASCII, lower case, words joined by a separator ("Héllo, World!" -> "hello-world").

    Args:
        text: the text (up to 20,000 characters).
        separator: the string placed between words, "-" by default (at most 3 characters).

    Returns:
        The slug (empty when the text has no letters or digits).
    """
    t = _text(text)
    sep = _text(separator, "separator", 3)
    ascii_text = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower().replace("'", ""))
    return sep.join(words)


def title_case(text: str) -> str:
    """Capitalise a text as a headline: every word capitalised except short articles, conjunctions and prepositions
    (a, an, the, and, of, in, ...) that are neither first nor last.

    Args:
        text: the text (up to 20,000 characters).

    Returns:
        The text in title case; words already containing capitals after their first letter (e.g. "iPhone", "NASA") are kept.
    """
    t = _text(text)
    pieces = re.split(r"(\s+)", t)
    word_positions = [i for i, p in enumerate(pieces) if p and not p.isspace()]
    for n, i in enumerate(word_positions):
        word = pieces[i]
        if any(c.isupper() for c in word[1:]):
            continue
        core = word.lower().strip(".,;:!?\"'()[]")
        if 0 < n < len(word_positions) - 1 and core in _SMALL_WORDS:
            pieces[i] = word.lower()
        else:
            pieces[i] = re.sub(r"[^\W\d_]", lambda m: m.group(0).upper(), word.lower(), count=1)
    return "".join(pieces)


def reverse_words(text: str) -> str:
    """Reverse the order of the words in a text (the words themselves stay as they are; whitespace becomes single spaces).

    Args:
        text: the text (up to 20,000 characters).

    Returns:
        The words in reverse order, separated by single spaces.
    """
    return " ".join(reversed(_text(text).split()))


def find_replace(text: str, find: str, replace: str, use_regex: bool = False, ignore_case: bool = False,
                 max_replacements: int | None = None) -> dict:
    """Find and replace in a text, literally or with a regular expression (Python syntax, \\1 for groups in replace).

    Args:
        text: the text to edit (up to 20,000 characters).
        find: the text or pattern to find (1 to 200 characters; nested quantifiers like (a+)+ are refused).
        replace: the replacement (for a regex it may use \\1 or \\g<name> group references).
        use_regex: treat find as a regular expression instead of literal text.
        ignore_case: match regardless of upper or lower case.
        max_replacements: replace at most this many occurrences, from the left (optional; all by default).

    Returns:
        An object {"text": the edited text, "replacements": how many occurrences were replaced}.
    """
    t = _text(text)
    pattern = _text(find, "find", _MAX_PATTERN)
    repl = _text(replace, "replace", _MAX_TEXT)
    if not pattern:
        raise ValueError("find must not be empty")
    limit = 0 if max_replacements is None else _count(max_replacements, "max_replacements", 1, _MAX_TEXT)
    if use_regex:
        if _NESTED_QUANTIFIER.search(pattern):
            raise ValueError(f"find {pattern!r} repeats a group that itself repeats (like (a+)+), which can run for ever; "
                             "simplify the pattern")
        try:
            compiled = re.compile(pattern, re.I if ignore_case else 0)
        except re.error as exc:
            raise ValueError(f"find is not a valid regular expression: {exc}") from None
    else:
        compiled = re.compile(re.escape(pattern), re.I if ignore_case else 0)
        repl = repl.replace("\\", "\\\\")
    try:
        out, n = compiled.subn(repl, t, count=limit)
    except (re.error, IndexError) as exc:
        raise ValueError(f"replace is not a valid replacement for this pattern: {exc}") from None
    if len(out) > _MAX_RESULT:
        raise ValueError(f"the edited text would exceed {_MAX_RESULT:,} characters; use a shorter replacement or fewer replacements")
    return {"text": out, "replacements": n}


def extract_emails(text: str) -> list[str]:
    """Find the e-mail addresses in a text, each once, in order of first appearance.

    Args:
        text: the text to search (up to 20,000 characters).

    Returns:
        The addresses found (an empty list when none).
    """
    seen: dict[str, None] = {}
    for m in _EMAIL.finditer(_text(text)):
        seen.setdefault(m.group(0), None)
    return list(seen)


def extract_urls(text: str) -> list[str]:
    """Find the web addresses (http://, https:// or www.) in a text, each once, in order of first appearance.

    Args:
        text: the text to search (up to 20,000 characters).

    Returns:
        The URLs found, without trailing punctuation such as a sentence's final period or a closing parenthesis.
    """
    seen: dict[str, None] = {}
    for m in _URL.finditer(_text(text)):
        url = m.group(0).rstrip(".,;:!?")
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1].rstrip(".,;:!?")
        seen.setdefault(url, None)
    return list(seen)


def levenshtein_distance(first: str, second: str, ignore_case: bool = False) -> int:
    """The edit distance between two strings: the fewest single-character insertions, deletions and substitutions
    that turn one into the other.

    Args:
        first: the first string (up to 1,000 characters).
        second: the second string (up to 1,000 characters).
        ignore_case: compare regardless of upper or lower case.

    Returns:
        The Levenshtein distance (0 when the strings are equal).
    """
    a, b = _text(first, "first", _MAX_EDIT), _text(second, "second", _MAX_EDIT)
    if ignore_case:
        a, b = a.lower(), b.lower()
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def is_palindrome(text: str, ignore_non_alphanumeric: bool = True) -> bool:
    """Whether a text reads the same backwards, ignoring case (and, by default, spaces and punctuation).

    Args:
        text: the text (up to 20,000 characters).
        ignore_non_alphanumeric: skip everything but letters and digits ("A man, a plan, a canal: Panama" is a palindrome).

    Returns:
        True when the text is a palindrome (an empty text is one).
    """
    t = _text(text).casefold()
    if ignore_non_alphanumeric:
        t = "".join(c for c in t if c.isalnum())
    return t == t[::-1]


def caesar_cipher(text: str, shift: int, decode: bool = False) -> str:
    """Encode or decode a text with the Caesar cipher: each Latin letter A-Z moves shift places along the alphabet.

    Args:
        text: the text (up to 20,000 characters); letters keep their case, other characters are unchanged.
        shift: how many places to shift, any whole number (3 is the classic cipher; 13 is ROT13).
        decode: shift backwards, undoing an encoding with the same shift.

    Returns:
        The encoded (or decoded) text.
    """
    t = _text(text)
    k = _count(shift, "shift", -1_000_000, 1_000_000)
    k = (-k if decode else k) % 26
    lower = "abcdefghijklmnopqrstuvwxyz"
    upper = lower.upper()
    table = str.maketrans(lower + upper, lower[k:] + lower[:k] + upper[k:] + upper[:k])
    return t.translate(table)


def truncate_text(text: str, max_length: int, ellipsis: str = "...", whole_words: bool = True) -> str:
    """Shorten a text to at most max_length characters, ending it with an ellipsis when it was cut.

    Args:
        text: the text (up to 20,000 characters).
        max_length: the most characters the result may have, ellipsis included (1 to 20,000).
        ellipsis: what marks the cut, "..." by default (at most 10 characters; may be empty).
        whole_words: cut at the last space before the limit rather than inside a word (when there is one).

    Returns:
        The text itself when short enough, else the cut text plus the ellipsis.
    """
    t = _text(text)
    limit = _count(max_length, "max_length", 1, _MAX_TEXT)
    mark = _text(ellipsis, "ellipsis", 10)
    if len(t) <= limit:
        return t
    if len(mark) >= limit:
        return mark[:limit]
    room = limit - len(mark)
    cut = t[:room]
    if whole_words and not t[room].isspace():
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    return cut.rstrip() + mark
