"""Read and write INI configuration files."""

from inifile.parser import ParseError, parse
from inifile.values import coerce, parse_bool, parse_list
from inifile.writer import dump

__all__ = ["ParseError", "coerce", "dump", "parse", "parse_bool", "parse_list"]
