"""docs/cli.md's command reference, rendered from the parsers themselves.

Every command's usage, flags, defaults and help come from
``tandem.plugin.cli.build_parser()``, so the page cannot say what the code does
not do; a unit test fails when the two drift. Regenerate the page with::

    python -m tandem.plugin.cli.reference --write docs/cli.md
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .help import shown_default

BEGIN = "<!-- commands:begin -->"
END = "<!-- commands:end -->"
WIDTH = 88  # usage lines wrap here, whatever the terminal
# "(default: X)" written into a help text; the table shows X in its own column.
_DEFAULT_NOTE = re.compile(r"\s*\(default:?\s*([^()]*(?:\([^()]*\)[^()]*)*)\)")
_SAYS_NOTHING = ("False", "None")


@contextmanager
def _plain_environment() -> Iterator[None]:
    """No TANDEM_* variables while the parsers are built: defaults are the code's own."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("TANDEM_")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def _subcommands(
    parser: argparse.ArgumentParser,
) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, help, parser)`` of each subcommand, in registration order."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def _walk(
    parser: argparse.ArgumentParser, prefix: str
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    for name, help_text, sub in _subcommands(parser):
        path = f"{prefix} {name}"
        yield path, help_text, sub
        yield from _walk(sub, path)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _row(formatter: argparse.HelpFormatter, action: argparse.Action) -> str:
    invocation = formatter._format_action_invocation(action)
    meaning = formatter._expand_help(action) if action.help else ""
    note = _DEFAULT_NOTE.search(meaning)
    meaning = _DEFAULT_NOTE.sub("", meaning).strip()
    default = shown_default(action)
    shown = f"`{default}`" if default is not None else ""
    if default is None and note is not None and note.group(1) not in _SAYS_NOTHING:
        shown = note.group(1)
    return f"| `{_cell(invocation)}` | {_cell(shown)} | {_cell(meaning)} |"


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    rows = [
        _row(formatter, action)
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        and not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
    ]
    if not rows:
        return []
    return ["| argument | default | meaning |", "|---|---|---|", *rows, ""]


def _section(path: str, help_text: str, parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"### `{path}`", ""]
    if help_text:
        lines += [help_text[0].upper() + help_text[1:] + ".", ""]
    if parser.description:
        lines += [parser.description, ""]
    subcommands = _subcommands(parser)
    if subcommands:
        lines += ["| verb | what it does |", "|---|---|"]
        lines += [
            f"| [`{name}`](#{_anchor(f'{path} {name}')}) | {_cell(h)} |"
            for name, h, _ in subcommands
        ]
        return [*lines, ""]
    return [*lines, "```text", _usage(parser), "```", "", *_arguments(parser)]


def _anchor(path: str) -> str:
    """GitHub's anchor for a ``### `tandem x y` `` heading."""
    return re.sub(r"[^a-z0-9 -]", "", path.lower()).replace(" ", "-")


def markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The command reference: one section per command, in ``tandem --help`` order."""
    if parser is None:
        from . import build_parser

        with _plain_environment():
            parser = build_parser()
    lines = ["| command | what it does |", "|---|---|"]
    lines += [
        f"| [`tandem {name}`](#{_anchor(f'tandem {name}')}) | {_cell(h)} |"
        for name, h, _ in _subcommands(parser)
    ]
    lines.append("")
    for path, help_text, sub in _walk(parser, "tandem"):
        lines += _section(path, help_text, sub)
    return "\n".join(lines)


def write(path: Path) -> bool:
    """Replace the reference between the markers in ``path``; whether anything changed."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN} ... {END} block to fill")
    head, rest = text.split(BEGIN + "\n", 1)
    tail = rest.split(END, 1)[1]
    updated = f"{head}{BEGIN}\n{markdown()}{END}{tail}"
    if updated == text:
        return False
    path.write_text(updated)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tandem.plugin.cli.reference", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--write", type=Path, metavar="FILE", help="fill FILE's reference block")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(markdown())
        return 0
    changed = write(args.write)
    print(f"{args.write}: {'updated' if changed else 'already up to date'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
