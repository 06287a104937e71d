"""Write nested dictionaries as INI text."""

from inifile.parser import DEFAULT_SECTION


def _format_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_value(item) for item in value)
    text = str(value)
    return text.replace("\n", "\n    ")


def dump(config):
    """INI text for ``{section: {key: value}}``; DEFAULT first, then sections in order.

    Keys whose value equals the DEFAULT value are not repeated in a section.
    """
    defaults = config.get(DEFAULT_SECTION, {})
    blocks = []
    if defaults:
        blocks.append(_block(DEFAULT_SECTION, defaults, {}))
    for name, values in config.items():
        if name == DEFAULT_SECTION:
            continue
        blocks.append(_block(name, values, defaults))
    return "\n".join(blocks)


def _block(name, values, defaults):
    lines = [f"[{name}]"]
    for key, value in values.items():
        if key in defaults and defaults[key] == value:
            continue
        lines.append(f"{key} = {_format_value(value)}")
    return "\n".join(lines) + "\n"
