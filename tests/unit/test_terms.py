"""Term-name encoding: exact inverses, and the identity on ordinary tokens."""

from __future__ import annotations

import json
import random
import re

import pytest

from tandem.plugin.index.terms import decode_term, decode_terms, encode_term, encode_terms

ORDINARY = [
    "heart",
    "##ing",
    "[CLS]",
    "[SEP]",
    "ü",
    "ß",
    "İ",
    "😀",
    "日本",
    "",
    " ",
    "a b",
    "\t",
    "_id",
    "_source",
    "a\\b",
    "a/b",
    "a:b",
    "a,b",
    "#",
    "*",
    '"',
    "\x00",
    "\u200b",
    "\ufeff",
    "x" * 300,
    "0",
    "-1",
]

ESCAPED = [
    (".", "%2E"),
    ("..", "%2E%2E"),
    ("a.b", "a%2Eb"),
    (".a", "%2Ea"),
    ("a.", "a%2E"),
    ("%", "%25"),
    ("%%", "%25%25"),
    ("%2E", "%252E"),
    ("100%.", "100%25%2E"),
    ("\ud800", "%ED%A0%80"),
    ("\udfff", "%ED%BF%BF"),
    ("\ud83d\ude00", "%ED%A0%BD%ED%B8%80"),  # a surrogate pair as two code points
    ("a.\ud800.b", "a%2E%ED%A0%80%2Eb"),
]

# Names that encode_term never produces: a raw dot, a stray or malformed escape,
# lowercase hex, an escape of a character that needs none, truncated UTF-8.
NOT_ENCODED = ["a.b", ".", "%", "%2", "a%", "%2e", "%zz", "%41", "%C3%BC", "%ED%A0", "%80", "%%25"]

# What an encoded name may hold: no dot, no surrogate, '%' only in an escape.
ENCODED_SHAPE = re.compile("(?:[^.%\ud800-\udfff]|%[0-9A-F]{2})*")


@pytest.mark.parametrize("token", ORDINARY, ids=ascii)
def test_ordinary_tokens_stay_as_they_are(token: str) -> None:
    assert encode_term(token) == token
    assert decode_term(token) == token


@pytest.mark.parametrize(("token", "name"), ESCAPED, ids=ascii)
def test_unsafe_characters_are_escaped(token: str, name: str) -> None:
    assert encode_term(token) == name
    assert decode_term(name) == token


@pytest.mark.parametrize("name", NOT_ENCODED, ids=ascii)
def test_names_encode_cannot_produce_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not an"):
        decode_term(name)


def _assert_round_trip(token: str) -> None:
    name = encode_term(token)
    assert decode_term(name) == token, ascii(token)
    assert ENCODED_SHAPE.fullmatch(name), ascii(name)
    # Strict UTF-8: what engines accept as a JSON key.
    json.dumps({name: 1.0}, ensure_ascii=False).encode("utf-8")


def test_every_single_character_round_trips() -> None:
    for code in [*range(0x250), *range(0xD800, 0xE000), 0xFFFF, 0x10FFFF]:
        char = chr(code)
        _assert_round_trip(char)
        if char not in ".%" and not 0xD800 <= code < 0xE000:
            assert encode_term(char) == char, hex(code)


def test_every_pair_of_tricky_characters_round_trips() -> None:
    alphabet = [".", "%", "2", "E", "5", "a", "ü", "\ud800", "\udc00", "😀", "_", " "]
    names = set()
    for first in alphabet:
        for second in alphabet:
            _assert_round_trip(first + second)
            names.add(encode_term(first + second))
    assert len(names) == len(alphabet) ** 2  # no two tokens share a name


def test_random_strings_round_trip() -> None:
    rng = random.Random(20261123)
    alphabet = ".%%2E5AF0aZ_ #[]\\/ü😀\ud800\udbff\udc00\udfff\x00\x7f"
    tokens = {"".join(rng.choice(alphabet) for _ in range(rng.randrange(13))) for _ in range(5000)}
    tokens |= {
        "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 6)))
        for _ in range(2000)
    }
    for token in tokens:
        _assert_round_trip(token)
    assert len({encode_term(t) for t in tokens}) == len(tokens)


def test_weights_round_trip() -> None:
    weights = {"heart": 1.5, "a.b": 0.25, "%": 2.0, "": 0.5}
    encoded = encode_terms(weights)
    assert encoded == {"heart": 1.5, "a%2Eb": 0.25, "%25": 2.0, "": 0.5}
    assert decode_terms(encoded) == weights
