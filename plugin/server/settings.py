"""Every sidecar setting: one frozen dataclass, each field a CLI flag and an env variable.

A field's metadata carries its help text; :func:`add_arguments` turns the
dataclass into ``--flags`` and :func:`from_namespace` fills each flag not given on
the command line from its ``TANDEM_<NAME>`` variable, else the field's default.
The variables are read and parsed there, when ``tandem serve`` runs, not while the
parser is built: every ``tandem`` command builds it, and a variable that does not
parse (Kubernetes sets ``TANDEM_PORT=tcp://IP:PORT`` for a Service named
``tandem``) must not break the commands that never use it.
Secrets (``secret=True``) never reach the help, the parse errors or ``repr``;
:meth:`Settings.redacted` is the only form that is ever logged.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tandem.plugin.engines.identify import redact
from tandem.plugin.search.partial import check_partial_results

ENV_PREFIX = "TANDEM_"
NONE = "none"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _setting(default: Any, help: str, secret: bool = False) -> Any:
    # A secret stays out of repr(): a traceback or a debug print of the settings shows none.
    return field(default=default, repr=not secret, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """The sidecar's configuration (see ``tandem serve --help``)."""

    host: str = _setting("[::]", "address to listen on")
    port: int = _setting(50051, "gRPC port (0 picks a free one and prints it)")
    port_file: Path | None = _setting(None, "write the bound port to this file once serving")
    dense: str = _setting("minilm", "dense model: a known name, a folder, or 'none'")
    sparse: str = _setting(
        "splade-tiny", "sparse (SPLADE) model: a known name, a folder, or 'none'"
    )
    idf: Path | None = _setting(
        None,
        "IDF table JSON ({token: idf}, built by 'tandem models idf'): sparse queries "
        "become inference-free",
    )
    int8: bool = _setting(False, "run the int8-quantised models")
    threads: int = _setting(0, "onnxruntime threads per model (0: one per core)")
    engine: str | None = _setting(
        None, "engine URL (or 'opensearch'/'elasticsearch'); none: encoding only", secret=True
    )
    engine_credentials_file: Path | None = _setting(
        None, "file holding the engine's USER:PASSWORD (kept out of the URL and the environment)"
    )
    engine_timeout: float = _setting(30.0, "seconds per engine request")
    engine_check_interval: float = _setting(5.0, "seconds between engine health checks")
    max_batch_tokens: int = _setting(
        512, "token budget of one batch (rows x longest row); raise it on GPUs"
    )
    max_batch_rows: int = _setting(64, "texts in one batch at most")
    max_wait_ms: float = _setting(
        0.0, "how long an idle model waits for more texts before running (0: run at once)"
    )
    max_queue: int = _setting(2048, "texts waiting per model before RESOURCE_EXHAUSTED")
    max_texts: int = _setting(256, "texts per request at most")
    max_text_bytes: int = _setting(32768, "UTF-8 bytes per text at most")
    max_message_bytes: int = _setting(8 * 1024 * 1024, "gRPC message size limit, both ways")
    max_ingest_streams: int = _setting(
        4, "IndexDocuments and EnrichIndex streams running at once (more: RESOURCE_EXHAUSTED)"
    )
    indices: str = _setting(
        "",
        "comma-separated index name patterns requests may name (empty: any concrete name "
        "not starting with '.', '-' or '_' and without ':')",
    )
    allow_delete_any_index: bool = _setting(
        False, "let DeleteIndex remove indices that Tandem did not create"
    )
    grace: float = _setting(10.0, "seconds in-flight requests get to finish on SIGTERM")
    metrics_port: int = _setting(
        9464, "Prometheus /metrics port (0 picks a free one, -1 turns metrics off)"
    )
    metrics_host: str = _setting("0.0.0.0", "address for /metrics")
    http_port: int = _setting(
        -1,
        "HTTP/JSON port: TEI /embed, OpenAI /v1/embeddings, /v1/search (0 picks a free one, "
        "-1: off)",
    )
    http_host: str = _setting("0.0.0.0", "address for the HTTP/JSON port")
    tls_cert: Path | None = _setting(None, "PEM certificate chain: serve TLS")
    tls_key: Path | None = _setting(None, "PEM private key for --tls-cert")
    tls_client_ca: Path | None = _setting(None, "PEM CA bundle: require client certificates")
    auth_token: str | None = _setting(
        None, "bearer token clients must send (authorization: Bearer ...)", secret=True
    )
    auth_token_file: Path | None = _setting(None, "file holding the bearer token")
    allow_scripts: bool = _setting(
        False, "let user filters and queries run scripts (script, script_score, function_score)"
    )
    allow_cross_index_queries: bool = _setting(
        False,
        "let user filters and queries read stored documents (terms lookup, more_like_this "
        "documents, indexed_shape)",
    )
    partial_results: str = _setting(
        "allow",
        "a search some shards failed or the engine timed out: 'allow' answers with the hits "
        "found, marked partial; 'fail' answers UNAVAILABLE",
    )
    query_cache_entries: int = _setting(
        4096, "query embeddings kept per sidecar, for repeated searches (0 turns the cache off)"
    )
    query_cache_mb: float = _setting(32.0, "memory the query cache may hold, in MB")
    log_level: str = _setting("INFO", "DEBUG, INFO, WARNING or ERROR")

    def __post_init__(self) -> None:
        positive = (
            "max_batch_tokens",
            "max_batch_rows",
            "max_queue",
            "max_texts",
            "max_ingest_streams",
        )
        for name in (*positive, "max_text_bytes", "max_message_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{_named(name)} must be positive, got {getattr(self, name)}")
        for name in ("max_wait_ms", "grace", "query_cache_entries", "query_cache_mb"):
            if getattr(self, name) < 0:
                raise ValueError(f"{_named(name)} must be 0 or more, got {getattr(self, name)}")
        if self.engine_timeout <= 0:
            raise ValueError(f"{_named('engine_timeout')} must be more than 0 seconds")
        if not 0 <= self.port <= 65535:
            raise ValueError(
                f"{_named('port')} must be in 0..65535 (0 picks a free one), got {self.port}"
            )
        if not -1 <= self.metrics_port <= 65535:
            raise ValueError(
                f"{_named('metrics_port')} must be in -1..65535 (0 picks a free one, -1 turns "
                f"metrics off), got {self.metrics_port}"
            )
        if not -1 <= self.http_port <= 65535:
            raise ValueError(
                f"{_named('http_port')} must be in -1..65535 (0 picks a free one, -1 turns "
                f"the HTTP/JSON port off), got {self.http_port}"
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise ValueError(
                f"{_named('log_level')} must be one of {', '.join(LOG_LEVELS)}, "
                f"got {self.log_level!r}"
            )
        if self.engine and "://" in self.engine:
            try:
                _ = urlsplit(self.engine).port  # reading the port parses it
            except ValueError as err:  # the port or the host does not parse: say so, no URL
                raise ValueError(
                    f"{_named('engine')} is not a valid URL ({err}): write it as "
                    "http://HOST:PORT (credentials may go in --engine-credentials-file)"
                ) from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both --tls-cert and --tls-key")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("--tls-client-ca (mTLS) needs --tls-cert and --tls-key")
        if self.auth_token is not None and self.auth_token_file is not None:
            raise ValueError("give --auth-token or --auth-token-file, not both")
        check_partial_results(self.partial_results)

    @property
    def dense_model(self) -> str | None:
        return None if self.dense.lower() == NONE else self.dense

    @property
    def sparse_model(self) -> str | None:
        return None if self.sparse.lower() == NONE else self.sparse

    def engine_address(self) -> str | None:
        """The engine URL, with the credentials file's user and password in it when given."""
        if not self.engine:
            if self.engine_credentials_file is not None:
                raise ValueError("--engine-credentials-file needs --engine")
            return None
        from tandem.plugin.engines.targets import engine_url

        url = engine_url(self.engine)
        if self.engine_credentials_file is None:
            return url
        text = self.engine_credentials_file.read_text().strip()
        user, sep, password = text.partition(":")
        if not sep or not user:
            raise ValueError(f"{self.engine_credentials_file} must hold USER:PASSWORD on one line")
        parts = urlsplit(url)
        if parts.username:
            raise ValueError("give the engine credentials in the URL or in the file, not both")
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
        return urlunsplit(parts._replace(netloc=netloc))

    def token(self) -> str | None:
        """The bearer token, read from its file when one is given."""
        if self.auth_token_file is not None:
            token = self.auth_token_file.read_text().strip()
            if not token:
                raise ValueError(f"{self.auth_token_file} is empty: it must hold the token")
            return token
        return self.auth_token or None

    def redacted(self) -> dict[str, Any]:
        """Every setting, secrets masked, URLs stripped of credentials: safe to log."""
        shown: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value is not None:
                value = redact(value) if f.name == "engine" and "://" in value else "***"
            shown[f.name] = str(value) if isinstance(value, Path) else value
        return shown


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _named(name: str) -> str:
    """How an error names a setting: its flag and its variable."""
    return f"{flag_name(name)} ({env_name(name)})"


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("true or false")


def _kind(f: dataclasses.Field[Any]) -> type:
    text = str(f.type)
    for kind in (bool, int, float, Path):
        if text.startswith(kind.__name__):
            return kind
    return str


_EXPECTED = {bool: "true or false", int: "a whole number", float: "a number", Path: "a path"}
# What Kubernetes sets in every pod for each Service of the namespace (service links):
# <NAME>_PORT=tcp://10.0.0.1:50051 for a Service named name.
_SERVICE_LINK = re.compile(r"(tcp|udp|sctp)://[^\s]+:\d+")


def environment_value(f: dataclasses.Field[Any], raw: str) -> Any:
    """The value of setting ``f`` from its variable's text ``raw``; a :class:`ValueError`
    naming the variable and the flag that overrides it when the text does not parse."""
    kind = _kind(f)
    if not raw.strip() and f.default is None:
        return None  # an empty variable leaves an optional setting unset (compose's ${X:-})
    try:
        if kind is bool:
            return _parse_bool(raw)
        return kind(raw.strip()) if kind is not str else raw
    except ValueError:
        pass
    name, flag = env_name(f.name), flag_name(f.name)
    shown = "***" if f.metadata["secret"] else repr(raw)
    if _SERVICE_LINK.fullmatch(raw.strip()) and name.endswith("_PORT"):
        service = name.removesuffix("_PORT").lower().replace("_", "-")
        raise ValueError(
            f"{name}={shown} is not a port number: it looks like the variable Kubernetes "
            f"sets in every pod for a Service named '{service}'. Give {flag} on the command "
            f"line, set {name} in the container's env (it wins over the Service's), set "
            "enableServiceLinks: false in the pod spec, or name the Service differently"
        ) from None
    raise ValueError(
        f"{name}={shown} is not {_EXPECTED.get(kind, 'valid')}: correct or unset {name}, "
        f"or give {flag} on the command line (a flag wins over its variable)"
    ) from None


def _default_note(f: dataclasses.Field[Any]) -> str:
    """``(default: X)`` as the other commands show it: not for unset, off or empty ones."""
    if f.default is None or f.default is False or f.default == "":
        return ""
    return f" (default: {'***' if f.metadata['secret'] else f.default})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting. It reads no variable: :func:`from_namespace` does, for the
    flags not given (their value here is ``None``)."""
    for f in fields(Settings):
        kind = _kind(f)
        help_text = f"{f.metadata['help']} [env {env_name(f.name)}]{_default_note(f)}"
        if kind is bool:
            parser.add_argument(
                flag_name(f.name),
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag_name(f.name), dest=f.name, type=kind, default=None, help=help_text
            )


def markdown_table() -> str:
    """Every setting as a Markdown table (flag, env, default, meaning), for the docs."""
    rows = ["| flag | env | default | meaning |", "|---|---|---|---|"]
    for f in fields(Settings):
        shown = "unset" if f.default is None else f"`{f.default}`"
        rows.append(
            f"| `{flag_name(f.name)}` | `{env_name(f.name)}` | {shown} | {f.metadata['help']} |"
        )
    return "\n".join(rows) + "\n"


def from_namespace(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings: each flag given on the command line, else its ``TANDEM_*`` variable
    (``environ``, default ``os.environ``), else the default. Only the variables of flags
    not given are parsed, so a flag wins over a variable that does not parse."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
        elif (raw := env.get(env_name(f.name))) is not None:
            values[f.name] = environment_value(f, raw)
    return Settings(**values)
