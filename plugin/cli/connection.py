"""Why the sidecar could not be reached, in one line that says what to do.

gRPC reports a failed connection as UNAVAILABLE with its transport's words ("Socket
closed", "WRONG_VERSION_NUMBER"). Which fix applies depends on what this client
offered: a plaintext client refused by a TLS port and a TLS client refused by a port
that wants a client certificate both see "Socket closed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_VERIFY = re.compile(r"CERTIFICATE_VERIFY_FAILED: ([^:]+)")
# How gRPC's own connection failures begin; a server's message (say, about its engine)
# may hold the same words and is left alone.
_CONNECTING = ("failed to connect to all addresses", "errors resolving")


@dataclass(frozen=True)
class Transport:
    """How the client connects: ``tls`` on or off, and its certificate for mutual TLS."""

    address: str
    tls: bool = False
    client_cert: Path | None = None


def explain(details: str, transport: Transport) -> str | None:
    """The line for a failed connection, or ``None`` when ``details`` is not one we know."""
    if not details.startswith(_CONNECTING):
        return None
    address = transport.address
    if details.startswith("errors resolving"):
        return f"cannot resolve {address}: check --server (HOST:PORT)"
    if "Connection refused" in details:
        return (
            f"no sidecar answers at {address} (connection refused): start one with "
            "`tandem serve`, or point --server at a running one"
        )
    if "WRONG_VERSION_NUMBER" in details:
        return (
            f"{address} does not speak TLS: connect without --tls, --tls-ca, --tls-cert "
            "and --tls-key, or serve TLS (tandem serve --tls-cert CERT --tls-key KEY)"
        )
    verify = _VERIFY.search(details)
    if verify is not None:
        return (
            f"cannot verify the certificate of {address} ({verify.group(1).strip()}): "
            "pass the CA bundle that signed it with --tls-ca CA.pem"
        )
    if "Hostname Verification" in details:
        host = address.rsplit(":", 1)[0]
        return (
            f"the certificate of {address} is not issued for {host}: set --server to a "
            "name the certificate holds"
        )
    if "Socket closed" in details:
        if not transport.tls:
            return (
                f"{address} closed the connection: it serves TLS; connect with "
                "--tls-ca CA.pem (or --tls to trust the system's CAs)"
            )
        if transport.client_cert is None:
            return (
                f"{address} closed the TLS handshake: it requires a client certificate "
                "(mutual TLS); pass --tls-cert CERT.pem and --tls-key KEY.pem"
            )
        return (
            f"{address} refused the client certificate {transport.client_cert}: use one "
            "signed by the CA the sidecar trusts (its --tls-client-ca)"
        )
    return None
