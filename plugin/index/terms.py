"""Reversible names for sparse terms, safe as keys of a sparse field.

A learned-sparse document is stored as ``{term: weight}`` in a ``rank_features``
field (or Elasticsearch's ``sparse_vector``). The engines accept almost any key
there, but not every key survives (checked on OpenSearch 3.6.0 and 2.19.6,
Elasticsearch 9.5.4; see docs/engines.md):

* ``.``: OpenSearch's ``rank_feature`` query addresses a feature as
  ``field.term`` and splits at the last dot, so a term such as ``a.b`` is
  indexed but can never be queried that way.
* Lone surrogates (``"\\ud800"``): not valid UTF-8. OpenSearch 3.6 and
  Elasticsearch refuse the document ("Broken surrogate pair in field name");
  OpenSearch 2.19 accepts it and stores every lone surrogate as the same term.

Empty names, whitespace, leading ``_``, ``#``, ``[``, ``\\`` and non-ASCII
letters all go through unchanged on all three engines.

:func:`encode_term` escapes exactly those characters, plus the escape
character ``%`` itself, as ``%XX`` per UTF-8 byte (uppercase hex), so ordinary
tokens such as ``heart`` or ``##ing`` stay as they are and stored documents
stay readable. :func:`decode_term` is its exact inverse.

One limit no encoding can lift: a term must fit in 32766 UTF-8 bytes (Lucene
refuses longer ones: "bytes can be at most 32766 in length"). OpenSearch's own
``sparse_vector`` field takes no names at all, only token ids, so Tandem does not
map it (:mod:`tandem.plugin.index.mapping`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# One unsafe character: the path separator, the escape character, a surrogate.
_UNSAFE = re.compile("[.%\ud800-\udfff]")
_ESCAPES = re.compile("(?:%[0-9A-F]{2})+")


def _escape(match: re.Match[str]) -> str:
    raw = match.group().encode("utf-8", "surrogatepass")
    return "".join(f"%{byte:02X}" for byte in raw)


def _unescape(match: re.Match[str]) -> str:
    raw = bytes.fromhex(match.group().replace("%", ""))
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as err:
        raise ValueError(f"{match.group()!r} is not an escaped character") from err


def encode_term(token: str) -> str:
    """The engine-safe key for ``token``: itself unless it holds ``.``, ``%`` or a surrogate."""
    return _UNSAFE.sub(_escape, token)


def decode_term(name: str) -> str:
    """The token that :func:`encode_term` turned into ``name``.

    Raises ``ValueError`` for a name that ``encode_term`` cannot produce (a raw
    ``.``, a stray ``%``, lowercase or needless escapes), so that every name has
    at most one token and the two functions stay exact inverses.
    """
    token = _ESCAPES.sub(_unescape, name)
    if encode_term(token) != name:
        raise ValueError(
            f"{name!r} is not an encoded term name: names hold no raw '.', and '%' only "
            "in escapes such as %2E (.) and %25 (%)"
        )
    return token


def encode_terms(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` with every key passed through :func:`encode_term`."""
    return {encode_term(token): weight for token, weight in weights.items()}


def decode_terms(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` with every key passed through :func:`decode_term`."""
    return {decode_term(name): weight for name, weight in weights.items()}
