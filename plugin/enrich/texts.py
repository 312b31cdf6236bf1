"""The text a document's named fields hold, as one passage to encode.

Fields may be dotted paths into objects (``author.name``); a field holding a list
of strings (an array in the engine) contributes each string. Anything else (a
number, an object) is the document's problem, reported by id rather than
encoded as ``str()`` of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class BadText(ValueError):
    """A named text field holds something that is not text."""


@dataclass(frozen=True)
class Passage:
    """The joined text (empty when the fields hold none)."""

    text: str

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def lookup(source: Mapping[str, Any], path: str) -> object:
    """The value at ``path`` (a key, or a dotted path into objects); ``None`` when absent."""
    if path in source:  # a flat key that happens to hold dots
        return source[path]
    node: object = source
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _strings(field: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) or v is None for v in value):
        return [v for v in value if v]
    kind = type(value).__name__ if not isinstance(value, list) else "a list holding non-strings"
    raise BadText(f"text field {field!r} holds {kind}, not text")


def passage(source: Mapping[str, Any], fields: Sequence[str], joiner: str) -> Passage:
    """The fields' text joined by ``joiner``; raises :class:`BadText` for a non-string."""
    parts: list[str] = []
    for field in fields:
        parts.extend(s for s in _strings(field, lookup(source, field)) if s.strip())
    return Passage(joiner.join(parts))
