"""``docker compose`` on the project's compose.yaml, as its own project on free ports."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from pathlib import Path

from tandem.plugin.engines.identify import redact

ROOT = Path(__file__).resolve().parents[2]
HOST_PORTS = (
    "OPENSEARCH_HOST_PORT",
    "ELASTICSEARCH_HOST_PORT",
    "SIDECAR_GRPC_HOST_PORT",
    "SIDECAR_METRICS_HOST_PORT",
    "SIDECAR_HTTP_HOST_PORT",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ComposeError(AssertionError):
    """A compose command failed; the message has its output."""


class Stack:
    """One compose project of compose.yaml; ``variables`` are its .env file."""

    def __init__(self, variables: dict[str, str], folder: Path) -> None:
        self.project = f"tandem-test-{uuid.uuid4().hex[:8]}"
        self.ports = {name: free_port() for name in HOST_PORTS}
        self.variables = {**variables, **{k: str(v) for k, v in self.ports.items()}}
        # Never the user's .env: every variable the test needs is in this file.
        self.env_file = folder / "stack.env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.variables.items()))

    def command(self, *args: str) -> list[str]:
        return [
            "docker", "compose", "--project-name", self.project, "--project-directory",
            str(ROOT), "--file", str(ROOT / "compose.yaml"), "--env-file", str(self.env_file),
            *args,
        ]  # fmt: skip

    def run(
        self, *args: str, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        import os

        done = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
        if done.returncode != 0:
            shown = " ".join(redact(arg) if "://" in arg else arg for arg in args)
            raise ComposeError(
                f"docker compose {shown} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def services(self) -> dict[str, dict[str, object]]:
        """``docker compose ps --all`` by service: State, Health, ExitCode."""
        out = self.run("ps", "--all", "--format", "json").stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}

    def logs(self) -> str:
        done = subprocess.run(
            self.command("logs", "--no-color", "--tail", "80"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.stdout + done.stderr

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for what, command in (
            ("containers", ["docker", "ps", "--all", "--quiet", "--filter", label]),
            ("networks", ["docker", "network", "ls", "--quiet", "--filter", label]),
            ("volumes", ["docker", "volume", "ls", "--quiet", "--filter", label]),
        ):
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            found[what] = out.split()
        return found
