"""The text-processing catalogue module: every tool on hand-checked values and on bad input."""

from __future__ import annotations

import pytest

from synthloom.tools.catalogue import text_tools as tt


def test_module_follows_the_catalogue_convention(catalogue_convention) -> None:
    catalogue_convention(tt, 7)


def test_word_count() -> None:
    assert tt.word_count("Hello world. How are you?") == {"words": 5, "characters": 25, "characters_no_spaces": 21, "lines": 1,
                                                          "sentences": 2}
    assert tt.word_count("don't stop-me\nnow") == {"words": 3, "characters": 17, "characters_no_spaces": 15, "lines": 2,
                                                   "sentences": 1}
    assert tt.word_count("") == {"words": 0, "characters": 0, "characters_no_spaces": 0, "lines": 0, "sentences": 0}
    with pytest.raises(ValueError, match="at most 20000 are allowed"):
        tt.word_count("x" * 20_001)
    with pytest.raises(ValueError, match="text must be a string"):
        tt.word_count(42)


def test_char_frequency() -> None:
    assert list(tt.char_frequency("Hello").items()) == [("l", 2), ("h", 1), ("e", 1), ("o", 1)]
    assert tt.char_frequency("Hello", ignore_case=False)["H"] == 1
    assert " " not in tt.char_frequency("a b") and tt.char_frequency("a b", include_spaces=True)[" "] == 1
    assert tt.char_frequency("banana", top=2) == {"a": 3, "n": 2}
    with pytest.raises(ValueError, match="top must be a whole number from 1 to 1000"):
        tt.char_frequency("banana", top=0)


def test_slugify() -> None:
    assert tt.slugify("Héllo, World!") == "hello-world"
    assert tt.slugify("  Multiple   spaces__and_underscores ") == "multiple-spaces-and-underscores"
    assert tt.slugify("It's 2024") == "its-2024"
    assert tt.slugify("A B C", separator="_") == "a_b_c"
    assert tt.slugify("日本語") == ""
    with pytest.raises(ValueError, match="separator is 4 characters long; at most 3"):
        tt.slugify("a b", separator="----")


def test_title_case() -> None:
    assert tt.title_case("the lord of the rings") == "The Lord of the Rings"
    assert tt.title_case("a tale of two cities") == "A Tale of Two Cities"
    assert tt.title_case("what is it for") == "What Is It For"  # a small word last is capitalised
    assert tt.title_case("NASA launches iPhone app") == "NASA Launches iPhone App"


def test_reverse_words() -> None:
    assert tt.reverse_words("one two  three") == "three two one"
    assert tt.reverse_words("   ") == ""


def test_find_replace_literal_and_regex() -> None:
    assert tt.find_replace("a.b.c", ".", "-") == {"text": "a-b-c", "replacements": 2}  # '.' is literal here
    assert tt.find_replace("a1b22", r"(\d+)", r"<\1>", use_regex=True) == {"text": "a<1>b<22>", "replacements": 2}
    assert tt.find_replace("Cat cat CAT", "cat", "dog", ignore_case=True) == {"text": "dog dog dog", "replacements": 3}
    assert tt.find_replace("aaa", "a", "b", max_replacements=2) == {"text": "bba", "replacements": 2}
    assert tt.find_replace("x", "x", r"\1") == {"text": r"\1", "replacements": 1}  # literal mode: no group references
    assert tt.find_replace("abc", "z", "y") == {"text": "abc", "replacements": 0}


def test_find_replace_refuses_bad_or_runaway_patterns() -> None:
    for runaway in ("(a+)+", r"(\w*)*b", "(x+y*){2,}"):
        with pytest.raises(ValueError, match="can run for ever"):
            tt.find_replace("aaaa", runaway, "", use_regex=True)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        tt.find_replace("abc", "(", "", use_regex=True)
    with pytest.raises(ValueError, match="not a valid replacement"):
        tt.find_replace("abc", "(a)", r"\2", use_regex=True)
    with pytest.raises(ValueError, match="find must not be empty"):
        tt.find_replace("abc", "", "x")
    with pytest.raises(ValueError, match="find is 201 characters long"):
        tt.find_replace("abc", "a" * 201, "x")
    with pytest.raises(ValueError, match="would exceed 30,000 characters"):
        tt.find_replace("a" * 1000, "a", "b" * 31)


def test_extract_emails() -> None:
    text = "Contact alice@example.com or Bob.Smith+tag@mail.co.uk; again alice@example.com. Not: user@localhost, x@y"
    assert tt.extract_emails(text) == ["alice@example.com", "Bob.Smith+tag@mail.co.uk"]
    assert tt.extract_emails("no addresses here") == []


def test_extract_urls() -> None:
    text = "See https://example.com/path?q=1, and (www.python.org). Also http://a.b/c_(d). Again https://example.com/path?q=1"
    assert tt.extract_urls(text) == ["https://example.com/path?q=1", "www.python.org", "http://a.b/c_(d)"]
    assert tt.extract_urls("ftp://not.web and example.com") == []


def test_levenshtein_distance() -> None:
    assert tt.levenshtein_distance("kitten", "sitting") == 3
    assert tt.levenshtein_distance("flaw", "lawn") == 2
    assert tt.levenshtein_distance("", "abc") == 3 and tt.levenshtein_distance("same", "same") == 0
    assert tt.levenshtein_distance("ABC", "abc") == 3 and tt.levenshtein_distance("ABC", "abc", ignore_case=True) == 0
    with pytest.raises(ValueError, match="second is 1001 characters long; at most 1000"):
        tt.levenshtein_distance("a", "b" * 1001)


def test_is_palindrome() -> None:
    assert tt.is_palindrome("A man, a plan, a canal: Panama") and not tt.is_palindrome("race a car")
    assert tt.is_palindrome("Racecar", ignore_non_alphanumeric=False)
    assert not tt.is_palindrome("taco cat", ignore_non_alphanumeric=False) and tt.is_palindrome("taco cat")
    assert tt.is_palindrome("")


def test_caesar_cipher() -> None:
    assert tt.caesar_cipher("Hello, World!", 3) == "Khoor, Zruog!"
    assert tt.caesar_cipher("Khoor, Zruog!", 3, decode=True) == "Hello, World!"
    assert tt.caesar_cipher(tt.caesar_cipher("Why did the chicken", 13), 13) == "Why did the chicken"
    assert tt.caesar_cipher("abc", 29) == tt.caesar_cipher("abc", 3) == "def"
    assert tt.caesar_cipher("abc", -1) == "zab" and tt.caesar_cipher("é1", 5) == "é1"
    with pytest.raises(ValueError, match="shift must be a whole number"):
        tt.caesar_cipher("abc", 2.5)


def test_truncate_text() -> None:
    text = "hello brave new world"
    assert tt.truncate_text(text, 12) == "hello..."
    assert tt.truncate_text(text, 12, whole_words=False) == "hello bra..."
    assert tt.truncate_text(text, 14) == "hello brave..."
    assert tt.truncate_text(text, 100) == text
    assert tt.truncate_text(text, 5, ellipsis="") == "hello"
    assert tt.truncate_text(text, 2) == ".."
    assert tt.truncate_text("supercalifragilistic", 10, ellipsis="…") == "supercali…"
    with pytest.raises(ValueError, match="max_length must be a whole number from 1 to 20000"):
        tt.truncate_text(text, 0)
