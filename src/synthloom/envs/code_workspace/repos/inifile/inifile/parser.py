"""Parse INI text into nested dictionaries."""

DEFAULT_SECTION = "DEFAULT"
COMMENT_PREFIXES = ("#", ";")


class ParseError(ValueError):
    """Raised for a line that is neither a section, a key, a comment nor blank."""

    def __init__(self, line_number, message):
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number


def _strip_comment(line):
    for prefix in COMMENT_PREFIXES:
        marker = " " + prefix
        position = line.find(marker)
        if position >= 0:
            line = line[:position]
    return line.rstrip()


def parse(text):
    """Return ``{section: {key: value}}``; keys before any section go to DEFAULT.

    Keys are lower-cased, values are stripped strings, a line starting with
    whitespace continues the previous value, and DEFAULT values are inherited
    by every other section unless the section sets them itself.
    """
    config = {DEFAULT_SECTION: {}}
    section = DEFAULT_SECTION
    last_key = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith(COMMENT_PREFIXES):
            continue
        if raw[0] in " \t" and last_key is not None:
            config[section][last_key] += "\n" + _strip_comment(raw.strip())
            continue
        line = _strip_comment(raw.strip())
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise ParseError(number, f"bad section header {line!r}")
            section = line[1:-1].strip()
            config.setdefault(section, {})
            last_key = None
            continue
        separator = _separator(line)
        if separator < 0:
            raise ParseError(number, f"expected 'key = value', got {line!r}")
        key = line[:separator].strip().lower()
        if not key:
            raise ParseError(number, "empty key")
        config[section][key] = line[separator + 1:].strip()
        last_key = key
    return _inherit_defaults(config)


def _separator(line):
    positions = [p for p in (line.find("="), line.find(":")) if p >= 0]
    return min(positions) if positions else -1


def _inherit_defaults(config):
    defaults = config[DEFAULT_SECTION]
    result = {DEFAULT_SECTION: dict(defaults)} if defaults else {}
    for name, values in config.items():
        if name == DEFAULT_SECTION:
            continue
        merged = dict(defaults)
        merged.update(values)
        result[name] = merged
    return result
