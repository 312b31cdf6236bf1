"""Which index names a caller may name: concrete ones, inside the operator's allow-list.

A request names one concrete index or alias. Wildcards, lists and ``_all`` are
never accepted (one ``DeleteIndex(index="_all")`` would delete every index).
Without an operator list, names that start with ``.`` or ``-`` (system and
hidden indices) or hold ``:`` (another cluster) are refused too; with
``--indices PATTERN,...`` only names matching a pattern pass, and a pattern may
allow such names explicitly (``.my-index``, ``remote:logs-*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

_NEVER = ("*", "?", ",", " ")


class BadIndexName(ValueError):
    """A request names no single concrete index (empty, a wildcard, a list, ``_all``)."""


class IndexNotAllowed(ValueError):
    """A request names an index the operator's policy does not let it touch."""


@dataclass(frozen=True)
class IndexPolicy:
    """The operator's allow-list of index names (empty: every ordinary name)."""

    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> IndexPolicy:
        """From ``--indices``: comma-separated patterns (``docs-*,products``)."""
        patterns = tuple(p.strip() for p in text.split(",") if p.strip())
        return cls(patterns)

    def check(self, name: str, field: str = "index") -> str:
        """``name`` if a request may use it; raises :class:`BadIndexName` for what is not
        one concrete name, :class:`IndexNotAllowed` for what the operator does not allow."""
        if not name.strip():
            raise BadIndexName(f"{field} is empty: name the index")
        if name == "_all" or any(c in name for c in _NEVER):
            raise BadIndexName(
                f"{field} {name!r} is not one concrete index: wildcards, lists and _all "
                "are refused; name the index or alias"
            )
        if self.patterns:
            if not any(fnmatchcase(name, p) for p in self.patterns):
                raise IndexNotAllowed(
                    f"{field} {name!r} is not in this sidecar's allow-list "
                    f"(--indices {','.join(self.patterns)})"
                )
            return name
        if name.startswith((".", "-", "_")) or ":" in name:
            raise IndexNotAllowed(
                f"{field} {name!r} is a system, hidden or remote index name; an operator can "
                "allow it with tandem serve --indices PATTERN,..."
            )
        return name
