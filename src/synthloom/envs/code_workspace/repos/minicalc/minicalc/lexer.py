"""Split an expression into tokens."""

OPERATORS = ("**", "+", "-", "*", "/", "%", "(", ")", ",")


class Token:
    """A token: ``kind`` is ``number``, ``name`` or ``op``; ``position`` is its offset in the text."""

    def __init__(self, kind, value, position=0):
        self.kind = kind
        self.value = value
        self.position = position

    def __eq__(self, other):
        return isinstance(other, Token) and (self.kind, self.value) == (other.kind, other.value)

    def __repr__(self):
        return f"Token({self.kind!r}, {self.value!r})"


def tokenize(text):
    """The tokens of ``text``; raises ValueError at the first character that starts no token."""
    tokens = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char.isdigit() or (char == "." and index + 1 < len(text) and text[index + 1].isdigit()):
            end = index
            while end < len(text) and (text[end].isdigit() or text[end] == "."):
                end += 1
            literal = text[index:end]
            if literal.count(".") > 1:
                raise ValueError(f"bad number {literal!r} at {index}")
            value = float(literal) if "." in literal else int(literal)
            tokens.append(Token("number", value, index))
            index = end
        elif char.isalpha() or char == "_":
            end = index
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            tokens.append(Token("name", text[index:end], index))
            index = end
        else:
            for op in OPERATORS:
                if text.startswith(op, index):
                    tokens.append(Token("op", op, index))
                    index += len(op)
                    break
            else:
                raise ValueError(f"unexpected character {char!r} at {index}")
    return tokens
