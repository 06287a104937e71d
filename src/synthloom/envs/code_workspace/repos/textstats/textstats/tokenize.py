"""Split text into words and sentences."""

SENTENCE_ENDS = ".!?"
ABBREVIATIONS = ("mr", "mrs", "dr", "e.g", "i.e", "etc")


def words(text):
    """Lower-cased words: runs of letters, digits and inner apostrophes or hyphens."""
    found = []
    current = []
    for index, char in enumerate(text):
        if char.isalnum():
            current.append(char.lower())
        elif char in "'-" and current and index + 1 < len(text) and text[index + 1].isalnum():
            current.append(char)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def sentences(text):
    """Sentences, stripped, split after . ! or ? followed by a space or the end of the text.

    A full stop after a known abbreviation (``Dr.``) does not end a sentence.
    """
    result = []
    start = 0
    for index, char in enumerate(text):
        if char not in SENTENCE_ENDS:
            continue
        at_end = index + 1 == len(text)
        if not at_end and not text[index + 1].isspace():
            continue
        if char == "." and _is_abbreviation(text[start:index]):
            continue
        piece = text[start:index + 1].strip()
        if piece:
            result.append(piece)
        start = index + 1
    rest = text[start:].strip()
    if rest:
        result.append(rest)
    return result


def _is_abbreviation(before):
    tail = before.split()[-1].lower() if before.split() else ""
    return tail in ABBREVIATIONS
