"""Sidecar settings: every field a flag and an env variable; secrets never shown."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from tandem.plugin.server.settings import (
    Settings,
    add_arguments,
    env_name,
    flag_name,
    from_namespace,
    markdown_table,
)


def parse(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_namespace(parser.parse_args(argv), env or {})


def test_every_setting_has_a_flag_an_env_variable_and_help() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = parser.format_help()
    for field in dataclasses.fields(Settings):
        assert field.metadata["help"], field.name
        assert flag_name(field.name) in text
        assert env_name(field.name) in text


def test_defaults_match_the_dataclass() -> None:
    assert parse([]) == Settings()


def test_flags_override_and_are_typed() -> None:
    settings = parse(["--port", "0", "--max-wait-ms", "1.5", "--int8", "--idf", "/x/idf.json"])
    assert settings.port == 0 and settings.max_wait_ms == 1.5
    assert settings.int8 is True and settings.idf == Path("/x/idf.json")


def test_environment_variables_become_defaults_and_flags_still_win() -> None:
    env = {"TANDEM_PORT": "7000", "TANDEM_INT8": "yes", "TANDEM_DENSE": "none"}
    settings = parse([], env)
    assert settings.port == 7000 and settings.int8 is True and settings.dense_model is None
    assert parse(["--port", "7001", "--no-int8"], env).port == 7001
    assert parse(["--no-int8"], env).int8 is False


def test_a_bad_environment_value_names_the_variable_and_the_flag() -> None:
    with pytest.raises(ValueError, match=r"TANDEM_PORT='many' is not a whole number.*--port"):
        parse([], {"TANDEM_PORT": "many"})
    with pytest.raises(ValueError, match=r"TANDEM_INT8='perhaps'.*true or false.*--int8"):
        parse([], {"TANDEM_INT8": "perhaps"})
    with pytest.raises(ValueError, match=r"TANDEM_GRACE='soon' is not a number"):
        parse([], {"TANDEM_GRACE": "soon"})


def test_building_the_parser_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``tandem`` command builds the serve parser: a bad variable must not break them."""
    monkeypatch.setenv("TANDEM_PORT", "tcp://10.0.0.1:50051")
    monkeypatch.setenv("TANDEM_INT8", "perhaps")
    monkeypatch.setenv("TANDEM_AUTH_TOKEN", "from-the-environment")
    parser = argparse.ArgumentParser()
    add_arguments(parser)  # raised ValueError while the variables were parsed here
    assert "from-the-environment" not in parser.format_help()
    assert "tcp://" not in parser.format_help()


def test_a_flag_wins_over_a_bad_variable() -> None:
    env = {"TANDEM_PORT": "tcp://10.0.0.1:50051", "TANDEM_INT8": "perhaps"}
    settings = parse(["--port", "7001", "--no-int8"], env)
    assert settings.port == 7001 and settings.int8 is False


@pytest.mark.parametrize(
    "variable, flag, service",
    [
        ("TANDEM_PORT", "--port", "tandem"),
        ("TANDEM_METRICS_PORT", "--metrics-port", "tandem-metrics"),
    ],
)
def test_a_kubernetes_service_link_variable_says_what_to_do(
    variable: str, flag: str, service: str
) -> None:
    """Kubernetes sets SERVICE_PORT=tcp://IP:PORT in every pod for each Service of the
    namespace: a Service named 'tandem' sets TANDEM_PORT."""
    with pytest.raises(ValueError) as refused:
        parse([], {variable: "tcp://10.0.0.1:50051"})
    message = str(refused.value)
    assert variable in message and flag in message
    assert f"Service named '{service}'" in message and "enableServiceLinks" in message
    assert "\n" not in message


def test_an_empty_variable_leaves_an_optional_setting_unset() -> None:
    """compose passes ``${TANDEM_AUTH_TOKEN_FILE:-}`` as an empty value: not the folder '.'."""
    env = {"TANDEM_AUTH_TOKEN_FILE": "", "TANDEM_ENGINE": "", "TANDEM_IDF": " "}
    settings = parse([], env)
    assert settings.auth_token_file is None and settings.engine is None and settings.idf is None
    assert settings.token() is None


def test_help_shows_each_default_once_and_never_a_value_from_the_environment() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for action in parser._actions:
        if action.help and action.help != argparse.SUPPRESS and action.dest != "help":
            assert action.help.count("(default") <= 1, action.dest
    text = " ".join(parser.format_help().split())
    assert "(default: 50051)" in text and "(default: None)" not in text


def test_an_unknown_log_level_is_refused() -> None:
    with pytest.raises(ValueError, match="--log-level"):
        Settings(log_level="chatty")
    assert Settings(log_level="debug").log_level == "debug"


def test_secrets_are_redacted() -> None:
    settings = Settings(auth_token="s3cret", engine="http://admin:hunter2@localhost:9200")
    shown = str(settings.redacted())
    assert "s3cret" not in shown and "hunter2" not in shown
    assert "http://admin:***@localhost:9200" in shown
    assert "s3cret" not in repr(settings) and "hunter2" not in repr(settings)


def test_the_token_comes_from_its_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("abc123\n")
    assert Settings(auth_token_file=token_file).token() == "abc123"
    token_file.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        Settings(auth_token_file=token_file).token()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_texts": 0}, "--max-texts"),
        ({"max_batch_tokens": 0}, "--max-batch-tokens"),
        ({"port": 70000}, r"--port \(TANDEM_PORT\) must be in 0..65535"),
        ({"metrics_port": -2}, r"--metrics-port \(TANDEM_METRICS_PORT\) must be in -1"),
        ({"tls_cert": Path("c.pem")}, "both"),
        ({"tls_client_ca": Path("ca.pem")}, "mTLS"),
        ({"auth_token": "a", "auth_token_file": Path("t")}, "not both"),
        ({"max_wait_ms": -1}, "--max-wait-ms"),
        ({"engine_timeout": 0}, "--engine-timeout"),
        ({"engine": "http://admin:pw@localhost:port"}, r"--engine \(TANDEM_ENGINE\) .*port"),
    ],
)
def test_inconsistent_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_the_readme_configuration_table_is_generated_from_the_settings() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("<!-- settings:begin -->\n")[1].split("<!-- settings:end -->")[0]
    assert block == markdown_table(), "regenerate the README table from markdown_table()"


def test_the_settings_table_in_the_docs_matches_the_code() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "sidecar.md").read_text()
    for field in dataclasses.fields(Settings):
        shown = "unset" if field.default is None else f"`{field.default}`"
        row = (
            f"| `{flag_name(field.name)}` | `{env_name(field.name)}` | {shown} | "
            f"{field.metadata['help']} |"
        )
        assert row in docs, f"docs/sidecar.md lacks or misstates: {row}"


def test_engine_credentials_come_from_a_file_and_stay_out_of_logs(tmp_path: Path) -> None:
    from tandem.plugin.engines.responses import split_auth

    secret = tmp_path / "engine"
    secret.write_text("tandem:p@ss:w0rd/+\n")
    settings = Settings(engine="http://search.internal:9200", engine_credentials_file=secret)
    address = settings.engine_address()
    assert address is not None and "p@ss" not in address  # percent-encoded in the URL
    assert split_auth(address) == ("http://search.internal:9200", ("tandem", "p@ss:w0rd/+"))
    assert "w0rd" not in str(settings.redacted())


@pytest.mark.parametrize(
    "content, engine, message",
    [
        ("no-colon", "http://e:9200", "USER:PASSWORD"),
        ("u:p", "http://a:b@e:9200", "not both"),
        ("u:p", None, "needs --engine"),
    ],
)
def test_bad_engine_credentials_are_refused(
    tmp_path: Path, content: str, engine: str | None, message: str
) -> None:
    secret = tmp_path / "engine"
    secret.write_text(content)
    with pytest.raises(ValueError, match=message):
        Settings(engine=engine, engine_credentials_file=secret).engine_address()
