from __future__ import annotations

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
