"""One ``--help`` layout for every ``tandem`` command: each flag's default shown once.

:class:`TandemParser` is the parser class of ``tandem`` and, because argparse
builds subparsers with their parent's class, of every command under it; each
gets :class:`DefaultsHelpFormatter` unless it asks for another formatter.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

# A help text that already names its default, literally or as argparse's %(default)s
# (BooleanOptionalAction adds that one itself; the serve settings write theirs out).
_NAMES_ITS_DEFAULT = re.compile(r"%\(default\)|\(default\b")


def shown_default(action: argparse.Action) -> str | None:
    """The default worth printing for ``action``; ``None`` for absent, off or empty ones."""
    default = action.default
    if (
        default is None
        or default is False
        or default is argparse.SUPPRESS
        or (isinstance(default, (str, list, tuple)) and not default)
        or isinstance(action, (argparse._HelpAction, argparse._VersionAction))
    ):
        return None
    if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
        return None  # a required positional has no default to speak of
    return str(default)


def names_its_default(help_text: str) -> bool:
    return bool(_NAMES_ITS_DEFAULT.search(help_text))


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to a flag's help, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if not text or text == argparse.SUPPRESS or names_its_default(text):
            return text
        if shown_default(action) is None:
            return text
        return text + " (default: %(default)s)"


class TandemParser(argparse.ArgumentParser):
    """An argument parser whose help shows defaults with :class:`DefaultsHelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
