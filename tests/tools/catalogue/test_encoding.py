"""Encoding and hashing tools against published test vectors (RFC 4648, RFC 1321/3174/6234, RFC 4231, zlib)."""

from __future__ import annotations

import pytest

from synthloom.tools.catalogue import encoding as enc


def test_module_follows_the_catalogue_convention(catalogue_convention):
    catalogue_convention(enc, min_tools=5)


@pytest.mark.parametrize(("text", "encoded"), [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")])
def test_base64_rfc4648_vectors(text, encoded):
    assert enc.base64_encode(text) == encoded
    assert enc.base64_decode(encoded) == text


def test_base64_alphabets_padding_and_errors():
    text = "??>~ ünïcode"
    standard, url = enc.base64_encode(text), enc.base64_encode(text, url_safe=True)
    assert "+" in standard or "/" in standard
    assert "+" not in url and "/" not in url and url.replace("-", "+").replace("_", "/") == standard
    assert enc.base64_decode(url, url_safe=True) == text
    assert enc.base64_decode("Zm9vYg") == "foob"            # padding may be left out
    assert enc.base64_decode("Zm9v\n YmFy") == "foobar"     # whitespace is ignored
    with pytest.raises(ValueError, match="not valid Base64"):
        enc.base64_decode("Zm9v$$")
    with pytest.raises(ValueError, match="not UTF-8"):
        enc.base64_decode("/w==")                            # the single byte 0xff


def test_hex():
    assert enc.hex_encode("hi") == "6869" and enc.hex_encode("é") == "c3a9"
    assert enc.hex_decode("6869") == "hi" and enc.hex_decode("0x68 69") == "hi" and enc.hex_decode("C3A9") == "é"
    with pytest.raises(ValueError, match="even number of digits"):
        enc.hex_decode("abc")
    with pytest.raises(ValueError, match="not UTF-8"):
        enc.hex_decode("ff")


def test_url_encoding():
    assert enc.url_encode("a b/c?d=é&e") == "a%20b/c%3Fd%3D%C3%A9%26e"
    assert enc.url_encode("a b/c", form=True) == "a+b%2Fc"
    assert enc.url_decode("caf%C3%A9%20au%20lait") == "café au lait"
    assert enc.url_decode("a+b", form=True) == "a b" and enc.url_decode("a+b") == "a+b"
    with pytest.raises(ValueError, match="not UTF-8"):
        enc.url_decode("%E9t%E9")


@pytest.mark.parametrize(("algorithm", "text", "digest"), [
    ("md5", "", "d41d8cd98f00b204e9800998ecf8427e"),
    ("md5", "abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("sha512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ("sha3_256", "", "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"),
])
def test_hash_text_known_digests(algorithm, text, digest):
    assert enc.hash_text(text, algorithm) == digest


def test_hash_text_defaults_to_sha256_and_refuses_unknown_algorithms():
    assert enc.hash_text("abc") == enc.hash_text("abc", "sha256")
    with pytest.raises(ValueError, match="unknown hash algorithm 'crc'"):
        enc.hash_text("abc", "crc")


def test_hmac_sha256():
    assert enc.hmac_sha256("key", "The quick brown fox jumps over the lazy dog") == \
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    # RFC 4231 test case 2
    assert enc.hmac_sha256("Jefe", "what do ya want for nothing?") == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_crc32_checksum():
    assert enc.crc32_checksum("The quick brown fox jumps over the lazy dog") == {"decimal": 1095738169, "hex": "414fa339"}
    assert enc.crc32_checksum("123456789") == {"decimal": 0xCBF43926, "hex": "cbf43926"}
    assert enc.crc32_checksum("") == {"decimal": 0, "hex": "00000000"}


def test_json_validate():
    assert enc.json_validate('{"a": [1, 2]}') == {"valid": True, "type": "object", "error": None, "line": None, "column": None}
    assert enc.json_validate("3.5")["type"] == "number" and enc.json_validate("null")["type"] == "null"
    broken = enc.json_validate('{\n  "a": [1, 2}\n')
    assert broken["valid"] is False and (broken["line"], broken["column"]) == (2, 13) and "delimiter" in broken["error"]
    nan = enc.json_validate("[NaN]")
    assert nan["valid"] is False and "NaN" in nan["error"]


def test_json_pretty():
    assert enc.json_pretty('{"b": 1, "a": [1, 2]}') == '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}'
    assert enc.json_pretty('{"b": 1, "a": "é"}', indent=0, sort_keys=True) == '{"a":"é","b":1}'
    with pytest.raises(ValueError, match="not valid JSON: Expecting value at line 1, column 7"):
        enc.json_pretty('{"a": }')
    with pytest.raises(ValueError, match="nested too deeply"):
        enc.json_pretty("[" * 100_000)
    with pytest.raises(ValueError, match="indent must be an integer from 0 to 8"):
        enc.json_pretty("{}", indent=9)


def test_inputs_are_size_capped():
    with pytest.raises(ValueError, match="the limit is 1000000"):
        enc.hash_text("x" * 1_000_001)
    with pytest.raises(ValueError, match="must be text"):
        enc.base64_encode(b"bytes")
