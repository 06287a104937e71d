"""Encoding and hashing: Base64, hex and URL encodings, cryptographic hashes, HMAC, CRC-32 and JSON checks.

Text is encoded as UTF-8 before it is encoded or hashed; decoders return UTF-8 text and refuse bytes that
are not valid UTF-8. Inputs are limited to 1 MB of text.
"""

import base64
import binascii
import hashlib
import hmac
import json
import urllib.parse
import zlib
from typing import Literal

CATEGORY = "encoding"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_MAX_CHARS = 1_000_000

HashAlgorithm = Literal["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b"]


def _text(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, not {type(value).__name__}")
    if len(value) > _MAX_CHARS:
        raise ValueError(f"{what} is {len(value)} characters; the limit is {_MAX_CHARS}")
    return value


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} decodes to bytes that are not UTF-8 text (first bytes: {data[:16].hex()})") from None


def base64_encode(text: str, url_safe: bool = False) -> str:
    """Encode text (as UTF-8) in Base64.

    Args:
        text: The text to encode.
        url_safe: Use the URL-safe alphabet ("-" and "_" instead of "+" and "/").

    Returns:
        The Base64 string, with "=" padding.
    """
    data = _text(text, "text").encode("utf-8")
    return (base64.urlsafe_b64encode(data) if url_safe else base64.b64encode(data)).decode("ascii")


def base64_decode(data: str, url_safe: bool = False) -> str:
    """Decode Base64 into UTF-8 text.

    Args:
        data: The Base64 string (missing "=" padding is tolerated; whitespace is ignored).
        url_safe: Whether data uses the URL-safe alphabet ("-" and "_").

    Returns:
        The decoded text.
    """
    compact = "".join(_text(data, "data").split())
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, altchars=b"-_" if url_safe else None, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"data is not valid Base64 ({exc})") from None
    return _utf8(raw, "data")


def hex_encode(text: str) -> str:
    """Encode text (as UTF-8) as lowercase hexadecimal, two digits per byte.

    Args:
        text: The text to encode.

    Returns:
        The hex string, e.g. "6869" for "hi".
    """
    return _text(text, "text").encode("utf-8").hex()


def hex_decode(data: str) -> str:
    """Decode hexadecimal into UTF-8 text.

    Args:
        data: Hex digits, two per byte; spaces and an optional "0x" prefix are ignored.

    Returns:
        The decoded text.
    """
    compact = "".join(_text(data, "data").split())
    if compact[:2].lower() == "0x":
        compact = compact[2:]
    try:
        raw = bytes.fromhex(compact)
    except ValueError:
        raise ValueError(f"data is not hex: it needs an even number of digits 0-9/a-f, got {data[:40]!r}") from None
    return _utf8(raw, "data")


def url_encode(text: str, form: bool = False) -> str:
    """Percent-encode text for use in a URL (UTF-8 bytes as %XX).

    Args:
        text: The text to encode.
        form: Encode for a query string/form body: spaces become "+" and "/" is encoded too.

    Returns:
        The encoded text (letters, digits and "-._~" are kept as they are).
    """
    value = _text(text, "text")
    return urllib.parse.quote_plus(value) if form else urllib.parse.quote(value, safe="/")


def url_decode(text: str, form: bool = False) -> str:
    """Decode percent-encoded URL text.

    Args:
        text: The encoded text, e.g. "caf%C3%A9".
        form: Treat "+" as a space (query strings and form bodies).

    Returns:
        The decoded text.
    """
    value = _text(text, "text")
    try:
        return urllib.parse.unquote_plus(value, errors="strict") if form else urllib.parse.unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise ValueError(f"text has %-escapes that are not UTF-8 (e.g. a lone '%E9'): {value[:60]!r}") from None


def hash_text(text: str, algorithm: HashAlgorithm = "sha256") -> str:
    """Hash text (as UTF-8) with a standard hash function.

    Args:
        text: The text to hash.
        algorithm: The hash function.

    Returns:
        The digest as lowercase hex.
    """
    value = _text(text, "text").encode("utf-8")
    if algorithm not in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b"):
        raise ValueError(f"unknown hash algorithm {algorithm!r}; use md5, sha1, sha224, sha256, sha384, sha512, sha3_256 or blake2b")
    return hashlib.new(algorithm, value).hexdigest()


def hmac_sha256(key: str, message: str) -> str:
    """Compute an HMAC-SHA256 message authentication code.

    Args:
        key: The secret key (as UTF-8).
        message: The message to authenticate (as UTF-8).

    Returns:
        The MAC as lowercase hex (64 digits).
    """
    return hmac.new(_text(key, "key").encode("utf-8"), _text(message, "message").encode("utf-8"), hashlib.sha256).hexdigest()


def crc32_checksum(text: str) -> dict:
    """CRC-32 checksum (as zlib, gzip and PNG use it) of text encoded as UTF-8.

    Args:
        text: The text to checksum.

    Returns:
        decimal (the unsigned 32-bit checksum) and hex (8 lowercase digits).
    """
    value = zlib.crc32(_text(text, "text").encode("utf-8")) & 0xFFFFFFFF
    return {"decimal": value, "hex": f"{value:08x}"}


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (JSON has no NaN or Infinity)")


def _parse_json(text: str) -> object:
    """The parsed value; a ValueError (JSONDecodeError when it has a position) when ``text`` is not strict JSON."""
    try:
        return json.loads(_text(text, "text"), parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to parse") from None


def json_validate(text: str) -> dict:
    """Check whether text is valid JSON and say where it breaks if not.

    Args:
        text: The JSON text to check.

    Returns:
        valid (bool), type (the top-level JSON type when valid, else None) and error, line, column (where
        parsing failed; None when valid).
    """
    try:
        value = _parse_json(text)
    except json.JSONDecodeError as exc:
        return {"valid": False, "type": None, "error": exc.msg, "line": exc.lineno, "column": exc.colno}
    except ValueError as exc:
        return {"valid": False, "type": None, "error": str(exc), "line": None, "column": None}
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null", int: "number", float: "number"}
    return {"valid": True, "type": kinds[type(value)], "error": None, "line": None, "column": None}


def json_pretty(text: str, indent: int = 2, sort_keys: bool = False) -> str:
    """Re-format JSON text with indentation (or compactly with indent 0).

    Args:
        text: Valid JSON text.
        indent: Spaces per nesting level, 0 to 8; 0 gives compact one-line JSON.
        sort_keys: Whether to sort object keys alphabetically.

    Returns:
        The re-formatted JSON (non-ASCII characters kept as they are).
    """
    if isinstance(indent, bool) or not isinstance(indent, int) or not 0 <= indent <= 8:
        raise ValueError(f"indent must be an integer from 0 to 8, not {indent!r}")
    try:
        value = _parse_json(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"text is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:
        raise ValueError(f"text is not valid JSON: {exc}") from None
    if indent == 0:
        return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False)
    return json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
