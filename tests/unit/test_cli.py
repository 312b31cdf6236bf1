from __future__ import annotations

import argparse

import pytest

from tandem.plugin.cli import build_parser, main


def test_help_lists_the_engines_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "engines" in capsys.readouterr().out


def test_engines_verbs() -> None:
    parser = build_parser()
    args = parser.parse_args(["engines", "up", "opensearch", "--version", "3.6.0", "--heap", "1g"])
    assert (args.which, args.version, args.heap) == ("opensearch", "3.6.0", "1g")
    assert parser.parse_args(["engines", "down"]).which == "all"
    assert parser.parse_args(["engines", "status", "--json"]).json


def test_heap_over_the_cap_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["engines", "up", "--heap", "4g"])
    assert "between 128m and 1g" in capsys.readouterr().err


def test_version_with_all_engines_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "up", "all", "--version", "3.6.0"]) == 2
    assert "need one engine" in capsys.readouterr().err


def test_a_client_only_install_is_told_which_extra_to_install() -> None:
    """With the server extra missing (onnxruntime blocked), ``tandem`` names the extra."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from tandem.plugin.cli import main\n"
        "raise SystemExit(main(['encode', 'x']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert "pip install 'tandem-search[server]'" in result.stderr
    assert "onnxruntime is not installed" in result.stderr
    assert "Traceback" not in result.stderr


# --- one vocabulary across the commands ---------------------------------------------------

ENCODE_COMMANDS = (("encode",), ("models", "encode"))


def _subparser(*path: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _leaf_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    found = []

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append((prefix, parser))
        for sub in subs:
            for name, child in sub.choices.items():
                walk(f"{prefix} {name}".strip(), child)

    walk("", build_parser())
    return found


def _visible(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        option: action
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    }


def test_dense_and_sparse_flags_always_name_a_model() -> None:
    for command, parser in _leaf_parsers():
        for flag in ("--dense", "--sparse"):
            action = _visible(parser).get(flag)
            assert action is None or action.nargs != 0, f"tandem {command} {flag} is a switch"


@pytest.mark.parametrize("path", ENCODE_COMMANDS, ids=" ".join)
def test_both_encode_commands_speak_one_vocabulary(path: tuple[str, ...]) -> None:
    flags = _visible(_subparser(*path))
    assert {"--kind", "--input", "--top-k", "--json"} <= set(flags)
    assert tuple(flags["--kind"].choices or ()) == ("dense", "sparse")
    assert tuple(flags["--input"].choices or ()) == ("query", "document")
    assert flags["--input"].default == "document"
    assert flags["--top-k"].default is None
    assert "--query" not in flags and "--sparse" not in flags


def test_the_old_encode_spellings_still_work_and_say_what_to_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert build_parser().parse_args(["encode", "x"]).kind == "dense"
    args = build_parser().parse_args(["encode", "--sparse", "--query", "some text"])
    assert (args.kind, args.input, args.texts) == ("sparse", "query", ["some text"])
    err = capsys.readouterr().err
    assert "--sparse is deprecated" in err and "--kind sparse" in err
    assert "--query is deprecated" in err and "--input query" in err


def test_kind_and_input_are_not_confused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["models", "encode", "minilm", "x", "--kind", "query"])
    assert "--input query" in capsys.readouterr().err


# --- every command's --help shows each default once -----------------------------------------


def _has_a_default(action: argparse.Action) -> bool:
    default = action.default
    return not (
        default is None
        or default is False
        or default is argparse.SUPPRESS
        or default in ("", [])
        or isinstance(action, argparse._HelpAction)
        or (not action.option_strings and action.nargs not in ("?", "*"))
    )


def _help_string(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help line ``--help`` prints for ``action``, defaults filled in."""
    return parser._get_formatter()._expand_help(action) if action.help else ""


# A command that keeps a formatter of its own until its owner drops it (none left).
NOT_YET_ADOPTED: set[str] = set()


def test_every_command_shows_each_default_once() -> None:
    for command, parser in _leaf_parsers():
        if command in NOT_YET_ADOPTED:
            continue
        for action in parser._actions:
            if not action.help or action.help == argparse.SUPPRESS or not _has_a_default(action):
                continue  # argparse prints no help line (so no default) for an action without help
            text = _help_string(parser, action)
            assert text.count("default") == 1, f"tandem {command} {action.dest}: {text!r}"


def test_the_serve_settings_show_each_default_once_with_the_shared_formatter() -> None:
    from tandem.plugin.cli.help import TandemParser
    from tandem.plugin.server.settings import add_arguments

    parser = TandemParser(prog="tandem serve")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TANDEM_AUTH_TOKEN", "s3cret")
        add_arguments(parser)  # flags default to None: the variables are read when it runs
        for action in parser._actions:
            if action.help and action.help != argparse.SUPPRESS:
                assert _help_string(parser, action).count("default") <= 1, action.dest
        assert "s3cret" not in parser.format_help()
    for command in NOT_YET_ADOPTED:  # drop the name from the set once serve.py adopts it
        assert _subparser(command).formatter_class is not parser.formatter_class


# --- docs/cli.md is generated from the parsers ---------------------------------------------


def test_docs_cli_md_is_generated_from_the_parsers() -> None:
    from pathlib import Path

    from tandem.plugin.cli.reference import BEGIN, END, markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    block = doc.split(BEGIN + "\n")[1].split(END)[0]
    assert block == markdown(), (
        "docs/cli.md is out of step with the parsers: "
        "python -m tandem.plugin.cli.reference --write docs/cli.md"
    )
