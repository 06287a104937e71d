"""A recursive-descent parser from tokens to a tree of tuples.

Grammar (lowest precedence first)::

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/' | '%') unary)*
    unary  := '-' unary | power
    power  := atom ('**' unary)?          # right-associative, binds tighter than unary minus on its left
    atom   := number | name | name '(' args ')' | '(' expr ')'
"""

from minicalc.lexer import tokenize


class ParseError(ValueError):
    """The expression does not follow the grammar."""


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.index = 0

    def peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value=None):
        token = self.peek()
        if token is None or (value is not None and token.value != value):
            expected = repr(value) if value is not None else "a token"
            raise ParseError(f"expected {expected}, got {token.value if token else 'end of input'!r}")
        self.index += 1
        return token

    def at(self, *values):
        token = self.peek()
        return token is not None and token.kind == "op" and token.value in values

    def expr(self):
        node = self.term()
        while self.at("+", "-"):
            op = self.take().value
            node = ("binary", op, node, self.term())
        return node

    def term(self):
        node = self.unary()
        while self.at("*", "/", "%"):
            op = self.take().value
            node = ("binary", op, node, self.unary())
        return node

    def unary(self):
        if self.at("-"):
            self.take()
            return ("negate", self.unary())
        return self.power()

    def power(self):
        node = self.atom()
        if self.at("**"):
            self.take()
            return ("binary", "**", node, self.unary())
        return node

    def atom(self):
        token = self.take()
        if token.kind == "number":
            return ("number", token.value)
        if token.kind == "name":
            if self.at("("):
                self.take("(")
                args = [] if self.at(")") else self.arguments()
                self.take(")")
                return ("call", token.value, args)
            return ("name", token.value)
        if token.value == "(":
            node = self.expr()
            self.take(")")
            return node
        raise ParseError(f"unexpected {token.value!r} at {token.position}")

    def arguments(self):
        args = [self.expr()]
        while self.at(","):
            self.take(",")
            args.append(self.expr())
        return args


def parse(text):
    """The syntax tree of ``text``; raises ParseError when it is not a complete expression."""
    try:
        tokens = tokenize(text)
    except ValueError as error:
        raise ParseError(str(error)) from None
    if not tokens:
        raise ParseError("empty expression")
    parser = _Parser(tokens)
    tree = parser.expr()
    if parser.peek() is not None:
        raise ParseError(f"unexpected {parser.peek().value!r} at {parser.peek().position}")
    return tree
