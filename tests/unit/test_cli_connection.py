"""The client verbs' connection flags, and the one line a failed connection becomes.

The details strings are gRPC's own, as grpcio 1.85 words them (recorded against real
servers; tests/integration/test_cli_tls.py runs the same cases end to end).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tandem.plugin.cli import build_parser
from tandem.plugin.cli.connection import Transport, explain

ADDRESS = "localhost:50051"
LAST = "failed to connect to all addresses; last error: "
REFUSED = (
    LAST + "UNKNOWN: ipv4:127.0.0.1:50051: Failed to connect to remote host: Connection refused"
)
CLOSED = LAST + "UNAVAILABLE: ipv4:127.0.0.1:50051: Socket closed"
PLAINTEXT = (
    LAST + "UNKNOWN: ipv4:127.0.0.1:50051: Tls handshake failed (TSI_PROTOCOL_FAILURE): "
    "SSL_ERROR_SSL: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER: "
    "Invalid certificate verification context: OK"
)
UNTRUSTED = (
    LAST + "UNKNOWN: ipv4:127.0.0.1:50051: Tls handshake failed (TSI_PROTOCOL_FAILURE): "
    "SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: "
    "unable to get local issuer certificate: OK"
)
WRONG_NAME = (
    LAST + "UNKNOWN: ipv4:127.0.0.1:50051: Custom verification check failed with error: "
    "UNAUTHENTICATED: Hostname Verification Check failed."
)
UNRESOLVED = (
    "errors resolving nosuch.invalid:50051: [field:hostname lookup error:address lookup "
    "failed for nosuch.invalid:50051: Domain name not found]"
)

PLAIN = Transport(ADDRESS)
TLS = Transport(ADDRESS, tls=True)
MTLS = Transport(ADDRESS, tls=True, client_cert=Path("me.pem"))


def _verbs_with_a_server() -> list[tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    found = []
    stack = [(name, sub) for name, sub in _children(parser)]
    while stack:
        name, sub = stack.pop()
        children = _children(sub)
        stack.extend((f"{name} {child}", grandchild) for child, grandchild in children)
        if any("--server" in action.option_strings for action in sub._actions):
            found.append((name, sub))
    return found


def _children(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    return [
        (name, sub)
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    ]


def test_every_client_verb_takes_the_tls_flags() -> None:
    verbs = _verbs_with_a_server()
    assert {name for name, _ in verbs} >= {"encode", "health", "search", "index"}
    for name, sub in verbs:
        flags = {flag for action in sub._actions for flag in action.option_strings}
        assert {"--tls", "--tls-ca", "--tls-cert", "--tls-key", "--token-file"} <= flags, name


def test_a_refused_connection_says_to_start_a_sidecar() -> None:
    line = explain(REFUSED, PLAIN)
    assert line is not None and ADDRESS in line and "tandem serve" in line


def test_a_closed_connection_depends_on_what_the_client_offered() -> None:
    plain, tls, mtls = explain(CLOSED, PLAIN), explain(CLOSED, TLS), explain(CLOSED, MTLS)
    assert plain is not None and "serves TLS" in plain and "--tls-ca" in plain
    assert tls is not None and "client certificate" in tls and "--tls-cert" in tls
    assert mtls is not None and "me.pem" in mtls and "--tls-client-ca" in mtls


def test_tls_to_a_plaintext_port() -> None:
    line = explain(PLAINTEXT, TLS)
    assert line is not None and "does not speak TLS" in line and "OPENSSL" not in line


def test_an_untrusted_certificate_keeps_openssls_reason() -> None:
    line = explain(UNTRUSTED, TLS)
    assert line is not None and "cannot verify the certificate" in line
    assert "(unable to get local issuer certificate)" in line and "--tls-ca" in line


def test_a_certificate_for_another_name() -> None:
    line = explain(WRONG_NAME, TLS)
    assert line is not None and "localhost" in line and "--server" in line


def test_a_name_that_does_not_resolve() -> None:
    line = explain(UNRESOLVED, PLAIN)
    assert line is not None and "cannot resolve" in line and "--server" in line


@pytest.mark.parametrize(
    "details",
    [
        "Deadline Exceeded",
        "",
        "the engine at http://127.0.0.1:9 does not answer: Connection refused",
    ],
)
def test_other_failures_are_left_as_they_are(details: str) -> None:
    assert explain(details, PLAIN) is None
