"""The Maven fetcher against a real HTTP server on loopback serving a repository folder."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.integration import maven
from tandem.integration.download import ChecksumError, Repository
from tandem.integration.errors import ArtifactNotFoundError, EngineError
from tandem.integration.specs import MavenArtifact

ARTIFACT = MavenArtifact("org.example", "engine", "9.9.9")


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.requests.append((self.path, self.headers.get("Authorization")))
        super().do_GET()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[Path, str, list[tuple[str, str | None]]]]:
    """A repository folder, the URL serving it, and the requests it saw."""
    root = tmp_path / "repo"
    root.mkdir()
    seen: list[tuple[str, str | None]] = []
    handler = type("H", (_Handler,), {"requests": seen})

    def make(*args: object) -> _Handler:
        return handler(*args, directory=str(root))  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def _zip_bytes(name: str = "engine/README") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "hello")
    return buffer.getvalue()


def _publish(root: Path, artifact: MavenArtifact, data: bytes, checksums: dict[str, str]) -> None:
    path = root / maven.artifact_path(artifact)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    for algorithm, digest in checksums.items():
        Path(f"{path}.{algorithm}").write_text(f"{digest}  {artifact.filename}\n")


def test_fetch_verifies_the_published_sha512_and_caches(
    repo: tuple[Path, str, list[tuple[str, str | None]]], tmp_path: Path
) -> None:
    root, url, seen = repo
    data = _zip_bytes()
    _publish(root, ARTIFACT, data, {"sha512": hashlib.sha512(data).hexdigest()})
    cache, log = tmp_path / "cache", tmp_path / "setup.log"
    first = maven.fetch(ARTIFACT, cache, log, repository=Repository.parse(url))
    second = maven.fetch(ARTIFACT, cache, log, repository=Repository.parse(url))
    assert first == second == cache / "engine-9.9.9.zip"
    assert first.read_bytes() == data
    assert [p.name for p in cache.iterdir()] == ["engine-9.9.9.zip"]  # no partial left
    assert "(verified: sha512)" in log.read_text()
    downloads = [path for path, _ in seen if path.endswith(".zip")]
    assert downloads == ["/org/example/engine/9.9.9/engine-9.9.9.zip"]  # once


def test_a_checksum_mismatch_fails_and_keeps_nothing(
    repo: tuple[Path, str, list[tuple[str, str | None]]], tmp_path: Path
) -> None:
    root, url, _ = repo
    _publish(root, ARTIFACT, _zip_bytes(), {"sha1": hashlib.sha1(b"other").hexdigest()})
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="does not match its published sha1"):
        maven.fetch(ARTIFACT, cache, repository=Repository.parse(url))
    assert list(cache.iterdir()) == []


def test_without_a_published_checksum_the_zip_crcs_are_checked(
    repo: tuple[Path, str, list[tuple[str, str | None]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, url, _ = repo
    _publish(root, ARTIFACT, _zip_bytes(), {})
    said: list[str] = []
    path = maven.fetch(ARTIFACT, tmp_path / "a", None, said.append, Repository.parse(url))
    assert path.is_file()
    assert any("publishes no checksum; its zip CRCs are intact" in line for line in said)
    # A truncated zip without a checksum is caught by its own structure.
    _publish(root, ARTIFACT, _zip_bytes()[:-30], {})
    with pytest.raises(ChecksumError, match="not a valid archive"):
        maven.fetch(ARTIFACT, tmp_path / "b", repository=Repository.parse(url))
    # Strict mode refuses files that have no published checksum at all.
    _publish(root, ARTIFACT, _zip_bytes(), {})
    monkeypatch.setenv("TANDEM_MAVEN_CHECKSUMS", "require")
    with pytest.raises(ChecksumError, match="TANDEM_MAVEN_CHECKSUMS=require"):
        maven.fetch(ARTIFACT, tmp_path / "c", repository=Repository.parse(url))


def test_a_missing_version_says_where_to_look(
    repo: tuple[Path, str, list[tuple[str, str | None]]], tmp_path: Path
) -> None:
    _, url, _ = repo
    log = tmp_path / "setup.log"
    with pytest.raises(ArtifactNotFoundError) as err:
        maven.fetch(ARTIFACT, tmp_path / "cache", log, repository=Repository.parse(url))
    message = str(err.value)
    assert message.startswith("org.example:engine:9.9.9:zip is not available on Maven Central")
    assert "engine-9.9.9.zip answers HTTP 404" in message
    assert "docs/engines.md" in message and "TANDEM_MAVEN_URL" in message
    assert message.endswith(f"Log: {log}") and "HTTP 404" in log.read_text()


def test_an_unreachable_repository_is_retried_then_named(tmp_path: Path) -> None:
    said: list[str] = []
    # Port 9 (discard) refuses connections on loopback.
    with pytest.raises(EngineError, match="after 3 attempts") as err:
        maven.fetch(ARTIFACT, tmp_path, None, said.append, Repository.parse("http://127.0.0.1:9"))
    assert "https_proxy" in str(err.value)
    assert sum("retrying" in line for line in said) == 2


def test_credentials_in_the_mirror_url_become_basic_auth_and_are_never_shown(
    repo: tuple[Path, str, list[tuple[str, str | None]]], tmp_path: Path
) -> None:
    _, url, seen = repo
    mirror = Repository.parse(url.replace("http://", "http://ci:s3cret@") + "/")
    assert "s3cret" not in mirror.url and mirror.url == url
    with pytest.raises(ArtifactNotFoundError) as err:
        maven.fetch(ARTIFACT, tmp_path, repository=mirror)
    assert "s3cret" not in str(err.value)
    assert seen[0][1] == "Basic Y2k6czNjcmV0"  # base64("ci:s3cret")


def test_a_mirror_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_MAVEN_URL", "repo.example.com/maven2")
    with pytest.raises(EngineError, match="TANDEM_MAVEN_URL must be an http"):
        Repository.from_env()
    monkeypatch.delenv("TANDEM_MAVEN_URL")
    assert Repository.from_env().url == "https://repo1.maven.org/maven2"


def test_a_module_and_its_runtime_jars_are_copied(
    repo: tuple[Path, str, list[tuple[str, str | None]]], tmp_path: Path
) -> None:
    root, url, _ = repo
    module = MavenArtifact("org.example", "module", "1.0", "jar")
    dep = MavenArtifact("org.other", "helper", "2.0", "jar")
    engine = MavenArtifact("org.example.engine", "core", "1.0", "jar")

    def pom(artifact: MavenArtifact, deps: list[MavenArtifact]) -> bytes:
        xml = "".join(
            f"<dependency><groupId>{d.group}</groupId><artifactId>{d.artifact}</artifactId>"
            f"<version>{d.version}</version></dependency>"
            for d in deps
        )
        return (
            '<project xmlns="http://maven.apache.org/POM/4.0.0">'
            f"<groupId>{artifact.group}</groupId><artifactId>{artifact.artifact}</artifactId>"
            f"<version>{artifact.version}</version><dependencies>{xml}</dependencies></project>"
        ).encode()

    for artifact, deps in ((module, [dep, engine]), (dep, [])):
        _publish(root, artifact, _zip_bytes(), {})
        as_pom = MavenArtifact(artifact.group, artifact.artifact, artifact.version, "pom")
        _publish(root, as_pom, pom(artifact, deps), {})
    jars = maven.fetch_with_dependencies(
        module,
        ("org.example.engine:*",),
        tmp_path / "module",
        tmp_path / "cache",
        repository=Repository.parse(url),
    )
    assert [j.name for j in jars] == ["helper-2.0.jar", "module-1.0.jar"]
    assert all(j.parent == tmp_path / "module" for j in jars)
