"""Secrets never appear in help, logs or errors, whatever their source.

Each secret below comes from one source (a flag, a variable, a file, the password of an
engine URL, the engine credentials file, the bearer token file, the client's token), and
every output the ``tandem`` command can make with it is searched for it: raw,
percent-encoded as in a URL, and as the base64 of a Basic ``Authorization`` header.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle

from .cli import tandem
from .proxy import Proxy

USER = "admin"
FLAG_TOKEN = "Flag-Token-7c1e"
ENV_TOKEN = "Env-Token-4b2d"
FILE_TOKEN = "File-Token-9a3f"
FLAG_PASSWORD = "Flag-Pass-w0rd/+"
ENV_PASSWORD = "Env-Pass-w0rd:@"
FILE_PASSWORD = "Cred-File-Pass:w0rd@"
CLIENT_TOKEN = "Client-Token-6e5a"
SECRETS = (
    FLAG_TOKEN, ENV_TOKEN, FILE_TOKEN, FLAG_PASSWORD, ENV_PASSWORD, FILE_PASSWORD, CLIENT_TOKEN,
)  # fmt: skip
TANDEM = (sys.executable, "-c", "from tandem.plugin.cli import main; raise SystemExit(main())")
NO_MODELS = ("--dense", "none", "--sparse", "none")


def _forms(secret: str) -> set[str]:
    basic = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    return {secret, quote(secret, safe=""), basic}


def assert_no_secret(what: str, text: str) -> None:
    for secret in SECRETS:
        for form in _forms(secret):
            assert form not in text, f"{what} shows a secret ({form!r}):\n{text}"


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{USER}:{quote(password, safe='')}@{parts.netloc}").geturl()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "token": tmp_path / "token",
        "credentials": tmp_path / "engine-credentials",
        "client-token": tmp_path / "client-token",
        "empty": tmp_path / "empty",
    }
    paths["token"].write_text(FILE_TOKEN + "\n")
    paths["credentials"].write_text(f"{USER}:{FILE_PASSWORD}\n")
    paths["client-token"].write_text(CLIENT_TOKEN + "\n")
    paths["empty"].write_text("")
    return paths


class Serve:
    """A real ``tandem serve`` process whose output is collected as it comes."""

    def __init__(self, tmp_path: Path, name: str, args: tuple[str, ...], env: dict[str, str]):
        self.port_file = tmp_path / f"{name}.port"
        self.process = subprocess.Popen(
            [*TANDEM, "serve", *NO_MODELS, "--host", "127.0.0.1", "--port", "0",
             "--port-file", str(self.port_file), "--grace", "1", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **env},
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 120
        while not self.port_file.exists() or not self.port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"tandem serve did not start:\n{self.output()}")
            time.sleep(0.1)
        self.address = f"127.0.0.1:{int(self.port_file.read_text())}"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> str:
        """SIGTERM; everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        assert self.process.returncode == 0, self.output()
        return self.output()


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait()


def test_help_never_shows_a_secret_from_the_environment_or_the_command_line() -> None:
    env = {
        "TANDEM_AUTH_TOKEN": ENV_TOKEN,
        "TANDEM_ENGINE": _with_password("http://127.0.0.1:9200", ENV_PASSWORD),
        "TANDEM_TOKEN": CLIENT_TOKEN,
    }
    for args in (
        ("serve", "--help"),
        ("serve", "--auth-token", FLAG_TOKEN, "--help"),
        ("serve", "--engine", _with_password("http://127.0.0.1:9200", FLAG_PASSWORD), "--help"),
        ("--help",),
        ("search", "--help"),
        ("health", "--help"),
    ):
        done = tandem(*args, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert_no_secret(f"tandem {' '.join(args[:1])} --help", done.stdout + done.stderr)
    # each default shown once: the help used to print "(default: ***) (default: <token>)"
    done = tandem("serve", "--help", env=env, timeout=120)
    assert "(default: ***)" not in done.stdout and "(default: None)" not in done.stdout


def test_bad_settings_are_reported_without_their_secrets(files: dict[str, Path]) -> None:
    url = _with_password("http://127.0.0.1:9200", FLAG_PASSWORD)
    cases = [
        ("--engine", f"{USER}:{FLAG_PASSWORD}@127.0.0.1:9200"),  # the scheme forgotten
        ("--engine", _with_password("http://127.0.0.1:port", FLAG_PASSWORD)),
        ("--engine", url, "--engine-credentials-file", str(files["credentials"])),
        ("--auth-token", FLAG_TOKEN, "--auth-token-file", str(files["token"])),
        ("--auth-token-file", str(files["empty"]), "--engine", url),
        ("--auth-token", FLAG_TOKEN, "--port", "70000", "--engine", url),
        ("--auth-token", FLAG_TOKEN, "--tls-cert", "missing.pem", "--tls-key", "missing.pem"),
        ("--engine-credentials-file", str(files["credentials"])),  # no --engine
        ("--auth-token", FLAG_TOKEN, "--no-such-flag"),
    ]
    for args in cases:
        done = tandem("serve", *NO_MODELS, "--metrics-port", "-1", *args, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert_no_secret(f"tandem serve {' '.join(args[:1])} ...", done.stdout + done.stderr)
    env_cases = [
        {"TANDEM_ENGINE": f"{USER}:{ENV_PASSWORD}@127.0.0.1:9200", "TANDEM_AUTH_TOKEN": ENV_TOKEN},
        {"TANDEM_AUTH_TOKEN": ENV_TOKEN, "TANDEM_AUTH_TOKEN_FILE": str(files["token"])},
        {"TANDEM_AUTH_TOKEN": ENV_TOKEN, "TANDEM_PORT": "tcp://10.0.0.1:50051"},
    ]
    for env in env_cases:
        done = tandem("serve", *NO_MODELS, "--metrics-port", "-1", env=env, timeout=120)
        assert done.returncode == 2, (env, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert_no_secret(f"tandem serve with {sorted(env)}", done.stdout + done.stderr)


def test_engines_info_never_shows_the_password(opensearch_engine: EngineHandle) -> None:
    url = _with_password(opensearch_engine.url, FLAG_PASSWORD)
    for args in (("engines", "info", url), ("engines", "info", url, "--json")):
        done = tandem(*args, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"{USER}:***@" in done.stdout
        assert_no_secret("tandem engines info", done.stdout + done.stderr)
    nobody = _with_password(f"http://127.0.0.1:{_closed_port()}", FLAG_PASSWORD)
    for args in (
        ("engines", "info", nobody),
        ("engines", "info", _with_password("http://127.0.0.1:port", FLAG_PASSWORD)),
        ("search", "a query", "--index", "tandem-none", "--engine", nobody, *NO_MODELS,
         "--method", "bm25"),
        ("indices", "list", "--engine", nobody),
    ):  # fmt: skip
        done = tandem(*args, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert_no_secret(f"tandem {args[0]} {args[1]}", done.stdout + done.stderr)


def test_serve_logs_and_client_errors_never_show_a_secret(
    tmp_path: Path,
    files: dict[str, Path],
    opensearch_engine: EngineHandle,
    serving: list[Serve],
) -> None:
    upstream = urlsplit(opensearch_engine.url)
    proxy = Proxy((upstream.hostname or "127.0.0.1", upstream.port or 9200))
    outputs: dict[str, str] = {}

    # 1. Flags and the token file; the engine (behind a proxy) down at start, then up,
    # then gone again; DEBUG logs.
    flags = Serve(tmp_path, "flags", (
        "--engine", _with_password(proxy.url, FLAG_PASSWORD), "--engine-check-interval", "0.2",
        "--auth-token-file", str(files["token"]), "--metrics-port", "0",
        "--metrics-host", "127.0.0.1", "--log-level", "DEBUG",
    ), {})  # fmt: skip
    serving.append(flags)
    proxy.up()
    with TandemClient(flags.address, token=FILE_TOKEN) as client:
        deadline = time.monotonic() + 30
        while client.health("tandem.v1.SearchService") != "SERVING":
            assert time.monotonic() < deadline, "the engine never turned SERVING"
            time.sleep(0.2)
        outputs["GetInfo"] = repr(client.info())
    metrics_port = _logged_metrics_port(flags)
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        outputs["/metrics"] = page.read().decode()
    search = ("search", "a query", "--server", flags.address, "--index", "tandem-secrets-none",
              "--method", "bm25")  # fmt: skip
    client_env = {"TANDEM_TOKEN": CLIENT_TOKEN}  # not the server's: refused
    for name, args, env in (
        ("search, wrong token", search, client_env),
        ("search, wrong token file", (*search, "--token-file", str(files["client-token"])), {}),
        ("search, no such index", (*search, "--token-file", str(files["token"])), {}),
        ("encode, wrong token", ("encode", "x", "--server", flags.address), client_env),
    ):
        done = tandem(*args, env=env, timeout=120)
        assert done.returncode != 0 and done.stderr.strip(), (name, done.stdout)
        assert "Traceback" not in done.stderr, done.stderr
        outputs[f"tandem {name}"] = done.stdout + done.stderr
    proxy.down()
    with TandemClient(flags.address, token=FILE_TOKEN) as client:
        deadline = time.monotonic() + 30
        while client.health("tandem.v1.SearchService") == "SERVING":
            assert time.monotonic() < deadline, "the engine never turned NOT_SERVING"
            time.sleep(0.2)
        with pytest.raises(ClientError) as gone:
            client.search("tandem-secrets-none", "a query")
        outputs["Search, engine gone"] = str(gone.value)
    done = tandem(*search, "--token-file", str(files["token"]), timeout=120)
    assert done.returncode != 0 and "does not answer" in done.stderr, done.stderr
    outputs["tandem search, engine gone"] = done.stdout + done.stderr
    outputs["serve logs (flags)"] = flags.stop()
    log = outputs["serve logs (flags)"]
    assert "settings:" in log and "engine not ready" in log and "stopped answering" in log
    assert "Traceback" not in log  # an engine down at start or gone later is one line

    # 2. Variables: the token and an engine URL with a password that nothing answers at.
    nobody = _with_password(f"http://127.0.0.1:{_closed_port()}", ENV_PASSWORD)
    env = Serve(tmp_path, "env", ("--metrics-port", "-1"),
                {"TANDEM_ENGINE": nobody, "TANDEM_AUTH_TOKEN": ENV_TOKEN})  # fmt: skip
    serving.append(env)
    outputs["serve logs (env)"] = env.stop()
    assert "engine not ready" in outputs["serve logs (env)"]
    assert "Traceback" not in outputs["serve logs (env)"]

    # 3. The engine credentials file and the token as a flag, the engine answering.
    credentials = Serve(tmp_path, "credentials", (
        "--engine", opensearch_engine.url, "--engine-credentials-file", str(files["credentials"]),
        "--auth-token", FLAG_TOKEN, "--metrics-port", "-1",
    ), {})  # fmt: skip
    serving.append(credentials)
    with TandemClient(credentials.address, token=FLAG_TOKEN) as client:
        outputs["GetInfo (credentials file)"] = repr(client.info())
    outputs["serve logs (credentials file)"] = credentials.stop()

    for what, text in outputs.items():
        assert_no_secret(what, text)


def _logged_metrics_port(serve: Serve) -> int:
    """The /metrics port the sidecar logged (it was started with --metrics-port 0)."""
    found = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", serve.output())
    assert found, serve.output()
    return int(found.group(1))
