"""Small text helpers: word counts, slugs, wrapping and simple templating.

Written for synthloom's bundled seed corpus (OSS-Instruct windows, Case2Code functions).
"""

import re
from collections import Counter


def normalize_space(text):
    """Collapse runs of whitespace into single spaces and trim the ends."""
    return " ".join(text.split())


def slugify(title, sep="-"):
    """A URL slug: lower case letters and digits joined by ``sep``."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return sep.join(words)


def word_frequencies(text, top=3):
    """The ``top`` most frequent words (lower case) with their counts, ties in first-seen order."""
    words = re.findall(r"[a-z']+", text.lower())
    return Counter(words).most_common(top)


def wrap_words(text, width):
    """Greedy word wrap: lines of at most ``width`` characters (a longer word gets its own line)."""
    if width < 1:
        raise ValueError("width must be positive")
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def fill_template(template, values):
    """Replace ``{name}`` placeholders with ``values[name]``; unknown names stay as they are."""
    def replace(match):
        key = match.group(1)
        return str(values[key]) if key in values else match.group(0)
    return re.sub(r"\{(\w+)\}", replace, template)


def acronym(phrase):
    """The upper-case initials of the words of ``phrase``, ignoring short joining words."""
    skip = {"of", "and", "the", "for", "in", "on"}
    return "".join(w[0].upper() for w in phrase.split() if w.lower() not in skip)


def headline(title, width=30):
    """A title as a slugged id plus its wrapped lines, for a plain-text index page."""
    clean = normalize_space(title)
    return {"id": slugify(clean), "short": acronym(clean), "lines": wrap_words(clean, width)}


def summary_card(text):
    """A few numbers about a text: its words, the most frequent ones, a one-line preview."""
    clean = normalize_space(text)
    preview = wrap_words(clean, 40)[:1]
    return {
        "words": len(clean.split()),
        "top": word_frequencies(clean, top=2),
        "preview": fill_template("{first} ...", {"first": preview[0] if preview else ""}),
    }


if __name__ == "__main__":
    print(headline("The History of Tea in the Far East"))
    print(summary_card("Tea is grown in the hills.  Tea is picked by hand, and tea is dried."))
    print(slugify("Hello, World!", sep="_"))
