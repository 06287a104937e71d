"""Turn INI value strings into Python values."""

TRUE_WORDS = ("1", "yes", "true", "on")
FALSE_WORDS = ("0", "no", "false", "off")


def parse_bool(value):
    """``yes``/``true``/``on``/``1`` -> True, ``no``/``false``/``off``/``0`` -> False."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_list(value, separator=","):
    """Split a value on ``separator`` (and on new lines), dropping empty items."""
    items = []
    for line in value.splitlines():
        for item in line.split(separator):
            item = item.strip()
            if len(item) > 0:
                items.append(item)
    return items


def _number(value):
    text = value.strip()
    sign = 1
    if text[:1] in "+-" and len(text) > 1:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text.isdigit():
        return sign * int(text)
    if text.count(".") == 1 and text.replace(".", "", 1).isdigit():
        return sign * float(text)
    return None


def coerce(value):
    """The most specific Python value for an INI string: bool, int, float, list or str."""
    text = value.strip()
    if not text:
        return ""
    if text.lower() in TRUE_WORDS[1:] or text.lower() in FALSE_WORDS[1:]:
        return parse_bool(text)
    number = _number(text)
    if number is not None:
        return number
    if "," in text or "\n" in text:
        return [coerce(item) for item in parse_list(text)]
    return text
